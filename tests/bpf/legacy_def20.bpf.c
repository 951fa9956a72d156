// legacy tests: a counter in a legacy `maps` section, struct bpf_map_def (20 bytes), as
// samples/bpf and pre-BTF libbpf programs declared it; libbpf 1.x refuses this object.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") def20_cnt = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 1,
};

struct bpf_map_def SEC("maps") def20_seen = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 16,
};

SEC("xdp")
int legacy_def20(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&def20_cnt, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	__u64 len = ctx->data_end - ctx->data;

	key = len;
	bpf_map_update_elem(&def20_seen, &key, &len, BPF_ANY);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
