// Fixture: a cgroup_skb program that lets every packet through, for cgroup link tests
// (attached only to an empty cgroup the test creates).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("cgroup_skb/ingress")
int rbt_cg_ingress(struct __sk_buff *skb)
{
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
