// Maps in the kernel: info (read only here), type names, `MapFd` (length-checked ops), create.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::raw::c_void;

use anyhow::{bail, Context, Result};

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
    super::catalog::map_type_names()
}

/// The number of possible CPUs (the stride of per-CPU values).
fn possible_cpus() -> Result<usize> {
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

/// Map types whose values hold one slot per possible CPU.
const PERCPU_TYPES: &[&str] = &[
    "percpu_hash",
    "percpu_array",
    "lru_percpu_hash",
    "percpu_cgroup_storage",
];

/// How an update treats an existing key: BPF_ANY, BPF_EXIST or BPF_NOEXIST (the words
/// any, exist, noexist are the grammar's; the enum is defined once, there).
pub use crate::grammar::words::UpdateFlag;

fn update_bits(flag: UpdateFlag) -> u64 {
    match flag {
        UpdateFlag::Any => libbpf_sys::BPF_ANY as u64,
        UpdateFlag::Exist => libbpf_sys::BPF_EXIST as u64,
        UpdateFlag::NoExist => libbpf_sys::BPF_NOEXIST as u64,
    }
}

/// An open map that knows its key and value sizes. Every element call checks the length
/// of each slice it hands the kernel, so a wrong length is an error, never a kernel read or
/// write past the end of a buffer.
#[derive(Debug)]
pub struct MapFd {
    fd: OwnedFd,
    info: MapInfo,
    type_name: String,
    ncpus: Option<usize>,
}

impl AsFd for MapFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl MapFd {
    /// Take over `fd` and read the map's info (and, for per-CPU maps, the CPU count).
    pub fn new(fd: OwnedFd) -> Result<MapFd> {
        let info = info(fd.as_fd())?;
        let type_name = type_name(info.map_type);
        let ncpus = if PERCPU_TYPES.contains(&type_name.as_str()) {
            Some(possible_cpus()?)
        } else {
            None
        };
        Ok(MapFd {
            fd,
            info,
            type_name,
            ncpus,
        })
    }

    /// A second fd to the same map (for a reader thread).
    pub fn try_clone(&self) -> Result<MapFd> {
        let fd = self
            .fd
            .try_clone()
            .map_err(|e| kernel_error(e, "duplicating the map fd"))?;
        Ok(MapFd {
            fd,
            info: self.info.clone(),
            type_name: self.type_name.clone(),
            ncpus: self.ncpus,
        })
    }

    pub fn info(&self) -> &MapInfo {
        &self.info
    }

    /// bpftool's name of the map's type ("hash", "percpu_array", ...).
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    pub fn key_size(&self) -> usize {
        self.info.key_size as usize
    }

    /// Bytes of one value (of one CPU's value, for per-CPU maps).
    pub fn value_size(&self) -> usize {
        self.info.value_size as usize
    }

    pub fn is_percpu(&self) -> bool {
        self.ncpus.is_some()
    }

    /// CPUs a value has a slot for: the possible CPUs for per-CPU maps, else 1.
    pub fn ncpus(&self) -> usize {
        self.ncpus.unwrap_or(1)
    }

    /// Bytes per CPU slot of a per-CPU value (value_size rounded up to 8); value_size
    /// otherwise.
    pub fn stride(&self) -> usize {
        if self.is_percpu() {
            self.value_size().div_ceil(8) * 8
        } else {
            self.value_size()
        }
    }

    /// Bytes of a whole value as lookup returns it (all CPUs for per-CPU maps).
    pub fn value_len(&self) -> usize {
        self.stride() * self.ncpus()
    }

    /// A key: `key_size` bytes, or none for the keyless maps (queue, stack, bloom filter).
    fn check_key(&self, key: Option<&[u8]>) -> Result<()> {
        match key {
            Some(k) if k.len() == self.key_size() => Ok(()),
            None if self.key_size() == 0 => Ok(()),
            Some(k) => bail!(
                "a {}-byte key for a map with {}-byte keys",
                k.len(),
                self.key_size()
            ),
            None => bail!("no key for a map with {}-byte keys", self.key_size()),
        }
    }

    /// A value: the whole value (all CPUs) for keyed maps, one value for keyless ones.
    fn check_value(&self, value: &[u8]) -> Result<()> {
        let want = if self.key_size() == 0 {
            self.value_size()
        } else {
            self.value_len()
        };
        if value.len() != want {
            bail!(
                "a {}-byte value buffer for a map whose values take {want} bytes",
                value.len()
            );
        }
        Ok(())
    }

    /// `count` keys and values fit in the buffers.
    fn check_elements(&self, keys: usize, values: usize, count: usize) -> Result<()> {
        let kw = count.saturating_mul(self.key_size());
        let vw = count.saturating_mul(self.value_len());
        if keys < kw || values < vw {
            bail!("buffers of {keys}/{values} bytes for {count} elements ({kw}/{vw} bytes)");
        }
        Ok(())
    }

    /// Look up `key` (None on keyless maps: peek) into `value`. Ok(false) when not found.
    pub fn lookup(&self, key: Option<&[u8]>, value: &mut [u8]) -> Result<bool> {
        self.read_elem(
            key,
            value,
            libbpf_sys::bpf_map_lookup_elem,
            "looking up the key",
        )
    }

    /// A libbpf call that reads `key` and writes a value into `value` (lookup, pop).
    fn read_elem(
        &self,
        key: Option<&[u8]>,
        value: &mut [u8],
        call: unsafe extern "C" fn(i32, *const c_void, *mut c_void) -> i32,
        what: &str,
    ) -> Result<bool> {
        self.check_key(key)?;
        self.check_value(value)?;
        // SAFETY: `call` is a libbpf element call taking (fd, key, value). check_key and
        // check_value made `key` (or NULL on a keyless map) key_size bytes and `value` as
        // long as the value the kernel writes; both outlive the call.
        let ret = unsafe {
            call(
                self.fd.as_raw_fd(),
                ptr_or_null(key),
                value.as_mut_ptr() as *mut c_void,
            )
        };
        not_found_is_false(ret, what)
    }

    /// Update (or, with a None key on a keyless map, push) an element.
    pub fn update(&self, key: Option<&[u8]>, value: &[u8], flag: UpdateFlag) -> Result<()> {
        self.check_key(key)?;
        self.check_value(value)?;
        // SAFETY: check_key/check_value sized `key` (or NULL) and `value` to what the
        // kernel reads; both live across the call and are only read.
        let ret = unsafe {
            libbpf_sys::bpf_map_update_elem(
                self.fd.as_raw_fd(),
                ptr_or_null(key),
                value.as_ptr() as *const c_void,
                update_bits(flag),
            )
        };
        if ret != 0 {
            return Err(update_error(errno(ret)));
        }
        Ok(())
    }

    /// Delete `key`. Ok(false) when it was not there.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.check_key(Some(key))?;
        // SAFETY: check_key made `key` key_size bytes; it lives across the call.
        let ret = unsafe {
            libbpf_sys::bpf_map_delete_elem(self.fd.as_raw_fd(), key.as_ptr() as *const c_void)
        };
        not_found_is_false(ret, "deleting the key")
    }

    /// The key after `key` (the first key with None) into `next`. Ok(false) at the end.
    pub fn next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<bool> {
        if let Some(k) = key {
            self.check_key(Some(k))?;
        }
        self.check_key(Some(next))?;
        // SAFETY: `key` (or NULL for the first key) and `next` are key_size bytes (checked)
        // and outlive the call.
        let ret = unsafe {
            libbpf_sys::bpf_map_get_next_key(
                self.fd.as_raw_fd(),
                ptr_or_null(key),
                next.as_mut_ptr() as *mut c_void,
            )
        };
        not_found_is_false(ret, "reading the next key")
    }

    /// Pop (queue/stack: None key) or look up and delete `key`. Ok(false) when empty or
    /// missing.
    pub fn lookup_and_delete(&self, key: Option<&[u8]>, value: &mut [u8]) -> Result<bool> {
        let call = libbpf_sys::bpf_map_lookup_and_delete_elem;
        self.read_elem(key, value, call, "popping an element")
    }

    /// One BPF_MAP_LOOKUP_BATCH call of up to `count` elements. `token_in` is None on the
    /// first call; `token_out` gets the position to continue from (both at least
    /// max(key_size, 4) bytes).
    pub fn lookup_batch(
        &self,
        token_in: Option<&[u8]>,
        token_out: &mut [u8],
        keys: &mut [u8],
        values: &mut [u8],
        count: usize,
    ) -> Result<Batch> {
        self.check_elements(keys.len(), values.len(), count)?;
        let tok = self.key_size().max(4);
        if token_out.len() < tok || token_in.is_some_and(|t| t.len() < tok) {
            bail!("a batch token shorter than {tok} bytes");
        }
        let mut n = u32::try_from(count).context("batch count")?;
        let opts = batch_opts(0);
        // SAFETY: check_elements made `keys` and `values` hold `count` keys and whole
        // values, and the tokens hold max(key_size, 4) bytes; all outlive the call and the
        // kernel writes at most `n` elements.
        let ret = unsafe {
            libbpf_sys::bpf_map_lookup_batch(
                self.fd.as_raw_fd(),
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

    /// BPF_MAP_UPDATE_BATCH of `count` keys and values. Returns how many were applied
    /// before an error, and the error; Err when the buffers do not hold `count` elements.
    pub fn update_batch(
        &self,
        keys: &[u8],
        values: &[u8],
        count: usize,
    ) -> Result<(usize, Option<std::io::Error>)> {
        self.check_elements(keys.len(), values.len(), count)?;
        let mut n = u32::try_from(count).context("batch count")?;
        let opts = batch_opts(0);
        // SAFETY: check_elements made `keys` and `values` hold `count` elements; the kernel
        // only reads them, during the call.
        let ret = unsafe {
            libbpf_sys::bpf_map_update_batch(
                self.fd.as_raw_fd(),
                keys.as_ptr() as *const c_void,
                values.as_ptr() as *const c_void,
                &mut n,
                &opts,
            )
        };
        Ok(batch_result(ret, n, count))
    }

    /// BPF_MAP_DELETE_BATCH of `count` keys, as `update_batch`.
    pub fn delete_batch(
        &self,
        keys: &[u8],
        count: usize,
    ) -> Result<(usize, Option<std::io::Error>)> {
        self.check_elements(keys.len(), usize::MAX, count)?;
        let mut n = u32::try_from(count).context("batch count")?;
        let opts = batch_opts(0);
        // SAFETY: check_elements made `keys` hold `count` keys; the kernel only reads them.
        let ret = unsafe {
            libbpf_sys::bpf_map_delete_batch(
                self.fd.as_raw_fd(),
                keys.as_ptr() as *const c_void,
                &mut n,
                &opts,
            )
        };
        Ok(batch_result(ret, n, count))
    }
}

fn batch_opts(elem_flags: u64) -> libbpf_sys::bpf_map_batch_opts {
    libbpf_sys::bpf_map_batch_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_batch_opts>() as _,
        elem_flags,
        flags: 0,
    }
}

fn batch_result(ret: i32, n: u32, count: usize) -> (usize, Option<std::io::Error>) {
    if ret == 0 {
        (count, None)
    } else {
        ((n as usize).min(count), Some(errno(ret)))
    }
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

/// Map flags by their symbolic names (BPF_F_*, lower case without the prefix).
pub const MAP_FLAGS: &[(&str, u32)] = &[
    ("no_prealloc", 1 << 0),
    ("no_common_lru", 1 << 1),
    ("numa_node", 1 << 2),
    ("rdonly", 1 << 3),
    ("wronly", 1 << 4),
    ("stack_build_id", 1 << 5),
    ("zero_seed", 1 << 6),
    ("rdonly_prog", 1 << 7),
    ("wronly_prog", 1 << 8),
    ("clone", 1 << 9),
    ("mmapable", 1 << 10),
    ("preserve_elems", 1 << 11),
    ("inner_map", 1 << 12),
    ("link", 1 << 13),
    ("path_fd", 1 << 14),
    ("vtype_btf_obj_fd", 1 << 15),
    ("token_fd", 1 << 16),
    ("segv_on_fault", 1 << 17),
    ("no_user_conv", 1 << 18),
];

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
