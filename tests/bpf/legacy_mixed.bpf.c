// legacy tests: a legacy `maps` section beside BTF-defined maps in `.maps`: both load; a
// tracepoint program for `autoattach` counts getpid calls in the legacy map (key 1).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") mixed_old = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 2,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} mixed_new SEC(".maps");

SEC("xdp")
int legacy_mixed(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&mixed_old, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	v = bpf_map_lookup_elem(&mixed_new, &key);
	if (v)
		__sync_fetch_and_add(v, 2);
	return XDP_PASS;
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int legacy_mixed_tp(void *ctx)
{
	__u32 key = 1;
	__u64 *v = bpf_map_lookup_elem(&mixed_old, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
