// PROG / MAP / LINK handles: parsing `id N | pinned PATH | name NAME | tag TAG` (a bare
// `/path` is pinned) and resolving them to open fds, written once for every kind.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use anyhow::Result;

use crate::bpf::{self, Kind};
use crate::error::usage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handle {
    Id(u32),
    Pinned(PathBuf),
    Name(String),
    Tag([u8; 8]),
}

impl std::fmt::Display for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Handle::Id(id) => write!(f, "id {id}"),
            Handle::Pinned(p) => write!(f, "pinned {}", p.display()),
            Handle::Name(n) => write!(f, "name {n}"),
            Handle::Tag(t) => write!(f, "tag {}", crate::hex::compact(t)),
        }
    }
}

/// The keywords a handle of `kind` may start with.
fn keywords(kind: Kind) -> &'static str {
    match kind {
        Kind::Prog => "id N | pinned FILE | name NAME | tag HEX",
        Kind::Map => "id N | pinned FILE | name NAME",
        Kind::Link => "id N | pinned FILE",
    }
}

/// Parse a handle at the start of `words`; returns it and the words after it.
pub fn parse(kind: Kind, words: &[String]) -> Result<(Handle, usize)> {
    let noun = kind.noun();
    let Some(first) = words.first() else {
        return Err(usage(format!(
            "expected a {noun} handle: {}",
            keywords(kind)
        )));
    };
    if first.starts_with('/') {
        return Ok((Handle::Pinned(PathBuf::from(first)), 1));
    }
    let value = || {
        words
            .get(1)
            .ok_or_else(|| usage(format!("`{first}` needs a value: {}", keywords(kind))))
    };
    let handle = match first.as_str() {
        "id" => {
            let v = value()?;
            Handle::Id(
                v.parse()
                    .map_err(|_| usage(format!("invalid {noun} id `{v}`: expected a number")))?,
            )
        }
        "pinned" => Handle::Pinned(PathBuf::from(value()?)),
        "name" if kind != Kind::Link => Handle::Name(value()?.clone()),
        "tag" if kind == Kind::Prog => Handle::Tag(parse_tag(value()?)?),
        other => {
            return Err(usage(format!(
                "unknown {noun} handle `{other}`: expected {}",
                keywords(kind)
            )))
        }
    };
    Ok((handle, 2.min(words.len())))
}

/// Parse a handle that must be all of `words`.
pub fn parse_all(kind: Kind, words: &[String]) -> Result<Handle> {
    let (handle, used) = parse(kind, words)?;
    if let Some(extra) = words.get(used) {
        return Err(usage(format!(
            "unexpected `{extra}` after the {} handle",
            kind.noun()
        )));
    }
    Ok(handle)
}

fn parse_tag(text: &str) -> Result<[u8; 8]> {
    let clean: String = text.chars().filter(|c| *c != ':').collect();
    let bad = || usage(format!("invalid tag `{text}`: expected 16 hex digits"));
    if clean.len() != 16 {
        return Err(bad());
    }
    let mut tag = [0u8; 8];
    for (i, b) in tag.iter_mut().enumerate() {
        *b = u8::from_str_radix(&clean[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(tag)
}

/// An object the handle named: its id and an open fd.
#[derive(Debug)]
pub struct Resolved {
    pub id: u32,
    pub fd: OwnedFd,
}

/// Every object the handle names (name and tag may name several). Naming none is an error.
pub fn resolve_all(kind: Kind, handle: &Handle) -> Result<Vec<Resolved>> {
    match handle {
        Handle::Id(id) => Ok(vec![Resolved {
            id: *id,
            fd: bpf::fd_by_id(kind, *id)?,
        }]),
        Handle::Pinned(path) => {
            let fd = bpf::obj_get(kind, path)?;
            let id = bpf::fdinfo_field(fd.as_fd(), kind.fdinfo_id_key())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            Ok(vec![Resolved { id, fd }])
        }
        Handle::Name(_) | Handle::Tag(_) => {
            let mut found = Vec::new();
            for id in bpf::ids(kind)? {
                // An object may go away between listing and opening it.
                let Ok(fd) = bpf::fd_by_id(kind, id) else {
                    continue;
                };
                if matches(kind, handle, &fd) {
                    found.push(Resolved { id, fd });
                }
            }
            if found.is_empty() {
                anyhow::bail!("no {} matches {handle}", kind.noun());
            }
            Ok(found)
        }
    }
}

/// The one object the handle names; several matches are an error that lists them.
pub fn resolve_one(kind: Kind, handle: &Handle) -> Result<Resolved> {
    let mut all = resolve_all(kind, handle)?;
    if all.len() > 1 {
        let ids: Vec<String> = all.iter().map(|r| format!("id {}", r.id)).collect();
        return Err(crate::error::hinted(
            format!(
                "several {}s match {handle}: {}",
                kind.noun(),
                ids.join(", ")
            ),
            format!("name one by id, e.g. `{} {}`", kind.noun_word(), ids[0]),
        ));
    }
    all.pop()
        .ok_or_else(|| anyhow::anyhow!("no {} matches {handle}", kind.noun()))
}

/// A program pinned under the bpffs root: where, its id and its type name.
#[derive(Debug, Clone)]
pub struct PinnedProg {
    pub path: PathBuf,
    pub id: u32,
    pub name: String,
}

/// The rule for a PROG left out: the one program of one of `types` that is
/// pinned under the bpffs root and not attached. A program counts as attached when a
/// bpf_link holds it or its id is in `attached` (attachments without links, which only the
/// caller can see, e.g. netlink XDP and tc filters). None or several: an error listing the
/// candidates.
pub fn pick_unattached(
    types: &[&str],
    attached: &std::collections::HashSet<u32>,
) -> Result<(PinnedProg, Resolved)> {
    let mut linked: std::collections::HashSet<u32> = attached.clone();
    for id in bpf::ids(Kind::Link).unwrap_or_default() {
        if let Ok(fd) = bpf::fd_by_id(Kind::Link, id) {
            if let Ok(head) = bpf::link::head(fd.as_fd()) {
                linked.insert(head.prog_id);
            }
        }
    }
    let root = std::path::Path::new(bpf::bpffs::DEFAULT_ROOT);
    let mut of_type = Vec::new();
    for (path, kind, id) in bpf::bpffs::walk_pins(root) {
        if kind != Kind::Prog {
            continue;
        }
        let Ok(fd) = bpf::obj_get(Kind::Prog, &path) else {
            continue;
        };
        let Ok(info) = bpf::prog::info(fd.as_fd()) else {
            continue;
        };
        if types.contains(&info.type_name.as_str()) {
            of_type.push((
                PinnedProg {
                    path,
                    id,
                    name: info.name,
                },
                fd,
            ));
        }
    }
    let list = |v: &[&PinnedProg]| {
        v.iter()
            .map(|p| format!("{} (id {}, {})", p.path.display(), p.id, p.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let wanted = types.join(" or ");
    // The same program pinned twice is one candidate.
    let mut free: Vec<(PinnedProg, OwnedFd)> = Vec::new();
    for (p, fd) in of_type.iter().filter(|(p, _)| !linked.contains(&p.id)) {
        if !free.iter().any(|(q, _)| q.id == p.id) {
            free.push((p.clone(), fd.try_clone().map_err(anyhow::Error::from)?));
        }
    }
    match free.len() {
        1 => {
            let (p, fd) = free.remove(0);
            let id = p.id;
            Ok((p, Resolved { id, fd }))
        }
        0 => {
            let busy: Vec<&PinnedProg> = of_type.iter().map(|(p, _)| p).collect();
            let msg = if busy.is_empty() {
                format!(
                    "no PROG given and no {wanted} program is pinned under {}",
                    root.display()
                )
            } else {
                format!(
                    "no PROG given and every pinned {wanted} program is attached already: {}",
                    list(&busy)
                )
            };
            Err(crate::error::hinted(
                msg,
                "load one first (`rbt prog load OBJ`) or name it: id N | pinned FILE | name NAME",
            ))
        }
        _ => {
            let cands: Vec<&PinnedProg> = free.iter().map(|(p, _)| p).collect();
            Err(crate::error::hinted(
                format!(
                    "no PROG given and several unattached {wanted} programs are pinned: {}",
                    list(&cands)
                ),
                format!("name one, e.g. `pinned {}`", cands[0].path.display()),
            ))
        }
    }
}

fn matches(kind: Kind, handle: &Handle, fd: &OwnedFd) -> bool {
    match (kind, handle) {
        (Kind::Prog, Handle::Name(n)) => bpf::prog::info(fd.as_fd()).is_ok_and(|i| &i.name == n),
        (Kind::Prog, Handle::Tag(t)) => bpf::prog::info(fd.as_fd()).is_ok_and(|i| &i.tag == t),
        (Kind::Map, Handle::Name(n)) => bpf::map::info(fd.as_fd()).is_ok_and(|i| &i.name == n),
        _ => false,
    }
}

impl Kind {
    /// The object word of the command line: prog, map, link.
    pub fn noun_word(self) -> &'static str {
        match self {
            Kind::Prog => "prog",
            Kind::Map => "map",
            Kind::Link => "link",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn handles_parse() {
        assert_eq!(
            parse(Kind::Prog, &words("id 7")).ok().map(|h| h.0),
            Some(Handle::Id(7))
        );
        assert_eq!(
            parse(Kind::Prog, &words("/sys/fs/bpf/x key")).ok(),
            Some((Handle::Pinned("/sys/fs/bpf/x".into()), 1))
        );
        assert_eq!(
            parse(Kind::Prog, &words("tag 19d601d17bcabe47"))
                .ok()
                .map(|h| h.0),
            Some(Handle::Tag([
                0x19, 0xd6, 0x01, 0xd1, 0x7b, 0xca, 0xbe, 0x47
            ]))
        );
        assert_eq!(
            parse(Kind::Map, &words("name cnt x")).ok().map(|h| h.1),
            Some(2)
        );
    }

    #[test]
    fn bad_handles_are_usage_errors() {
        for bad in ["id x", "id", "tag 12", "bogus 1", ""] {
            let err = parse(Kind::Prog, &words(bad)).unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 2, "{bad}");
        }
        assert!(parse(Kind::Link, &words("name x")).is_err());
        assert!(parse(Kind::Map, &words("tag 0011223344556677")).is_err());
        assert!(parse_all(Kind::Prog, &words("id 1 2")).is_err());
    }
}
