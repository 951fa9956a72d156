// `prog attach PROG usdt PATH:PROVIDER:NAME`: what libbpf's bpf_program__attach_usdt does for
// a program already loaded: write the argument spec into the program's __bpf_usdt_specs map
// and link a uprobe per probe site with the spec id as BPF cookie; undo it all on failure.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::bpf::map::{MapFd, UpdateFlag};
use crate::bpf::prog::ProgInfo;
use crate::bpf::usdt::{self as u, Note};
use crate::bpf::{self, attach as k, bpffs, link_pin, Kind};
use crate::error::hinted;
use crate::rollback::Rollback;

/// The probe to attach to.
pub struct UsdtTarget<'a> {
    pub path: &'a Path,
    pub provider: &'a str,
    pub name: &'a str,
    pub pid: Option<i32>,
}

/// What `attach` made: the number of probe sites, and the links (one uprobe_multi link
/// for every site, or one perf link per site) with their pins.
pub struct Attached {
    pub sites: usize,
    pub link_ids: Vec<u32>,
    pub pins: Vec<PathBuf>,
}

/// Name of libbpf's spec map as the kernel keeps it (BPF_OBJ_NAME_LEN cuts it to 15).
const SPEC_MAP: &str = "__bpf_usdt_spec";

/// The program's spec map: (map, value size, max entries).
fn spec_map(info: &ProgInfo) -> Result<(MapFd, usize, u32)> {
    for id in &info.map_ids {
        let Ok(fd) = bpf::fd_by_id(Kind::Map, *id) else {
            continue;
        };
        let map = MapFd::new(fd)?;
        let m = map.info();
        if m.name == SPEC_MAP || m.name == "__bpf_usdt_specs" {
            if m.key_size != 4 {
                anyhow::bail!(
                    "map {} (id {}) has {}-byte keys, not libbpf's USDT spec map",
                    m.name,
                    m.id,
                    m.key_size
                );
            }
            let (size, entries) = (m.value_size as usize, m.max_entries);
            return Ok((map, size, entries));
        }
    }
    Err(hinted(
        format!(
            "program {} (id {}) is not a USDT program: it has no __bpf_usdt_specs map to read its arguments from",
            info.name, info.id
        ),
        "write it with libbpf's <bpf/usdt.bpf.h>: SEC(\"usdt\") int BPF_USDT(name, args...)",
    ))
}

/// The first spec id whose slot is all zeros and that this attachment has not taken.
fn free_slot(specs: &MapFd, value_size: usize, taken: &[u32], max_entries: u32) -> Result<u32> {
    let mut value = vec![0u8; value_size];
    for id in 0..max_entries {
        if taken.contains(&id) {
            continue;
        }
        let found = specs
            .lookup(Some(&id.to_ne_bytes()), &mut value)
            .context("reading the program's __bpf_usdt_specs map")?;
        if found && value.iter().all(|&b| b == 0) {
            return Ok(id);
        }
    }
    anyhow::bail!("the program's __bpf_usdt_specs map has no free slot ({max_entries} in use)")
}

fn sites<'n>(all: &'n [Note], path: &Path, t: &UsdtTarget<'_>) -> Result<Vec<&'n Note>> {
    let sites: Vec<&Note> = all
        .iter()
        .filter(|n| n.provider == t.provider && n.name == t.name)
        .collect();
    if !sites.is_empty() {
        return Ok(sites);
    }
    let mut known: Vec<String> = all
        .iter()
        .map(|n| format!("{}:{}", n.provider, n.name))
        .collect();
    known.dedup();
    let hint = if known.is_empty() {
        format!(
            "{} has no USDT probes at all (no .note.stapsdt section)",
            path.display()
        )
    } else {
        format!("its probes: {}", known.join(", "))
    };
    Err(hinted(
        format!(
            "{}: no USDT probe {}:{}",
            path.display(),
            t.provider,
            t.name
        ),
        hint,
    ))
}

/// The pins, named by `link_pin::usdt_sites`; the first was checked by the caller.
fn pin_paths(pin: &Path, n: usize) -> Result<Vec<PathBuf>> {
    let v = link_pin::usdt_sites(pin, n);
    for p in &v[1..] {
        bpffs::check_pin_path(p)?;
    }
    Ok(v)
}

/// Attach `prog` to every site of the probe.
pub fn attach(
    prog: BorrowedFd<'_>,
    info: &ProgInfo,
    t: &UsdtTarget<'_>,
    pin: &Path,
) -> Result<Attached> {
    let path = std::fs::canonicalize(t.path)
        .with_context(|| format!("usdt: binary {}: no such file", t.path.display()))?;
    let all = u::notes(&path)?;
    let sites = sites(&all, &path, t)?;
    let (specs, value_size, max_entries) = spec_map(info)?;
    if k::pmu_type("uprobe").is_none() {
        anyhow::bail!(
            "this kernel has no uprobe support (no uprobe PMU in /sys/bus/event_source/devices)"
        );
    }
    let target = format!("{}:{}:{}", path.display(), t.provider, t.name);
    // Undone on failure: the spec slots are cleared and the pins removed; `links` is
    // declared after `rollback` so it drops first, which closes (detaches) the links.
    let zero = vec![0u8; value_size];
    let mut rollback = Rollback::new();
    let mut slots: Vec<u32> = Vec::new();
    let mut links: Vec<OwnedFd> = Vec::new();
    // One spec per distinct argument string, as libbpf does.
    let mut spec_of: Vec<(&str, u32)> = Vec::new();
    for site in &sites {
        if spec_of.iter().any(|(a, _)| *a == site.args) {
            continue;
        }
        let bytes =
            u::spec_bytes(&site.args, value_size).with_context(|| format!("usdt {target}"))?;
        let slot = free_slot(&specs, value_size, &slots, max_entries)?;
        slots.push(slot);
        let (specs, zero) = (&specs, &zero);
        rollback.push(move || {
            let _ = specs.update(Some(&slot.to_ne_bytes()), zero, UpdateFlag::Any);
        });
        specs
            .update(Some(&slot.to_ne_bytes()), &bytes, UpdateFlag::Any)
            .context("writing the USDT argument spec into __bpf_usdt_specs")?;
        spec_of.push((&site.args, slot));
    }
    let slot_of = |site: &Note| {
        spec_of
            .iter()
            .find(|(a, _)| *a == site.args)
            .map_or(0, |(_, s)| *s)
    };
    // libbpf loads SEC("usdt") programs for uprobe_multi links when the kernel has them;
    // a program loaded that way refuses perf links, one loaded the other way refuses
    // uprobe_multi (EINVAL both), so try the one link for every site first.
    let multi: Vec<(u64, u64, u64)> = sites
        .iter()
        .map(|s| (s.offset, s.semaphore, u64::from(slot_of(s))))
        .collect();
    match u::uprobe_multi_link(prog, &path, &multi, t.pid) {
        Ok(link) => links.push(link),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            for site in &sites {
                let event = k::open_uprobe(&path, site.offset, false, t.pid, site.semaphore)
                    .map_err(|e| match (e.raw_os_error(), t.pid) {
                        (Some(libc::ESRCH), Some(pid)) => {
                            anyhow::anyhow!("usdt {target}: no process {pid}")
                        }
                        _ => bpf::kernel_error(
                            e,
                            format!(
                                "opening a uprobe on usdt {target} at offset {:#x}",
                                site.offset
                            ),
                        ),
                    })?;
                let link = u::perf_link_with_cookie(prog, event.as_fd(), u64::from(slot_of(site)))
                    .map_err(|e| bpf::kernel_error(e, format!("linking to usdt {target}")))?;
                links.push(link);
            }
        }
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) && t.pid.is_some() => {
            anyhow::bail!("usdt {target}: no process {}", t.pid.unwrap_or_default())
        }
        Err(e) => return Err(bpf::kernel_error(e, format!("linking to usdt {target}"))),
    }
    let ids: Vec<u32> = links
        .iter()
        .map(|l| {
            bpf::fdinfo_field(l.as_fd(), "link_id")
                .and_then(|v| v.parse().ok())
                .unwrap_or_default()
        })
        .collect();
    let pins = pin_paths(pin, links.len())?;
    for (link, path) in links.iter().zip(&pins) {
        bpf::obj_pin(link.as_fd(), path)?;
        let path = path.clone();
        rollback.push(move || {
            let _ = std::fs::remove_file(&path);
        });
    }
    rollback.commit();
    Ok(Attached {
        sites: sites.len(),
        link_ids: ids,
        pins,
    })
}
