// Fixture: a program the verifier rejects (a map value used without a NULL check).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} reject_cnt SEC(".maps");

SEC("xdp")
int rbt_rejected(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *count = bpf_map_lookup_elem(&reject_cnt, &key);

	*count += 1;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
