//! BPF iterators: finding an object's iterator program, attaching it (with a map for the map iterators), and opening a pinned iterator to read it.

use std::fs::File;
use std::os::fd::BorrowedFd;
use std::path::Path;

use anyhow::{Context, Result};
use libbpf_rs::{Link, Object, OpenObject};

use super::Kind;
use crate::error::hinted;

/// Iterator targets that walk one map (the map is given at attach time).
pub const MAP_TARGETS: &[&str] = &["bpf_map_elem", "bpf_sk_storage_map", "sockmap"];

/// The iterator program chosen in an object: its name and target (`task` for `iter/task`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IterProg {
    pub name: String,
    pub target: String,
}

impl IterProg {
    pub fn takes_map(&self) -> bool {
        MAP_TARGETS.contains(&self.target.as_str())
    }
}

/// The target of an iterator section name (`iter/task`, `iter.s/task_file`).
pub fn section_target(section: &str) -> Option<&str> {
    section
        .strip_prefix("iter/")
        .or_else(|| section.strip_prefix("iter.s/"))
        .filter(|t| !t.is_empty())
}

/// Pick the first iterator program of an opened object and stop libbpf from loading the
/// others (they are not needed, and one the kernel refuses would fail the whole load).
pub fn choose(open: &mut OpenObject, obj: &Path) -> Result<IterProg> {
    let mut chosen: Option<IterProg> = None;
    let mut seen = Vec::new();
    for mut prog in open.progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        let section = prog.section().to_string_lossy().into_owned();
        match section_target(&section) {
            Some(target) if chosen.is_none() => {
                chosen = Some(IterProg {
                    name,
                    target: target.to_owned(),
                });
            }
            _ => {
                prog.set_autoload(false);
                seen.push(format!("{name} ({section})"));
            }
        }
    }
    chosen.ok_or_else(|| {
        hinted(
            format!(
                "{}: has no iterator program (SEC(\"iter/TARGET\")); its programs: {}",
                obj.display(),
                seen.join(", ")
            ),
            "an iterator program is declared as SEC(\"iter/task\") int f(struct bpf_iter__task *ctx)",
        )
    })
}

/// Attach the loaded iterator program `prog` of `obj`, with `map` for a map iterator.
/// A kernel refusal names the target and the errno.
pub fn attach(obj: &mut Object, prog: &IterProg, map: Option<BorrowedFd<'_>>) -> Result<Link> {
    let p = obj
        .progs_mut()
        .find(|p| p.name().to_string_lossy() == prog.name)
        .with_context(|| format!("program {} is missing after the load", prog.name))?;
    let result = match map {
        Some(fd) => p.attach_iter(fd),
        None => p.attach_iter_with_opts(libbpf_rs::IterOpts::None),
    };
    result.map_err(|e| {
        let errno = attach_errno(&e);
        let what = format!(
            "the kernel refused to attach the {} iterator{}",
            prog.target,
            errno.map(errno_text).unwrap_or_else(|| format!(": {e}"))
        );
        match errno {
            Some(libc::EACCES) | Some(libc::EINVAL) if map.is_some() => hinted(
                what,
                "the map must be of a type the iterator walks, with keys and values at least as large as the program reads",
            ),
            _ => anyhow::anyhow!(what),
        }
    })
}

fn attach_errno(e: &libbpf_rs::Error) -> Option<i32> {
    let text = format!("{e:#}");
    // libbpf-rs keeps the errno's io::Error text: "... (os error N)".
    text.rsplit_once("os error ")
        .and_then(|(_, n)| n.trim_end_matches(')').parse().ok())
}

/// `: EPERM (Operation not permitted)`.
pub fn errno_text(code: i32) -> String {
    let text = std::io::Error::from_raw_os_error(code).to_string();
    let text = text
        .split(" (os error")
        .next()
        .unwrap_or_default()
        .to_owned();
    format!(": {} ({text})", super::errno_name(code))
}

/// Open the iterator pinned at `path` for reading (each open runs it anew).
pub fn open_pinned(path: &Path) -> Result<File> {
    match super::pinned_kind_and_id(path) {
        Some((Kind::Link, _)) => {}
        Some((kind, id)) => {
            anyhow::bail!(
                "{}: is a pinned {} (id {id}), not an iterator",
                path.display(),
                kind.noun()
            )
        }
        None if !path.exists() => anyhow::bail!("{}: no such file", path.display()),
        None => {
            return Err(hinted(
                format!("{}: is not a pinned BPF iterator", path.display()),
                "pin one with: rbt iter pin OBJ PATH",
            ))
        }
    }
    File::open(path).with_context(|| format!("opening iterator {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_come_from_the_section() {
        assert_eq!(section_target("iter/task"), Some("task"));
        assert_eq!(section_target("iter.s/task_file"), Some("task_file"));
        assert_eq!(section_target("iter/"), None);
        assert_eq!(section_target("xdp"), None);
    }
}
