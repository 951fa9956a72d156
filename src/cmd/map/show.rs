// `map show`: the map record (bpftool's fields), its table row and its flag names.

use std::os::fd::BorrowedFd;

use anyhow::Result;
use serde::Serialize;

use crate::bpf::map as kmap;
use crate::bpf::pids::PidRef;
use crate::bpf::{self, Kind};
use crate::cli::Globals;
use crate::cmd::object_verbs::{self, ShowContext};
use crate::output::{Output, Tabular};

/// One map as `map show` prints it; field names and order are bpftool's.
#[derive(Debug, Serialize)]
pub struct MapRecord {
    pub id: u32,
    #[serde(rename = "type")]
    pub map_type: String,
    pub name: String,
    pub flags: u32,
    pub bytes_key: u32,
    pub bytes_value: u32,
    pub max_entries: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_memlock: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_prog_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_jited: Option<bool>,
    pub frozen: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub btf_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pids: Vec<PidRef>,
}

impl Tabular for MapRecord {
    fn header() -> &'static [&'static str] {
        &[
            "ID", "TYPE", "NAME", "KEY", "VALUE", "ENTRIES", "FLAGS", "MEMLOCK", "BTF", "PINNED",
        ]
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.map_type.clone(),
            self.name.clone(),
            format!("{}B", self.bytes_key),
            format!("{}B", self.bytes_value),
            self.max_entries.to_string(),
            flag_names(self.flags),
            self.bytes_memlock
                .map(|b| format!("{b}B"))
                .unwrap_or_default(),
            self.btf_id.map(|b| b.to_string()).unwrap_or_default(),
            self.pinned
                .as_ref()
                .map(|p| p.join(","))
                .unwrap_or_default(),
        ]
    }
}

fn record(fd: BorrowedFd<'_>, ctx: &ShowContext) -> Result<MapRecord> {
    let info = kmap::info(fd)?;
    let map_type = kmap::type_name(info.map_type);
    let is_prog_array = map_type == "prog_array";
    let owner_type = bpf::fdinfo_field(fd, "owner_prog_type").and_then(|v| v.parse::<u32>().ok());
    Ok(MapRecord {
        id: info.id,
        name: info.name,
        flags: info.flags,
        bytes_key: info.key_size,
        bytes_value: info.value_size,
        max_entries: info.max_entries,
        bytes_memlock: bpf::fdinfo_field(fd, "memlock").and_then(|v| v.parse().ok()),
        owner_prog_type: owner_type
            .filter(|_| is_prog_array)
            .map(bpf::prog::prog_type_name),
        owner_jited: bpf::fdinfo_field(fd, "owner_jited")
            .filter(|_| is_prog_array && owner_type.is_some())
            .map(|v| v == "1"),
        frozen: bpf::fdinfo_field(fd, "frozen")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        btf_id: (info.btf_id != 0).then_some(info.btf_id),
        pinned: ctx.pinned(info.id),
        pids: ctx.pids(info.id),
        map_type,
    })
}

pub fn show(words: &[String], g: &Globals, out: &mut Output) -> Result<()> {
    object_verbs::show(Kind::Map, words, g, out, record)
}

/// Flags as symbolic names for the table (`no_prealloc,rdonly_prog`).
fn flag_names(flags: u32) -> String {
    if flags == 0 {
        return String::new();
    }
    let mut names: Vec<String> = Vec::new();
    let mut rest = flags;
    for (n, bit) in kmap::MAP_FLAGS {
        if flags & bit != 0 {
            names.push((*n).to_owned());
            rest &= !bit;
        }
    }
    if rest != 0 {
        names.push(format!("{rest:#x}"));
    }
    names.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_show_by_name() {
        assert_eq!(flag_names(129), "no_prealloc,rdonly_prog");
        assert_eq!(flag_names(1 << 31), "0x80000000");
        assert_eq!(flag_names(0), "");
    }
}
