// `btf dump (id ID | map MAP [key|value|kv|all] | prog PROG | file FILE) [format raw|c]
// [root_id ID]...`: find the BTF (a module's on top of vmlinux or -B), pick the root types,
// and hand bpftool's raw listing (text or JSON) or a C header to Output. Everything is built
// before the first byte is written, so a failure prints nothing on stdout.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::bpf::{self, Kind};
use crate::btf::{c_dump, raw_dump, Btf};
use crate::cli::Globals;
use crate::error::{hinted, usage};
use crate::grammar::{self, words::BtfFormat, Matches};
use crate::output::Output;

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";
const SYSFS_BTF: &str = "/sys/kernel/btf/";

pub fn dump(words: &[String], g: &Globals, out: &mut Output) -> Result<()> {
    let m = grammar::parse("btf", "dump", words)?;
    let format = m.choice::<BtfFormat>("format")?.unwrap_or_default();
    if format == BtfFormat::C && out.is_json() {
        return Err(usage(
            "format c prints a C header; it has no JSON form (drop -j)",
        ));
    }
    let mut roots: Vec<u32> = Vec::new();
    for o in m.all("root_id") {
        roots.push(o.number(0)?);
    }
    let base = match &g.base_btf {
        Some(path) => Some(
            Btf::from_file(path, None)
                .with_context(|| format!("reading the base BTF {}", path.display()))?,
        ),
        None => None,
    };
    let (btf, part_roots) = source(&m, base)?;
    if !part_roots.is_empty() {
        if !roots.is_empty() {
            return Err(usage("root_id cannot be combined with `map MAP` (it picks the map's key and value types)"));
        }
        roots = part_roots;
    }
    for &id in &roots {
        btf.get(id)?;
    }
    match format {
        BtfFormat::C => {
            let header = c_dump::header(&btf, &roots)?;
            out.raw(header.as_bytes())?;
        }
        BtfFormat::Raw => {
            let ids = raw_dump::ids(&btf, &roots);
            if out.is_json() {
                out.json(&raw_dump::RawJson {
                    btf: &btf,
                    ids: &ids,
                })?;
            } else {
                out.raw(raw_dump::text(&btf, &ids).as_bytes())?;
            }
        }
    }
    // The process ends after the dump: freeing vmlinux's 130,000 types one by one would add
    // about 5% to the run for nothing.
    std::mem::forget(btf);
    Ok(())
}

/// The BTF the words name, and the root types `map MAP [key|value|kv]` picks.
fn source(m: &Matches, base: Option<Btf>) -> Result<(Btf, Vec<u32>)> {
    let Some(which) = m.which("SOURCE") else {
        return Err(usage(
            "expected `id ID`, `map MAP`, `prog PROG` or `file FILE`",
        ));
    };
    let part = ["key", "value", "kv", "all"].into_iter().find(|p| m.has(p));
    if which.slot.name != "map" {
        if let Some(p) = part {
            return Err(usage(format!("`{p}` goes with `map MAP` only")));
        }
    }
    match which.slot.name {
        "id" => Ok((kernel_btf(which.number(0)?, base)?, Vec::new())),
        "prog" => {
            let prog = crate::handle::resolve_one(Kind::Prog, &which.handle(0)?)?;
            let info = bpf::prog::info(prog.fd.as_fd())?;
            if info.btf_id == 0 {
                bail!("program id {} has no BTF", prog.id);
            }
            Ok((kernel_btf(info.btf_id, base)?, Vec::new()))
        }
        "map" => {
            let map = crate::handle::resolve_one(Kind::Map, &which.handle(0)?)?;
            let info = bpf::map::info(map.fd.as_fd())?;
            if info.btf_id == 0 {
                bail!("map id {} has no BTF", map.id);
            }
            let (key, value) = (info.btf_key_type_id, info.btf_value_type_id);
            let roots: Vec<u32> = match part.unwrap_or("kv") {
                "key" => vec![key],
                "value" => vec![value],
                "all" => Vec::new(),
                _ => vec![key, value],
            };
            let roots: Vec<u32> = roots.into_iter().filter(|&id| id != 0).collect();
            if roots.is_empty() && part != Some("all") {
                bail!(
                    "map id {} has no BTF type for its {}",
                    map.id,
                    part.unwrap_or("key and value")
                );
            }
            Ok((kernel_btf(info.btf_id, base)?, roots))
        }
        _ => {
            let path = PathBuf::from(which.word(0));
            Ok((file_btf(&path, base)?, Vec::new()))
        }
    }
}

/// vmlinux's BTF, the base of every module's.
fn vmlinux() -> Result<Btf> {
    Btf::from_file(Path::new(VMLINUX), None)
        .context("reading the kernel's BTF (base of module BTF)")
}

/// The kernel's BTF object `id`; a module's is read on top of vmlinux unless -B says.
fn kernel_btf(id: u32, base: Option<Btf>) -> Result<Btf> {
    let info = bpf::btf::info_by_id(id)?;
    let base = match base {
        Some(b) => Some(b),
        None if info.kernel && info.name != "vmlinux" => Some(vmlinux()?),
        None => None,
    };
    let (btf, _) =
        Btf::from_kernel_id_split(id, base.as_ref()).map_err(|e| split_hint(e, false))?;
    Ok(btf)
}

/// A BTF file; one under /sys/kernel/btf/ other than vmlinux is a module's, read on top of
/// vmlinux unless -B says.
fn file_btf(path: &Path, base: Option<Btf>) -> Result<Btf> {
    let text = path.to_string_lossy();
    let given = base.is_some();
    let base = match base {
        Some(b) => Some(b),
        None if text.starts_with(SYSFS_BTF) && text != VMLINUX => Some(vmlinux()?),
        None => None,
    };
    Btf::from_file(path, base.as_ref()).map_err(|e| split_hint(e, given))
}

/// A type id past the end is what split BTF read without its base looks like.
fn split_hint(e: anyhow::Error, base_given: bool) -> anyhow::Error {
    let missing = e
        .chain()
        .any(|c| c.to_string().contains("which does not exist"));
    if missing && !base_given {
        let msg = format!("{e:#}");
        return hinted(
            msg,
            "split BTF (a kernel module's) needs its base: --base-btf /sys/kernel/btf/vmlinux (-B)",
        );
    }
    e
}
