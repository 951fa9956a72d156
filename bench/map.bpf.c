// Benchmark object: a 1,000,000-entry hash map (u32 key -> u64 value) with BTF.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1000000);
	__type(key, __u32);
	__type(value, __u64);
} bench_map SEC(".maps");

SEC("xdp")
int rbt_bench(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&bench_map, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
