// Read-only catalogues for shell completion: libbpf's names of map, program and attach
// types, and a one-line summary (type and name) of a loaded map, program or link.

use std::os::fd::{AsRawFd, BorrowedFd};

use anyhow::Result;

use super::{errno, kernel_error, static_str, Kind};

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
            let mut raw = libbpf_sys::bpf_link_info::default();
            let mut len = std::mem::size_of::<libbpf_sys::bpf_link_info>() as u32;
            // SAFETY: `raw` is a zeroed bpf_link_info of `len` bytes, valid for writes; its
            // pointer fields are zero, so the kernel writes nothing else.
            let ret =
                unsafe { libbpf_sys::bpf_link_get_info_by_fd(fd.as_raw_fd(), &mut raw, &mut len) };
            if ret != 0 {
                return Err(kernel_error(errno(ret), "reading link info"));
            }
            // SAFETY: returns NULL or a pointer into a static table.
            let t = type_str(
                unsafe { libbpf_sys::libbpf_bpf_link_type_str(raw.type_) },
                raw.type_,
            );
            Ok((t, format!("prog {}", raw.prog_id)))
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
