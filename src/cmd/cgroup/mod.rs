// `cgroup` verbs: show and tree (the programs of cgroup v2 directories, classic attachments
// and links, with bpftool's fields); attach and detach are in attach.rs.

mod attach;

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::bpf::cgroup::{self as cg, Cgroup};
use crate::bpf::{self, Kind};
use crate::cli::{CgroupVerb, Globals};
use crate::error::hinted;
use crate::grammar::words::{CgroupAttachType, Word};
use crate::grammar::{self};
use crate::output::{Output, Tabular};

pub fn run(verb: Option<CgroupVerb>, g: &Globals, out: &mut Output) -> Result<()> {
    match verb.unwrap_or(CgroupVerb::Show { words: Vec::new() }) {
        CgroupVerb::Show { words } => show(&words, out),
        CgroupVerb::Tree { words } => tree(&words, out),
        CgroupVerb::Attach(args) => attach::attach(&args, g, out),
        CgroupVerb::Detach { words } => attach::detach(&words, out),
    }
}

/// One program attached to a cgroup, as `bpftool cgroup show` prints it (same fields, same
/// order), plus how it is attached.
#[derive(Debug, Serialize)]
pub struct CgroupProg {
    pub id: u32,
    pub attach_type: &'static str,
    /// "multi", "override" or "" (exclusive); left out in effective mode, as bpftool does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attach_flags: Option<String>,
    pub name: String,
    pub attach_btf_name: String,
    pub attach_btf_obj_id: u32,
    pub attach_btf_id: u32,
    /// rbt: "prog_attach" (BPF_PROG_ATTACH) or "link".
    pub attach_mode: &'static str,
    /// rbt: the link that holds the program, for link attachments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_id: Option<u32>,
}

impl Tabular for CgroupProg {
    fn header() -> &'static [&'static str] {
        &["ID", "ATTACH TYPE", "FLAGS", "NAME", "MODE", "LINK"]
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.attach_type.to_owned(),
            self.attach_flags.clone().unwrap_or_default(),
            self.name.clone(),
            self.attach_mode.to_owned(),
            self.link_id.map(|l| l.to_string()).unwrap_or_default(),
        ]
    }
}

/// bpftool's word for the attach flags of a query.
fn flags_word(flags: u32) -> String {
    match flags {
        0 => String::new(),
        libbpf_sys::BPF_F_ALLOW_MULTI => "multi".into(),
        libbpf_sys::BPF_F_ALLOW_OVERRIDE => "override".into(),
        other => format!("unknown({other:x})"),
    }
}

/// One program's record; None when it was unloaded meanwhile.
fn prog_record(
    id: u32,
    t: CgroupAttachType,
    flags: Option<u32>,
    link_id: Option<u32>,
) -> Option<CgroupProg> {
    let fd = bpf::fd_by_id(Kind::Prog, id).ok()?;
    let info = bpf::prog::info(fd.as_fd()).ok()?;
    let attach_btf_name = if info.attach_btf_id != 0 {
        crate::btf::Btf::from_kernel_id(info.attach_btf_obj_id)
            .map(|b| b.type_name(info.attach_btf_id))
            .unwrap_or_default()
    } else {
        String::new()
    };
    Some(CgroupProg {
        id,
        attach_type: t.word(),
        attach_flags: flags.map(flags_word),
        name: info.name,
        attach_btf_name,
        attach_btf_obj_id: info.attach_btf_obj_id,
        attach_btf_id: info.attach_btf_id,
        attach_mode: if link_id.is_some() {
            "link"
        } else {
            "prog_attach"
        },
        link_id,
    })
}

/// Every program attached to `cgroup` (or in effect there), attach type by attach type in
/// the kernel's order, as bpftool lists them.
pub fn programs(
    cgroup: &Cgroup,
    effective: bool,
    links: &HashMap<(u64, u32, u32), Vec<u32>>,
) -> Result<Vec<CgroupProg>> {
    let owners = if effective {
        cg::ancestor_ids(&cgroup.path)
    } else {
        vec![cgroup.id]
    };
    let mut types = CgroupAttachType::ALL.to_vec();
    types.sort_by_key(|t| t.code());
    let mut progs = Vec::new();
    for t in types {
        let attached = match cg::query(cgroup.dir.as_fd(), t.code(), effective) {
            Ok(a) => a,
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                return Err(bpf::kernel_error(
                    e,
                    format!("querying cgroup {}", cgroup.path.display()),
                ))
            }
            // Attach types this kernel lacks, or that cannot be queried so: skipped, as
            // bpftool does.
            Err(_) => continue,
        };
        let flags = (!effective).then_some(attached.flags);
        for (i, id) in attached.prog_ids.iter().enumerate() {
            // A program attached both ways lists twice: the links take its last entries
            // (the kernel appends, and rbt cannot tell them apart otherwise).
            let later = attached.prog_ids[i + 1..]
                .iter()
                .filter(|p| *p == id)
                .count();
            let held: Vec<u32> = owners
                .iter()
                .flat_map(|owner| links.get(&(*owner, t.code(), *id)).into_iter().flatten())
                .copied()
                .collect();
            let link = held
                .len()
                .checked_sub(later + 1)
                .and_then(|k| held.get(k).copied());
            progs.extend(prog_record(*id, t, flags, link));
        }
    }
    Ok(progs)
}

fn show(words: &[String], out: &mut Output) -> Result<()> {
    let m = grammar::parse("cgroup", "show", words)?;
    let path = match m.path("CGROUP") {
        Some(p) => p,
        None => cg::default_root()?,
    };
    let cgroup = cg::open(&path)?;
    let progs = programs(&cgroup, m.has("effective"), &cg::links())?;
    out.list(&progs)?;
    Ok(())
}

/// The head of one cgroup in `cgroup tree`: its path (its programs follow).
#[derive(Serialize)]
struct TreeHead<'a> {
    cgroup: &'a str,
}

fn tree(words: &[String], out: &mut Output) -> Result<()> {
    let m = grammar::parse("cgroup", "tree", words)?;
    let root = match m.path("ROOT") {
        Some(p) => p,
        None => cg::default_root()?,
    };
    cg::open(&root)?;
    let effective = m.has("effective");
    let links = cg::links();
    let mut found: Vec<(String, Vec<CgroupProg>)> = Vec::new();
    walk(&root, &mut |path| {
        let Ok(cgroup) = cg::open(path) else {
            return Ok(()); // removed while walking
        };
        let progs = programs(&cgroup, effective, &links)?;
        if !progs.is_empty() {
            found.push((path.display().to_string(), progs));
        }
        Ok(())
    })?;
    out.groups_begin()?;
    for (path, progs) in &found {
        out.group_begin(&TreeHead { cgroup: path }, "programs", path)?;
        out.seq_begin(CgroupProg::header())?;
        for p in progs {
            out.seq_item(p, || vec![p.row()])?;
        }
        out.seq_end()?;
        out.group_end()?;
    }
    out.groups_end()?;
    Ok(())
}

/// Visit `dir` and every directory under it, parents first, without following symlinks or
/// leaving the file system (bpftool's nftw with FTW_MOUNT | FTW_PHYS).
fn walk(dir: &Path, visit: &mut dyn FnMut(&Path) -> Result<()>) -> Result<()> {
    visit(dir)?;
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(hinted(
                format!("cgroup tree: reading {}: {e}", dir.display()),
                "run as root, or give a ROOT you can read",
            ))
        }
    };
    let mut subdirs: Vec<PathBuf> = Vec::new();
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            subdirs.push(entry.path());
        }
    }
    for sub in subdirs {
        walk(&sub, visit)?;
    }
    Ok(())
}
