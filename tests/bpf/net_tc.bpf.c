// net tests: tc_drop_cnt drops and counts every packet; tc_pass_cnt counts and passes.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drop_cnt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pass_cnt SEC(".maps");

static __always_inline void count(void *map)
{
	__u32 key = 0;
	__u64 *c = bpf_map_lookup_elem(map, &key);

	if (c)
		__sync_fetch_and_add(c, 1);
}

SEC("tc")
int tc_drop_cnt(struct __sk_buff *skb)
{
	count(&drop_cnt);
	return TC_ACT_SHOT;
}

SEC("tc")
int tc_pass_cnt(struct __sk_buff *skb)
{
	count(&pass_cnt);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
