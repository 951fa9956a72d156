// BTF objects held by the kernel or stored in ELF files, handed out as raw blobs that
// src/btf/ parses (btf__load_from_kernel_by_id, btf__parse, btf__raw_data).

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
