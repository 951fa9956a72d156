// net tests: xdp_drop_cnt drops and counts every packet; xdp_pass_cnt counts and passes.
#include "net_counters.h"

SEC("xdp")
int xdp_drop_cnt(struct xdp_md *ctx)
{
	count(&drop_cnt);
	return XDP_DROP;
}

SEC("xdp")
int xdp_pass_cnt(struct xdp_md *ctx)
{
	count(&pass_cnt);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
