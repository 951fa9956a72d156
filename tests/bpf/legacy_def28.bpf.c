// legacy tests: a counter in a legacy `maps` section in Aya's 28-byte bpf_map_def (the
// 20-byte one plus id and pinning), what aya-ebpf's `#[map]` statics compile to.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct aya_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
	unsigned int id;
	unsigned int pinning;
};

struct aya_map_def SEC("maps") COUNTER = {
	.type = BPF_MAP_TYPE_PERCPU_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 1,
};

SEC("xdp")
int legacy_def28(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&COUNTER, &key);

	if (v)
		*v += 1;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
