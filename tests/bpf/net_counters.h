// net tests: the drop_cnt and pass_cnt counters and count(), shared by the xdp and tc fixtures.
#include <linux/bpf.h>
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
