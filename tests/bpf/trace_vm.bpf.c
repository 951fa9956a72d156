// Fixture for `make vmtest` (a kernel with kprobes and BPF trampolines): kprobe,
// kretprobe, fentry and fexit on do_unlinkat, each announcing itself through bpf_printk.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("kprobe/do_unlinkat")
int vm_kprobe(void *ctx)
{
	bpf_printk("rbt-vm kprobe");
	return 0;
}

SEC("kretprobe/do_unlinkat")
int vm_kretprobe(void *ctx)
{
	bpf_printk("rbt-vm kretprobe");
	return 0;
}

SEC("fentry/do_unlinkat")
int vm_fentry(unsigned long long *ctx)
{
	bpf_printk("rbt-vm fentry");
	return 0;
}

SEC("fexit/do_unlinkat")
int vm_fexit(unsigned long long *ctx)
{
	bpf_printk("rbt-vm fexit");
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
