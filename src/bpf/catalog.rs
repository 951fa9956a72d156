// Read-only catalogues for shell completion: libbpf's names of map, program and attach
// types, and a one-line summary (type and name) of a loaded map, program or link.

use std::os::fd::BorrowedFd;

use anyhow::Result;

use super::{static_str, Kind};

/// Every name a libbpf `*_type_str` function knows, from 0 until its first gap.
fn names(lookup: impl Fn(u32) -> *const std::os::raw::c_char) -> Vec<&'static str> {
    (0..512u32)
        .map(|t| static_str(lookup(t)))
        .take_while(|s| !s.is_empty())
        .collect()
}

/// bpftool's map type names ("hash", "array", ...), in the kernel's order.
pub fn map_type_names() -> Vec<&'static str> {
    // SAFETY: returns NULL or a pointer into a static table.
    names(|t| unsafe { libbpf_sys::libbpf_bpf_map_type_str(t) })
}

/// bpftool's attach type names ("cgroup_inet_ingress", "xdp", ...), in the kernel's order.
pub fn attach_type_names() -> Vec<&'static str> {
    // SAFETY: returns NULL or a pointer into a static table.
    names(|t| unsafe { libbpf_sys::libbpf_bpf_attach_type_str(t) })
}

fn type_str(p: *const std::os::raw::c_char, t: u32) -> String {
    let s = static_str(p);
    if s.is_empty() {
        t.to_string()
    } else {
        s.to_owned()
    }
}

/// A loaded object's type and name ("hash", "counts"); links have no name, so their
/// name is `prog <id>`.
pub fn summary(kind: Kind, fd: BorrowedFd<'_>) -> Result<(String, String)> {
    match kind {
        Kind::Prog => {
            let info = super::prog::info(fd)?;
            Ok((info.type_name, info.name))
        }
        Kind::Map => {
            let info = super::map::info(fd)?;
            Ok((super::map::type_name(info.map_type), info.name))
        }
        Kind::Link => {
            let head = super::link::head(fd)?;
            // SAFETY: returns NULL or a pointer into a static table.
            let t = type_str(
                unsafe { libbpf_sys::libbpf_bpf_link_type_str(head.link_type) },
                head.link_type,
            );
            Ok((t, format!("prog {}", head.prog_id)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_catalogues_have_bpftool_names() {
        let maps = map_type_names();
        assert_eq!(maps.first(), Some(&"unspec"));
        assert!(maps.contains(&"hash") && maps.contains(&"ringbuf"));
        let attach = attach_type_names();
        assert_eq!(attach.first(), Some(&"cgroup_inet_ingress"));
        assert!(attach.contains(&"xdp"));
    }
}
