// Fixture: two programs of different types, a map, and bpf_metadata_* variables.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

volatile const char bpf_metadata_a[] SEC(".rodata") = "foo";
volatile const int bpf_metadata_b SEC(".rodata") = 1;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} basic_cnt SEC(".maps");

SEC("xdp")
int rbt_basic_xdp(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *count = bpf_map_lookup_elem(&basic_cnt, &key);

	if (count)
		__sync_fetch_and_add(count, 1);
	return XDP_PASS + bpf_metadata_b - 1;
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int rbt_basic_tp(void *ctx)
{
	__u32 key = 1;
	__u64 *count = bpf_map_lookup_elem(&basic_cnt, &key);

	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
