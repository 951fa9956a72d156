// BTF objects held by the kernel or stored in ELF files, handed out as raw blobs that
// src/btf/ parses (btf__load_from_kernel_by_id, btf__parse, btf__raw_data).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result};

use super::{cpath, kernel_error};

/// Copy the raw blob out of a libbpf `struct btf` and free it.
fn take_raw(btf: *mut libbpf_sys::btf) -> Vec<u8> {
    let mut size = 0u32;
    // SAFETY: `btf` is a valid, non-null struct btf that we own; btf__raw_data returns a
    // pointer to `size` bytes owned by `btf` (or NULL), valid until btf__free.
    let data = unsafe { libbpf_sys::btf__raw_data(btf, &mut size) };
    let raw = if data.is_null() {
        Vec::new()
    } else {
        // SAFETY: see above; the bytes are copied before `btf` is freed.
        unsafe { std::slice::from_raw_parts(data as *const u8, size as usize) }.to_vec()
    };
    // SAFETY: `btf` came from a libbpf constructor and is freed exactly once.
    unsafe { libbpf_sys::btf__free(btf) };
    raw
}

#[allow(dead_code)] // used through crate::btf::Btf::from_kernel_id
/// The raw BTF blob of the kernel's BTF object `id` (a map's or program's btf_id).
pub fn raw_by_id(id: u32) -> Result<Vec<u8>> {
    // SAFETY: plain call taking an integer; returns NULL (errno set) or an owned struct btf.
    let btf = unsafe { libbpf_sys::btf__load_from_kernel_by_id(id) };
    if btf.is_null() {
        return Err(kernel_error(
            std::io::Error::last_os_error(),
            format!("loading BTF id {id}"),
        ));
    }
    Ok(take_raw(btf))
}

#[allow(dead_code)] // used through crate::btf::Btf::from_elf
/// The raw .BTF blob of an ELF object file (or a raw BTF file).
pub fn raw_from_file(path: &Path) -> Result<Vec<u8>> {
    let c = cpath(path)?;
    // SAFETY: `c` is a valid NUL-terminated path; a NULL btf_ext pointer is allowed.
    let btf = unsafe { libbpf_sys::btf__parse(c.as_ptr(), std::ptr::null_mut()) };
    if btf.is_null() {
        return Err(anyhow::Error::new(std::io::Error::last_os_error()))
            .with_context(|| format!("{}: reading BTF", path.display()));
    }
    Ok(take_raw(btf))
}

/// What the kernel says about one of its BTF objects (`btf show`).
#[derive(Debug, Clone)]
pub struct BtfInfo {
    pub id: u32,
    /// Size of the raw blob in bytes.
    pub size: u32,
    pub name: String,
    /// vmlinux or a module's BTF (rather than one a program or map brought).
    pub kernel: bool,
}

/// The ids of every BTF object the kernel holds, in increasing order.
pub fn ids() -> Result<Vec<u32>> {
    let mut ids = Vec::new();
    let mut id = 0u32;
    loop {
        let mut next = 0u32;
        // SAFETY: `next` is a valid out pointer for the duration of the call.
        let ret = unsafe { libbpf_sys::bpf_btf_get_next_id(id, &mut next) };
        if ret != 0 {
            let err = super::errno(ret);
            if err.raw_os_error() == Some(libc::ENOENT) {
                return Ok(ids);
            }
            return Err(kernel_error(err, "listing BTF objects"));
        }
        ids.push(next);
        id = next;
    }
}

/// An fd to the BTF object `id`; "no BTF object with id N" when there is none.
pub fn fd_by_id(id: u32) -> Result<OwnedFd> {
    // SAFETY: plain syscall wrapper taking an integer id.
    let fd = unsafe { libbpf_sys::bpf_btf_get_fd_by_id(id) };
    if fd < 0 {
        let err = super::errno(fd);
        if err.raw_os_error() == Some(libc::ENOENT) {
            anyhow::bail!("no BTF object with id {id}");
        }
        return Err(kernel_error(err, format!("opening BTF id {id}")));
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// One BPF_OBJ_GET_INFO_BY_FD call; `raw` (when given) receives the blob.
fn get_info(
    fd: BorrowedFd<'_>,
    name: &mut [u8],
    raw: Option<&mut Vec<u8>>,
) -> Result<libbpf_sys::bpf_btf_info> {
    // SAFETY: bpf_btf_info is plain old data; all-zero is its documented initial state.
    let mut info: libbpf_sys::bpf_btf_info = unsafe { std::mem::zeroed() };
    info.name = name.as_mut_ptr() as u64;
    info.name_len = name.len() as u32;
    if let Some(buf) = raw {
        info.btf = buf.as_mut_ptr() as u64;
        info.btf_size = buf.len() as u32;
    }
    let mut len = std::mem::size_of::<libbpf_sys::bpf_btf_info>() as u32;
    // SAFETY: `info` is valid for `len` bytes; the name and blob pointers in it point at
    // buffers of the lengths given, alive for the duration of the call.
    let ret = unsafe { libbpf_sys::bpf_btf_get_info_by_fd(fd.as_raw_fd(), &mut info, &mut len) };
    if ret != 0 {
        return Err(kernel_error(super::errno(ret), "reading BTF info"));
    }
    Ok(info)
}

/// The id, size, name and kernel flag of BTF object `id`.
pub fn info_by_id(id: u32) -> Result<BtfInfo> {
    let fd = fd_by_id(id)?;
    let mut name = [0u8; 64];
    let info = get_info(fd.as_fd(), &mut name, None).with_context(|| format!("BTF id {id}"))?;
    let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
    Ok(BtfInfo {
        id: info.id,
        size: info.btf_size,
        name: String::from_utf8_lossy(&name[..end]).into_owned(),
        kernel: info.kernel_btf != 0,
    })
}

/// The raw blob of BTF object `id` as the kernel holds it (a module's is split BTF: only
/// its own types and strings), with its info.
pub fn raw_and_info(id: u32) -> Result<(Vec<u8>, BtfInfo)> {
    let fd = fd_by_id(id)?;
    let mut name = [0u8; 64];
    let first = get_info(fd.as_fd(), &mut name, None).with_context(|| format!("BTF id {id}"))?;
    let mut raw = vec![0u8; first.btf_size as usize];
    let info =
        get_info(fd.as_fd(), &mut name, Some(&mut raw)).with_context(|| format!("BTF id {id}"))?;
    raw.truncate(info.btf_size as usize);
    let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
    let info = BtfInfo {
        id: info.id,
        size: info.btf_size,
        name: String::from_utf8_lossy(&name[..end]).into_owned(),
        kernel: info.kernel_btf != 0,
    };
    Ok((raw, info))
}
