// Fixture for `prog dump` without BTF: built without -g, so no func_info and no line_info.
#include <linux/bpf.h>

__attribute__((section("xdp"), used)) int rbt_nobtf_xdp(struct xdp_md *ctx)
{
	return ctx->data_end - ctx->data > 60 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] __attribute__((section("license"), used)) = "GPL";
