// Benchmark object: two 1,000,000-entry hash maps with struct keys and values (BTF): a flat
// one (ints, u8 array; u64s, an enum, an s32, char[16], u16[4]) and a nested one (a nested
// struct, a union, bitfields).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum flow_state { FLOW_NEW, FLOW_OPEN, FLOW_CLOSING, FLOW_CLOSED };

struct flow_key {
	__u32 id;
	__u32 ifindex;
	__u8 addr[8];
};

struct flow_value {
	__u64 packets;
	__u64 bytes;
	enum flow_state state;
	__s32 delta;
	char comm[16];
	__u16 ports[4];
};

struct nested_value {
	struct {
		__u32 lo;
		__u32 hi;
	} pair;
	union {
		__u64 word;
		__u8 raw[8];
	} u;
	__u32 kind : 4;
	__u32 flags : 12;
	__s32 level : 16;
	enum flow_state state;
	__u64 total;
	char tag[12];
	__u32 tail;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1000000);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
} flow_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1000000);
	__type(key, struct flow_key);
	__type(value, struct nested_value);
} nested_map SEC(".maps");

SEC("xdp")
int rbt_bench_struct(struct xdp_md *ctx)
{
	struct flow_key key = {};
	struct flow_value *v = bpf_map_lookup_elem(&flow_map, &key);
	struct nested_value *n = bpf_map_lookup_elem(&nested_map, &key);

	if (v)
		__sync_fetch_and_add(&v->packets, 1);
	if (n)
		__sync_fetch_and_add(&n->total, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
