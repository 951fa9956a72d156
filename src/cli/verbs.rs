// The verbs of map, feature, link, perf, cgroup, btf, net and metrics: their clap variants,
// dash options and the notes their --help shows (their words are in src/grammar/table.rs).

use std::path::PathBuf;

use clap::{Args, Subcommand};

// ---- map verbs ----

/// How keys and values are read and written when BTF is missing or not wanted.
#[derive(Args, Debug, Clone, Default)]
pub struct MapTypeArgs {
    /// Interpret keys as TYPE: u8..u64, i8..i64, be16, be32, be64, ipv4, ipv6, mac, str, hex.
    #[arg(long, value_name = "TYPE")]
    pub key_type: Option<String>,
    /// Interpret values as TYPE (same names as --key-type).
    #[arg(long, value_name = "TYPE")]
    pub value_type: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum MapVerb {
    /// Show every map, or the ones MAP names.
    #[command(
        visible_alias = "list",
        after_help = "Fields as bpftool's: id, type, name, flags, bytes_key, bytes_value, max_entries, \
bytes_memlock, frozen, btf_id, pinned (with -f), pids."
    )]
    Show {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Print every element of MAP, typed by its BTF (streamed, batched).
    #[command(
        after_help = "JSON: an array of {\"key\":..,\"value\":..} (per-CPU maps: \"values\":[{\"cpu\":N,\"value\":..}]),\n\
one element per line, so `rbt -j map dump A | rbt map update B --from -` copies a map.\n\
--raw prints bpftool's shape: hex byte arrays plus \"formatted\"."
    )]
    Dump {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
        /// bpftool's exact JSON shape (hex byte arrays, plus "formatted" with BTF).
        #[arg(long)]
        raw: bool,
        #[command(flatten)]
        types: MapTypeArgs,
    },
    /// Create or change an element: MAP key DATA value VALUE [any|exist|noexist].
    #[command(
        after_help = "DATA and VALUE: bpftool bytes (`1 0 0 0`, `0x0a 0 0 1`, `hex 0a 00 00 01`; each byte 0..255),\n\
or one typed word: JSON matching the BTF type (`'{\"saddr\":1,\"proto\":\"PROTO_TCP\"}'`, `5`, `'\"eth0\"'`),\n\
a bare word (`eth0`, `PROTO_TCP`), or a --key-type/--value-type text (`10.0.0.1`).\n\
Missing struct members are zero. Per-CPU maps: one value for every CPU, or a JSON array of\n\
{\"cpu\":N,\"value\":..}. prog_array values: a PROG handle; map-in-map values: a MAP handle.\n\
--from FILE|- reads elements {\"key\":..,\"value\":..} (JSON lines, rbt or bpftool dump output) and applies\n\
them with BPF_MAP_UPDATE_BATCH; a bad line stops everything after it unless --keep-going."
    )]
    Update {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
        /// Read elements as JSON lines from FILE (`-` for stdin).
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        /// With --from: skip bad lines (reported on stderr) instead of stopping.
        #[arg(long)]
        keep_going: bool,
        #[command(flatten)]
        types: MapTypeArgs,
    },
    /// Print the element with key DATA; a missing key exits 1 (`null` in JSON).
    Lookup {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
        #[command(flatten)]
        types: MapTypeArgs,
    },
    /// Print the key after DATA (the first key without one).
    #[command(after_help = "JSON: {\"key\":<typed>|null,\"next_key\":<typed>|null}.")]
    Getnext {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
        #[command(flatten)]
        types: MapTypeArgs,
    },
    /// Delete the element with key DATA, or every element with --all.
    Delete {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
        /// Delete every element (batch delete where the kernel has it).
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        types: MapTypeArgs,
    },
    /// Pin a map at FILE on a bpffs.
    Pin {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Create a map and pin it at FILE.
    #[command(
        after_help = "FILE type TYPE key KEY_SIZE value VALUE_SIZE entries N name NAME [flags F] [inner_map MAP]\n\
F is a number or symbolic names joined by `,` or `|`: no_prealloc, no_common_lru, numa_node, rdonly,\n\
wronly, stack_build_id, zero_seed, rdonly_prog, wronly_prog, clone, mmapable, preserve_elems,\n\
inner_map, link, path_fd, vtype_btf_obj_fd, token_fd, segv_on_fault, no_user_conv."
    )]
    Create {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Print the head of a queue or stack (or test a bloom filter) without removing it.
    Peek {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
        #[command(flatten)]
        types: MapTypeArgs,
    },
    /// Push VALUE onto a stack or queue (or add it to a bloom filter).
    Push {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
        #[command(flatten)]
        types: MapTypeArgs,
    },
    /// Add VALUE to the tail of a queue (same as push).
    Enqueue {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
        #[command(flatten)]
        types: MapTypeArgs,
    },
    /// Remove and print the top of a stack or the head of a queue.
    Pop {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
        #[command(flatten)]
        types: MapTypeArgs,
    },
    /// Remove and print the head of a queue (same as pop).
    Dequeue {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
        #[command(flatten)]
        types: MapTypeArgs,
    },
    /// Make a map read-only for user space (BPF programs may still write it).
    Freeze {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Print what a ring buffer or perf event array receives (same as `perf events`).
    #[command(name = "event_pipe", after_help = EVENTS_HELP)]
    EventPipe(EventsArgs),
    /// Dump MAP every interval, or with --delta the per-second rate of its numeric members.
    #[command(after_help = WATCH_HELP)]
    Watch(WatchArgs),
}

pub const WATCH_HELP: &str = "\
Each interval prints the typed dump (JSON lines {\"timestamp\",\"key\",\"value\"|\"values\"}).
--delta prints {\"timestamp\",\"key\",\"rate\"}: the value with every numeric member replaced
by its change per second (per-CPU values summed first), non-numeric members left out; the
first line comes after one interval. A map whose value has no numeric member is an error.";

#[derive(Args, Debug)]
pub struct WatchArgs {
    #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
    pub words: Vec<String>,
    /// Time between dumps (humantime: 1s, 500ms, 2s).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "1s")]
    pub interval: std::time::Duration,
    /// Print per-key rates (change per second) of numeric members instead of values.
    #[arg(long)]
    pub delta: bool,
    /// Stop after N intervals.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    #[command(flatten)]
    pub types: MapTypeArgs,
}

// ---- feature verbs ----

#[derive(Subcommand, Debug)]
pub enum FeatureVerb {
    /// Probe program, map and link types, helpers, kernel config and live attach checks.
    #[command(after_help = FEATURE_PROBE_HELP)]
    Probe {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
}

const FEATURE_PROBE_HELP: &str = "\
-j has bpftool's keys (system_config, syscall_config, program_types, map_types, helpers,
misc) and rbt's: link_types, attach_types, and live_probes (kprobes, bpf_trampoline, tcx,
netkit, uprobe_multi, ringbuf, batch_ops, ...: each a real load, attach or map operation,
with what it did or why it failed). `dev IF` probes offload to a device. `unprivileged`
probes without CAP_SYS_ADMIN, CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON. `macros` prints
bpftool's #define lines (not with -j). Helpers that write to the kernel log
(bpf_trace_printk, bpf_trace_vprintk, bpf_probe_write_user) are probed only with `full`.";

// ---- link / perf / attach verbs ----

#[derive(Subcommand, Debug)]
pub enum LinkVerb {
    /// Show every link, or the one LINK names.
    #[command(visible_alias = "list")]
    Show {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Pin a link at FILE on a bpffs, so the attachment outlives its holders.
    Pin {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Detach a link (the program stops running there) and remove its pins.
    #[command(after_help = "The link's pins under /sys/fs/bpf are removed too.")]
    Detach {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum PerfVerb {
    /// Show programs attached through perf events (kprobe, uprobe, tracepoint, raw_tp),
    /// both those held by a process's fd and those held by a BPF link.
    #[command(visible_alias = "list")]
    Show,
    /// Follow the kernel's trace_pipe (bpf_printk output), mounting tracefs if needed.
    #[command(after_help = TRACELOG_HELP)]
    Tracelog(TracelogArgs),
    /// Print the records a BPF ring buffer or perf event array receives, one per line.
    #[command(after_help = EVENTS_HELP)]
    Events(EventsArgs),
}

pub const ATTACH_HELP: &str = "\
tracepoint: e.g. syscalls:sys_enter_openat; raw_tracepoint: e.g. sched_switch.
pid P applies to uprobe, uretprobe and usdt. usdt is a <sys/sdt.h> probe, for a program
written with libbpf's <bpf/usdt.bpf.h> (BPF_USDT); a probe with several sites gets one
uprobe_multi link (or a link per site, pinned as <pin>, <pin>_2, ...).
fentry, fexit and fmod_ret attach to the target the program was loaded for.
cgroup: e.g. cgroup /sys/fs/cgroup/unified cgroup_inet_ingress.
sk_msg_verdict, sk_skb_verdict, sk_skb_stream_verdict, sk_skb_stream_parser MAP attach to a
sockmap or sockhash, flow_dissector to the current network namespace, the classic way
(BPF_PROG_ATTACH, as bpftool; no link, no pin): `prog detach` undoes them.
The link is pinned beside the program's pin as <pin>_link (or <bpffs>/rbt_link_<id>
when the program is not pinned); --pin PATH chooses. A failed attach leaves nothing.";

pub const PROG_DETACH_HELP: &str = "\
Undoes `prog attach PROG ATTACH_TYPE MAP` (and `flow_dissector`, on the current network
namespace). Links are detached with `link detach`.";

pub const TRACELOG_HELP: &str = "\
Streams until Ctrl-C, SIGTERM, a closed stdout, --count or --duration. With --json each
line is {\"task\",\"pid\",\"cpu\",\"flags\",\"timestamp\",\"message\"}.
Exit: 0 when it ends on --count, --duration, Ctrl-C, SIGTERM or a closed stdout.";

pub const EVENTS_HELP: &str = "\
MAP is a BPF_MAP_TYPE_RINGBUF or PERF_EVENT_ARRAY.
Records print as hex; --type TYPE decodes them with BTF. With --json each line is
{\"timestamp\",\"cpu\" (perf arrays),\"size\",\"data\"} and lost samples are
{\"lost\":{\"cpu\",\"count\"}} lines; a summary goes to stderr at the end.
cpu N index M (perf event arrays, both or neither, as bpftool): read only the buffer opened
on CPU N and stored at index M of the map (a program must output to that index).
Exit: 0 when it ends on --count, --duration, Ctrl-C, SIGTERM or a closed stdout.";

#[derive(Args, Debug)]
pub struct AttachArgs {
    #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
    pub words: Vec<String>,
    /// Pin the link at PATH instead of beside the program's pin.
    #[arg(long, value_name = "PATH")]
    pub pin: Option<PathBuf>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct StreamLimits {
    /// Stop after N records.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this long (humantime: 10s, 2m, 1h30m).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub duration: Option<std::time::Duration>,
}

#[derive(Args, Debug)]
pub struct TracelogArgs {
    #[command(flatten)]
    pub limits: StreamLimits,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
    pub words: Vec<String>,
    /// Decode each record as this BTF type (`struct event`, `u64`, ...).
    #[arg(long = "type", value_name = "TYPE")]
    pub type_name: Option<String>,
    /// Where to find --type: a BTF or ELF file (default: the map's BTF, then vmlinux).
    #[arg(long, value_name = "FILE")]
    pub btf: Option<PathBuf>,
    /// Perf event array buffer size per CPU, in pages (a power of two).
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub pages: usize,
    #[command(flatten)]
    pub limits: StreamLimits,
}

// ---- cgroup verbs ----

#[derive(Subcommand, Debug)]
pub enum CgroupVerb {
    /// Show the programs attached to a cgroup (both classic attachments and links).
    #[command(
        visible_alias = "list",
        after_help = "CGROUP defaults to the cgroup v2 mount. `effective` adds the programs inherited from \
ancestors.\nFields as bpftool's (id, attach_type, attach_flags, name, attach_btf_*), plus \
attach_mode (prog_attach | link) and link_id."
    )]
    Show {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Show the programs of every cgroup under ROOT (default: the cgroup v2 mount).
    Tree {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Attach a program to a cgroup (BPF_PROG_ATTACH, or a pinned link with --link).
    #[command(after_help = CGROUP_ATTACH_HELP)]
    Attach(CgroupAttachArgs),
    /// Detach a program from a cgroup (a classic attachment, or the link that holds it).
    Detach {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
}

const CGROUP_ATTACH_HELP: &str = "\
ATTACH_TYPE takes libbpf's names (cgroup_inet_ingress) and bpftool's older ones (ingress).
multi: other programs may attach too; override: a child cgroup's program replaces this one;
replace PROG: swap PROG for the new one in a multi list. Without these, the program is the
only one and children cannot attach their own. --link ignores them (links are always multi).";

#[derive(Args, Debug)]
pub struct CgroupAttachArgs {
    #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
    pub words: Vec<String>,
    /// Attach through a BPF link pinned on bpffs (it outlives rbt; `link detach` removes it).
    #[arg(long)]
    pub link: bool,
    /// With --link: pin the link at FILE (default: beside the program's pin).
    #[arg(long, value_name = "FILE", requires = "link")]
    pub pin: Option<PathBuf>,
}

// ---- iter verbs ----

#[derive(Subcommand, Debug)]
pub enum IterVerb {
    /// Load OBJ, attach its iterator program and pin the link at PATH (`cat PATH` runs it).
    #[command(
        after_help = "The program is the object's first SEC(\"iter/TARGET\") one. `map MAP` gives the map a \
bpf_map_elem\n(or bpf_sk_storage_map, sockmap) iterator walks. PATH must be new, on a bpffs. \
Nothing is left\npinned when a step fails."
    )]
    Pin {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Run a pinned iterator: read its file and copy it to stdout (streamed).
    #[command(after_help = "With -j: one JSON string per line of the iterator's output.")]
    Read {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
}

// ---- batch verbs ----

#[derive(Subcommand, Debug)]
pub enum BatchVerb {
    /// Run the commands of FILE (`-` for stdin), one a line, in one process.
    #[command(after_help = BATCH_HELP)]
    File(BatchFileArgs),
}

const BATCH_HELP: &str = "\
Lines as bpftool reads them: `#` starts a comment (anywhere), words are split at blanks,
'...' and \"...\" quote a word (no escapes inside), a `\\` at the end of a line continues it.
Each line is an rbt command without `rbt`: `map update /sys/fs/bpf/m key 1 0 0 0 value 2 0 0 0`.
The whole file is read and split first: a syntax error runs nothing. Commands run in order;
handles are resolved when their line runs, so a line may use what an earlier line pinned.
The first failing line stops the batch (`line N: ...`, exit 1) unless --keep-going.
-j: one JSON document per command, {\"line\":N,\"command\":[..],\"output\":..} or ..\"error\":..}.
Runs of `map update` lines on one map are applied with BPF_MAP_UPDATE_BATCH.";

#[derive(Args, Debug)]
pub struct BatchFileArgs {
    #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
    pub words: Vec<String>,
    /// Run every line even when some fail; print a summary (exit 1 if any failed).
    #[arg(long)]
    pub keep_going: bool,
}

// ---- btf verbs ----

#[derive(Subcommand, Debug)]
pub enum BtfVerb {
    /// Show every BTF object the kernel holds, or the one BTF names.
    #[command(visible_alias = "list")]
    Show {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Dump the types of a BTF object: bpftool's raw listing, or a C header.
    #[command(after_help = BTF_DUMP_HELP)]
    Dump {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
}

pub const BTF_DUMP_HELP: &str = "\
map MAP dumps the key and value types (key, value, kv or all chooses); root_id ID dumps
one type (raw) or one type and what it needs (c). A module's BTF (an id or a file under
/sys/kernel/btf/) is read on top of vmlinux; -B/--base-btf FILE gives another base.
format c writes a header a CO-RE program includes; it is not available with -j.";

// ---- net verbs ----

#[derive(Subcommand, Debug)]
pub enum NetVerb {
    /// Show the XDP, TC and tcx programs attached to interfaces (all, or `dev IF`).
    #[command(visible_alias = "list")]
    Show {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
        /// Work on interfaces of another network namespace: NAME (/run/netns/NAME) or PATH.
        #[arg(long, value_name = "NAME|PATH")]
        netns: Option<String>,
    },
    /// Attach a program to one or more interfaces (all or nothing).
    #[command(after_help = NET_ATTACH_HELP)]
    Attach(NetAttachArgs),
    /// Detach the program of TYPE from one or more interfaces.
    #[command(after_help = NET_DETACH_HELP)]
    Detach(NetWords),
}

const NET_ATTACH_HELP: &str = "\
PROG left out: the one unattached program of the right type pinned under /sys/fs/bpf.
Options after the interfaces:
  overwrite        XDP: replace the attached program atomically (the kernel checks it is still
                   the one rbt saw); tc: replace the filter in the same prio/handle
  prepend          tcx: put the program first in the chain
  prio P, handle H tc: the filter's priority and handle (default: chosen by the kernel)";

const NET_DETACH_HELP: &str = "\
For tc and tcx, PROG (or `prio P handle H` for tc) says which program to remove when several
are attached; the clsact qdisc is removed when rbt created it and it is now empty.";

/// The words and options `net attach` and `net detach` share.
#[derive(Args, Debug)]
pub struct NetWords {
    #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
    pub words: Vec<String>,
    /// Work on interfaces of another network namespace: NAME (/run/netns/NAME) or PATH.
    #[arg(long, value_name = "NAME|PATH")]
    pub netns: Option<String>,
    /// Print what would change and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct NetAttachArgs {
    #[command(flatten)]
    pub common: NetWords,
    /// Attach through a bpf_link pinned in bpffs (XDP and tcx), so it outlives rbt.
    #[arg(long)]
    pub link: bool,
    /// Where to pin the link (one interface only); default /sys/fs/bpf/rbt/net/...
    #[arg(long, value_name = "FILE", requires = "link")]
    pub link_pin: Option<PathBuf>,
    /// tcx: put the program before PROG in the chain (PROG in one word: id=N, name=X, /path).
    #[arg(long, value_name = "PROG", conflicts_with = "after")]
    pub before: Option<String>,
    /// tcx: put the program after PROG in the chain.
    #[arg(long, value_name = "PROG")]
    pub after: Option<String>,
}

// ---- metrics verbs ----

#[derive(Subcommand, Debug)]
pub enum MetricsVerb {
    /// Print the Prometheus text exposition of programs and maps on stdout.
    #[command(after_help = METRICS_HELP)]
    Print(MetricsPrintArgs),
    /// Serve the exposition at http://ADDR/metrics, read from the kernel at each scrape.
    #[command(after_help = METRICS_SERVE_HELP)]
    Serve(MetricsServeArgs),
}

const METRICS_HELP: &str = "\
Families: rbt_prog_info{id,name,type,tag}, rbt_prog_run_count_total and
rbt_prog_run_time_seconds_total{id,name} (nonzero only while BPF statistics are enabled:
kernel.bpf_stats_enabled, or a running `rbt metrics serve`), rbt_map_info{id,name,type},
rbt_map_entries, rbt_map_max_entries, rbt_map_memory_bytes{id,name}.
--map MAP: rbt_map_value_<map>[_<member>] per numeric value member (per-CPU values summed),
labelled by the key (a scalar key is key=\"5\", a struct key one label per member, enums by
name). --histogram MAP: a histogram of the value's bucket array. MAP is one word: id=N,
name=NAME or a pinned /path. --key-type saddr=ipv4 labels key member saddr as an address
(saddr=\"10.0.0.1\"; MEMBER is the label's name, nested members joined by `_`);
--key-type ipv4 (no MEMBER) makes the whole key one label. For node_exporter's textfile collector:
  rbt metrics print --map name=counts > /var/lib/node_exporter/rbt.prom.$$ && mv ...";

const METRICS_SERVE_HELP: &str = "\
Each GET /metrics reads the kernel afresh (no background polling); scrapes may run in
parallel. BPF statistics are enabled while rbt serves (and left alone when something else
enabled them). Maps and programs that disappear between scrapes are left out, with a line on
stderr. Stops on SIGINT or SIGTERM.";

#[derive(Args, Debug)]
pub struct MetricsMaps {
    /// Export the values of MAP (id=N, name=NAME or /pinned/path); may be repeated.
    #[arg(long = "map", value_name = "MAP")]
    pub maps: Vec<String>,
    /// Export MAP's value, an array of bucket counts, as a histogram; may be repeated.
    #[arg(long = "histogram", value_name = "MAP")]
    pub histograms: Vec<String>,
    /// How bucket i of a --histogram maps to its upper bound: 2^i (log2) or i (linear).
    #[arg(long, value_enum, value_name = "KIND", default_value = "log2")]
    pub buckets: crate::cmd::metrics::BucketKind,
    /// Multiply every bucket bound by X (e.g. 1e-9 for nanosecond buckets in seconds).
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    pub bucket_multiplier: f64,
    /// Label key member MEMBER (or, without `MEMBER=`, the whole key) as TYPE: ipv4, ipv6,
    /// mac, hex, str, be16, be32, be64, u8..u64, i8..i64; may be repeated.
    #[arg(long = "key-type", value_name = "[MEMBER=]TYPE")]
    pub key_types: Vec<String>,
}

#[derive(Args, Debug)]
pub struct MetricsPrintArgs {
    #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
    pub words: Vec<String>,
    #[command(flatten)]
    pub maps: MetricsMaps,
    /// Stop after N series (default: no limit); the rest is left out with a warning.
    #[arg(long, value_name = "N")]
    pub max_series: Option<usize>,
}

#[derive(Args, Debug)]
pub struct MetricsServeArgs {
    #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
    pub words: Vec<String>,
    /// Listen on ADDR: IP:PORT of this host (127.0.0.1:9435, [::1]:9435, 0.0.0.0:9435).
    #[arg(long, value_name = "ADDR", required = true)]
    pub listen: String,
    #[command(flatten)]
    pub maps: MetricsMaps,
    /// Series per scrape at most (bounds memory); the rest is left out with a log line.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub max_series: usize,
    /// Scrapes served at the same time at most.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub workers: usize,
}

// ---- struct_ops verbs ----

#[derive(Subcommand, Debug)]
pub enum StructOpsVerb {
    /// Show every registered struct_ops map, or the ones MAP names (id, name or pin).
    #[command(
        visible_alias = "list",
        after_help = "Fields as bpftool's: id, name, kernel_struct_ops (the kernel struct it implements)."
    )]
    Show {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Print struct_ops maps typed by kernel BTF, function pointers as program names and ids.
    #[command(
        after_help = "JSON as bpftool's: per map {\"bpf_map_info\":{..}} then {\"bpf_struct_ops_<name>\":{..}}, a \
function pointer as \"<C signature> <prog name>/prog_id:<id>\" (\"... 0\" when unset). Without -j the \
same JSON, pretty."
    )]
    Dump {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Load OBJ and register each of its .struct_ops and .struct_ops.link maps.
    #[command(after_help = STRUCT_OPS_REGISTER_HELP)]
    Register {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Unregister a struct_ops map (its value, or the links that hold it, and their pins).
    Unregister {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
}

const STRUCT_OPS_REGISTER_HELP: &str = "\
A .struct_ops map stays registered after rbt exits (until `struct_ops unregister`).
A .struct_ops.link map is registered through a BPF link that rbt pins at LINK_DIR/<map name>
(LINK_DIR defaults to /sys/fs/bpf/rbt/struct_ops; it must be on a bpffs), so it survives rbt.
A failure registers nothing: what was registered or pinned before it is undone.
JSON: [{\"id\",\"name\",\"kernel_struct_ops\",\"link_id\",\"pinned\"}] per map.";
