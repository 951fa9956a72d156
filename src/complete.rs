// Dynamic shell completion: candidates read from the kernel at the moment of the TAB (ids
// with names, pinned paths, interfaces, type names) for bash, zsh and fish, through
// clap_complete's dynamic engine (`RBT_COMPLETE=bash rbt -- WORDS...`), reading bpftool's
// keyword grammar (`id 7`, `pinned /sys/fs/bpf/x`, `dev eth0`). Read-only: a completion never
// loads, attaches, pins or mounts anything.
//
// HOW A VERB OPTS IN (one attribute, usually the one it has anyway; nothing to register):
// * `#[arg(value_name = "MAP")]`. Positional arguments are completed from their VALUE NAMES,
//   read as a bpftool synopsis, left to right over all positionals of the verb. Capitalised
//   words are slots, lower-case words keywords, `[..]` optional, `{..}` a keyword's sub-grammar:
//     PROG, MAP, LINK      a handle of that kind: `id N | pinned FILE | name NAME | tag HEX`
//                          (keywords offered, then ids with names, pins, names, tags)
//     FILE, PATH, DIR      a path on bpffs (directories and pins under /sys/fs/bpf)
//     DEV, IF, IFNAME      an interface name (/sys/class/net);  NETNS  /run/netns names
//     ATTACH_TYPE, PROG_TYPE, MAP_TYPE   libbpf's type names
//     anything else        one word without candidates (OBJ, KEY, N); in an argument that
//                          takes any number of values (ARGS), the rest of the line
//     `dev IF`             the keyword `dev` is offered, and its value completed
//   So `value_name = "PROG FILE"` completes a program handle, then a bpffs path.
// * When the value name says nothing (`ARGS`), the first clause of the argument's help (its
//   doc comment) is read instead if it is a synopsis, i.e. starts with `[` or a capitalised
//   word: `/// MAP key DATA value VALUE [any|exist|noexist]` or
//   `/// [PROG] dev IF [dev IF]... [overwrite | prepend] [prio P] [handle H]`.
// * Keywords complete the word after them: id, pinned, name, tag (handles; kind from the slot,
//   or MAP after `map`/`inner_map`), dev, netns, type (map types under `rbt map`, program
//   types elsewhere), attach_type, pinmaps (bpffs dirs), data_in/data_out/ctx_in (files).
// * Extra keywords to offer can be listed explicitly:
//   `#[arg(add = crate::complete::Keywords(&["type", "map", "pinmaps"]))]`.
// * Options (`--dev IF`) complete from their value name: DEV, IF, IFNAME, NETNS,
//   ATTACH_TYPE, PROG_TYPE, MAP_TYPE.
// * Arguments with possible values (ValueEnum), an explicit `value_hint`, or their own
//   `add = ArgValueCompleter::new(..)` are completed by clap_complete as usual.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use clap::builder::ArgExt;
use clap_complete::engine::{
    ArgValueCompleter, CompletionCandidate, PathCompleter, ValueCompleter,
};
use clap_complete::env::{Bash, EnvCompleter, Fish, Shells, Zsh};

use crate::bpf::{self, catalog, Kind};

/// The environment variable that asks rbt for completions instead of running a command.
pub const ENV_VAR: &str = "RBT_COMPLETE";

/// Keywords a keyword-tail argument offers where a keyword may start; see the module comment.
#[derive(Debug, Clone, Copy)]
pub struct Keywords(pub &'static [&'static str]);

impl ArgExt for Keywords {}

/// Answer a completion request (`RBT_COMPLETE=<shell> rbt -- WORDS`) and exit; return at
/// once when the variable is not set. Must run before anything writes to stdout.
pub fn run_if_requested() {
    clap_complete::CompleteEnv::with_factory(command)
        .var(ENV_VAR)
        .bin("rbt")
        .completer("rbt")
        .shells(Shells(&[&DynBash, &DynZsh, &DynFish]))
        .complete();
}

/// The script that registers rbt's completer in `shell`, as `rbt completions SHELL` prints it
/// (None for shells without dynamic completion: the caller falls back to a static script).
pub fn registration(shell: clap_complete::Shell) -> Option<Vec<u8>> {
    let completer: &dyn EnvCompleter = match shell {
        clap_complete::Shell::Bash => &Bash,
        clap_complete::Shell::Zsh => &Zsh,
        clap_complete::Shell::Fish => &Fish,
        _ => return None,
    };
    let mut script = Vec::new();
    completer
        .write_registration(ENV_VAR, "rbt", "rbt", "rbt", &mut script)
        .ok()?;
    if shell == clap_complete::Shell::Zsh {
        script = zsh_autoloadable(&script);
    }
    Some(script)
}

/// Installed in $fpath, _rbt is autoloaded and run at the first TAB: make that run complete
/// too, not only register the completer (clap_complete's script does only the latter, so the
/// first TAB of a session offered nothing). Sourced, it registers as before.
fn zsh_autoloadable(script: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(script);
    let register = "compdef _clap_dynamic_completer_rbt rbt";
    let both = "if [[ \"${funcstack[1]}\" == _rbt ]]; then\n    \
                _clap_dynamic_completer_rbt \"$@\"\nelse\n    \
                compdef _clap_dynamic_completer_rbt rbt\nfi";
    text.replacen(register, both, 1).into_bytes()
}

/// The clap command with a completer on every positional argument, as described above.
pub fn command() -> clap::Command {
    let mut cmd = crate::cli::command();
    cmd.build();
    annotate(cmd, &[])
}

fn annotate(mut cmd: clap::Command, path: &[String]) -> clap::Command {
    // clap_complete keeps one candidate per command (`list` hides `show`): offer aliases
    // only when the word typed so far matches nothing else.
    let aliases: Vec<String> = cmd.get_all_aliases().map(str::to_owned).collect();
    if !aliases.is_empty() {
        cmd = cmd.visible_alias(None);
        for alias in aliases {
            cmd = cmd.alias(alias);
        }
    }
    let mut here = path.to_vec();
    if !path.is_empty() || cmd.get_name() != "rbt" {
        here.push(cmd.get_name().to_owned());
    }
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in subs {
        let p = here.clone();
        cmd = cmd.mut_subcommand(name, move |s| annotate(s, &p));
    }
    let options: Vec<(String, Source)> = cmd
        .get_arguments()
        .filter(|a| !a.is_positional() && a.get_num_args().is_some_and(|n| n.takes_values()))
        .filter(|a| wants_completer(a))
        .filter_map(|a| option_source(a).map(|s| (a.get_id().to_string(), s)))
        .collect();
    for (id, source) in options {
        cmd = cmd.mut_arg(id, move |a| a.add(ArgValueCompleter::new(Fixed(source))));
    }
    let positionals: Vec<&clap::Arg> = cmd.get_positionals().collect();
    if positionals.is_empty() {
        return cmd;
    }
    let grammars: Vec<Grammar> = positionals.iter().map(|a| grammar_of(a)).collect();
    let mut keywords: Vec<String> = Vec::new();
    for word in positionals
        .iter()
        .filter_map(|a| a.get::<Keywords>())
        .flat_map(|k| k.0.iter().map(|w| w.to_string()))
        .chain(grammars.iter().flat_map(|g| g.keywords.iter().cloned()))
    {
        push_once(&mut keywords, word);
    }
    let spec = Arc::new(Spec {
        object: here.first().cloned().unwrap_or_default(),
        verb: here.get(1).cloned().unwrap_or_default(),
        slots: grammars
            .iter()
            .flat_map(|g| g.slots.iter().map(|s| s.0))
            .collect(),
        optional: grammars
            .iter()
            .flat_map(|g| g.slots.iter().map(|s| s.1))
            .collect(),
        choices: grammars
            .iter()
            .flat_map(|g| g.slots.iter().map(|_| g.choices.clone()))
            .collect(),
        keywords,
        value_keywords: grammars
            .iter()
            .flat_map(|g| g.value_keywords.iter().cloned())
            .collect(),
    });
    let ids: Vec<String> = positionals
        .iter()
        .filter(|a| wants_completer(a))
        .map(|a| a.get_id().to_string())
        .collect();
    for id in ids {
        let words = Words { spec: spec.clone() };
        cmd = cmd.mut_arg(id, move |a| a.add(ArgValueCompleter::new(words)));
    }
    cmd
}

/// Positionals that clap_complete would not complete by itself.
fn wants_completer(arg: &clap::Arg) -> bool {
    arg.get::<ArgValueCompleter>().is_none()
        && arg.get_value_parser().possible_values().is_none()
        && matches!(arg.get_value_hint(), clap::ValueHint::Unknown)
}

/// What completes an option's value (`--dev IF`), from its value name.
fn option_source(arg: &clap::Arg) -> Option<Source> {
    match grammar_of(arg).slots.first()?.0 {
        Slot::Iface => Some(Source::Ifaces),
        Slot::Netns => Some(Source::Netns),
        Slot::AttachType => Some(Source::AttachTypes),
        Slot::ProgType => Some(Source::ProgTypes),
        Slot::MapType => Some(Source::MapTypes),
        Slot::Handle(_) | Slot::BpffsPath | Slot::Choice | Slot::Word | Slot::Rest => {
            match arg.get_long() {
                Some("netns") => Some(Source::Netns),
                Some("dev" | "ifname" | "interface") => Some(Source::Ifaces),
                _ => None,
            }
        }
    }
}

/// The completer of an option value: one source, filtered by what is typed.
#[derive(Debug, Clone)]
struct Fixed(Source);

impl ValueCompleter for Fixed {
    fn complete(&self, current: &OsStr) -> Vec<CompletionCandidate> {
        let current = current.to_string_lossy();
        let mut out = candidates(&self.0, &current);
        out.retain(|c| {
            c.get_value()
                .to_string_lossy()
                .starts_with(current.as_ref())
        });
        out
    }
}

/// What one position of a verb's positional arguments holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Handle(Kind),
    BpffsPath,
    Iface,
    Netns,
    AttachType,
    ProgType,
    MapType,
    /// One of the words the help lists (`xdp | xdpgeneric | tc_ingress`).
    Choice,
    Word,
    Rest,
}

/// A positional argument's grammar: which slots it fills, the keywords it takes, and which
/// of those keywords take a value (`dev IF`).
#[derive(Debug, Default, PartialEq, Eq)]
struct Grammar {
    /// (slot, optional)
    slots: Vec<(Slot, bool)>,
    keywords: Vec<String>,
    value_keywords: Vec<String>,
    /// The words of a `Choice` slot.
    choices: Vec<String>,
}

impl Grammar {
    fn says_something(&self) -> bool {
        !self.keywords.is_empty() || self.slots.iter().any(|(s, _)| *s != Slot::Word)
    }
}

/// Read from the value name (`PROG FILE`, `dev IF`) or, when that says nothing (`ARGS`),
/// from the first clause of the help when it is a synopsis
/// (`MAP key DATA value VALUE [any|exist|noexist]`, `[PROG] dev IF [prio P]`).
fn grammar_of(arg: &clap::Arg) -> Grammar {
    let names: Vec<String> = match arg.get_value_names() {
        Some(names) => names.iter().map(|n| n.to_string()).collect(),
        None => vec![arg.get_id().to_string().to_uppercase()],
    };
    let mut grammar = parse_grammar(&names.join(" "));
    if !grammar.says_something() {
        if let Some(help) = arg.get_help().map(|h| h.to_string()) {
            let help_start = help.trim_start();
            let first: String = help_start
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let synopsis = help_start.starts_with('[') || placeholder(&first).is_some();
            let from_help = parse_grammar(&help);
            if synopsis && from_help.says_something() {
                grammar = from_help;
            } else if let Some(choices) = choices(&help) {
                grammar.slots = vec![(Slot::Choice, false)];
                grammar.choices = choices;
            }
        }
    }
    let unbounded = arg
        .get_num_args()
        .is_some_and(|r| r.max_values() == usize::MAX);
    if unbounded {
        match grammar.slots.last_mut() {
            Some((last @ Slot::Word, _)) => *last = Slot::Rest,
            _ => grammar.slots.push((Slot::Rest, true)),
        }
    }
    grammar
}

/// An all-capitals word names a slot (`MAP`, `FILE`, `N`).
fn placeholder(word: &str) -> Option<Slot> {
    let caps = word
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !caps || !word.chars().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    Some(match word {
        "PROG" => Slot::Handle(Kind::Prog),
        "MAP" => Slot::Handle(Kind::Map),
        "LINK" => Slot::Handle(Kind::Link),
        "FILE" | "PATH" | "DIR" => Slot::BpffsPath,
        "DEV" | "IF" | "IFNAME" => Slot::Iface,
        "NETNS" => Slot::Netns,
        "ATTACH_TYPE" => Slot::AttachType,
        "PROG_TYPE" => Slot::ProgType,
        "MAP_TYPE" => Slot::MapType,
        _ => Slot::Word,
    })
}

/// A help that is a list of alternatives, `xdp | xdpgeneric | tc_ingress`.
fn choices(help: &str) -> Option<Vec<String>> {
    let words: Vec<String> = help
        .trim_end_matches('.')
        .split('|')
        .map(|w| w.trim().to_owned())
        .collect();
    (words.len() > 1 && words.iter().all(|w| is_keyword(w))).then_some(words)
}

fn is_keyword(word: &str) -> bool {
    word.chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && word.chars().any(|c| c.is_ascii_lowercase())
}

/// Parse a bpftool-style synopsis up to its first `,` `.` `;` or `:` outside brackets.
/// `[..]` is optional, `a | b` alternatives, `{..}` the sub-grammar of the keyword before it,
/// `(..)` a remark.
fn parse_grammar(text: &str) -> Grammar {
    let mut g = Grammar::default();
    let (mut square, mut brace) = (0usize, 0usize);
    let mut prev_keyword: Option<String> = None;
    let text = text.replace("...", " ");
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphanumeric() || c == '_' {
            let mut word = String::from(c);
            while let Some(&n) = chars.peek() {
                if !(n.is_ascii_alphanumeric() || n == '_') {
                    break;
                }
                word.push(n);
                chars.next();
            }
            if brace > 0 {
                continue;
            }
            if let Some(slot) = placeholder(&word) {
                match prev_keyword.take() {
                    Some(k) => push_once(&mut g.value_keywords, k),
                    None => g.slots.push((slot, square > 0)),
                }
            } else if is_keyword(&word) {
                push_once(&mut g.keywords, word.clone());
                prev_keyword = Some(word);
            } else {
                prev_keyword = None;
            }
            continue;
        }
        match c {
            '[' => square += 1,
            ']' => square = square.saturating_sub(1),
            '{' | '(' => brace += 1,
            '}' | ')' => brace = brace.saturating_sub(1),
            ',' | '.' | ';' | ':' if square == 0 && brace == 0 => break,
            '|' if brace == 0 => prev_keyword = None,
            _ => {}
        }
        if c == '[' || c == ']' {
            prev_keyword = None;
        }
    }
    g
}

fn push_once(list: &mut Vec<String>, word: String) {
    if !list.contains(&word) {
        list.push(word);
    }
}

/// A verb's positional grammar, shared by the completers of all its positionals.
#[derive(Debug)]
struct Spec {
    object: String,
    verb: String,
    slots: Vec<Slot>,
    /// Per slot: may it be left out (`[PROG]`)?
    optional: Vec<bool>,
    /// Per slot: the words of a `Choice` slot.
    choices: Vec<Vec<String>>,
    keywords: Vec<String>,
    value_keywords: Vec<String>,
}

/// The completer attached to a positional argument.
#[derive(Debug, Clone)]
struct Words {
    spec: Arc<Spec>,
}

impl ValueCompleter for Words {
    fn complete(&self, current: &OsStr) -> Vec<CompletionCandidate> {
        let Some(line) = LINE.get() else {
            return Vec::new();
        };
        let current = current.to_string_lossy();
        let want = want(&self.spec, line.after_verb(), &current);
        if want.exclusive {
            EXCLUSIVE.store(true, Ordering::Relaxed);
        }
        let mut out: Vec<CompletionCandidate> = want
            .sources
            .iter()
            .flat_map(|s| candidates(s, &current))
            .collect();
        out.retain(|c| {
            c.get_value()
                .to_string_lossy()
                .starts_with(current.as_ref())
        });
        out
    }
}

/// Where candidates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Ids(Kind),
    Pins(Option<Kind>),
    BpffsDirs,
    Names(Kind),
    Tags,
    Ifaces,
    Netns,
    ProgTypes,
    MapTypes,
    AttachTypes,
    LocalPaths,
    Words(Vec<String>),
}

#[derive(Debug, PartialEq, Eq)]
struct Want {
    sources: Vec<Source>,
    /// The word is a keyword's value: offer nothing else (no flags, no subcommands).
    exclusive: bool,
}

/// Keywords whose next word is their value.
const VALUE_KEYWORDS: &[&str] = &[
    "id",
    "pinned",
    "name",
    "tag",
    "dev",
    "netns",
    "type",
    "attach_type",
    "pinmaps",
    "idx",
    "entries",
    "flags",
    "cpu",
    "index",
    "repeat",
    "duration",
    "data_in",
    "data_out",
    "ctx_in",
    "ctx_out",
    "data_size_out",
    "ctx_size_out",
];

fn handle_keywords(kind: Kind) -> Vec<String> {
    let words: &[&str] = match kind {
        Kind::Prog => &["id", "pinned", "name", "tag"],
        Kind::Map => &["id", "pinned", "name"],
        Kind::Link => &["id", "pinned"],
    };
    words.iter().map(|w| w.to_string()).collect()
}

fn object_kind(object: &str) -> Kind {
    match object {
        "map" => Kind::Map,
        "link" => Kind::Link,
        _ => Kind::Prog,
    }
}

/// What to offer for `current`, given the words after the verb that come before it.
fn want(spec: &Spec, before: &[String], current: &str) -> Want {
    let mut slot = 0usize;
    let mut pending: Option<&str> = None;
    let mut kind_override: Option<Kind> = None;
    let mut selector_next = false;
    let slot_at = |i: usize| spec.slots.get(i).copied();
    let mut flag_value = false;
    for word in before {
        if std::mem::take(&mut flag_value) {
            continue;
        }
        if flag_takes_value(word) {
            flag_value = true;
            continue;
        }
        if let Some(keyword) = pending.take() {
            if matches!(keyword, "id" | "pinned" | "name" | "tag") && kind_override.is_none() {
                if let Some(Slot::Handle(_)) = slot_at(slot) {
                    slot += 1;
                }
            }
            if keyword != "selector" {
                kind_override = None;
            }
            continue;
        }
        if word.starts_with('-') && word.len() > 1 {
            continue;
        }
        if selector_next {
            selector_next = false;
            if word == "idx" || word == "name" {
                pending = Some("selector");
                continue;
            }
        }
        match word.as_str() {
            "map" | "inner_map" => {
                kind_override = Some(Kind::Map);
                selector_next = word == "map";
            }
            w if VALUE_KEYWORDS.contains(&w) || spec.value_keywords.iter().any(|k| k == w) => {
                pending = Some(w)
            }
            w if w.starts_with('/') && kind_override.is_some() => kind_override = None,
            _ => match slot_at(slot) {
                Some(Slot::Rest) | None => {}
                Some(_) => slot += 1,
            },
        }
    }
    let kind = kind_override
        .or(match slot_at(slot) {
            Some(Slot::Handle(k)) => Some(k),
            _ => None,
        })
        .unwrap_or_else(|| object_kind(&spec.object));
    let only = |sources: Vec<Source>| Want {
        sources,
        exclusive: true,
    };
    if let Some(keyword) = pending {
        return only(match keyword {
            "id" => vec![Source::Ids(kind)],
            "pinned" => vec![Source::Pins(Some(kind))],
            "name" if spec.verb == "create" => vec![],
            "name" => vec![Source::Names(kind)],
            "tag" => vec![Source::Tags],
            "dev" => vec![Source::Ifaces],
            "netns" => vec![Source::Netns],
            "type" if spec.object == "map" => vec![Source::MapTypes],
            "type" => vec![Source::ProgTypes],
            "attach_type" => vec![Source::AttachTypes],
            "pinmaps" => vec![Source::BpffsDirs],
            "data_in" | "data_out" | "ctx_in" | "ctx_out" => vec![Source::LocalPaths],
            _ => vec![],
        });
    }
    if selector_next {
        return only(vec![Source::Words(vec!["idx".into(), "name".into()])]);
    }
    if let Some(k) = kind_override {
        return only(vec![Source::Words(handle_keywords(k))]);
    }
    let mut sources = match slot_at(slot) {
        Some(Slot::Handle(k)) => vec![Source::Words(handle_keywords(k)), Source::Pins(Some(k))],
        Some(Slot::BpffsPath) => vec![Source::Pins(None)],
        Some(Slot::Iface) => vec![Source::Ifaces],
        Some(Slot::Netns) => vec![Source::Netns],
        Some(Slot::AttachType) => vec![Source::AttachTypes],
        Some(Slot::ProgType) => vec![Source::ProgTypes],
        Some(Slot::MapType) => vec![Source::MapTypes],
        Some(Slot::Rest) if current.starts_with('/') => vec![Source::Pins(None)],
        Some(Slot::Choice) => vec![Source::Words(
            spec.choices.get(slot).cloned().unwrap_or_default(),
        )],
        Some(Slot::Word | Slot::Rest) | None => vec![],
    };
    let optional = spec.optional.get(slot).copied().unwrap_or(false);
    // Keywords come after the required slots (`map update MAP key ..`).
    let required_here = !optional && !matches!(slot_at(slot), Some(Slot::Rest) | None);
    if !spec.keywords.is_empty() && !required_here {
        sources.push(Source::Words(spec.keywords.clone()));
    }
    // A handle may be a bare /path, and an optional path may be left out: offer pins there
    // only when the user starts one.
    if !current.starts_with('/') {
        sources
            .retain(|s| *s != Source::Pins(Some(kind)) && !(optional && *s == Source::Pins(None)));
    }
    Want {
        sources,
        exclusive: false,
    }
}

fn candidates(source: &Source, current: &str) -> Vec<CompletionCandidate> {
    match source {
        Source::Ids(kind) => ids(*kind),
        Source::Pins(kind) => pins(current, *kind, false),
        Source::BpffsDirs => pins(current, None, true),
        Source::Names(kind) => names(*kind),
        Source::Tags => tags(),
        Source::Ifaces => ifaces(),
        Source::Netns => netns(),
        Source::ProgTypes => plain(bpf::prog::prog_type_names()),
        Source::MapTypes => plain(catalog::map_type_names()),
        Source::AttachTypes => plain(catalog::attach_type_names()),
        Source::LocalPaths => PathCompleter::any().complete(OsStr::new(current)),
        Source::Words(words) => words.iter().map(CompletionCandidate::new).collect(),
    }
}

fn plain(words: Vec<&'static str>) -> Vec<CompletionCandidate> {
    words
        .into_iter()
        .filter(|w| *w != "unspec")
        .map(CompletionCandidate::new)
        .collect()
}

/// Every loaded object of `kind` that can be opened: (id, type, name).
fn loaded(kind: Kind) -> Vec<(u32, String, String)> {
    let Ok(ids) = bpf::ids(kind) else {
        return Vec::new();
    };
    ids.into_iter()
        .filter_map(|id| {
            let fd = bpf::fd_by_id(kind, id).ok()?;
            use std::os::fd::AsFd;
            let (t, name) = catalog::summary(kind, fd.as_fd()).ok()?;
            Some((id, t, name))
        })
        .collect()
}

fn ids(kind: Kind) -> Vec<CompletionCandidate> {
    loaded(kind)
        .into_iter()
        .map(|(id, t, name)| {
            let help = if name.is_empty() {
                t
            } else {
                format!("{name} ({t})")
            };
            CompletionCandidate::new(id.to_string()).help(Some(help.into()))
        })
        .collect()
}

fn names(kind: Kind) -> Vec<CompletionCandidate> {
    let mut by_name: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (id, _, name) in loaded(kind) {
        if !name.is_empty() {
            by_name.entry(name).or_default().push(id.to_string());
        }
    }
    by_name
        .into_iter()
        .map(|(name, ids)| {
            CompletionCandidate::new(name).help(Some(format!("id {}", ids.join(", ")).into()))
        })
        .collect()
}

fn tags() -> Vec<CompletionCandidate> {
    let Ok(ids) = bpf::ids(Kind::Prog) else {
        return Vec::new();
    };
    ids.into_iter()
        .filter_map(|id| {
            let fd = bpf::fd_by_id(Kind::Prog, id).ok()?;
            use std::os::fd::AsFd;
            let info = bpf::prog::info(fd.as_fd()).ok()?;
            Some(
                CompletionCandidate::new(crate::hex::compact(&info.tag))
                    .help(Some(format!("id {id} {}", info.name).into())),
            )
        })
        .collect()
}

fn ifaces() -> Vec<CompletionCandidate> {
    dir_names("/sys/class/net")
}

/// Named network namespaces, as `ip netns add` creates them.
fn netns() -> Vec<CompletionCandidate> {
    dir_names("/run/netns")
}

fn dir_names(dir: &str) -> Vec<CompletionCandidate> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.into_iter().map(CompletionCandidate::new).collect()
}

/// Paths under a bpffs, one directory level at a time: directories (with a trailing `/`)
/// and objects pinned there (of `kind` if given), with what they are as help.
fn pins(current: &str, kind: Option<Kind>, dirs_only: bool) -> Vec<CompletionCandidate> {
    let current = if current.is_empty() {
        "/sys/fs/bpf/"
    } else {
        current
    };
    if !current.starts_with('/') {
        return PathCompleter::any().complete(OsStr::new(current));
    }
    let (dir, base) = match current.rfind('/') {
        Some(i) => current.split_at(i + 1),
        None => ("/", current),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(base) || (name.starts_with('.') && !base.starts_with('.')) {
            continue;
        }
        let path = format!("{dir}{name}");
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            out.push(CompletionCandidate::new(format!("{path}/")));
        } else if !dirs_only && ft.is_file() {
            let Some((k, id)) = bpf::pinned_kind_and_id(Path::new(&path)) else {
                continue;
            };
            if kind.is_some_and(|want| want != k) {
                continue;
            }
            out.push(
                CompletionCandidate::new(path)
                    .help(Some(format!("{} id {id}", k.noun_word()).into())),
            );
        }
    }
    out.sort();
    out
}

/// The command line being completed: its words before the one under the cursor, with
/// object and verb prefixes expanded (`rbt m d id` = `rbt map dump id`).
#[derive(Debug)]
struct Line {
    before: Vec<String>,
}

impl Line {
    /// The words after the verb (global flags skipped when looking for object and verb).
    fn after_verb(&self) -> &[String] {
        let mut plain = 0;
        let mut i = 1;
        while i < self.before.len() {
            let w = &self.before[i];
            if flag_takes_value(w) {
                i += 2;
                continue;
            }
            i += 1;
            if !w.starts_with('-') {
                plain += 1;
                if plain == 2 {
                    return &self.before[i..];
                }
            }
        }
        &[]
    }
}

/// Whether `word` is a global flag whose value is the next word (`--color WHEN`).
fn flag_takes_value(word: &str) -> bool {
    static FLAGS: OnceLock<Vec<String>> = OnceLock::new();
    let flags = FLAGS.get_or_init(|| {
        crate::cli::command()
            .get_arguments()
            .filter(|a| a.is_global_set() && a.get_num_args().is_none_or(|n| n.takes_values()))
            .filter(|a| a.get_action().takes_values())
            .flat_map(|a| {
                let long = a.get_long().map(|l| format!("--{l}"));
                let short = a.get_short().map(|s| format!("-{s}"));
                long.into_iter().chain(short)
            })
            .collect()
    });
    flags.iter().any(|f| f == word)
}

static LINE: OnceLock<Line> = OnceLock::new();
static EXCLUSIVE: AtomicBool = AtomicBool::new(false);

/// Run clap_complete's engine on `args` (the binary first) for the word at `index`, with
/// rbt's prefix expansion and filtering: flags only when the word starts with `-`, and
/// nothing but the keyword's values after a keyword.
fn complete(
    cmd: &mut clap::Command,
    mut args: Vec<OsString>,
    index: usize,
    current_dir: Option<&Path>,
) -> std::io::Result<Vec<CompletionCandidate>> {
    let end = index.min(args.len());
    let tail = args.split_off(end);
    let mut args = crate::cli::expand_prefixes(args);
    let before: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let current = tail
        .first()
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default();
    let _ = LINE.set(Line { before });
    args.extend(tail);
    let mut found = clap_complete::engine::complete(cmd, args, index, current_dir)?;
    let is_flag = |c: &CompletionCandidate| c.get_value().to_string_lossy().starts_with('-');
    if EXCLUSIVE.load(Ordering::Relaxed)
        || (!current.starts_with('-') && found.iter().any(|c| !is_flag(c)))
    {
        found.retain(|c| !is_flag(c));
    }
    Ok(found)
}

fn index_from_env() -> usize {
    std::env::var("_CLAP_COMPLETE_INDEX")
        .ok()
        .and_then(|i| i.parse().ok())
        .unwrap_or_default()
}

fn ifs_from_env() -> String {
    std::env::var("_CLAP_IFS").unwrap_or_else(|_| "\n".to_owned())
}

fn first_line(c: &CompletionCandidate) -> Option<String> {
    c.get_help()
        .map(|h| h.to_string().lines().next().unwrap_or_default().to_owned())
}

/// bash: values separated by $_CLAP_IFS (bash shows no help text).
struct DynBash;

impl EnvCompleter for DynBash {
    fn name(&self) -> &'static str {
        Bash.name()
    }
    fn is(&self, name: &str) -> bool {
        Bash.is(name)
    }
    fn write_registration(
        &self,
        var: &str,
        name: &str,
        bin: &str,
        completer: &str,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        Bash.write_registration(var, name, bin, completer, buf)
    }
    fn write_complete(
        &self,
        cmd: &mut clap::Command,
        args: Vec<OsString>,
        current_dir: Option<&Path>,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        let found = complete(cmd, args, index_from_env(), current_dir)?;
        let values: Vec<String> = found
            .iter()
            .map(|c| c.get_value().to_string_lossy().into_owned())
            .collect();
        write!(buf, "{}", values.join(&ifs_from_env()))
    }
}

/// zsh: `value:help` separated by $_CLAP_IFS, `:` and `\` escaped in values.
struct DynZsh;

impl EnvCompleter for DynZsh {
    fn name(&self) -> &'static str {
        Zsh.name()
    }
    fn is(&self, name: &str) -> bool {
        Zsh.is(name)
    }
    fn write_registration(
        &self,
        var: &str,
        name: &str,
        bin: &str,
        completer: &str,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        Zsh.write_registration(var, name, bin, completer, buf)
    }
    fn write_complete(
        &self,
        cmd: &mut clap::Command,
        mut args: Vec<OsString>,
        current_dir: Option<&Path>,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        let index = index_from_env();
        if args.len() == index {
            args.push(OsString::new());
        }
        let found = complete(cmd, args, index, current_dir)?;
        let items: Vec<String> = found
            .iter()
            .map(|c| {
                let value = c
                    .get_value()
                    .to_string_lossy()
                    .replace('\\', "\\\\")
                    .replace(':', "\\:");
                match first_line(c) {
                    Some(help) => format!("{value}:{}", help.replace('\\', "\\\\")),
                    None => value,
                }
            })
            .collect();
        write!(buf, "{}", items.join(&ifs_from_env()))
    }
}

/// fish: one `value<TAB>help` per line; the word under the cursor is the last argument.
struct DynFish;

impl EnvCompleter for DynFish {
    fn name(&self) -> &'static str {
        Fish.name()
    }
    fn is(&self, name: &str) -> bool {
        Fish.is(name)
    }
    fn write_registration(
        &self,
        var: &str,
        name: &str,
        bin: &str,
        completer: &str,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        Fish.write_registration(var, name, bin, completer, buf)
    }
    fn write_complete(
        &self,
        cmd: &mut clap::Command,
        args: Vec<OsString>,
        current_dir: Option<&Path>,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        let index = args.len().saturating_sub(1);
        for c in complete(cmd, args, index, current_dir)? {
            write!(buf, "{}", c.get_value().to_string_lossy())?;
            if let Some(help) = first_line(&c) {
                write!(buf, "\t{help}")?;
            }
            writeln!(buf)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(object: &str, verb: &str, slots: Vec<Slot>, keywords: Vec<&'static str>) -> Spec {
        Spec {
            object: object.into(),
            verb: verb.into(),
            slots,
            optional: Vec::new(),
            choices: Vec::new(),
            keywords: keywords.into_iter().map(String::from).collect(),
            value_keywords: Vec::new(),
        }
    }

    /// A verb's spec from the synopses of its positionals (the last takes any number).
    fn spec_of(object: &str, verb: &str, synopses: &[&str]) -> Spec {
        let mut grammars: Vec<Grammar> = synopses.iter().map(|s| parse_grammar(s)).collect();
        if let Some(last) = grammars.last_mut() {
            last.slots.push((Slot::Rest, true));
        }
        Spec {
            object: object.into(),
            verb: verb.into(),
            slots: grammars
                .iter()
                .flat_map(|g| g.slots.iter().map(|s| s.0))
                .collect(),
            optional: grammars
                .iter()
                .flat_map(|g| g.slots.iter().map(|s| s.1))
                .collect(),
            choices: Vec::new(),
            keywords: grammars.iter().flat_map(|g| g.keywords.clone()).collect(),
            value_keywords: grammars
                .iter()
                .flat_map(|g| g.value_keywords.clone())
                .collect(),
        }
    }

    fn want_of(spec: &Spec, line: &str, current: &str) -> Want {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        want(spec, &words, current)
    }

    fn words(w: &[&'static str]) -> Source {
        Source::Words(w.iter().map(|w| w.to_string()).collect())
    }

    #[test]
    fn synopses_parse() {
        let g =
            parse_grammar("[PROG] dev IF [dev IF]... [overwrite | prepend] [prio P] [handle H]");
        assert_eq!(g.slots, vec![(Slot::Handle(Kind::Prog), true)]);
        assert_eq!(
            g.keywords,
            ["dev", "overwrite", "prepend", "prio", "handle"]
        );
        assert_eq!(g.value_keywords, ["dev", "prio", "handle"]);
        let g = parse_grammar("[PATH] [type TYPE] [map {idx N | name NAME} MAP]... [pinmaps DIR]");
        assert_eq!(g.slots, vec![(Slot::BpffsPath, true)]);
        assert_eq!(g.keywords, ["type", "map", "pinmaps"]);
        let g = parse_grammar("MAP key DATA value VALUE [any|exist|noexist], or MAP with --from.");
        assert_eq!(g.slots, vec![(Slot::Handle(Kind::Map), false)]);
        assert_eq!(g.keywords, ["key", "value", "any", "exist", "noexist"]);
        assert!(!parse_grammar("ARGS").says_something());
        let g = parse_grammar("MAP [value DATA] (bloom filters).");
        assert_eq!(g.slots, vec![(Slot::Handle(Kind::Map), false)]);
        assert_eq!(g.keywords, ["value"]);
        assert_eq!(
            choices("xdp | xdpgeneric | tc_ingress"),
            Some(vec!["xdp".into(), "xdpgeneric".into(), "tc_ingress".into()])
        );
        assert_eq!(choices("The map handle: id N | pinned FILE"), None);
        assert_eq!(parse_grammar("PROG FILE").slots.len(), 2);
    }

    #[test]
    fn map_and_net_synopses_complete() {
        let update = spec_of(
            "map",
            "update",
            &["MAP key DATA value VALUE [any|exist|noexist], or MAP with --from."],
        );
        assert_eq!(
            want_of(&update, "", "").sources,
            vec![words(&["id", "pinned", "name"])]
        );
        assert_eq!(
            want_of(&update, "name", "").sources,
            vec![Source::Names(Kind::Map)]
        );
        assert_eq!(
            want_of(&update, "id 7", "").sources,
            vec![words(&["key", "value", "any", "exist", "noexist"])]
        );
        let create = spec_of(
            "map",
            "create",
            &["FILE type TYPE key N value N entries N name NAME [flags F] [inner_map MAP]"],
        );
        assert_eq!(want_of(&create, "", "").sources, vec![Source::Pins(None)]);
        assert_eq!(
            want_of(&create, "/sys/fs/bpf/m type", "").sources,
            vec![Source::MapTypes]
        );
        assert_eq!(
            want_of(&create, "/sys/fs/bpf/m type hash inner_map id", "").sources,
            vec![Source::Ids(Kind::Map)]
        );
        let attach = spec_of(
            "net",
            "attach",
            &[
                "TYPE",
                "[PROG] dev IF [dev IF]... [overwrite | prepend] [prio P] [handle H]",
            ],
        );
        let net_words = words(&["dev", "overwrite", "prepend", "prio", "handle"]);
        assert_eq!(
            want_of(&attach, "xdp", "").sources,
            vec![words(&["id", "pinned", "name", "tag"]), net_words.clone()]
        );
        assert_eq!(
            want_of(&attach, "xdp dev", "").sources,
            vec![Source::Ifaces]
        );
        assert_eq!(
            want_of(&attach, "xdp pinned", "").sources,
            vec![Source::Pins(Some(Kind::Prog))]
        );
        assert_eq!(
            want_of(&attach, "xdp id 3 dev veth0", "").sources,
            vec![net_words]
        );
        assert!(want_of(&attach, "xdp id 3 dev veth0 prio", "").exclusive);
        let show = Spec {
            slots: vec![],
            ..spec_of("net", "show", &["dev IF"])
        };
        assert_eq!(want_of(&show, "", "").sources, vec![words(&["dev"])]);
        assert_eq!(want_of(&show, "dev", "").sources, vec![Source::Ifaces]);
    }

    #[test]
    fn handle_keywords_then_values() {
        let show = spec("map", "show", vec![Slot::Handle(Kind::Map)], vec![]);
        assert_eq!(
            want_of(&show, "", "").sources,
            vec![words(&["id", "pinned", "name"])]
        );
        let ids = want_of(&show, "id", "");
        assert_eq!(ids.sources, vec![Source::Ids(Kind::Map)]);
        assert!(ids.exclusive);
        assert_eq!(
            want_of(&show, "pinned", "/sys").sources,
            vec![Source::Pins(Some(Kind::Map))]
        );
        assert_eq!(
            want_of(&show, "", "/sys/fs/bpf/").sources,
            vec![
                words(&["id", "pinned", "name"]),
                Source::Pins(Some(Kind::Map))
            ]
        );
        assert!(want_of(&show, "id 7", "").sources.is_empty());
        assert_eq!(
            want_of(&show, "-j --color never", "").sources,
            vec![words(&["id", "pinned", "name"])]
        );
    }

    #[test]
    fn slots_follow_value_names() {
        let pin = spec(
            "prog",
            "pin",
            vec![Slot::Handle(Kind::Prog), Slot::BpffsPath],
            vec![],
        );
        assert_eq!(want_of(&pin, "id 7", "").sources, vec![Source::Pins(None)]);
        assert_eq!(
            want_of(&pin, "/sys/fs/bpf/x", "").sources,
            vec![Source::Pins(None)]
        );
        assert_eq!(want_of(&pin, "tag", "").sources, vec![Source::Tags]);
        let attach = spec(
            "prog",
            "attach",
            vec![
                Slot::Handle(Kind::Prog),
                Slot::AttachType,
                Slot::Handle(Kind::Map),
            ],
            vec![],
        );
        assert_eq!(
            want_of(&attach, "name p", "").sources,
            vec![Source::AttachTypes]
        );
        assert_eq!(
            want_of(&attach, "name p sk_skb_stream_parser id", "").sources,
            vec![Source::Ids(Kind::Map)]
        );
    }

    #[test]
    fn keyword_tails_switch_kind_after_map() {
        let load = spec(
            "prog",
            "load",
            vec![Slot::Word, Slot::Rest],
            vec!["type", "map", "pinmaps"],
        );
        assert_eq!(
            want_of(&load, "x.o", "").sources,
            vec![words(&["type", "map", "pinmaps"])]
        );
        assert_eq!(
            want_of(&load, "x.o /sys/fs/bpf/x type", "").sources,
            vec![Source::ProgTypes]
        );
        assert_eq!(
            want_of(&load, "x.o map", "").sources,
            vec![words(&["idx", "name"])]
        );
        assert!(want_of(&load, "x.o map name", "").sources.is_empty());
        assert_eq!(
            want_of(&load, "x.o map name cnt", "").sources,
            vec![words(&["id", "pinned", "name"])]
        );
        assert_eq!(
            want_of(&load, "x.o map name cnt id", "").sources,
            vec![Source::Ids(Kind::Map)]
        );
        assert_eq!(
            want_of(&load, "x.o map idx 0 id 3 pinmaps", "").sources,
            vec![Source::BpffsDirs]
        );
        assert_eq!(
            want_of(&load, "x.o map idx 0 id 3", "").sources,
            vec![words(&["type", "map", "pinmaps"])]
        );
    }

    #[test]
    fn map_type_and_dev_keywords() {
        let create = spec("map", "create", vec![Slot::BpffsPath, Slot::Rest], vec![]);
        assert_eq!(
            want_of(&create, "/sys/fs/bpf/m type", "").sources,
            vec![Source::MapTypes]
        );
        assert!(want_of(&create, "/sys/fs/bpf/m type hash name", "")
            .sources
            .is_empty());
        let attach = spec("net", "attach", vec![Slot::Word, Slot::Rest], vec![]);
        assert_eq!(
            want_of(&attach, "xdp id 3 dev", "").sources,
            vec![Source::Ifaces]
        );
    }

    #[test]
    fn value_names_make_slots() {
        let cmd = command();
        let prog = cmd.find_subcommand("prog").expect("prog");
        let pin = prog.find_subcommand("pin").expect("pin");
        let arg = pin.get_positionals().next().expect("pin args");
        assert_eq!(
            grammar_of(arg).slots,
            vec![(Slot::Handle(Kind::Prog), false), (Slot::BpffsPath, false)]
        );
        assert!(arg.get::<ArgValueCompleter>().is_some());
        let load = prog.find_subcommand("load").expect("load");
        let slots: Vec<(Slot, bool)> = load
            .get_positionals()
            .flat_map(|a| grammar_of(a).slots)
            .collect();
        // OBJ, then the help's synopsis `[PATH] [type TYPE] ...`, then the rest.
        assert_eq!(
            slots,
            vec![
                (Slot::Word, false),
                (Slot::BpffsPath, true),
                (Slot::Rest, true)
            ]
        );
    }

    #[test]
    fn verbs_added_later_opt_in_by_value_name() {
        use clap::{Arg, Command};
        let dump = Command::new("dump")
            .arg(Arg::new("handle").value_name("MAP").num_args(0..=2))
            .arg(Arg::new("dev").long("dev").value_name("IF"))
            .arg(Arg::new("out").long("out").value_name("FILE"));
        let mut cmd = Command::new("rbt").subcommand(
            Command::new("map")
                .subcommand(dump)
                .subcommand(Command::new("list").visible_alias("ls")),
        );
        cmd.build();
        let cmd = annotate(cmd, &[]);
        let map = cmd.find_subcommand("map").expect("map");
        let dump = map.find_subcommand("dump").expect("dump");
        let has = |id: &str| {
            dump.get_arguments()
                .find(|a| a.get_id() == id)
                .is_some_and(|a| a.get::<ArgValueCompleter>().is_some())
        };
        assert!(has("handle") && has("dev"));
        assert!(!has("out"), "a FILE option is not assumed to be on bpffs");
        let list = map.find_subcommand("list").expect("list");
        assert_eq!(list.get_visible_aliases().count(), 0);
        assert_eq!(list.get_all_aliases().collect::<Vec<_>>(), ["ls"]);
        let freeze = Arg::new("args")
            .value_name("ARGS")
            .num_args(1..)
            .help("MAP.");
        assert_eq!(
            grammar_of(&freeze).slots,
            vec![(Slot::Handle(Kind::Map), false), (Slot::Rest, true)]
        );
        let prose = Arg::new("args")
            .value_name("ARGS")
            .num_args(1..)
            .help("Arguments for the program.");
        assert_eq!(grammar_of(&prose).slots, vec![(Slot::Rest, false)]);
        assert!(grammar_of(&prose).keywords.is_empty());
    }

    #[test]
    fn global_flags_with_values_are_known() {
        assert!(flag_takes_value("--color"));
        assert!(!flag_takes_value("--json") && !flag_takes_value("-j"));
    }

    #[test]
    fn line_finds_words_after_the_verb() {
        let line = Line {
            before: ["rbt", "-j", "--color", "never", "map", "dump", "id"]
                .map(String::from)
                .to_vec(),
        };
        assert_eq!(line.after_verb(), ["id"]);
    }
}
