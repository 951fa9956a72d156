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
    /// bpftool's light skeleton loader: not in rbt (verbs that load refuse it).
    #[arg(short = 'L', long = "use-loader", global = true)]
    pub use_loader: bool,
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
    /// Pin BPF iterators (a program that walks tasks, map elements, ...) and read them.
    Iter {
        #[command(subcommand)]
        verb: IterVerb,
    },
    /// Run a file of rbt commands, one a line (bpftool's batch syntax), in one process.
    Batch {
        #[command(subcommand)]
        verb: BatchVerb,
    },
    /// Register, show, dump and unregister struct_ops (kernel ops tables run by BPF, e.g. TCP congestion control).
    #[command(
        name = "struct_ops",
        after_help = "An object alone runs `show`: `rbt struct_ops` = `rbt struct_ops show`."
    )]
    StructOps {
        #[command(subcommand)]
        verb: Option<StructOpsVerb>,
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
Options after OBJ [PATH], as in bpftool:\n  type TYPE                    program type when the section name does not say it\n  map {idx N | name NAME} MAP  reuse an existing map\n  pinmaps DIR                  pin every map of the object under DIR\n  autoattach                   attach each program by its section name, pin links at <pin>_link\n\
Objects with a legacy `maps` section (struct bpf_map_def, Aya's, iproute2's bpf_elf_map) are\n\
rewritten in memory into BTF-defined maps; --rewrite-to FILE also writes that object."
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
    /// Count hardware events (cycles, instructions, ...) inside each run of a program.
    #[command(after_help = PROFILE_HELP)]
    Profile {
        #[arg(value_name = "WORDS", allow_negative_numbers = true, hide = true)]
        words: Vec<String>,
    },
}

const PROFILE_HELP: &str = "\
Attaches fentry/fexit programs that rbt embeds to PROG (which needs BTF: built with -g),
reads each metric's per-CPU counter before and after every run, for `duration` seconds or
until SIGINT/SIGTERM, then prints bpftool's report: run_cnt, each metric's total, ratios
(insns per cycle, misses per million insns) and (NN.NN%) when a counter was multiplexed.
At most 4 metrics at once. Needs a kernel that allows BPF trampolines and hardware
counters: a metric this machine has no counter for is reported as such (`unavailable` in
JSON, with value 0) and run_cnt is still counted.";

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
    /// Also write OBJ with its legacy `maps` section rewritten (BTF-defined maps in `.maps`)
    /// to FILE, a new file, which bpftool and iproute2 load too.
    #[arg(long, value_name = "FILE")]
    pub rewrite_to: Option<PathBuf>,
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

/// Parse one command line of a batch file (`args[0]` is the program name) against `root`
/// (`Cli::command()`, built once), expanding prefixes as `parse` does. Also returns clap's
/// matches, from which the verb's words can be read back.
pub fn parse_line(
    root: &mut clap::Command,
    args: Vec<OsString>,
) -> Result<(Cli, clap::ArgMatches), clap::Error> {
    let args = expand_prefixes_in(root, args);
    if let Some(object) = not_yet(&args) {
        return Err(clap::Error::raw(
            clap::error::ErrorKind::InvalidSubcommand,
            format!("`{object}` is not in rbt yet"),
        ));
    }
    let matches = root.try_get_matches_from_mut(args)?;
    let cli = <Cli as clap::FromArgMatches>::from_arg_matches(&matches)?;
    Ok((cli, matches))
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
pub const NOT_YET: &[&str] = &["gen"];

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
pub fn expand_prefixes(args: Vec<OsString>) -> Vec<OsString> {
    expand_prefixes_in(&Cli::command(), args)
}

/// `expand_prefixes` against a command tree built once (`batch file` parses many lines).
pub fn expand_prefixes_in(root: &clap::Command, mut args: Vec<OsString>) -> Vec<OsString> {
    let mut cmd = root;
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

mod verbs;
pub use verbs::*;

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
        assert_eq!(not_yet(&args("rbt -j gen show")), Some("gen"));
        assert_eq!(not_yet(&args("rbt struct_ops show")), None);
        assert_eq!(not_yet(&args("rbt iter read /sys/fs/bpf/t")), None);
        assert_eq!(not_yet(&args("rbt batch file x")), None);
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
