// The three shells rbt completes dynamically: each asks rbt at every TAB and gets the
// candidates in its own format (bash: values; zsh: `value:help`; fish: `value<TAB>help`).

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use clap_complete::engine::CompletionCandidate;
use clap_complete::env::{Bash, EnvCompleter, Fish, Zsh};

use super::complete;

/// A shell's registration script from clap_complete, and rbt's own answer to a request.
pub struct Dynamic<S: 'static> {
    shell: S,
    answer: fn(&[CompletionCandidate], &mut dyn Write) -> std::io::Result<()>,
    /// Where the word under the cursor is: from $_CLAP_COMPLETE_INDEX, or the last argument.
    index_from_env: bool,
    /// zsh leaves out an empty word under the cursor at the end of the line.
    pad_empty_word: bool,
}

/// bash: values separated by $_CLAP_IFS (bash shows no help text).
pub static BASH: Dynamic<Bash> = Dynamic {
    shell: Bash,
    answer: |found, buf| {
        let values: Vec<String> = found
            .iter()
            .map(|c| c.get_value().to_string_lossy().into_owned())
            .collect();
        write!(buf, "{}", values.join(&ifs_from_env()))
    },
    index_from_env: true,
    pad_empty_word: false,
};

/// zsh: `value:help` separated by $_CLAP_IFS, `:` and `\` escaped in values.
pub static ZSH: Dynamic<Zsh> = Dynamic {
    shell: Zsh,
    answer: |found, buf| {
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
    },
    index_from_env: true,
    pad_empty_word: true,
};

/// fish: one `value<TAB>help` per line; the word under the cursor is the last argument.
pub static FISH: Dynamic<Fish> = Dynamic {
    shell: Fish,
    answer: |found, buf| {
        for c in found {
            write!(buf, "{}", c.get_value().to_string_lossy())?;
            if let Some(help) = first_line(c) {
                write!(buf, "\t{help}")?;
            }
            writeln!(buf)?;
        }
        Ok(())
    },
    index_from_env: false,
    pad_empty_word: false,
};

impl<S: EnvCompleter + Sync + 'static> EnvCompleter for Dynamic<S> {
    fn name(&self) -> &'static str {
        self.shell.name()
    }
    fn is(&self, name: &str) -> bool {
        self.shell.is(name)
    }
    fn write_registration(
        &self,
        var: &str,
        name: &str,
        bin: &str,
        completer: &str,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        self.shell
            .write_registration(var, name, bin, completer, buf)
    }
    fn write_complete(
        &self,
        cmd: &mut clap::Command,
        mut args: Vec<OsString>,
        current_dir: Option<&Path>,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        let index = if self.index_from_env {
            std::env::var("_CLAP_COMPLETE_INDEX")
                .ok()
                .and_then(|i| i.parse().ok())
                .unwrap_or_default()
        } else {
            args.len().saturating_sub(1)
        };
        if self.pad_empty_word && args.len() == index {
            args.push(OsString::new());
        }
        let found = complete(cmd, args, index, current_dir)?;
        (self.answer)(&found, buf)
    }
}

fn ifs_from_env() -> String {
    std::env::var("_CLAP_IFS").unwrap_or_else(|_| "\n".to_owned())
}

fn first_line(c: &CompletionCandidate) -> Option<String> {
    c.get_help()
        .map(|h| h.to_string().lines().next().unwrap_or_default().to_owned())
}
