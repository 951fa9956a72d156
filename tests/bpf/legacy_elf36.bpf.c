// legacy tests: a tc classifier with iproute2's struct bpf_elf_map (36 bytes) in a legacy
// `maps` section, the shape of iproute2's examples; Debian 12's tc and bpftool refuse it.
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

#define PIN_NONE 0

struct bpf_elf_map SEC("maps") elf36_cnt = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u64),
	.max_elem = 2,
	.pinning = PIN_NONE,
};

SEC("classifier")
int legacy_elf36(struct __sk_buff *skb)
{
	__u32 key = skb->len > 64;
	__u64 *v = bpf_map_lookup_elem(&elf36_cnt, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
