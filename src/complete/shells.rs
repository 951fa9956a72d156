// The three shells rbt completes dynamically: each asks rbt at every TAB and gets the
// candidates in its own format (bash: values; zsh: `value:help`; fish: `value<TAB>help`).

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use clap_complete::engine::CompletionCandidate;
use clap_complete::env::{Bash, EnvCompleter, Fish, Zsh};

use super::complete;

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
pub struct DynBash;

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
pub struct DynZsh;

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
pub struct DynFish;

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
