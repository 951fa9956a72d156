// The verbs every kind of BPF object shares, written once for programs, maps and links:
// `show` (every object, or those a handle names) and `pin`, and the facts show records need.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::bpf::pids::PidRef;
use crate::bpf::{self, bpffs, Kind};
use crate::cli::Globals;
use crate::error::usage;
use crate::grammar;
use crate::handle;
use crate::output::{Output, Tabular};

/// Facts gathered once per `show` and shared by every record: pins (with -f) and pids.
pub struct ShowContext {
    pub pins: Option<BTreeMap<u32, Vec<String>>>,
    pub pids: BTreeMap<u32, Vec<PidRef>>,
}

impl ShowContext {
    pub fn new(kind: Kind, g: &Globals) -> Result<Self> {
        let pins = if g.bpffs {
            bpffs::ensure_mounted(g.nomount)?;
            Some(pins_by_id(kind))
        } else {
            None
        };
        Ok(ShowContext {
            pins,
            pids: bpf::pids::holders(kind),
        })
    }

    /// bpftool's `pinned`: with -f, the object's pins (possibly none); without, absent.
    pub fn pinned(&self, id: u32) -> Option<Vec<String>> {
        self.pins
            .as_ref()
            .map(|p| p.get(&id).cloned().unwrap_or_default())
    }

    /// The processes holding the object.
    pub fn pids(&self, id: u32) -> Vec<PidRef> {
        self.pids.get(&id).cloned().unwrap_or_default()
    }
}

/// Pinned paths under the bpffs root, by object id.
pub fn pins_by_id(kind: Kind) -> BTreeMap<u32, Vec<String>> {
    let mut pins: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for (path, k, id) in bpffs::walk_pins(Path::new(bpffs::DEFAULT_ROOT)) {
        if k == kind {
            pins.entry(id).or_default().push(path.display().to_string());
        }
    }
    pins
}

/// `show [HANDLE]`: every object of `kind` as a list, or those the handle names (one
/// object alone, several as a list, as bpftool does).
pub fn show<T, F>(
    kind: Kind,
    words: &[String],
    g: &Globals,
    out: &mut Output,
    record: F,
) -> Result<()>
where
    T: Serialize + Tabular,
    F: Fn(BorrowedFd<'_>, &ShowContext) -> Result<T>,
{
    let handle = grammar::parse(kind.noun_word(), "show", words)?
        .handle(grammar::handle_placeholder(kind))?;
    let ctx = ShowContext::new(kind, g)?;
    let Some(handle) = handle else {
        let mut records = Vec::new();
        for id in bpf::ids(kind)? {
            // An object may go away between listing and opening it.
            let Ok(fd) = bpf::fd_by_id(kind, id) else {
                continue;
            };
            if let Ok(r) = record(fd.as_fd(), &ctx) {
                records.push(r);
            }
        }
        return Ok(out.list(&records)?);
    };
    let records = handle::resolve_all(kind, &handle)?
        .iter()
        .map(|r| record(r.fd.as_fd(), &ctx))
        .collect::<Result<Vec<_>>>()?;
    match records.as_slice() {
        [one] => out.one(one)?,
        _ => out.list(&records)?,
    }
    Ok(())
}

/// `pin HANDLE FILE`: pin the one object the handle names at FILE on a bpffs.
pub fn pin(kind: Kind, words: &[String], g: &Globals, out: &mut Output) -> Result<()> {
    let m = grammar::parse(kind.noun_word(), "pin", words)?;
    let placeholder = grammar::handle_placeholder(kind);
    let handle = m
        .handle(placeholder)?
        .ok_or_else(|| usage(format!("expected {placeholder}")))?;
    let file = m.path("FILE").ok_or_else(|| usage("expected FILE"))?;
    bpffs::ensure_mounted(g.nomount)?;
    let object = handle::resolve_one(kind, &handle)?;
    bpf::obj_pin(object.fd.as_fd(), &file)?;
    out.done(None)?;
    Ok(())
}
