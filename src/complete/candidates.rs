// Where TAB candidates come from: live kernel objects (ids with names, tags, pins under a
// bpffs), interfaces, network namespaces, type names, local paths. Read-only.

use std::ffi::OsStr;
use std::path::Path;

use clap_complete::engine::{CompletionCandidate, PathCompleter, ValueCompleter};

use crate::bpf::{self, catalog, Kind};

/// A pool of candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pool {
    Ids(Kind),
    Pins(Option<Kind>),
    BpffsDirs,
    Names(Kind),
    Tags,
    Ifaces,
    Netns,
    ProgTypes,
    MapTypes,
    AttachTypes,
    LocalPaths,
    Words(Vec<&'static str>),
}

/// The candidates of `pool` for the word `current` (not yet filtered by it).
pub fn candidates(pool: &Pool, current: &str) -> Vec<CompletionCandidate> {
    match pool {
        Pool::Ids(kind) => ids(*kind),
        Pool::Pins(kind) => pins(current, *kind, false),
        Pool::BpffsDirs => pins(current, None, true),
        Pool::Names(kind) => names(*kind),
        Pool::Tags => tags(),
        Pool::Ifaces => ifaces(),
        Pool::Netns => netns(),
        Pool::ProgTypes => plain(bpf::prog::prog_type_names()),
        Pool::MapTypes => plain(catalog::map_type_names()),
        Pool::AttachTypes => plain(catalog::attach_type_names()),
        Pool::LocalPaths => PathCompleter::any().complete(OsStr::new(current)),
        Pool::Words(words) => words.iter().map(|w| CompletionCandidate::new(*w)).collect(),
    }
}

fn plain(words: Vec<&'static str>) -> Vec<CompletionCandidate> {
    words
        .into_iter()
        .filter(|w| *w != "unspec")
        .map(CompletionCandidate::new)
        .collect()
}

/// Every loaded object of `kind` that can be opened: (id, type, name).
fn loaded(kind: Kind) -> Vec<(u32, String, String)> {
    let Ok(ids) = bpf::ids(kind) else {
        return Vec::new();
    };
    ids.into_iter()
        .filter_map(|id| {
            let fd = bpf::fd_by_id(kind, id).ok()?;
            use std::os::fd::AsFd;
            let (t, name) = catalog::summary(kind, fd.as_fd()).ok()?;
            Some((id, t, name))
        })
        .collect()
}

fn ids(kind: Kind) -> Vec<CompletionCandidate> {
    loaded(kind)
        .into_iter()
        .map(|(id, t, name)| {
            let help = if name.is_empty() {
                t
            } else {
                format!("{name} ({t})")
            };
            CompletionCandidate::new(id.to_string()).help(Some(help.into()))
        })
        .collect()
}

fn names(kind: Kind) -> Vec<CompletionCandidate> {
    let mut by_name: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (id, _, name) in loaded(kind) {
        if !name.is_empty() {
            by_name.entry(name).or_default().push(id.to_string());
        }
    }
    by_name
        .into_iter()
        .map(|(name, ids)| {
            CompletionCandidate::new(name).help(Some(format!("id {}", ids.join(", ")).into()))
        })
        .collect()
}

fn tags() -> Vec<CompletionCandidate> {
    let Ok(ids) = bpf::ids(Kind::Prog) else {
        return Vec::new();
    };
    ids.into_iter()
        .filter_map(|id| {
            let fd = bpf::fd_by_id(Kind::Prog, id).ok()?;
            use std::os::fd::AsFd;
            let info = bpf::prog::info(fd.as_fd()).ok()?;
            Some(
                CompletionCandidate::new(crate::hex::compact(&info.tag))
                    .help(Some(format!("id {id} {}", info.name).into())),
            )
        })
        .collect()
}

fn ifaces() -> Vec<CompletionCandidate> {
    dir_names("/sys/class/net")
}

/// Named network namespaces, as `ip netns add` creates them.
fn netns() -> Vec<CompletionCandidate> {
    dir_names("/run/netns")
}

fn dir_names(dir: &str) -> Vec<CompletionCandidate> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.into_iter().map(CompletionCandidate::new).collect()
}

/// Paths under a bpffs, one directory level at a time: directories (with a trailing `/`)
/// and objects pinned there (of `kind` if given), with what they are as help.
fn pins(current: &str, kind: Option<Kind>, dirs_only: bool) -> Vec<CompletionCandidate> {
    let current = if current.is_empty() {
        "/sys/fs/bpf/"
    } else {
        current
    };
    if !current.starts_with('/') {
        return PathCompleter::any().complete(OsStr::new(current));
    }
    let (dir, base) = match current.rfind('/') {
        Some(i) => current.split_at(i + 1),
        None => ("/", current),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(base) || (name.starts_with('.') && !base.starts_with('.')) {
            continue;
        }
        let path = format!("{dir}{name}");
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            out.push(CompletionCandidate::new(format!("{path}/")));
        } else if !dirs_only && ft.is_file() {
            let Some((k, id)) = bpf::pinned_kind_and_id(Path::new(&path)) else {
                continue;
            };
            if kind.is_some_and(|want| want != k) {
                continue;
            }
            out.push(
                CompletionCandidate::new(path)
                    .help(Some(format!("{} id {id}", k.noun_word()).into())),
            );
        }
    }
    out.sort();
    out
}
