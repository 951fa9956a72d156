// Fixture: a USDT program built with libbpf's <bpf/usdt.bpf.h> that records the probe's
// two arguments (int a, long b) in a hash map keyed by a: rbt_usdt_hit as libbpf loads
// SEC("usdt") (for a uprobe_multi link on this kernel), rbt_usdt_perf as a plain uprobe
// program (so rbt falls back to one perf link per site); rbt_usdt_plain uses no USDT maps.
#define __TARGET_ARCH_x86
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __s32);
	__type(value, __s64);
} rbt_usdt_seen SEC(".maps");

SEC("usdt")
int BPF_USDT(rbt_usdt_hit, int a, long b)
{
	__s32 key = a;
	__s64 val = b;

	bpf_map_update_elem(&rbt_usdt_seen, &key, &val, BPF_ANY);
	return 0;
}

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __s32);
	__type(value, __s64);
} rbt_usdt_seen2 SEC(".maps");

SEC("uprobe")
int BPF_USDT(rbt_usdt_perf, int a, long b)
{
	__s32 key = a;
	__s64 val = b;

	bpf_map_update_elem(&rbt_usdt_seen2, &key, &val, BPF_ANY);
	return 0;
}

SEC("uprobe")
int rbt_usdt_plain(struct pt_regs *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
