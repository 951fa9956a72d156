//! `iter` verbs: `iter pin OBJ PATH [map MAP]` (load, attach the iterator, pin its link) and `iter read PATH`.

use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::bpf::iter::{self, IterProg};
use crate::bpf::object::{self, LoadSpec};
use crate::bpf::{self, bpffs, Kind};
use crate::cli::{Globals, IterVerb};
use crate::error::{hinted, usage};
use crate::grammar;
use crate::handle::{self, Handle};
use crate::output::Output;

pub fn run(verb: IterVerb, g: &Globals, out: &mut Output) -> Result<()> {
    match verb {
        IterVerb::Pin { words } => pin(&words, g, out),
        IterVerb::Read { words } => read(&words, g, out),
    }
}

struct PinWords {
    obj: PathBuf,
    path: PathBuf,
    map: Option<Handle>,
}

fn pin_words(words: &[String]) -> Result<PinWords> {
    let m = grammar::parse("iter", "pin", words)?;
    Ok(PinWords {
        obj: m.path("OBJ").unwrap_or_default(),
        path: m.path("PATH").unwrap_or_default(),
        map: m.handle("map")?,
    })
}

fn pin(words: &[String], g: &Globals, out: &mut Output) -> Result<()> {
    let w = pin_words(words)?;
    // Plan: the object, the pin path and the map are checked before anything is loaded.
    object::check_file(&w.obj)?;
    bpffs::ensure_mounted(g.nomount)?;
    bpffs::check_pin_path(&w.path)?;
    let map = match &w.map {
        Some(h) => Some(handle::resolve_one(Kind::Map, h)?.fd),
        None => None,
    };
    let spec = LoadSpec {
        path: &w.obj,
        prog_type: None,
        reuse_maps: Vec::new(),
        want_log: false,
        pin_root: None,
    };
    let mut open = object::open(&spec)?;
    let prog = iter::choose(&mut open, &w.obj)?;
    check_map_fits(&prog, w.map.as_ref())?;
    let mut obj = object::load(open, &w.obj, None).map_err(|e| load_refused(&prog, e))?;
    let link = iter::attach(&mut obj, &prog, map.as_ref().map(|m| m.as_fd()))?;
    // The last step: when it fails nothing is pinned (the link goes with this process).
    bpf::obj_pin(link.as_fd(), &w.path)
        .with_context(|| format!("pinning the {} iterator", prog.target))?;
    out.done(None)?;
    Ok(())
}

/// A map iterator needs `map MAP`; the others take none.
fn check_map_fits(prog: &IterProg, map: Option<&Handle>) -> Result<()> {
    match (prog.takes_map(), map) {
        (true, None) => Err(usage(format!(
            "the {} iterator ({}) walks a map: give it with `map MAP`",
            prog.target, prog.name
        ))),
        (false, Some(h)) => Err(usage(format!(
            "the {} iterator ({}) takes no map, but `map {h}` was given; only {} iterators do",
            prog.target,
            prog.name,
            iter::MAP_TARGETS.join(", ")
        ))),
        _ => Ok(()),
    }
}

/// A load the kernel refused with EPERM, said as a refusal of this iterator target.
fn load_refused(prog: &IterProg, e: anyhow::Error) -> anyhow::Error {
    let text = format!("{e:#}");
    let eperm = text.contains("(EPERM)") || text.contains("Operation not permitted");
    if eperm && crate::bpf::caps::missing_hint().is_none() {
        return hinted(
            format!(
                "the kernel refused the {} iterator: loading its program {} failed{}",
                prog.target,
                prog.name,
                iter::errno_text(libc::EPERM)
            ),
            "this kernel does not allow this iterator target (lockdown or a security module); other targets such as task may work",
        );
    }
    e
}

fn read(words: &[String], g: &Globals, out: &mut Output) -> Result<()> {
    let m = grammar::parse("iter", "read", words)?;
    let path = m.path("PATH").unwrap_or_default();
    bpffs::ensure_mounted(g.nomount)?;
    let file = iter::open_pinned(&path)?;
    copy_out(file, &path, out)
}

/// Copy what the iterator writes to stdout in chunks (memory stays bounded); with -j,
/// one JSON string per line.
fn copy_out(mut file: std::fs::File, path: &Path, out: &mut Output) -> Result<()> {
    let mut buf = vec![0u8; 1 << 16];
    let mut partial: Vec<u8> = Vec::new();
    let json = out.is_json();
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(bpf::kernel_error(
                    e,
                    format!("reading iterator {}", path.display()),
                ))
            }
        };
        let chunk = &buf[..n];
        if !json {
            out.raw(chunk)?;
            continue;
        }
        partial.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(i) = partial[start..].iter().position(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(&partial[start..start + i]);
            out.stream_line_deferred(&line, &line)?;
            start += i + 1;
        }
        partial.drain(..start);
    }
    if json && !partial.is_empty() {
        let line = String::from_utf8_lossy(&partial);
        out.stream_line_deferred(&line, &line)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn pin_words_parse() {
        let w = pin_words(&words("x.o /sys/fs/bpf/it map id 3")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.map, Some(Handle::Id(3)));
        assert!(pin_words(&words("x.o")).is_err());
        assert!(pin_words(&words("x.o /sys/fs/bpf/it map")).is_err());
    }

    #[test]
    fn maps_fit_their_targets() {
        let task = IterProg {
            name: "t".into(),
            target: "task".into(),
        };
        let elems = IterProg {
            name: "m".into(),
            target: "bpf_map_elem".into(),
        };
        assert!(check_map_fits(&task, None).is_ok());
        assert!(check_map_fits(&task, Some(&Handle::Id(1))).is_err());
        assert!(check_map_fits(&elems, None).is_err());
        assert!(check_map_fits(&elems, Some(&Handle::Id(1))).is_ok());
    }
}
