// metrics tests: an XDP program that counts packets per protocol in a per-CPU hash with a
// struct key (enum member) and fills a log2 histogram of packet sizes; a map keyed by a
// struct with a char[] member (label escaping), one whose value has no numbers, and one
// keyed by addresses (labels typed by --key-type).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

enum proto { PROTO_OTHER = 0, PROTO_ICMP = 1, PROTO_TCP = 6, PROTO_UDP = 17 };

struct flow_key {
	__u32 ifindex;
	enum proto proto;
};

struct flow_value {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
} rbt_mflows SEC(".maps");

struct label_key {
	char name[16];
	__u32 port;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct label_key);
	__type(value, __u64);
} rbt_mlabels SEC(".maps");

struct comm {
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct comm);
} rbt_mnames SEC(".maps");

struct addr_key {
	__u32 src;
	__u8 dst6[16];
	__u8 mac[6];
	__be16 port;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct addr_key);
	__type(value, __u64);
} rbt_maddrs SEC(".maps");

#define SLOTS 12

struct hist {
	__u64 slots[SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hist);
} rbt_msizes SEC(".maps");

static __always_inline enum proto protocol(void *data, void *end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return PROTO_OTHER;
	switch (ip->protocol) {
	case 1: return PROTO_ICMP;
	case 6: return PROTO_TCP;
	case 17: return PROTO_UDP;
	}
	return PROTO_OTHER;
}

SEC("xdp")
int rbt_metrics_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 len = end - data;
	struct flow_key key = { .ifindex = ctx->ingress_ifindex, .proto = protocol(data, end) };
	struct flow_value *v = bpf_map_lookup_elem(&rbt_mflows, &key);

	if (!v) {
		struct flow_value zero = {};

		bpf_map_update_elem(&rbt_mflows, &key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&rbt_mflows, &key);
	}
	if (v) {
		v->packets++;
		v->bytes += len;
	}

	__u32 zero_key = 0, slot = 0;
	struct hist *h = bpf_map_lookup_elem(&rbt_msizes, &zero_key);

	/* The smallest slot i with len <= 2^i. */
	for (int i = 0; i < SLOTS - 1; i++)
		if ((1ULL << slot) < len)
			slot++;
	if (h && slot < SLOTS)
		__sync_fetch_and_add(&h->slots[slot], 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
