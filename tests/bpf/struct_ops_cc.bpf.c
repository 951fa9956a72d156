// Fixture: a minimal BPF TCP congestion control (tcp_congestion_ops) for `struct_ops`
// tests. The kernel structs are declared here with preserve_access_index (libbpf matches
// them to the kernel's by name). Each test builds it with its own -D flags:
//   CC_VAR  the map's (variable's) name          CC_NAME  the congestion control's name
//   CC_LINK put it in .struct_ops.link (registered through a BPF link)
//   CC_TWO  add a second map named CC_VAR2 / CC_NAME2 (to test rollback on a clash)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

typedef unsigned int u32;
struct sock;

struct tcp_congestion_ops {
	u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, u32 ack, u32 acked);
	u32 (*undo_cwnd)(struct sock *sk);
	char name[16];
} __attribute__((preserve_access_index));

#ifndef CC_VAR
#define CC_VAR rbt_test_cc
#endif
#ifndef CC_NAME
#define CC_NAME "rbt_test_cc"
#endif
#ifdef CC_LINK
#define CC_SEC ".struct_ops.link"
#else
#define CC_SEC ".struct_ops"
#endif

SEC("struct_ops")
u32 BPF_PROG(rbt_ssthresh, struct sock *sk)
{
	return 10;
}

SEC("struct_ops")
void BPF_PROG(rbt_cong_avoid, struct sock *sk, u32 ack, u32 acked)
{
}

SEC("struct_ops")
u32 BPF_PROG(rbt_undo_cwnd, struct sock *sk)
{
	return 10;
}

SEC(CC_SEC)
struct tcp_congestion_ops CC_VAR = {
	.ssthresh = (void *)rbt_ssthresh,
	.cong_avoid = (void *)rbt_cong_avoid,
	.undo_cwnd = (void *)rbt_undo_cwnd,
	.name = CC_NAME,
};

#ifdef CC_TWO
SEC(".struct_ops.link")
struct tcp_congestion_ops CC_VAR2 = {
	.ssthresh = (void *)rbt_ssthresh,
	.cong_avoid = (void *)rbt_cong_avoid,
	.undo_cwnd = (void *)rbt_undo_cwnd,
	.name = CC_NAME2,
};
#endif

char _license[] SEC("license") = "GPL";
