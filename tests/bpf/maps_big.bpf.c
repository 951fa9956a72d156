// Fixture: a 100,000-entry hash map with a BTF-typed value, for whole-map dump checks.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum kind { KIND_A = 1, KIND_B = 2 };

struct big_val {
	__u64 packets;
	enum kind kind;
	char tag[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 100000);
	__type(key, __u32);
	__type(value, struct big_val);
} big SEC(".maps");

SEC("xdp")
int rbt_big_xdp(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct big_val *v = bpf_map_lookup_elem(&big, &key);

	if (v)
		v->packets++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
