// `net` verbs: attach, replace and detach XDP / tc (clsact) / tcx programs on interfaces,
// optionally in another network namespace, and show what is attached (bpftool's JSON shape).
// This file only dispatches: words.rs parses, plan.rs decides, attach/detach/show run.

mod attach;
mod detach;
mod plan;
mod show;
mod words;

use anyhow::Result;

use crate::cli::{Globals, NetVerb};
use crate::output::Output;

pub fn run(verb: Option<NetVerb>, _g: &Globals, out: &mut Output) -> Result<()> {
    match verb.unwrap_or(NetVerb::Show {
        words: Vec::new(),
        netns: None,
    }) {
        NetVerb::Show { words, netns } => show::show(&words, netns.as_deref(), out),
        NetVerb::Attach(args) => attach::attach(&args, out),
        NetVerb::Detach(args) => detach::detach(&args, out),
    }
}
