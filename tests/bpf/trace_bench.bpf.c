// Fixture for bench/events.sh: XDP programs run by BPF_PROG_TEST_RUN (repeat N) that each
// write one fixed-size event per run to a ring buffer or a perf event array, and count
// what they produced and what the kernel refused (buffer full) in rbt_bench_cnt.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u64 seq;
	__u64 a;
	__u64 b;
	__u64 c;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} rbt_bench_rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} rbt_bench_pa SEC(".maps");

/* [0] produced to rb, [1] dropped by rb, [2] produced to pa, [3] dropped by pa */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} rbt_bench_cnt SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&rbt_bench_cnt, &slot);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("xdp")
int rbt_bench_rb_x(struct xdp_md *ctx)
{
	struct event e = { .seq = bpf_ktime_get_ns(), .a = 1, .b = 2, .c = 3 };

	count(0);
	if (bpf_ringbuf_output(&rbt_bench_rb, &e, sizeof(e), 0))
		count(1);
	return XDP_PASS;
}

SEC("xdp")
int rbt_bench_pa_x(struct xdp_md *ctx)
{
	struct event e = { .seq = bpf_ktime_get_ns(), .a = 1, .b = 2, .c = 3 };

	count(2);
	if (bpf_perf_event_output(ctx, &rbt_bench_pa, BPF_F_CURRENT_CPU, &e, sizeof(e)))
		count(3);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
