// `btf show|list [id ID]`: the kernel's BTF objects with the programs and maps using each,
// in bpftool's JSON shape (id, size, prog_ids, map_ids, kernel, name).

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use crate::bpf::{self, btf::BtfInfo, Kind};
use crate::grammar;
use crate::output::{Output, Tabular};

/// One BTF object as `btf show` prints it.
#[derive(Debug, Serialize)]
pub struct BtfRecord {
    pub id: u32,
    pub size: u32,
    pub prog_ids: Vec<u32>,
    pub map_ids: Vec<u32>,
    pub kernel: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
}

impl Tabular for BtfRecord {
    fn header() -> &'static [&'static str] {
        &["ID", "NAME", "SIZE", "KERNEL", "PROGS", "MAPS"]
    }

    fn row(&self) -> Vec<String> {
        let ids = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        vec![
            self.id.to_string(),
            if self.name.is_empty() {
                "<anon>".into()
            } else {
                self.name.clone()
            },
            format!("{}B", self.size),
            if self.kernel { "yes" } else { "no" }.into(),
            ids(&self.prog_ids),
            ids(&self.map_ids),
        ]
    }
}

/// Which programs and maps use each BTF id.
/// BTF id -> the ids of the programs (or maps) using it.
type Users = BTreeMap<u32, Vec<u32>>;

fn users() -> Result<(Users, Users)> {
    let mut progs: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let mut maps: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for id in bpf::ids(Kind::Prog)? {
        // An object may go away between listing and opening it.
        let Ok(fd) = bpf::fd_by_id(Kind::Prog, id) else {
            continue;
        };
        if let Ok(info) = bpf::prog::info(std::os::fd::AsFd::as_fd(&fd)) {
            if info.btf_id != 0 {
                progs.entry(info.btf_id).or_default().push(id);
            }
        }
    }
    for id in bpf::ids(Kind::Map)? {
        let Ok(fd) = bpf::fd_by_id(Kind::Map, id) else {
            continue;
        };
        if let Ok(info) = bpf::map::info(std::os::fd::AsFd::as_fd(&fd)) {
            if info.btf_id != 0 {
                maps.entry(info.btf_id).or_default().push(id);
            }
        }
    }
    Ok((progs, maps))
}

fn record(
    info: BtfInfo,
    progs: &BTreeMap<u32, Vec<u32>>,
    maps: &BTreeMap<u32, Vec<u32>>,
) -> BtfRecord {
    BtfRecord {
        id: info.id,
        size: info.size,
        prog_ids: progs.get(&info.id).cloned().unwrap_or_default(),
        map_ids: maps.get(&info.id).cloned().unwrap_or_default(),
        kernel: info.kernel,
        name: info.name,
    }
}

pub fn show(words: &[String], out: &mut Output) -> Result<()> {
    let m = grammar::parse("btf", "show", words)?;
    let one: Option<u32> = m.number("id")?;
    let (progs, maps) = users()?;
    match one {
        Some(id) => {
            let info = bpf::btf::info_by_id(id)?;
            out.one(&record(info, &progs, &maps))?;
        }
        None => {
            let mut records = Vec::new();
            for id in bpf::btf::ids()? {
                // A BTF object may go away between listing and opening it.
                let Ok(info) = bpf::btf::info_by_id(id) else {
                    continue;
                };
                records.push(record(info, &progs, &maps));
            }
            out.list(&records)?;
        }
    }
    Ok(())
}
