// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// `rbt prog profile`: an fentry and an fexit program that rbt attaches to the profiled
// program (build.rs compiles this file; rbt embeds the object).
//
// Counters: `counters` holds one perf event per (metric, CPU) at index metric * nr_cpus +
// cpu, opened by rbt. On entry, the fentry program reads each metric's counter on this
// CPU into `at_entry`; on exit, the fexit program reads them again and adds the difference
// to `totals`. `runs` counts exits whether or not any counter could be read, so a machine
// without hardware counters still gets a run count.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define RBT_MAX_METRICS 4

// Set by rbt before the load (.rodata): the verifier sees the constants.
struct rbt_profile_cfg {
	__u32 nr_cpus;
	__u32 nr_metrics;
};
const volatile struct rbt_profile_cfg rbt_cfg = { .nr_cpus = 1, .nr_metrics = 1 };

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RBT_MAX_METRICS);
	__type(key, __u32);
	__type(value, struct bpf_perf_event_value);
} at_entry SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RBT_MAX_METRICS);
	__type(key, __u32);
	__type(value, struct bpf_perf_event_value);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} runs SEC(".maps");

// The target (the profiled program's main function) is set by rbt before the load.
SEC("fentry/rbt_profile_target")
int rbt_prof_enter(unsigned long long *ctx)
{
	struct bpf_perf_event_value *start[RBT_MAX_METRICS];
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 m;

	// Find every slot first, so that the reads below come as late as possible.
	for (m = 0; m < RBT_MAX_METRICS && m < rbt_cfg.nr_metrics; m++) {
		__u32 key = m;

		start[m] = bpf_map_lookup_elem(&at_entry, &key);
		if (!start[m])
			return 0;
	}
	// A failed read (no counter there) leaves the slot zeroed: enabled == 0 marks it
	// unusable for the exit.
	for (m = 0; m < RBT_MAX_METRICS && m < rbt_cfg.nr_metrics; m++)
		bpf_perf_event_read_value(&counters, m * rbt_cfg.nr_cpus + cpu, start[m],
					  sizeof(*start[m]));
	return 0;
}

SEC("fexit/rbt_profile_target")
int rbt_prof_exit(unsigned long long *ctx)
{
	struct bpf_perf_event_value now[RBT_MAX_METRICS];
	long read[RBT_MAX_METRICS];
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 zero = 0, m;
	__u64 *n;

	// Read first: what comes before the reads is measured too.
	for (m = 0; m < RBT_MAX_METRICS && m < rbt_cfg.nr_metrics; m++)
		read[m] = bpf_perf_event_read_value(&counters, m * rbt_cfg.nr_cpus + cpu, &now[m],
						    sizeof(now[m]));

	n = bpf_map_lookup_elem(&runs, &zero);
	if (n)
		*n += 1;

	for (m = 0; m < RBT_MAX_METRICS && m < rbt_cfg.nr_metrics; m++) {
		struct bpf_perf_event_value *start, *total;
		__u32 key = m;

		if (read[m])
			continue;
		start = bpf_map_lookup_elem(&at_entry, &key);
		if (!start || !start->enabled)
			continue;
		total = bpf_map_lookup_elem(&totals, &key);
		if (total) {
			total->counter += now[m].counter - start->counter;
			total->enabled += now[m].enabled - start->enabled;
			total->running += now[m].running - start->running;
		}
		start->enabled = 0;
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
