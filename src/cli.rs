// The command line: clap definitions of the global flags, objects and verbs, and the
// bpftool-style expansion of unique prefixes (`rbt p s` = `rbt prog show`).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "rbt",
    about = "A command-line Swiss army knife for eBPF, with bpftool's grammar",
    long_about = "rbt drives the kernel's BPF subsystem from a shell: load and pin programs, \
inspect what is loaded, dump and edit maps. Its grammar is bpftool's: \
`rbt OBJECT VERB [ARGS]`, unique prefixes of objects and verbs work (`rbt p s`), \
and an object alone runs `show`.",
    after_help = "Examples:\n  rbt prog load examples/xdp_drop.bpf.o\n  rbt prog show\n  rbt -j prog show pinned /sys/fs/bpf/xdp_drop | jq .name\n\nExit codes: 0 success, 1 failure, 2 usage error.",
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,
    #[command(subcommand)]
    pub object: Object,
}

#[derive(Args, Debug, Clone, Default)]
pub struct Globals {
    /// Print compact JSON (one document, one trailing newline).
    #[arg(short = 'j', long, global = true)]
    pub json: bool,
    /// Print pretty JSON (implies --json).
    #[arg(short = 'p', long, global = true)]
    pub pretty: bool,
    /// Show the paths where objects are pinned (`pinned` field).
    #[arg(short = 'f', long, global = true)]
    pub bpffs: bool,
    /// Never mount bpffs at /sys/fs/bpf, even when it is not mounted.
    #[arg(short = 'n', long, global = true)]
    pub nomount: bool,
    /// Print libbpf's debug messages and whole verifier logs on stderr.
    #[arg(short = 'd', long, global = true)]
    pub debug: bool,
    /// Accepted for bpftool compatibility (legacy map sections); has no effect.
    #[arg(short = 'm', long, global = true, hide = true)]
    pub mapcompat: bool,
    /// The base BTF of a split BTF (a kernel module's) for `btf dump`.
    #[arg(short = 'B', long = "base-btf", global = true, value_name = "FILE")]
    pub base_btf: Option<PathBuf>,
    /// When to colour the output (NO_COLOR in the environment means never).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

#[derive(ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Subcommand, Debug)]
pub enum Object {
    /// Inspect, load and pin BPF programs.
    #[command(after_help = "An object alone runs `show`: `rbt prog` = `rbt prog show`.")]
    Prog {
        #[command(subcommand)]
        verb: Option<ProgVerb>,
    },
    /// Show, dump and edit BPF maps (typed by BTF), create, pin and freeze them.
    #[command(after_help = "An object alone runs `show`: `rbt map` = `rbt map show`.")]
    Map {
        #[command(subcommand)]
        verb: Option<MapVerb>,
    },
    /// Inspect, pin and detach BPF links (attachments that outlive the process).
    #[command(after_help = "An object alone runs `show`: `rbt link` = `rbt link show`.")]
    Link {
        #[command(subcommand)]
        verb: Option<LinkVerb>,
    },
    /// Tracing attachments (perf events), trace_pipe and perf/ring buffer streams.
    #[command(after_help = "An object alone runs `show`: `rbt perf` = `rbt perf show`.")]
    Perf {
        #[command(subcommand)]
        verb: Option<PerfVerb>,
    },
    /// Attach, replace, detach and show XDP, TC and tcx programs on network interfaces.
    #[command(after_help = "An object alone runs `show`: `rbt net` = `rbt net show`.")]
    Net {
        #[command(subcommand)]
        verb: Option<NetVerb>,
    },
    /// Show and dump BTF type information: the kernel's, a program's or map's, a file's.
    #[command(after_help = "An object alone runs `show`: `rbt btf` = `rbt btf show`.")]
    Btf {
        #[command(subcommand)]
        verb: Option<BtfVerb>,
    },
    /// Export programs' run statistics and maps' values in Prometheus' text format.
    #[command(after_help = "An object alone runs `print`: `rbt metrics` = `rbt metrics print`.")]
    Metrics {
        #[command(subcommand)]
        verb: Option<MetricsVerb>,
    },
    /// Show, attach and detach the BPF programs of cgroup v2 directories.
    #[command(after_help = "An object alone runs `show` of the cgroup v2 root.")]
    Cgroup {
        #[command(subcommand)]
        verb: Option<CgroupVerb>,
    },
    /// Probe what this kernel's BPF supports (bpftool's `feature probe`, plus live checks).
    #[command(after_help = "An object alone runs `probe`: `rbt feature` = `rbt feature probe`.")]
    Feature {
        #[command(subcommand)]
        verb: Option<FeatureVerb>,
    },
    /// Print rbt's version, the libbpf it carries and its features (bpftool's `version`).
    Version {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Generate a shell completion script on stdout.
    #[command(
        after_help = "bash, zsh and fish scripts ask rbt for candidates at each TAB: live ids with \
names, pinned paths, interfaces, type names."
    )]
    Completions {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Write one man page per object and verb into DIR.
    Man {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProgVerb {
    /// Show every loaded program, or the ones PROG names.
    #[command(visible_alias = "list")]
    Show {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Pin a loaded program at FILE on a bpffs.
    Pin {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Print a program's translated instructions (xlated) or its JITed machine code.
    #[command(after_help = DUMP_HELP)]
    Dump {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Load the first program of OBJ and pin it at PATH.
    #[command(
        after_help = "PATH defaults to /sys/fs/bpf/<stem>, the file name without `.o` and `.bpf`.\n\
Options after OBJ [PATH], as in bpftool:\n  type TYPE                    program type when the section name does not say it\n  map {idx N | name NAME} MAP  reuse an existing map\n  pinmaps DIR                  pin every map of the object under DIR\n  autoattach                   attach each program by its section name, pin links at <pin>_link"
    )]
    Load(LoadArgs),
    /// Run a program on test input with BPF_PROG_TEST_RUN and show its return value.
    #[command(after_help = "FILE `-` is stdin (data_in, ctx_in) or stdout (data_out, ctx_out).")]
    Run {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Load every program of OBJ and pin each one under DIR.
    #[command(after_help = "Takes the same options as `prog load`.")]
    Loadall(LoadArgs),
    /// Attach a program to a hook through a pinned BPF link, or to a sockmap or the netns.
    #[command(after_help = ATTACH_HELP)]
    Attach(AttachArgs),
    /// Detach a program attached to a sockmap/sockhash or to the flow dissector.
    #[command(after_help = PROG_DETACH_HELP)]
    Detach {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
    /// Follow the kernel's trace_pipe (bpf_printk output); same as `perf tracelog`.
    #[command(after_help = TRACELOG_HELP)]
    Tracelog(TracelogArgs),
    /// Watch every program's runs/s, ns per run and CPU share live (full screen or JSON lines).
    #[command(after_help = TOP_HELP)]
    Top(TopArgs),
}

pub const TOP_HELP: &str = "\
Statistics come from BPF_ENABLE_STATS, turned on only while rbt runs (left alone when
kernel.bpf_stats_enabled is 1 already); it needs CAP_SYS_ADMIN.
On a terminal: a full-screen view; keys: s sort, / filter by name or type, p pause,
up/down scroll, ? help, q quit. With -j or when stdout is not a terminal: one JSON line
per program per interval {\"timestamp\",\"id\",\"type\",\"name\",\"run_cnt\",\"run_time_ns\",
\"runs_per_sec\",\"avg_ns\",\"cpu_pct\",\"host_cpu_pct\"}; cpu_pct is % of one core.";

#[derive(Args, Debug)]
pub struct TopArgs {
    #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
    pub words: Vec<String>,
    /// Time between samples (humantime: 1s, 500ms, 2s).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "1s")]
    pub interval: std::time::Duration,
    /// Order programs by: runtime (total), rate (runs/s), avg (ns per run), cpu (share).
    #[arg(long, value_name = "KEY", default_value = "cpu",
          value_parser = clap::builder::PossibleValuesParser::new(<crate::grammar::words::TopSort as crate::grammar::words::Word>::WORDS))]
    pub sort: String,
    /// Stop after N intervals (JSON lines mode).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
}

const DUMP_HELP: &str = "\
  file FILE  write the raw image (instructions or machine code) to FILE, nothing else
  opcodes    also print each instruction's bytes
  linum      also print the file, line and column of each source line
  visual     xlated only: print the control-flow graph as Graphviz DOT (`| dot -Tsvg`)
Source lines (`; ...`) and function signatures come from the program's BTF when it has
some. jited disassembles x86-64 (AT&T syntax); on other hosts use `file FILE`.";

#[derive(Args, Debug)]
pub struct LoadArgs {
    #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
    pub words: Vec<String>,
    /// Write the whole verifier log to FILE (also on success).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
}

/// The clap command with the version line filled in (rbt's and the libbpf it carries), and
/// every object's and verb's usage line, definitions and examples taken from the grammar.
pub fn command() -> clap::Command {
    let mut root = Cli::command().version(crate::bpf::version_line());
    for object in names(&root) {
        root = root.mut_subcommand(&object, |cmd| object_help(cmd, &object));
    }
    root
}

fn names(cmd: &clap::Command) -> Vec<String> {
    cmd.get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect()
}

/// An object's help: each verb's usage line, and the verbs' own help from the grammar.
fn object_help(mut cmd: clap::Command, object: &str) -> clap::Command {
    let verbs = names(&cmd);
    for verb in &verbs {
        cmd = cmd.mut_subcommand(verb, |v| {
            let usage = crate::grammar::syntax(object, verb).map(|s| s.usage(has_options(&v)));
            with_grammar(v, object, verb, usage)
        });
    }
    let usage = if verbs.is_empty() {
        crate::grammar::syntax(object, "").map(|s| s.usage(has_options(&cmd)))
    } else {
        let lines: Vec<String> = verbs
            .iter()
            .filter_map(|v| crate::grammar::syntax(object, v).map(|s| s.usage(false)))
            .collect();
        Some(lines.join("\n       "))
    };
    with_grammar(cmd, object, "", usage)
}

fn with_grammar(
    cmd: clap::Command,
    object: &str,
    verb: &str,
    usage: Option<String>,
) -> clap::Command {
    let (Some(syntax), Some(usage)) = (crate::grammar::syntax(object, verb), usage) else {
        return cmd;
    };
    let notes = cmd
        .get_after_help()
        .map(|h| h.to_string())
        .unwrap_or_default();
    let help = syntax.help_tail(&notes);
    cmd.override_usage(usage).after_help(help)
}

/// Whether a verb takes dash options of its own (beyond --help and the global flags).
fn has_options(cmd: &clap::Command) -> bool {
    cmd.get_arguments().any(|a| {
        !a.is_positional() && !a.is_hide_set() && !a.is_global_set() && a.get_id() != "help"
    })
}

/// Parse the process arguments, expanding unique prefixes of objects and verbs the way
/// bpftool does (first match in declaration order wins, so `p` is `prog`).
pub fn parse() -> Result<Cli, clap::Error> {
    let args = expand_prefixes(std::env::args_os().collect());
    if let Some(object) = not_yet(&args) {
        return Err(clap::Error::raw(
            clap::error::ErrorKind::InvalidSubcommand,
            format!(
                "`rbt {object}` is not in rbt yet (bpftool has it: `bpftool {object} help`); \
rbt's objects are listed by `rbt --help`\n"
            ),
        ));
    }
    let matches = command().try_get_matches_from(args)?;
    <Cli as clap::FromArgMatches>::from_arg_matches(&matches)
}

/// Whether -j/--json and -p/--pretty are on a command line clap refused (for reporting the
/// error in JSON): (json, pretty).
pub fn json_flags(args: impl Iterator<Item = String>) -> (bool, bool) {
    let (mut json, mut pretty) = (false, false);
    for arg in args.skip(1).take_while(|a| a != "--") {
        match arg.as_str() {
            "--json" => json = true,
            "--pretty" => pretty = true,
            a if a.starts_with('-')
                && !a.starts_with("--")
                && a[1..].bytes().all(|b| b.is_ascii_alphabetic()) =>
            {
                json |= a.contains('j');
                pretty |= a.contains('p');
            }
            _ => {}
        }
    }
    (json || pretty, pretty)
}

/// bpftool objects rbt does not have yet: each answers with one line (exit 2) instead of
/// clap's "unrecognized subcommand".
pub const NOT_YET: &[&str] = &["struct_ops", "gen", "iter", "batch"];

/// The object word of `args` when it is one of `NOT_YET`.
fn not_yet(args: &[OsString]) -> Option<&'static str> {
    let mut words = args.iter().skip(1).filter_map(|a| a.to_str());
    let mut object = None;
    while let Some(w) = words.next() {
        if FLAGS_WITH_VALUE.contains(&w) {
            words.next();
        } else if !w.starts_with('-') {
            object = Some(w);
            break;
        }
    }
    NOT_YET.iter().copied().find(|n| Some(*n) == object)
}

/// Global flags that take a value in the next argument.
const FLAGS_WITH_VALUE: &[&str] = &["--color"];

/// Expand the object and verb words when they are prefixes of exactly one name, or, like
/// bpftool, of several names (the first in declaration order wins).
pub fn expand_prefixes(mut args: Vec<OsString>) -> Vec<OsString> {
    let root = Cli::command();
    let mut cmd = &root;
    let mut depth = 0;
    let mut i = 1;
    while i < args.len() && depth < 2 {
        let Some(word) = args[i].to_str().map(str::to_owned) else {
            break;
        };
        if word == "--" {
            break;
        }
        if word.starts_with('-') {
            i += if FLAGS_WITH_VALUE.contains(&word.as_str()) {
                2
            } else {
                1
            };
            continue;
        }
        let subs: Vec<&clap::Command> = cmd.get_subcommands().collect();
        if subs.is_empty() {
            break;
        }
        let exact = subs
            .iter()
            .find(|s| s.get_name() == word || s.get_all_aliases().any(|a| a == word));
        let chosen = exact.map(|s| (*s, word.clone())).or_else(|| {
            subs.iter().find_map(|s| {
                std::iter::once(s.get_name())
                    .chain(s.get_all_aliases())
                    .find(|n| n.starts_with(&word))
                    .map(|n| (*s, n.to_owned()))
            })
        });
        match chosen {
            Some((sub, name)) => {
                args[i] = OsString::from(name);
                cmd = sub;
                depth += 1;
            }
            None => break,
        }
        i += 1;
    }
    args
}

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
name=NAME or a pinned /path. For node_exporter's textfile collector:
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

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(line: &str) -> Vec<String> {
        let args = line.split_whitespace().map(OsString::from).collect();
        expand_prefixes(args)
            .into_iter()
            .map(|a| a.into_string().unwrap_or_default())
            .collect()
    }

    #[test]
    fn prefixes_expand_in_declaration_order() {
        assert_eq!(expand("rbt p s"), ["rbt", "prog", "show"]);
        assert_eq!(
            expand("rbt -j pr sh id 7"),
            ["rbt", "-j", "prog", "show", "id", "7"]
        );
        assert_eq!(
            expand("rbt --color never p lo x.o"),
            ["rbt", "--color", "never", "prog", "load", "x.o"]
        );
        // bpftool: `prog l` is `prog list`, the first verb starting with `l`.
        assert_eq!(expand("rbt p l"), ["rbt", "prog", "list"]);
    }

    #[test]
    fn aliases_and_unknown_words_are_kept() {
        assert_eq!(expand("rbt prog list"), ["rbt", "prog", "list"]);
        assert_eq!(expand("rbt zzz s"), ["rbt", "zzz", "s"]);
    }

    #[test]
    fn objects_rbt_lacks_are_named() {
        let args = |l: &str| l.split_whitespace().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(not_yet(&args("rbt -j struct_ops show")), Some("struct_ops"));
        assert_eq!(
            not_yet(&args("rbt --color never gen skeleton x.o")),
            Some("gen")
        );
        assert_eq!(not_yet(&args("rbt prog show name gen")), None);
    }

    #[test]
    fn every_verb_has_an_example() {
        let root = command();
        for object in root.get_subcommands() {
            for verb in object.get_subcommands() {
                let help = verb
                    .get_after_help()
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                assert!(
                    help.contains("Example"),
                    "rbt {} {} --help has no example",
                    object.get_name(),
                    verb.get_name()
                );
            }
        }
    }

    #[test]
    fn clap_definitions_are_consistent() {
        command().debug_assert();
    }
}
