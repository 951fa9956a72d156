// The only place that talks to the kernel: thin safe wrappers over libbpf-rs, and
// libbpf-sys where libbpf-rs has no safe call. All `unsafe` in rbt lives below here.

pub mod attach;
pub mod bpffs;
pub mod btf;
pub mod caps;
pub mod catalog;
pub mod cgroup;
pub mod helper_names;
pub mod iter;
pub mod kallsyms;
pub mod legacy;
pub mod link;
pub mod link_pin;
pub mod log;
pub mod map;
pub mod map_batch;
pub mod net;
pub mod net_clsact;
pub mod net_netlink;
pub mod net_ns;
pub mod object;
pub mod perf;
pub mod pids;
pub mod probe;
pub mod probe_live;
pub mod profile;
pub mod prog;
pub mod prog_image;
pub mod staging;
pub mod stats;
pub mod stream;
pub mod struct_ops;
pub mod usdt;

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result};

/// The kinds of BPF objects that have ids, fds and pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prog,
    Map,
    Link,
}

impl Kind {
    /// The noun used in messages: "program", "map", "link".
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Prog => "program",
            Kind::Map => "map",
            Kind::Link => "link",
        }
    }

    /// The anon inode name of an fd of this kind, as /proc/PID/fd shows it.
    pub fn anon_inode(self) -> &'static str {
        match self {
            Kind::Prog => "anon_inode:bpf-prog",
            Kind::Map => "anon_inode:bpf-map",
            Kind::Link => "anon_inode:bpf-link",
        }
    }

    /// Whether an fd's anon inode name is of this kind (kernels before 6.x named links
    /// `bpf_link`, later ones `bpf-link`).
    pub fn is_anon_inode(self, name: &str) -> bool {
        name == self.anon_inode() || (self == Kind::Link && name == "anon_inode:bpf_link")
    }

    /// The fdinfo key that holds the object's id.
    pub fn fdinfo_id_key(self) -> &'static str {
        match self {
            Kind::Prog => "prog_id",
            Kind::Map => "map_id",
            Kind::Link => "link_id",
        }
    }
}

/// Turn a libbpf return code (negative errno) into an io::Error.
pub fn errno(ret: i32) -> io::Error {
    if ret < 0 {
        io::Error::from_raw_os_error(-ret)
    } else {
        io::Error::last_os_error()
    }
}

/// An io::Error from the kernel, with a hint naming the missing capability on EPERM.
pub fn kernel_error(err: io::Error, what: impl Into<String>) -> anyhow::Error {
    let what = what.into();
    if err.raw_os_error() == Some(libc::EPERM) {
        if let Some(hint) = caps::missing_hint() {
            return crate::error::hinted(format!("{what}: {err}"), hint);
        }
    }
    anyhow::Error::new(err).context(what)
}

/// The symbolic name of an errno value ("EACCES"), for messages.
pub fn errno_name(code: i32) -> &'static str {
    match code {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        524 => "ENOTSUPP",
        _ => "errno",
    }
}

/// The ids of every object of `kind` in the kernel, in increasing order.
pub fn ids(kind: Kind) -> Result<Vec<u32>> {
    let mut ids = Vec::new();
    let mut id = 0u32;
    loop {
        let mut next = 0u32;
        // SAFETY: `next` is a valid out pointer for the duration of the call.
        let ret = unsafe {
            match kind {
                Kind::Prog => libbpf_sys::bpf_prog_get_next_id(id, &mut next),
                Kind::Map => libbpf_sys::bpf_map_get_next_id(id, &mut next),
                Kind::Link => libbpf_sys::bpf_link_get_next_id(id, &mut next),
            }
        };
        if ret != 0 {
            let err = errno(ret);
            if err.raw_os_error() == Some(libc::ENOENT) {
                return Ok(ids);
            }
            return Err(kernel_error(err, format!("listing {}s", kind.noun())));
        }
        ids.push(next);
        id = next;
    }
}

/// Open an fd to the object of `kind` with `id`.
pub fn fd_by_id(kind: Kind, id: u32) -> Result<OwnedFd> {
    // SAFETY: plain syscall wrappers taking an integer id.
    let fd = unsafe {
        match kind {
            Kind::Prog => libbpf_sys::bpf_prog_get_fd_by_id(id),
            Kind::Map => libbpf_sys::bpf_map_get_fd_by_id(id),
            Kind::Link => libbpf_sys::bpf_link_get_fd_by_id(id),
        }
    };
    if fd < 0 {
        let err = errno(fd);
        if err.raw_os_error() == Some(libc::ENOENT) {
            anyhow::bail!("no {} with id {id}", kind.noun());
        }
        return Err(kernel_error(
            err,
            format!("opening {} id {id}", kind.noun()),
        ));
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn cpath(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_encoded_bytes())
        .with_context(|| format!("{}: path contains a NUL byte", path.display()))
}

/// Open the object pinned at `path` and check it is of `kind`.
pub fn obj_get(kind: Kind, path: &Path) -> Result<OwnedFd> {
    let c = cpath(path)?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let fd = unsafe { libbpf_sys::bpf_obj_get(c.as_ptr()) };
    if fd < 0 {
        let err = errno(fd);
        let what = match err.raw_os_error() {
            Some(libc::ENOENT) => format!("{}: no such pinned object", path.display()),
            Some(libc::EINVAL) => format!(
                "{}: not a pinned BPF object (is it on a bpffs?)",
                path.display()
            ),
            _ => format!("{}: opening pinned {}", path.display(), kind.noun()),
        };
        return Err(kernel_error(err, what));
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    match fd_kind(fd.as_fd()) {
        Some(k) if k == kind => Ok(fd),
        Some(k) => anyhow::bail!(
            "{}: is a pinned {}, not a {}",
            path.display(),
            k.noun(),
            kind.noun()
        ),
        None => anyhow::bail!("{}: is not a pinned {}", path.display(), kind.noun()),
    }
}

/// Pin the object behind `fd` at `path` (which must be on a bpffs and not exist yet).
pub fn obj_pin(fd: BorrowedFd<'_>, path: &Path) -> Result<()> {
    bpffs::check_pin_path(path)?;
    let c = cpath(path)?;
    // SAFETY: `c` is a valid NUL-terminated string; `fd` is a live fd.
    let ret = unsafe { libbpf_sys::bpf_obj_pin(fd.as_raw_fd(), c.as_ptr()) };
    if ret != 0 {
        return Err(kernel_error(
            errno(ret),
            format!("pinning at {}", path.display()),
        ));
    }
    Ok(())
}

/// The kind and id of the object pinned at `path`, if it is one.
pub fn pinned_kind_and_id(path: &Path) -> Option<(Kind, u32)> {
    let c = cpath(path).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let fd = unsafe { libbpf_sys::bpf_obj_get(c.as_ptr()) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let kind = fd_kind(fd.as_fd())?;
    let id = fdinfo_field(fd.as_fd(), kind.fdinfo_id_key())?
        .parse()
        .ok()?;
    Some((kind, id))
}

/// Which kind of BPF object an fd refers to, from its anon inode name.
pub fn fd_kind(fd: BorrowedFd<'_>) -> Option<Kind> {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
    let name = link.to_string_lossy();
    [Kind::Prog, Kind::Map, Kind::Link]
        .into_iter()
        .find(|k| k.is_anon_inode(&name))
}

/// Read `key:\tvalue` from /proc/self/fdinfo of `fd`.
pub fn fdinfo_field(fd: BorrowedFd<'_>, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    fdinfo_value(&text, key).map(str::to_owned)
}

fn fdinfo_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}

/// A C string from libbpf's static tables, or "" when libbpf has none.
fn static_str(p: *const std::os::raw::c_char) -> &'static str {
    if p.is_null() {
        return "";
    }
    // SAFETY: libbpf's *_str functions return pointers into static string tables.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("")
}

/// `rbt --version`: rbt's version and the libbpf it carries.
pub fn version_line() -> String {
    // SAFETY: returns a pointer to a static string.
    let libbpf = static_str(unsafe { libbpf_sys::libbpf_version_string() });
    format!("{}\nusing libbpf {libbpf}", env!("CARGO_PKG_VERSION"))
}

/// The libbpf rbt carries, as (major, minor).
pub fn libbpf_version() -> (u32, u32) {
    // SAFETY: plain calls returning integers.
    unsafe {
        (
            libbpf_sys::libbpf_major_version(),
            libbpf_sys::libbpf_minor_version(),
        )
    }
}

/// A NUL-terminated C char array as a Rust string.
pub fn c_chars(chars: &[std::os::raw::c_char]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fdinfo_values_are_parsed() {
        let text = "pos:\t0\nflags:\t02000002\nprog_type:\t6\nprog_id:\t42\nmemlock:\t4096\n";
        assert_eq!(fdinfo_value(text, "prog_id"), Some("42"));
        assert_eq!(fdinfo_value(text, "memlock"), Some("4096"));
        assert_eq!(fdinfo_value(text, "map_id"), None);
    }

    #[test]
    fn c_chars_stop_at_nul() {
        let chars = [b'x' as std::os::raw::c_char, b'd' as _, 0, b'z' as _];
        assert_eq!(c_chars(&chars), "xd");
    }
}
