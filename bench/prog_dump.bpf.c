// Benchmark fixture for `prog dump xlated`: one straight-line XDP program of 10^DEPTH * 4
// steps (DEPTH=M: 100,000, about 500,000 instructions) repeated by macros (about 5 instructions and 2 source lines each), plus a store to a global.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef DEPTH
#define DEPTH 4
#endif

#define STEP x = x * 2654435761u + 1; x ^= x >> 7;
#define X4 STEP STEP STEP STEP
#define X40 X4 X4 X4 X4 X4 X4 X4 X4 X4 X4
#define X400 X40 X40 X40 X40 X40 X40 X40 X40 X40 X40
#define X4000 X400 X400 X400 X400 X400 X400 X400 X400 X400 X400
#define X40000 X4000 X4000 X4000 X4000 X4000 X4000 X4000 X4000 X4000 X4000
#define X400000 X40000 X40000 X40000 X40000 X40000 X40000 X40000 X40000 X40000 X40000
#define CAT(a, b) a##b
#define REPEAT(d) CAT(REPEAT_, d)
#define REPEAT_1 X40
#define REPEAT_2 X400
#define REPEAT_3 X4000
#define REPEAT_4 X40000
#define REPEAT_5 X400000
/* DEPTH=M: 100,000 steps, about 500,000 instructions: the most the kernel can copy out (it
 * allocates the translated instructions in one buffer of at most 4 MiB, 524,288 instructions;
 * a 995,000-instruction program loads, but BPF_OBJ_GET_INFO_BY_FD fails with ENOMEM). */
#define REPEAT_M X40000 X40000 X4000 X4000 X4000 X4000 X4000

/* A global (.bss, a direct map value access): no branch spans the program, whose jumps have
 * 16-bit offsets. */
__u64 bench_out;

SEC("xdp")
int rbt_bench_big_xdp_program(struct xdp_md *ctx)
{
	__u64 x = ctx->data_end - ctx->data;

	REPEAT(DEPTH)
	bench_out = x;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
