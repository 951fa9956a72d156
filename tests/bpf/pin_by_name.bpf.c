// A map that libbpf pins by name (LIBBPF_PIN_BY_NAME) and a program that uses it; with
// -DREJECT the program fails verification, after the map was created and pinned.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rbt_pbn_map SEC(".maps");

SEC("xdp")
int rbt_pbn_xdp(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&rbt_pbn_map, &key);

#ifdef REJECT
	*v += 1; /* no NULL check: the verifier refuses it */
#else
	if (v)
		*v += 1;
#endif
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
