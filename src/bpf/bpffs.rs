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

/// Check that no other user can change `dir` or a directory above it: each is a real
/// directory (not a symlink), owned by root or by this user, and not writable by group or
/// others unless sticky. As root on a shared host, rbt pins only where no one else can
/// remove, rename or swap its pins.
pub fn check_trusted_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()?.join(dir)
    };
    let me = nix::unistd::geteuid().as_raw();
    let mut at = PathBuf::new();
    for part in abs.components() {
        at.push(part);
        let meta = at
            .symlink_metadata()
            .map_err(|e| anyhow::anyhow!("{}: {e}", at.display()))?;
        let fix = format!(
            "remove it, or make it root's and not writable by others: chown root {0}; chmod go-w {0}",
            at.display()
        );
        if meta.file_type().is_symlink() {
            return Err(hinted(
                format!(
                    "{}: is a symbolic link; rbt does not pin through one",
                    at.display()
                ),
                "give the real path",
            ));
        }
        if !meta.is_dir() {
            anyhow::bail!("{}: is not a directory", at.display());
        }
        if meta.uid() != 0 && meta.uid() != me {
            return Err(hinted(
                format!(
                    "{}: belongs to uid {} ({}); rbt does not pin where another user can remove or swap its pins",
                    at.display(),
                    meta.uid(),
                    user_name(meta.uid())
                ),
                fix,
            ));
        }
        if meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0 {
            return Err(hinted(
                format!(
                    "{}: is writable by {} (mode {:o}); rbt does not pin where another user can remove or swap its pins",
                    at.display(),
                    if meta.mode() & 0o002 != 0 { "everyone" } else { "its group" },
                    meta.mode() & 0o7777
                ),
                fix,
            ));
        }
    }
    Ok(())
}

fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map_or_else(|| "no such user".to_owned(), |u| u.name)
}

/// Create `dir` and the directories missing above it, mode 0700, after checking that the
/// ones that exist are trusted (`check_trusted_dir`). The directories made, topmost first.
pub fn create_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    use std::os::unix::fs::DirBuilderExt;
    let mut missing: Vec<PathBuf> = Vec::new();
    let mut existing = dir;
    while existing.symlink_metadata().is_err() {
        missing.push(existing.to_path_buf());
        existing = match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
    }
    check_trusted_dir(existing)?;
    missing.reverse();
    for (i, d) in missing.iter().enumerate() {
        if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(d) {
            for made in missing[..i].iter().rev() {
                let _ = std::fs::remove_dir(made);
            }
            return Err(anyhow::anyhow!("creating {}: {e}", d.display()));
        }
    }
    Ok(missing)
}

/// Check that `path` can be a new pin: its directory exists, is on a bpffs and is trusted
/// (`check_trusted_dir`), and nothing exists at `path` yet.
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
    check_trusted_dir(&dir)
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
