// `btf` verbs: show (the kernel's BTF objects and who uses them) and dump (raw or C).

mod dump;
mod show;

use anyhow::Result;

use crate::cli::{BtfVerb, Globals};
use crate::output::Output;

pub fn run(verb: Option<BtfVerb>, g: &Globals, out: &mut Output) -> Result<()> {
    match verb.unwrap_or(BtfVerb::Show { words: Vec::new() }) {
        BtfVerb::Show { words } => show::show(&words, out),
        BtfVerb::Dump { words } => dump::dump(&words, g, out),
    }
}
