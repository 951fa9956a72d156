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
    /// Attach a loaded program to a hook through a BPF link, and pin the link.
    #[command(after_help = ATTACH_HELP)]
    Attach(AttachArgs),
    /// Follow the kernel's trace_pipe (bpf_printk output); same as `perf tracelog`.
    #[command(after_help = TRACELOG_HELP)]
    Tracelog(TracelogArgs),
}

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
    let matches = command().try_get_matches_from(args)?;
    <Cli as clap::FromArgMatches>::from_arg_matches(&matches)
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
--from FILE|- reads JSON lines {\"key\":..,\"value\":..} (or `rbt -j map dump` output) and applies\n\
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
}

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
The link is pinned beside the program's pin as <pin>_link (or <bpffs>/rbt_link_<id>
when the program is not pinned); --pin PATH chooses. A failed attach leaves nothing.";

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
    Detach(NetDetachArgs),
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

#[derive(Args, Debug)]
pub struct NetAttachArgs {
    #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
    pub words: Vec<String>,
    /// Work on interfaces of another network namespace: NAME (/run/netns/NAME) or PATH.
    #[arg(long, value_name = "NAME|PATH")]
    pub netns: Option<String>,
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
    /// Print what would change and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct NetDetachArgs {
    #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
    pub words: Vec<String>,
    /// Work on interfaces of another network namespace: NAME (/run/netns/NAME) or PATH.
    #[arg(long, value_name = "NAME|PATH")]
    pub netns: Option<String>,
    /// Print what would change and change nothing.
    #[arg(long)]
    pub dry_run: bool,
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
