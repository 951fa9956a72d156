// Maps in the kernel: info, type names, element operations (lookup, update, delete,
// get_next_key, lookup_and_delete), batch operations, create and freeze.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::raw::c_void;

use anyhow::Result;

use super::{c_chars, errno, kernel_error, static_str};

/// The kernel's internal "operation not supported" (not in libc).
const ENOTSUPP: i32 = 524;

/// What the kernel says about one map.
#[derive(Debug, Clone, Default)]
pub struct MapInfo {
    pub id: u32,
    pub map_type: u32,
    pub name: String,
    pub flags: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub btf_id: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
}

pub fn info(fd: BorrowedFd<'_>) -> Result<MapInfo> {
    let mut raw = libbpf_sys::bpf_map_info::default();
    let mut len = std::mem::size_of::<libbpf_sys::bpf_map_info>() as u32;
    // SAFETY: `raw` is a zeroed bpf_map_info of `len` bytes, valid for writes.
    let ret = unsafe { libbpf_sys::bpf_map_get_info_by_fd(fd.as_raw_fd(), &mut raw, &mut len) };
    if ret != 0 {
        return Err(kernel_error(errno(ret), "reading map info"));
    }
    Ok(MapInfo {
        id: raw.id,
        map_type: raw.type_,
        name: c_chars(&raw.name),
        flags: raw.map_flags,
        key_size: raw.key_size,
        value_size: raw.value_size,
        max_entries: raw.max_entries,
        btf_id: raw.btf_id,
        btf_key_type_id: raw.btf_key_type_id,
        btf_value_type_id: raw.btf_value_type_id,
    })
}

/// bpftool's name of a map type ("hash", "percpu_array", ...), or the number.
pub fn type_name(t: u32) -> String {
    // SAFETY: returns NULL or a pointer into a static table.
    let s = static_str(unsafe { libbpf_sys::libbpf_bpf_map_type_str(t) });
    if s.is_empty() {
        t.to_string()
    } else {
        s.to_owned()
    }
}

/// Every map type name libbpf knows, in the kernel's order (index = type number).
pub fn type_names() -> Vec<&'static str> {
    (0..256u32)
        // SAFETY: returns NULL or a pointer into a static table.
        .map(|t| static_str(unsafe { libbpf_sys::libbpf_bpf_map_type_str(t) }))
        .take_while(|s| !s.is_empty())
        .collect()
}

/// The number of possible CPUs (the stride of per-CPU values).
pub fn possible_cpus() -> Result<usize> {
    // SAFETY: no arguments; reads /sys/devices/system/cpu/possible once and caches it.
    let n = unsafe { libbpf_sys::libbpf_num_possible_cpus() };
    if n <= 0 {
        return Err(kernel_error(errno(n), "counting possible CPUs"));
    }
    Ok(n as usize)
}

fn ptr_or_null(b: Option<&[u8]>) -> *const c_void {
    b.map_or(std::ptr::null(), |b| b.as_ptr() as *const c_void)
}

/// Look up `key`; `value` must hold the whole (per-CPU) value. Ok(false) when not found.
pub fn lookup(
    fd: BorrowedFd<'_>,
    key: Option<&[u8]>,
    value: &mut [u8],
    flags: u64,
) -> Result<bool> {
    // SAFETY: `key` (or NULL for keyless maps) has key_size bytes and `value` has room for
    // the value as the caller sized it from the map's info; both outlive the call.
    let ret = unsafe {
        libbpf_sys::bpf_map_lookup_elem_flags(
            fd.as_raw_fd(),
            ptr_or_null(key),
            value.as_mut_ptr() as *mut c_void,
            flags,
        )
    };
    not_found_is_false(ret, "looking up the key")
}

fn not_found_is_false(ret: i32, what: &str) -> Result<bool> {
    if ret == 0 {
        return Ok(true);
    }
    let err = errno(ret);
    if err.raw_os_error() == Some(libc::ENOENT) {
        return Ok(false);
    }
    Err(kernel_error(err, what))
}

/// Update (or, with a NULL key, push) an element.
pub fn update(fd: BorrowedFd<'_>, key: Option<&[u8]>, value: &[u8], flags: u64) -> Result<()> {
    // SAFETY: `key` (or NULL) and `value` are sized by the caller from the map's info and
    // live across the call; the kernel only reads them.
    let ret = unsafe {
        libbpf_sys::bpf_map_update_elem(
            fd.as_raw_fd(),
            ptr_or_null(key),
            value.as_ptr() as *const c_void,
            flags,
        )
    };
    if ret != 0 {
        return Err(update_error(errno(ret)));
    }
    Ok(())
}

fn update_error(err: std::io::Error) -> anyhow::Error {
    let why = match err.raw_os_error() {
        Some(libc::E2BIG) => "the map is full (max_entries reached)",
        Some(libc::EEXIST) => "the key exists already (noexist)",
        Some(libc::ENOENT) => "the key does not exist (exist)",
        Some(libc::EPERM) if super::caps::missing_hint().is_some() => "",
        Some(libc::EPERM) => "the map is frozen or read-only",
        _ => "",
    };
    if why.is_empty() {
        kernel_error(err, "updating the map")
    } else {
        anyhow::anyhow!("updating the map: {why} ({err})")
    }
}

/// Delete `key`. Ok(false) when it was not there.
pub fn delete(fd: BorrowedFd<'_>, key: &[u8]) -> Result<bool> {
    // SAFETY: `key` has key_size bytes and lives across the call.
    let ret =
        unsafe { libbpf_sys::bpf_map_delete_elem(fd.as_raw_fd(), key.as_ptr() as *const c_void) };
    not_found_is_false(ret, "deleting the key")
}

/// The key after `key` (the first key with None). Ok(false) at the end.
pub fn next_key(fd: BorrowedFd<'_>, key: Option<&[u8]>, next: &mut [u8]) -> Result<bool> {
    // SAFETY: `key` (or NULL for the first key) and `next` have key_size bytes.
    let ret = unsafe {
        libbpf_sys::bpf_map_get_next_key(
            fd.as_raw_fd(),
            ptr_or_null(key),
            next.as_mut_ptr() as *mut c_void,
        )
    };
    not_found_is_false(ret, "reading the next key")
}

/// Pop (queue/stack: NULL key) or look up and delete `key`. Ok(false) when empty/missing.
pub fn lookup_and_delete(fd: BorrowedFd<'_>, key: Option<&[u8]>, value: &mut [u8]) -> Result<bool> {
    // SAFETY: `key` (or NULL) and `value` are sized from the map's info and outlive the call.
    let ret = unsafe {
        libbpf_sys::bpf_map_lookup_and_delete_elem(
            fd.as_raw_fd(),
            ptr_or_null(key),
            value.as_mut_ptr() as *mut c_void,
        )
    };
    not_found_is_false(ret, "popping an element")
}

pub fn freeze(fd: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: plain syscall on a live fd.
    let ret = unsafe { libbpf_sys::bpf_map_freeze(fd.as_raw_fd()) };
    if ret != 0 {
        return Err(kernel_error(errno(ret), "freezing the map"));
    }
    Ok(())
}

/// What one BPF_MAP_LOOKUP_BATCH call returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// `n` elements were copied; more may follow.
    More(usize),
    /// `n` elements were copied and the map has no more.
    End(usize),
    /// The buffer could not hold the next bucket: grow it and call again.
    NoSpace,
    /// The map type has no batch operations.
    Unsupported,
}

/// One BPF_MAP_LOOKUP_BATCH call. `token_in` is None on the first call; `token_out` gets
/// the position to continue from (it must hold key_size bytes, at least 4).
pub fn lookup_batch(
    fd: BorrowedFd<'_>,
    token_in: Option<&[u8]>,
    token_out: &mut [u8],
    keys: &mut [u8],
    values: &mut [u8],
    count: usize,
) -> Result<Batch> {
    let mut n = count as u32;
    let opts = libbpf_sys::bpf_map_batch_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_batch_opts>() as _,
        elem_flags: 0,
        flags: 0,
    };
    // SAFETY: `keys` and `values` hold `count` keys and values (the caller sizes them from
    // key_size and the per-CPU value size); the tokens hold key_size bytes (min 4). All
    // outlive the call; the kernel writes at most `n` elements.
    let ret = unsafe {
        libbpf_sys::bpf_map_lookup_batch(
            fd.as_raw_fd(),
            token_in.map_or(std::ptr::null_mut(), |t| t.as_ptr() as *mut c_void),
            token_out.as_mut_ptr() as *mut c_void,
            keys.as_mut_ptr() as *mut c_void,
            values.as_mut_ptr() as *mut c_void,
            &mut n,
            &opts,
        )
    };
    let n = (n as usize).min(count);
    if ret == 0 {
        return Ok(Batch::More(n));
    }
    let err = errno(ret);
    match err.raw_os_error() {
        Some(libc::ENOENT) => Ok(Batch::End(n)),
        Some(libc::ENOSPC) if n == 0 => Ok(Batch::NoSpace),
        Some(libc::ENOSPC) => Ok(Batch::More(n)),
        Some(libc::EINVAL) | Some(ENOTSUPP) | Some(libc::EOPNOTSUPP) if token_in.is_none() => {
            Ok(Batch::Unsupported)
        }
        _ => Err(kernel_error(err, "reading the map in batches")),
    }
}

/// BPF_MAP_UPDATE_BATCH of `count` keys and values. Returns how many were applied before
/// an error, and the error.
pub fn update_batch(
    fd: BorrowedFd<'_>,
    keys: &[u8],
    values: &[u8],
    count: usize,
    elem_flags: u64,
) -> (usize, Option<std::io::Error>) {
    let mut n = count as u32;
    let opts = libbpf_sys::bpf_map_batch_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_batch_opts>() as _,
        elem_flags,
        flags: 0,
    };
    // SAFETY: `keys` and `values` hold `count` elements; the kernel only reads them.
    let ret = unsafe {
        libbpf_sys::bpf_map_update_batch(
            fd.as_raw_fd(),
            keys.as_ptr() as *const c_void,
            values.as_ptr() as *const c_void,
            &mut n,
            &opts,
        )
    };
    if ret == 0 {
        (count, None)
    } else {
        ((n as usize).min(count), Some(errno(ret)))
    }
}

/// BPF_MAP_DELETE_BATCH of `count` keys.
pub fn delete_batch(
    fd: BorrowedFd<'_>,
    keys: &[u8],
    count: usize,
) -> (usize, Option<std::io::Error>) {
    let mut n = count as u32;
    let opts = libbpf_sys::bpf_map_batch_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_batch_opts>() as _,
        elem_flags: 0,
        flags: 0,
    };
    // SAFETY: `keys` holds `count` keys; the kernel only reads them.
    let ret = unsafe {
        libbpf_sys::bpf_map_delete_batch(
            fd.as_raw_fd(),
            keys.as_ptr() as *const c_void,
            &mut n,
            &opts,
        )
    };
    if ret == 0 {
        (count, None)
    } else {
        ((n as usize).min(count), Some(errno(ret)))
    }
}

/// What `map create` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateSpec {
    pub map_type: u32,
    pub name: String,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
    pub inner_map_fd: Option<i32>,
}

pub fn create(spec: &CreateSpec) -> Result<OwnedFd> {
    let name = std::ffi::CString::new(spec.name.as_str())
        .map_err(|_| anyhow::anyhow!("map name contains a NUL byte"))?;
    let opts = libbpf_sys::bpf_map_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_create_opts>() as _,
        map_flags: spec.flags,
        inner_map_fd: spec.inner_map_fd.map_or(0, |f| f as u32),
        ..Default::default()
    };
    // SAFETY: `name` is NUL-terminated and `opts` is a properly sized options struct; both
    // outlive the call.
    let fd = unsafe {
        libbpf_sys::bpf_map_create(
            spec.map_type,
            name.as_ptr(),
            spec.key_size,
            spec.value_size,
            spec.max_entries,
            &opts,
        )
    };
    if fd < 0 {
        return Err(kernel_error(
            errno(fd),
            format!("creating map {}", spec.name),
        ));
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
