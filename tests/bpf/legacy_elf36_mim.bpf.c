// legacy tests: iproute2's struct bpf_elf_map with map-in-map (an array of maps whose
// inner_id names the inner map, put in slot inner_idx) and a PIN_GLOBAL_NS counter, which
// iproute2 pins at /sys/fs/bpf/tc/globals/NAME.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct bpf_elf_map {
	__u32 type;
	__u32 size_key;
	__u32 size_value;
	__u32 max_elem;
	__u32 flags;
	__u32 id;
	__u32 pinning;
	__u32 inner_id;
	__u32 inner_idx;
};

#define PIN_GLOBAL_NS 2

struct bpf_elf_map SEC("maps") mim_inner = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u64),
	.max_elem = 1,
	.id = 1,
	.inner_idx = 0,
};

struct bpf_elf_map SEC("maps") mim_outer = {
	.type = BPF_MAP_TYPE_ARRAY_OF_MAPS,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 2,
	.inner_id = 1,
};

struct bpf_elf_map SEC("maps") rbt_legacy_glob = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u64),
	.max_elem = 1,
	.pinning = PIN_GLOBAL_NS,
};

SEC("classifier")
int legacy_mim(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v;
	void *inner = bpf_map_lookup_elem(&mim_outer, &key);

	if (inner) {
		v = bpf_map_lookup_elem(inner, &key);
		if (v)
			__sync_fetch_and_add(v, 1);
	}
	v = bpf_map_lookup_elem(&rbt_legacy_glob, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
