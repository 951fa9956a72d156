// Fixture: a CO-RE tracepoint program compiled against the vmlinux.h that `rbt btf dump
// file /sys/kernel/btf/vmlinux format c` wrote; it records task_struct fields of the task
// that calls getppid() in a hash map keyed by tgid.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct seen {
	__u32 tgid;
	__u32 pid;
	__u32 ppid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct seen);
} seen_by_tgid SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int rbt_core_getppid(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct seen s = {};

	s.tgid = BPF_CORE_READ(task, tgid);
	s.pid = BPF_CORE_READ(task, pid);
	s.ppid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&s.comm, task, comm);
	bpf_printk("rbt_core tgid=%d ppid=%d", s.tgid, s.ppid);
	bpf_map_update_elem(&seen_by_tgid, &s.tgid, &s, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
