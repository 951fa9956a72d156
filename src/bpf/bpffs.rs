// The BPF filesystem: mounting it at /sys/fs/bpf when it is missing, and checking that a
// pin path lies on a bpffs.

use std::path::{Path, PathBuf};

use anyhow::Result;
use nix::mount::{mount, MsFlags};
use nix::sys::statfs::statfs;

use crate::error::hinted;

pub const DEFAULT_ROOT: &str = "/sys/fs/bpf";
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// Whether `path` is on a bpffs.
pub fn is_bpffs(path: &Path) -> bool {
    statfs(path).is_ok_and(|s| s.filesystem_type().0 == BPF_FS_MAGIC)
}

/// Mount bpffs at /sys/fs/bpf unless it is there already or `nomount` is set.
pub fn ensure_mounted(nomount: bool) -> Result<()> {
    let root = Path::new(DEFAULT_ROOT);
    if nomount || is_bpffs(root) {
        return Ok(());
    }
    mount(
        Some("bpf"),
        root,
        Some("bpf"),
        MsFlags::empty(),
        None::<&str>,
    )
    .map_err(|e| {
        hinted(
            format!("{DEFAULT_ROOT} is not a bpffs and mounting one there failed: {e}"),
            "mount it yourself: mount -t bpf bpf /sys/fs/bpf",
        )
    })
}

/// Check that `path` can be a new pin: its directory exists and is on a bpffs, and
/// nothing exists at `path` yet.
pub fn check_pin_path(path: &Path) -> Result<()> {
    if path.symlink_metadata().is_ok() {
        anyhow::bail!(
            "{}: already exists; remove it first or choose another path",
            path.display()
        );
    }
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(hinted(
            format!(
                "{}: directory {} does not exist",
                path.display(),
                dir.display()
            ),
            format!("create it first: mkdir -p {}", dir.display()),
        ));
    }
    if !is_bpffs(&dir) {
        return Err(hinted(
            format!("{}: {} is not on a bpffs", path.display(), dir.display()),
            format!("pin under {DEFAULT_ROOT} (or another bpffs mount)"),
        ));
    }
    Ok(())
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Every pinned object under `root` (recursively), as (path, kind, id).
pub fn walk_pins(root: &Path) -> Vec<(PathBuf, super::Kind, u32)> {
    let mut found = Vec::new();
    walk(root, &mut found, 0);
    found
}

fn walk(dir: &Path, found: &mut Vec<(PathBuf, super::Kind, u32)>, depth: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            if depth < 16 {
                walk(&path, found, depth + 1);
            }
        } else if ft.is_file() {
            if let Some((kind, id)) = super::pinned_kind_and_id(&path) {
                found.push((path, kind, id));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_of_a_bare_name_is_cwd() {
        assert_eq!(parent_dir(Path::new("x")), PathBuf::from("."));
        assert_eq!(
            parent_dir(Path::new("/sys/fs/bpf/x")),
            PathBuf::from("/sys/fs/bpf")
        );
    }
}
