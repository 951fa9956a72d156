// Dynamic shell completion: at each TAB the shell asks rbt (`RBT_COMPLETE=<shell> rbt --
// WORDS`) and rbt answers from the grammar table (src/grammar/table.rs: what may come next)
// and the live kernel (ids with names, pins, interfaces, type names), through clap_complete's
// engine. Read-only: a completion never loads, attaches, pins or mounts anything. A new verb
// completes as soon as it has its table entry; nothing here names a verb.

mod candidates;
mod shells;

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use clap_complete::engine::{ArgValueCompleter, CompletionCandidate, ValueCompleter};
use clap_complete::env::{Bash, EnvCompleter, Fish, Shells, Zsh};

use crate::grammar::{self, handle_keywords, Expected, Source, Value};
use candidates::{candidates, Pool};
use shells::{BASH, FISH, ZSH};

/// The environment variable that asks rbt for completions instead of running a command.
pub const ENV_VAR: &str = "RBT_COMPLETE";

/// Answer a completion request (`RBT_COMPLETE=<shell> rbt -- WORDS`) and exit; return at
/// once when the variable is not set. Must run before anything writes to stdout.
pub fn run_if_requested() {
    clap_complete::CompleteEnv::with_factory(command)
        .var(ENV_VAR)
        .bin("rbt")
        .completer("rbt")
        .shells(Shells(&[&BASH, &ZSH, &FISH]))
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

/// The clap command with the grammar's completer on every verb's words, and a completer on
/// the dash options whose values are live objects.
pub fn command() -> clap::Command {
    let mut cmd = crate::cli::command();
    cmd.build();
    annotate(cmd)
}

fn annotate(mut cmd: clap::Command) -> clap::Command {
    // clap_complete keeps one candidate per command (`list` hides `show`): offer aliases
    // only when the word typed so far matches nothing else.
    let aliases: Vec<String> = cmd.get_all_aliases().map(str::to_owned).collect();
    if !aliases.is_empty() {
        cmd = cmd.visible_alias(None);
        for alias in aliases {
            cmd = cmd.alias(alias);
        }
    }
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in subs {
        cmd = cmd.mut_subcommand(name, annotate);
    }
    let args: Vec<(String, Option<Pool>)> = cmd
        .get_arguments()
        .filter(|a| a.get_value_parser().possible_values().is_none())
        .filter_map(|a| {
            if a.is_positional() {
                return Some((a.get_id().to_string(), None));
            }
            option_pool(a).map(|p| (a.get_id().to_string(), Some(p)))
        })
        .collect();
    for (id, pool) in args {
        cmd = cmd.mut_arg(id, move |a| match pool {
            Some(pool) => a.add(ArgValueCompleter::new(Fixed(pool))),
            None => a.add(ArgValueCompleter::new(Words)),
        });
    }
    cmd
}

/// What completes a dash option's value (`--netns NAME`, `--pin PATH`).
fn option_pool(arg: &clap::Arg) -> Option<Pool> {
    match arg.get_long()? {
        "netns" => Some(Pool::Netns),
        "pin" | "link-pin" => Some(Pool::Pins(None)),
        _ => None,
    }
}

/// The completer of an option value: one pool, filtered by what is typed.
#[derive(Debug, Clone)]
struct Fixed(Pool);

impl ValueCompleter for Fixed {
    fn complete(&self, current: &OsStr) -> Vec<CompletionCandidate> {
        let current = current.to_string_lossy();
        starting_with(candidates(&self.0, &current), &current)
    }
}

/// The completer of a verb's words: what the grammar expects after the words before.
#[derive(Debug, Clone)]
struct Words;

impl ValueCompleter for Words {
    fn complete(&self, current: &OsStr) -> Vec<CompletionCandidate> {
        let Some(line) = LINE.get() else {
            return Vec::new();
        };
        let current = current.to_string_lossy();
        let Some((object, verb, before)) = line.split() else {
            return Vec::new();
        };
        let Some(syntax) = grammar::syntax(&object, &verb) else {
            return Vec::new();
        };
        let want = want(grammar::expect(syntax, &before), &current);
        if want.exclusive {
            EXCLUSIVE.store(true, Ordering::Relaxed);
        }
        let found = want
            .pools
            .iter()
            .flat_map(|p| candidates(p, &current))
            .collect();
        starting_with(found, &current)
    }
}

fn starting_with(mut found: Vec<CompletionCandidate>, current: &str) -> Vec<CompletionCandidate> {
    found.retain(|c| c.get_value().to_string_lossy().starts_with(current));
    found
}

#[derive(Debug, PartialEq, Eq)]
struct Want {
    pools: Vec<Pool>,
    /// The word is a value: offer nothing else (no flags, no subcommands).
    exclusive: bool,
}

/// The pools for what the grammar expects at the word `current`.
fn want(expected: Expected, current: &str) -> Want {
    match expected {
        Expected::HandleValue(kind, keyword) => Want {
            pools: match keyword {
                "id" => vec![Pool::Ids(kind)],
                "pinned" => vec![Pool::Pins(Some(kind))],
                "name" => vec![Pool::Names(kind)],
                "tag" => vec![Pool::Tags],
                _ => vec![],
            },
            exclusive: true,
        },
        Expected::Value(value) => Want {
            pools: value_pools(value, current),
            exclusive: true,
        },
        Expected::Next { keywords, value } => {
            let mut pools = value.map(|v| value_pools(v, current)).unwrap_or_default();
            // An optional path may be left out: offer paths only once one is started.
            if !current.starts_with('/') {
                pools.retain(|p| !matches!(p, Pool::Pins(_) | Pool::BpffsDirs | Pool::LocalPaths));
            }
            if !keywords.is_empty() {
                pools.push(Pool::Words(keywords));
            }
            Want {
                pools,
                exclusive: false,
            }
        }
        Expected::End => Want {
            pools: Vec::new(),
            exclusive: false,
        },
    }
}

/// Where a value's candidates come from. A handle may be a bare /path: pins are offered
/// only when the word starts with `/` (so `TAB` alone shows the keywords).
fn value_pools(value: Value, current: &str) -> Vec<Pool> {
    let path_typed = current.starts_with('/');
    match value {
        Value::Handle(kind) => {
            let mut pools = vec![Pool::Words(handle_keywords(kind).to_vec())];
            if path_typed {
                pools.push(Pool::Pins(Some(kind)));
            }
            pools
        }
        Value::Choice(_, words) => vec![Pool::Words(words.to_vec())],
        Value::Select(options) => vec![Pool::Words(options.iter().map(|(w, _)| *w).collect())],
        Value::Number(_) | Value::Bytes(_) => Vec::new(),
        Value::Text(_, source) => match source {
            Source::Nothing => vec![],
            Source::Ifaces => vec![Pool::Ifaces],
            Source::ProgTypes => vec![Pool::ProgTypes],
            Source::MapTypes => vec![Pool::MapTypes],
            Source::AttachTypes => vec![Pool::AttachTypes],
            Source::LocalPath | Source::LocalDir => vec![Pool::LocalPaths],
            Source::BpffsPath => vec![Pool::Pins(None)],
            Source::BpffsDir => vec![Pool::BpffsDirs],
        },
    }
}

/// The command line being completed: its words before the one under the cursor, with
/// object and verb prefixes expanded (`rbt m d id` = `rbt map dump id`).
#[derive(Debug)]
struct Line {
    before: Vec<String>,
}

impl Line {
    /// The object, the verb (empty for an object without verbs) and the verb's words, with
    /// dash options (and the values of those that take one) left out.
    fn split(&self) -> Option<(String, String, Vec<String>)> {
        let root = crate::cli::command();
        let mut names: Vec<String> = Vec::new();
        let mut cmd = &root;
        let mut words = Vec::new();
        let mut i = 1;
        while i < self.before.len() {
            let w = &self.before[i];
            i += 1;
            if is_option(w) {
                if option_takes_value(cmd, w) || option_takes_value(&root, w) {
                    i += 1;
                }
                continue;
            }
            match cmd.find_subcommand(w) {
                Some(sub) if names.len() < 2 && words.is_empty() => {
                    names.push(sub.get_name().to_owned());
                    cmd = sub;
                }
                _ => words.push(w.clone()),
            }
        }
        let object = names.first()?.clone();
        if cmd.has_subcommands() {
            return None;
        }
        let verb = names.get(1).cloned().unwrap_or_default();
        Some((object, verb, words))
    }
}

/// A dash option (not a negative number, which is a value word).
fn is_option(word: &str) -> bool {
    word.len() > 1 && word.starts_with('-') && grammar::number::parse(word).is_none()
}

/// Whether `word` is an option of `cmd` whose value is the next word (`--color WHEN`).
fn option_takes_value(cmd: &clap::Command, word: &str) -> bool {
    if word.contains('=') {
        return false;
    }
    cmd.get_arguments()
        .filter(|a| !a.is_positional() && a.get_action().takes_values())
        .any(|a| {
            a.get_long().is_some_and(|l| word == format!("--{l}"))
                || a.get_short().is_some_and(|s| word == format!("-{s}"))
        })
}

static LINE: OnceLock<Line> = OnceLock::new();
static EXCLUSIVE: AtomicBool = AtomicBool::new(false);

/// Run clap_complete's engine on `args` (the binary first) for the word at `index`, with
/// rbt's prefix expansion and filtering: flags only when the word starts with `-`, and
/// nothing but the value's candidates where a value is expected.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::Kind;

    fn line(words: &str) -> Line {
        Line {
            before: words.split_whitespace().map(String::from).collect(),
        }
    }

    /// The pools for the word after `rbt OBJECT VERB <words>`.
    fn want_of(object: &str, verb: &str, words: &str, current: &str) -> Want {
        let syntax = grammar::syntax(object, verb).expect("syntax");
        let words: Vec<String> = words.split_whitespace().map(String::from).collect();
        want(grammar::expect(syntax, &words), current)
    }

    fn words(w: &[&'static str]) -> Pool {
        Pool::Words(w.to_vec())
    }

    #[test]
    fn line_finds_object_verb_and_words() {
        let split = line("rbt -j --color never map dump id").split();
        assert_eq!(
            split,
            Some(("map".into(), "dump".into(), vec!["id".into()]))
        );
        let split = line("rbt net attach xdp --netns blue --link id 3 dev").split();
        assert_eq!(
            split.map(|s| s.2),
            Some(["xdp", "id", "3", "dev"].map(String::from).to_vec())
        );
        let split = line("rbt map update id 1 key -1 value 2").split();
        assert_eq!(split.map(|s| s.2.len()), Some(6));
        assert_eq!(
            line("rbt completions").split(),
            Some(("completions".into(), String::new(), vec![]))
        );
        assert_eq!(line("rbt prog").split(), None);
    }

    #[test]
    fn handles_keywords_then_live_values() {
        assert_eq!(
            want_of("prog", "show", "", ""),
            Want {
                pools: vec![words(&["id", "pinned", "name", "tag"])],
                exclusive: false
            }
        );
        assert_eq!(
            want_of("prog", "show", "", "/sys").pools,
            vec![
                words(&["id", "pinned", "name", "tag"]),
                Pool::Pins(Some(Kind::Prog))
            ]
        );
        let ids = want_of("map", "dump", "id", "");
        assert_eq!(ids.pools, vec![Pool::Ids(Kind::Map)]);
        assert!(ids.exclusive);
        assert_eq!(want_of("prog", "pin", "tag", "").pools, vec![Pool::Tags]);
        assert_eq!(
            want_of("prog", "pin", "id 7", "").pools,
            vec![Pool::Pins(None)]
        );
        assert!(want_of("prog", "show", "id 7", "").pools.is_empty());
    }

    #[test]
    fn keyword_values_follow_the_table() {
        assert_eq!(
            want_of("prog", "load", "x.o", "").pools,
            vec![words(&["type", "map", "pinmaps", "autoattach"])]
        );
        assert_eq!(
            want_of("prog", "load", "x.o map", "").pools,
            vec![words(&["idx", "name"])]
        );
        assert!(want_of("prog", "load", "x.o map name", "").pools.is_empty());
        assert_eq!(
            want_of("prog", "load", "x.o map name cnt", "").pools,
            vec![words(&["id", "pinned", "name"])]
        );
        assert_eq!(
            want_of("prog", "load", "x.o map name cnt id", "").pools,
            vec![Pool::Ids(Kind::Map)]
        );
        assert_eq!(
            want_of("prog", "load", "x.o type", "").pools,
            vec![Pool::ProgTypes]
        );
        assert_eq!(
            want_of("map", "create", "/m type", "").pools,
            vec![Pool::MapTypes]
        );
        assert_eq!(
            want_of("prog", "load", "x.o pinmaps", "").pools,
            vec![Pool::BpffsDirs]
        );
        assert_eq!(want_of("net", "show", "", "").pools, vec![words(&["dev"])]);
        assert_eq!(want_of("net", "show", "dev", "").pools, vec![Pool::Ifaces]);
        assert_eq!(
            want_of("map", "update", "id 1 key 1 value 2", "").pools,
            vec![words(&["any", "exist", "noexist"])]
        );
        let attach = want_of("net", "attach", "", "");
        assert_eq!(
            attach.pools,
            vec![words(&[
                "xdp",
                "xdpgeneric",
                "xdpdrv",
                "xdpoffload",
                "tc_ingress",
                "tc_egress",
                "tcx_ingress",
                "tcx_egress"
            ])]
        );
        assert!(want_of("net", "attach", "xdp id 3 dev veth0 prio", "").exclusive);
        assert_eq!(
            want_of("completions", "", "", "").pools,
            vec![words(&["bash", "zsh", "fish", "elvish", "powershell"])]
        );
    }

    #[test]
    fn verbs_carry_the_words_completer() {
        let cmd = command();
        for object in cmd.get_subcommands() {
            let verbs: Vec<&clap::Command> = if object.has_subcommands() {
                object.get_subcommands().collect()
            } else {
                vec![object]
            };
            for verb in verbs {
                for arg in verb.get_positionals() {
                    assert!(
                        arg.get::<ArgValueCompleter>().is_some(),
                        "{} {}: {} has no completer",
                        object.get_name(),
                        verb.get_name(),
                        arg.get_id()
                    );
                }
            }
        }
    }
}
