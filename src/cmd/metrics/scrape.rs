// One scrape: every program's run statistics, every map's size and memory, and the values
// of the maps asked for (`--map`, `--histogram`), written as the text exposition.

use std::collections::HashMap;
use std::io::Write;
use std::os::fd::AsFd;

use anyhow::{bail, Context, Result};

use super::exposition::{Exposition, Kind, Num};
use super::layout::KeyType;
use super::values::{self, Values};
use crate::bpf::map::MapFd;
use crate::bpf::prog::ProgInfo;
use crate::bpf::{self, Kind as ObjKind};
use crate::error::usage;
use crate::handle::{self, Handle};

/// How bucket `i` of a histogram value maps to its upper bound (as ebpf_exporter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BucketKind {
    /// Bucket i counts values up to 2^i.
    Log2,
    /// Bucket i counts values up to i.
    Linear,
}

/// What to export besides programs and maps.
#[derive(Debug, Clone)]
pub struct Targets {
    pub maps: Vec<Handle>,
    pub histograms: Vec<Handle>,
    pub buckets: BucketKind,
    pub multiplier: f64,
    pub max_series: Option<usize>,
    /// `--key-type`s, applied to the key of every map above.
    pub key_types: Vec<KeyType>,
}

/// Map types whose elements are counted by reading them (arrays have max_entries).
const COUNTED_TYPES: &[&str] = &[
    "hash",
    "lru_hash",
    "percpu_hash",
    "lru_percpu_hash",
    "lpm_trie",
    "hash_of_maps",
];
const ARRAY_TYPES: &[&str] = &[
    "array",
    "percpu_array",
    "array_of_maps",
    "prog_array",
    "cgroup_array",
];

/// Every `--map` and `--histogram` names at least one map, and each can be exported: the
/// check before the first scrape, so a wrong map is an error and not a log line.
pub fn check(t: &Targets) -> Result<()> {
    if !t.key_types.is_empty() && t.maps.is_empty() && t.histograms.is_empty() {
        return Err(usage(
            "--key-type labels the keys of --map or --histogram maps; none given",
        ));
    }
    // Whether each --key-type applied to some map, and every key label seen.
    let mut used = vec![false; t.key_types.len()];
    let mut members: Vec<String> = Vec::new();
    for (h, histogram) in t
        .maps
        .iter()
        .map(|h| (h, false))
        .chain(t.histograms.iter().map(|h| (h, true)))
    {
        let flag = if histogram { "--histogram" } else { "--map" };
        for r in handle::resolve_all(ObjKind::Map, h).with_context(|| format!("{flag} {h}"))? {
            let id = r.id;
            let v = MapFd::new(r.fd)
                .and_then(|map| Values::new(map, t, histogram))
                .with_context(|| format!("{flag} {h}: map id {id}"))?;
            for (u, &typed) in used.iter_mut().zip(v.key_types_used()) {
                *u |= typed;
            }
            for name in v.label_names() {
                if !members.contains(&name) {
                    members.push(name);
                }
            }
        }
    }
    if let Some(t) = t
        .key_types
        .iter()
        .zip(&used)
        .find_map(|(t, u)| (!u).then_some(t))
    {
        bail!(
            "--key-type `{}`: no key of the maps asked for has a member `{}` (their key labels: {})",
            t.word,
            t.member.as_deref().unwrap_or(""),
            members.join(", ")
        );
    }
    Ok(())
}

/// Write one whole exposition to `w`; `log` hears about maps skipped or series dropped.
pub fn scrape<W: Write>(t: &Targets, w: W, log: &mut dyn FnMut(&str)) -> Result<W> {
    let mut e = Exposition::new(w, t.max_series);
    programs(&mut e)?;
    let sources = values::open_all(t, log);
    let counted = values::export(&sources, &mut e, log)?;
    maps(&mut e, &counted)?;
    if e.truncated {
        log(&format!(
            "--max-series {} reached: this scrape left out the series past it",
            t.max_series.unwrap_or(0)
        ));
    }
    Ok(e.into_inner())
}

/// Every loaded program's info; one that goes away while we look is left out.
fn prog_infos() -> Result<Vec<ProgInfo>> {
    let mut infos = Vec::new();
    for id in bpf::ids(ObjKind::Prog)? {
        let Ok(fd) = bpf::fd_by_id(ObjKind::Prog, id) else {
            continue;
        };
        if let Ok(info) = bpf::prog::info(fd.as_fd()) {
            infos.push(info);
        }
    }
    Ok(infos)
}

fn programs<W: Write>(e: &mut Exposition<W>) -> Result<()> {
    let progs = prog_infos()?;
    let ids: Vec<String> = progs.iter().map(|p| p.id.to_string()).collect();
    e.family(
        "rbt_prog_info",
        Kind::Gauge,
        "A loaded BPF program: 1 per program, its id, name, type and tag as labels.",
    )?;
    for (p, id) in progs.iter().zip(&ids) {
        let tag = crate::hex::compact(&p.tag);
        let labels = [
            ("id", id.as_str()),
            ("name", p.name.as_str()),
            ("type", p.type_name.as_str()),
            ("tag", tag.as_str()),
        ];
        e.sample("rbt_prog_info", &labels, Num::U(1))?;
    }
    e.family(
        "rbt_prog_run_count_total",
        Kind::Counter,
        "Times the program ran while BPF statistics were enabled (kernel.bpf_stats_enabled).",
    )?;
    for (p, id) in progs.iter().zip(&ids) {
        let labels = [("id", id.as_str()), ("name", p.name.as_str())];
        e.sample(
            "rbt_prog_run_count_total",
            &labels,
            Num::U(p.run_cnt as u128),
        )?;
    }
    e.family(
        "rbt_prog_run_time_seconds_total",
        Kind::Counter,
        "Time the program ran while BPF statistics were enabled, in seconds.",
    )?;
    for (p, id) in progs.iter().zip(&ids) {
        let labels = [("id", id.as_str()), ("name", p.name.as_str())];
        let secs = p.run_time_ns as f64 / 1e9;
        e.sample("rbt_prog_run_time_seconds_total", &labels, Num::F(secs))?;
    }
    Ok(())
}

/// One map's size figures.
struct MapStat {
    id: String,
    name: String,
    type_name: String,
    max_entries: u32,
    memlock: Option<u64>,
    entries: Option<usize>,
}

fn map_stats(counted: &HashMap<u32, usize>) -> Result<Vec<MapStat>> {
    let mut stats = Vec::new();
    for id in bpf::ids(ObjKind::Map)? {
        let Ok(map) = bpf::fd_by_id(ObjKind::Map, id).and_then(MapFd::new) else {
            continue;
        };
        let memlock = bpf::fdinfo_field(map.as_fd(), "memlock").and_then(|v| v.parse().ok());
        let info = map.info();
        let entries = if let Some(n) = counted.get(&id) {
            Some(*n)
        } else if ARRAY_TYPES.contains(&map.type_name()) {
            Some(info.max_entries as usize)
        } else if COUNTED_TYPES.contains(&map.type_name()) {
            count(&map).ok()
        } else {
            None
        };
        stats.push(MapStat {
            id: id.to_string(),
            name: info.name.clone(),
            type_name: map.type_name().to_owned(),
            max_entries: info.max_entries,
            memlock,
            entries,
        });
    }
    Ok(stats)
}

fn count(map: &MapFd) -> Result<usize> {
    let mut n = 0;
    for batch in map.entries() {
        n += batch?.iter().count();
    }
    Ok(n)
}

fn maps<W: Write>(e: &mut Exposition<W>, counted: &HashMap<u32, usize>) -> Result<()> {
    let stats = map_stats(counted)?;
    let id_name = |m: &MapStat| [("id", m.id.clone()), ("name", m.name.clone())];
    e.family(
        "rbt_map_info",
        Kind::Gauge,
        "A BPF map: 1 per map, its id, name and type as labels.",
    )?;
    for m in &stats {
        let labels = [
            ("id", m.id.as_str()),
            ("name", m.name.as_str()),
            ("type", m.type_name.as_str()),
        ];
        e.sample("rbt_map_info", &labels, Num::U(1))?;
    }
    type Pick = fn(&MapStat) -> Option<u128>;
    let figures: [(&str, &str, Pick); 3] = [
        (
            "rbt_map_entries",
            "Elements in the map (arrays: max_entries; hash maps: counted at each scrape).",
            |m| m.entries.map(|n| n as u128),
        ),
        ("rbt_map_max_entries", "The map's max_entries.", |m| {
            Some(m.max_entries as u128)
        }),
        (
            "rbt_map_memory_bytes",
            "Memory the kernel charges for the map (memlock in its fdinfo), in bytes.",
            |m| m.memlock.map(u128::from),
        ),
    ];
    for (name, help, pick) in figures {
        e.family(name, Kind::Gauge, help)?;
        for m in &stats {
            if let Some(v) = pick(m) {
                let [(a, x), (b, y)] = id_name(m);
                e.sample(name, &[(a, x.as_str()), (b, y.as_str())], Num::U(v))?;
            }
        }
    }
    Ok(())
}
