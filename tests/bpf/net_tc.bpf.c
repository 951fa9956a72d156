// net tests: tc_drop_cnt drops and counts every packet; tc_pass_cnt counts and passes.
#include "net_counters.h"
#include <linux/pkt_cls.h>

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
