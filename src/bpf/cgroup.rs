// cgroups and the classic attach calls: where cgroup v2 is mounted, opening a cgroup v2
// directory (refusing v1 and other file systems), BPF_PROG_QUERY / BPF_PROG_ATTACH /
// BPF_PROG_DETACH on a cgroup, a sockmap or the network namespace, and the cgroup links.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::link::LinkTarget;
use super::{errno, Kind};
use crate::error::hinted;

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;

/// The mount points of cgroup v2, in /proc/self/mounts order (the first is the default).
pub fn v2_mounts() -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, dir, fs) = (f.next()?, f.next()?, f.next()?);
            (fs == "cgroup2").then(|| PathBuf::from(unescape_mount(dir)))
        })
        .collect()
}

/// /proc/mounts writes space, tab, newline and backslash in octal (`\040`).
fn unescape_mount(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The default cgroup v2 mount, or an error saying there is none.
pub fn default_root() -> Result<PathBuf> {
    v2_mounts().into_iter().next().ok_or_else(|| {
        hinted(
            "cgroup v2 is not mounted",
            "mount it: mount -t cgroup2 none /sys/fs/cgroup/unified",
        )
    })
}

fn mount_hint() -> String {
    match v2_mounts().first() {
        Some(m) => format!(
            "cgroup v2 is mounted at {}: give a directory under it",
            m.display()
        ),
        None => "cgroup v2 is not mounted (mount -t cgroup2 none /sys/fs/cgroup/unified)".into(),
    }
}

/// An open cgroup v2 directory.
pub struct Cgroup {
    pub path: PathBuf,
    pub dir: File,
    /// The cgroup's id (its inode number on cgroup2), as cgroup links report it.
    pub id: u64,
}

/// Open `path` as a cgroup v2 directory; a cgroup v1 directory, another file system or a
/// missing path is a clear error.
pub fn open(path: &Path) -> Result<Cgroup> {
    let dir = File::open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            hinted(
                format!("cgroup {}: no such directory", path.display()),
                mount_hint(),
            )
        } else {
            anyhow::Error::new(e).context(format!("cgroup {}: cannot open", path.display()))
        }
    })?;
    let fs = nix::sys::statfs::fstatfs(&dir)
        .with_context(|| format!("cgroup {}: statfs", path.display()))?
        .filesystem_type()
        .0;
    if fs != CGROUP2_SUPER_MAGIC {
        let what = if fs == CGROUP_SUPER_MAGIC {
            "is on cgroup v1; BPF programs attach to cgroup v2 only"
        } else {
            "is not a cgroup v2 directory"
        };
        return Err(hinted(format!("{}: {what}", path.display()), mount_hint()));
    }
    let meta = dir
        .metadata()
        .with_context(|| format!("cgroup {}: stat", path.display()))?;
    if !meta.is_dir() {
        return Err(hinted(
            format!("{}: is not a cgroup v2 directory", path.display()),
            mount_hint(),
        ));
    }
    Ok(Cgroup {
        path: path.to_path_buf(),
        dir,
        id: meta.ino(),
    })
}

/// What BPF_PROG_QUERY says about one attach point.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attached {
    /// BPF_F_ALLOW_MULTI / BPF_F_ALLOW_OVERRIDE (0 for exclusive, or in effective mode).
    pub flags: u32,
    pub prog_ids: Vec<u32>,
}

/// The programs attached at `target` (a cgroup, sockmap or netns fd) for `attach_type`;
/// `effective` also lists those inherited from ancestor cgroups.
pub fn query(target: BorrowedFd<'_>, attach_type: u32, effective: bool) -> io::Result<Attached> {
    let query_flags = if effective {
        libbpf_sys::BPF_F_QUERY_EFFECTIVE
    } else {
        0
    };
    let mut ids = vec![0u32; 64];
    loop {
        let mut flags = 0u32;
        let mut count = ids.len() as u32;
        // SAFETY: `ids` has room for `count` u32s and outlives the call; the kernel writes
        // at most `count` ids there and the real count back into `count`.
        let ret = unsafe {
            libbpf_sys::bpf_prog_query(
                target.as_raw_fd(),
                attach_type,
                query_flags,
                &mut flags,
                ids.as_mut_ptr(),
                &mut count,
            )
        };
        if ret == -libc::ENOSPC && ids.len() < 1 << 16 {
            ids = vec![0u32; ids.len() * 4];
            continue;
        }
        if ret != 0 {
            return Err(errno(ret));
        }
        ids.truncate(count.min(ids.len() as u32) as usize);
        return Ok(Attached {
            flags,
            prog_ids: ids,
        });
    }
}

/// BPF_PROG_ATTACH of `prog` at `target` (None: the current network namespace, for the
/// flow dissector) with `flags` (BPF_F_*), replacing `replace` (with BPF_F_REPLACE).
pub fn prog_attach(
    prog: BorrowedFd<'_>,
    target: Option<BorrowedFd<'_>>,
    attach_type: u32,
    flags: u32,
    replace: Option<BorrowedFd<'_>>,
) -> io::Result<()> {
    let mut opts = libbpf_sys::bpf_prog_attach_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_prog_attach_opts>() as _,
        flags,
        ..Default::default()
    };
    if let Some(old) = replace {
        opts.flags |= libbpf_sys::BPF_F_REPLACE;
        opts.__bindgen_anon_1.replace_prog_fd = old.as_raw_fd();
    }
    let target = target.map_or(0, |t| t.as_raw_fd());
    // SAFETY: both fds are live (or target 0, which the kernel ignores for the netns) and
    // `opts` is initialised with its size.
    let ret =
        unsafe { libbpf_sys::bpf_prog_attach_opts(prog.as_raw_fd(), target, attach_type, &opts) };
    if ret != 0 {
        return Err(errno(ret));
    }
    Ok(())
}

/// BPF_PROG_DETACH of `prog` from `target` (None: the current network namespace).
pub fn prog_detach(
    prog: BorrowedFd<'_>,
    target: Option<BorrowedFd<'_>>,
    attach_type: u32,
) -> io::Result<()> {
    let target = target.map_or(0, |t| t.as_raw_fd());
    // SAFETY: both fds are live (or target 0, the current netns).
    let ret = unsafe { libbpf_sys::bpf_prog_detach2(prog.as_raw_fd(), target, attach_type) };
    if ret != 0 {
        return Err(errno(ret));
    }
    Ok(())
}

/// (cgroup id, attach type, program id) -> link ids (oldest first), for every cgroup link:
/// which of the programs a query lists are held by a link rather than attached the
/// classic way.
pub fn links() -> HashMap<(u64, u32, u32), Vec<u32>> {
    let mut out = HashMap::new();
    for id in super::ids(Kind::Link).unwrap_or_default() {
        let Ok(fd) = super::fd_by_id(Kind::Link, id) else {
            continue;
        };
        let Ok(info) = super::link::info(fd.as_fd()) else {
            continue;
        };
        if let LinkTarget::Cgroup {
            cgroup_id,
            attach_type,
        } = info.target
        {
            out.entry((cgroup_id, attach_type.0, info.prog_id))
                .or_insert_with(Vec::new)
                .push(info.id);
        }
    }
    out
}

/// The ids of `path` and of each cgroup above it up to the mount root (for matching
/// effective programs to the links of ancestors).
pub fn ancestor_ids(path: &Path) -> Vec<u64> {
    let mut ids = Vec::new();
    let mut at = Some(path);
    while let Some(p) = at {
        let is_v2 =
            nix::sys::statfs::statfs(p).is_ok_and(|s| s.filesystem_type().0 == CGROUP2_SUPER_MAGIC);
        if !is_v2 {
            break;
        }
        match std::fs::metadata(p) {
            Ok(m) => ids.push(m.ino()),
            Err(_) => break,
        }
        at = p.parent();
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_fields_unescape() {
        assert_eq!(
            unescape_mount("/sys/fs/cgroup/unified"),
            "/sys/fs/cgroup/unified"
        );
        assert_eq!(unescape_mount("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape_mount("/x\\"), "/x\\");
    }
}
