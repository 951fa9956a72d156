// Fixture: every map type a BPF object can define, with BTF-rich keys and values.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum proto { PROTO_TCP = 6, PROTO_UDP = 17 };

struct flow_key {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	enum proto proto;
};

struct inner {
	__s16 delta;
	unsigned char flags[3];
};

struct flow_val {
	__u64 packets;
	__u64 bytes;
	char ifname[16];
	struct inner in;
	unsigned int lo : 3, mid : 5, hi : 24;
	union {
		__u32 as_u32;
		__u8 as_bytes[4];
	} u;
	_Bool seen;
	__s64 delta64;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct flow_key);
	__type(value, struct flow_val);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct flow_val);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} pc_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct inner);
} pc_arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16);
	__type(key, struct flow_key);
	__type(value, __u64);
} lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} lru_pc SEC(".maps");

struct lpm_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u32);
} queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 8);
	__type(value, __u64);
} stack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf SEC(".maps");

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_map);
} aom SEC(".maps") = { .values = { [0] = &inner1 } };

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_map);
} hom SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} progs SEC(".maps");

SEC("xdp")
int rbt_maps_xdp(struct xdp_md *ctx)
{
	__u32 k = 0;
	struct flow_key fk = {};
	struct flow_val *v = bpf_map_lookup_elem(&flows, &fk);
	__u64 *p;

	if (v)
		v->packets++;
	v = bpf_map_lookup_elem(&arr, &k);
	if (v)
		v->packets++;
	p = bpf_map_lookup_elem(&pc_hash, &k);
	if (p)
		(*p)++;
	bpf_map_lookup_elem(&pc_arr, &k);
	bpf_map_lookup_elem(&lru, &fk);
	bpf_map_lookup_elem(&lru_pc, &k);
	struct lpm_key lk = {};
	bpf_map_lookup_elem(&lpm, &lk);
	bpf_map_push_elem(&queue, &k, 0);
	__u64 k64 = 0;
	bpf_map_push_elem(&stack, &k64, 0);
	bpf_ringbuf_output(&rb, &k, sizeof(k), 0);
	bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, &k, sizeof(k));
	bpf_map_lookup_elem(&aom, &k);
	bpf_map_lookup_elem(&hom, &k);
	bpf_tail_call(ctx, &progs, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
