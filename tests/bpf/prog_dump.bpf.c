// Fixture for `prog dump`: long program names (full names come from BTF func_info), a
// subprogram, helper calls, a kfunc call, a map and a global variable, and branches.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} dump_counts SEC(".maps");

__u64 dump_total = 0;

/* Older <linux/bpf.h> lack it (uapi since 6.4); the verifier checks name and size. */
struct bpf_iter_num {
	__u64 __opaque[1];
} __attribute__((aligned(8)));

extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;

static __attribute__((noinline)) int rbt_dump_subprog_add(int a, int b)
{
	return a * 3 + b;
}

SEC("xdp")
int rbt_dump_long_xdp_program_name(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 key = (__u32)(end - data) & 3;
	__u64 *count = bpf_map_lookup_elem(&dump_counts, &key);
	struct bpf_iter_num it;
	int *v, sum = 0;

	if (count)
		__sync_fetch_and_add(count, 1);
	bpf_iter_num_new(&it, 0, 3);
	while ((v = bpf_iter_num_next(&it)))
		sum += *v;
	bpf_iter_num_destroy(&it);
	dump_total += rbt_dump_subprog_add(sum, key);
	if (data + 14 > end)
		return XDP_DROP;
	return XDP_PASS;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int rbt_dump_long_tracepoint_name(void *ctx)
{
	__u32 key = 1;
	__u64 *count = bpf_map_lookup_elem(&dump_counts, &key);

	if (count)
		__sync_fetch_and_add(count, 1);
	return bpf_get_smp_processor_id() > 1000 ? 1 : rbt_dump_subprog_add(1, 2);
}

char LICENSE[] SEC("license") = "GPL";
