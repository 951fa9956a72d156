// net tests: a tracepoint program, the wrong type for any net attach.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tracepoint/syscalls/sys_enter_getpid")
int net_tp(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
