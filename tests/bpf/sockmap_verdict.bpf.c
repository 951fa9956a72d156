// Fixture: map-attached programs for `prog attach PROG ATTACH_TYPE MAP`: an sk_msg verdict
// and sk_skb parser/verdicts that count what passes through a sockmap's sockets (and let it
// all pass), and a flow dissector that leaves dissection to the kernel.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} sock_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} verdict_counts SEC(".maps");

static __always_inline void bump(__u32 key)
{
	__u64 *c = bpf_map_lookup_elem(&verdict_counts, &key);

	if (c)
		__sync_fetch_and_add(c, 1);
}

SEC("sk_msg")
int rbt_msg_verdict(struct sk_msg_md *msg)
{
	bump(0);
	return SK_PASS;
}

SEC("sk_skb/stream_verdict")
int rbt_skb_verdict(struct __sk_buff *skb)
{
	bump(1);
	return SK_PASS;
}

SEC("sk_skb/stream_parser")
int rbt_skb_parser(struct __sk_buff *skb)
{
	bump(2);
	return skb->len;
}

SEC("flow_dissector")
int rbt_flow(struct __sk_buff *skb)
{
	return BPF_FLOW_DISSECTOR_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
