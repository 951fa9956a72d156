//! struct_ops maps in the kernel: their info as the running kernel lays it out, registering every struct_ops map of an object, unregistering one.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::Result;
use libbpf_rs::{MapCore, MapType};

use super::map::MapFd;
use super::object::{self, LoadSpec};
use super::{c_chars, errno, kernel_error};
use crate::error::hinted;
use crate::rollback::Rollback;

/// BPF_F_LINK: a map of a `.struct_ops.link` section, registered through a BPF link.
pub const F_LINK: u32 = libbpf_sys::BPF_F_LINK;

/// What `struct_ops` verbs need to know about a map.
#[derive(Debug, Clone)]
pub struct OpsInfo {
    pub id: u32,
    pub name: String,
    pub map_type: u32,
    pub flags: u32,
    pub value_size: u32,
    /// The kernel BTF object and the `bpf_struct_ops_<name>` type of the value.
    pub btf_vmlinux_id: u32,
    pub btf_vmlinux_value_type_id: u32,
}

impl OpsInfo {
    pub fn is_struct_ops(&self) -> bool {
        self.map_type == libbpf_sys::BPF_MAP_TYPE_STRUCT_OPS
    }

    pub fn uses_link(&self) -> bool {
        self.flags & F_LINK != 0
    }
}

/// The map's bpf_map_info: the fields rbt reads, and the raw bytes, `len` of them (the
/// kernel's own sizeof(struct bpf_map_info), from its BTF, so a dump shows every field the
/// kernel has, as bpftool's does).
pub fn info(fd: BorrowedFd<'_>, len: usize) -> Result<(OpsInfo, Vec<u8>)> {
    let ours = std::mem::size_of::<libbpf_sys::bpf_map_info>();
    let mut buf = vec![0u64; len.max(ours).div_ceil(8)];
    let mut got = (buf.len() * 8) as u32;
    // SAFETY: `buf` is zeroed, 8-byte aligned and `got` bytes long, at least
    // sizeof(struct bpf_map_info); the kernel writes at most `got` bytes into it.
    let ret = unsafe {
        libbpf_sys::bpf_obj_get_info_by_fd(fd.as_raw_fd(), buf.as_mut_ptr().cast(), &mut got)
    };
    if ret != 0 {
        return Err(kernel_error(errno(ret), "reading map info"));
    }
    // SAFETY: `buf` holds at least sizeof(bpf_map_info) initialised bytes, is aligned
    // for it, and bpf_map_info is plain old data (any bit pattern is valid).
    let raw: libbpf_sys::bpf_map_info = unsafe { std::ptr::read(buf.as_ptr().cast()) };
    let bytes: Vec<u8> = buf.iter().flat_map(|w| w.to_ne_bytes()).take(len).collect();
    Ok((
        OpsInfo {
            id: raw.id,
            name: c_chars(&raw.name),
            map_type: raw.type_,
            flags: raw.map_flags,
            value_size: raw.value_size,
            btf_vmlinux_id: raw.btf_vmlinux_id,
            btf_vmlinux_value_type_id: raw.btf_vmlinux_value_type_id,
        },
        bytes,
    ))
}

/// The struct_ops value (key 0): state and refcount, then the kernel struct with program
/// ids where its function pointers are.
pub fn value(fd: &OwnedFd, info: &OpsInfo) -> Result<Vec<u8>> {
    let map = MapFd::new(
        fd.try_clone()
            .map_err(|e| kernel_error(e, "duplicating the map fd"))?,
    )?;
    let mut value = vec![0u8; info.value_size as usize];
    if !map.lookup(Some(&0u32.to_le_bytes()), &mut value)? {
        anyhow::bail!("struct_ops map {} id {}: has no value", info.name, info.id);
    }
    Ok(value)
}

/// Unregister a struct_ops map registered without a link (delete key 0). Ok(false) when it
/// was not registered.
pub fn delete_value(fd: BorrowedFd<'_>) -> Result<bool> {
    let map = MapFd::new(
        fd.try_clone_to_owned()
            .map_err(|e| kernel_error(e, "duplicating the map fd"))?,
    )?;
    map.delete(&0u32.to_le_bytes())
}

/// One struct_ops map of an object as it will be registered.
#[derive(Debug, Clone)]
pub struct Planned {
    pub name: String,
    pub uses_link: bool,
}

/// The struct_ops maps of the object at `path` (opened, not loaded), in section order.
/// An object without any is an error.
pub fn plan(path: &Path) -> Result<Vec<Planned>> {
    let open = open(path)?;
    maps_of(&open, path)
}

fn open(path: &Path) -> Result<libbpf_rs::OpenObject> {
    object::open(&LoadSpec {
        path,
        prog_type: None,
        reuse_maps: Vec::new(),
        want_log: false,
        pin_root: None,
    })
}

fn maps_of(open: &libbpf_rs::OpenObject, path: &Path) -> Result<Vec<Planned>> {
    let maps: Vec<Planned> = open
        .maps()
        .filter(|m| m.map_type() == MapType::StructOps)
        .map(|m| Planned {
            name: m.name().to_string_lossy().into_owned(),
            uses_link: m.map_flags() & F_LINK != 0,
        })
        .collect();
    if maps.is_empty() {
        return Err(hinted(
            format!(
                "{}: has no struct_ops map (no .struct_ops or .struct_ops.link section); nothing registered",
                path.display()
            ),
            "declare one: SEC(\".struct_ops.link\") struct tcp_congestion_ops my_cc = { ... };",
        ));
    }
    Ok(maps)
}

/// One struct_ops map registered by `register`.
#[derive(Debug, Clone)]
pub struct Registered {
    pub map_id: u32,
    pub name: String,
    /// The kernel's `bpf_struct_ops_<name>` type (to name the kernel struct).
    pub btf_vmlinux_id: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub link_id: Option<u32>,
    pub pinned: Option<PathBuf>,
}

/// Load the object and register each struct_ops map: a `.struct_ops` map by updating its
/// value (it stays registered after rbt exits), a `.struct_ops.link` map through a link
/// pinned at `pin_of(name)`. Each step pushes its undo on `rollback`.
pub fn register<'a>(
    path: &Path,
    pin_of: &dyn Fn(&str) -> PathBuf,
    rollback: &mut Rollback<'a>,
) -> Result<Vec<Registered>> {
    let open = open(path)?;
    maps_of(&open, path)?;
    let mut obj = object::load(open, path, None)?;
    let mut done = Vec::new();
    for mut map in obj.maps_mut() {
        if map.map_type() != MapType::StructOps {
            continue;
        }
        let name = map.name().to_string_lossy().into_owned();
        let map_fd = map
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| kernel_error(e, "duplicating the map fd"))?;
        let (info, _) = info(map_fd.as_fd(), 0)?;
        let uses_link = info.uses_link();
        let mut link = map.attach_struct_ops().map_err(|e| {
            let said = super::log::take();
            let detail = said
                .lines()
                .rev()
                .find(|l| l.starts_with("libbpf: "))
                .map(|l| l.trim_start_matches("libbpf: ").to_owned())
                .unwrap_or_else(|| format!("{:#}", anyhow::Error::from(e)));
            let hint = if detail.contains("exists") {
                "the kernel has a struct_ops of that name already (see `rbt struct_ops show`, and for TCP /proc/sys/net/ipv4/tcp_available_congestion_control)"
            } else {
                "rerun with -d for libbpf's messages"
            };
            hinted(
                format!("registering struct_ops {name}: {detail}; nothing registered"),
                hint,
            )
        })?;
        let mut reg = Registered {
            map_id: info.id,
            name: name.clone(),
            btf_vmlinux_id: info.btf_vmlinux_id,
            btf_vmlinux_value_type_id: info.btf_vmlinux_value_type_id,
            link_id: None,
            pinned: None,
        };
        if uses_link {
            let pin = pin_of(&name);
            link.pin(&pin).map_err(|e| {
                anyhow::anyhow!("pinning the link of {name} at {}: {e}", pin.display())
            })?;
            reg.link_id = super::link::head(link.as_fd()).ok().map(|h| h.id);
            reg.pinned = Some(pin.clone());
            // Undo: unpin, then close the last fd of the link, which unregisters it. On
            // commit only the fd is closed; the pin keeps the registration.
            rollback.push(move || {
                let _ = std::fs::remove_file(&pin);
                drop(link);
            });
        } else {
            // The value stays in the kernel after rbt exits; the undo deletes it.
            link.disconnect();
            drop(link);
            rollback.push(move || {
                let _ = delete_value(map_fd.as_fd());
            });
        }
        done.push(reg);
        super::stream::interrupted()?;
    }
    Ok(done)
}

/// The ids of the struct_ops links that hold map `map_id`.
pub fn links_of(map_id: u32) -> Vec<(u32, OwnedFd)> {
    let Ok(ids) = super::ids(super::Kind::Link) else {
        return Vec::new();
    };
    ids.into_iter()
        .filter_map(|id| {
            let fd = super::fd_by_id(super::Kind::Link, id).ok()?;
            let info = super::link::info(fd.as_fd()).ok()?;
            match info.target {
                super::link::LinkTarget::StructOps { map_id: m } if m == map_id => Some((id, fd)),
                _ => None,
            }
        })
        .collect()
}
