// Fixture: tracing programs (tracepoint, raw_tracepoint, uprobe, uretprobe, kprobe) that
// report the calling process through bpf_printk, a ring buffer and a perf event array.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u32 pid;
	__u32 kind;
	__u64 seq;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} rbt_trace_rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} rbt_trace_pa SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} rbt_trace_cnt SEC(".maps");

/* Not inlined, so that `struct event` is in the object's BTF (perf events --type). */
static __noinline int fill(struct event *e, __u32 kind)
{
	__u64 *seq = bpf_map_lookup_elem(&rbt_trace_cnt, &kind);

	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->kind = kind;
	if (seq)
		e->seq = __sync_fetch_and_add(seq, 1);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return 0;
}

static __always_inline void emit(void *ctx, __u32 kind)
{
	struct event e = {};

	fill(&e, kind);
	bpf_ringbuf_output(&rbt_trace_rb, &e, sizeof(e), 0);
	bpf_perf_event_output(ctx, &rbt_trace_pa, BPF_F_CURRENT_CPU, &e, sizeof(e));
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int rbt_tp_getppid(void *ctx)
{
	bpf_printk("rbt-trace getppid pid=%d", (int)(bpf_get_current_pid_tgid() >> 32));
	emit(ctx, 1);
	return 0;
}

SEC("raw_tracepoint/sys_enter")
int rbt_raw_enter(void *ctx)
{
	__u32 kind = 5;
	__u64 *n = bpf_map_lookup_elem(&rbt_trace_cnt, &kind);

	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

SEC("uprobe")
int rbt_uprobe(void *ctx)
{
	emit(ctx, 2);
	return 0;
}

SEC("uretprobe")
int rbt_uretprobe(void *ctx)
{
	emit(ctx, 3);
	return 0;
}

SEC("kprobe")
int rbt_kprobe(void *ctx)
{
	emit(ctx, 4);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
