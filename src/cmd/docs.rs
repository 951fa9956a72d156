// `completions` and `man`: shell completion scripts and man pages generated from the clap
// definitions, so help, man pages and completions come from one source.

use std::path::Path;

use anyhow::{Context, Result};

use crate::output::Output;

pub fn completions(shell: clap_complete::Shell, out: &mut Output) -> Result<()> {
    let mut cmd = crate::cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "rbt", &mut script);
    out.raw(&script)?;
    Ok(())
}

pub fn man(dir: &Path, out: &mut Output) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cmd = crate::cli::command();
    clap_mangen::generate_to(cmd, dir)
        .with_context(|| format!("writing man pages to {}", dir.display()))?;
    out.done(None)?;
    Ok(())
}
