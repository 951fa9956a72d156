// Fixture: cgroup programs that count what a test cgroup's processes do: IPv4 connects
// (cgroup_sock_addr) and egress packets (cgroup_skb, two programs for `replace`); each
// lets everything through.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} cg_counts SEC(".maps");

static __always_inline void bump(__u32 key)
{
	__u64 *c = bpf_map_lookup_elem(&cg_counts, &key);

	if (c)
		__sync_fetch_and_add(c, 1);
}

SEC("cgroup/connect4")
int rbt_cg_connect4(struct bpf_sock_addr *ctx)
{
	bump(0);
	return 1;
}

SEC("cgroup_skb/egress")
int rbt_cg_egress(struct __sk_buff *skb)
{
	bump(1);
	return 1;
}

/* A second egress program, for `cgroup attach ... replace PROG`. */
SEC("cgroup_skb/egress")
int rbt_cg_egress2(struct __sk_buff *skb)
{
	bump(1);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
