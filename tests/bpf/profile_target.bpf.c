// Fixture: the program `prog profile` profiles (tests/prog_profile.rs and `make vmtest`):
// an XDP program, run with BPF_PROG_TEST_RUN, that sums the Ethernet header's bytes.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int rbt_profiled(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	unsigned char *end = (void *)(long)ctx->data_end;
	__u32 sum = 0;
	int i;

	for (i = 0; i < 14; i++) {
		if (data + i + 1 > end)
			break;
		sum += data[i];
	}
	return sum == 0xffff ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
