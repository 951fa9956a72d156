// Where rbt pins the links it creates (one function per naming rule), and pinning and
// unpinning them together with the directories rbt makes under /sys/fs/bpf/rbt.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{bpffs, Kind};
use crate::error::hinted;

/// `net attach --link`: /sys/fs/bpf/rbt/net/<netns>/<dev>-<attach type> (bpffs refuses dots
/// in names, so the namespace is its file name, `default` for the current one).
pub fn net_default(netns: Option<&str>, dev: &str, attach_type: &str) -> PathBuf {
    let ns = netns
        .map(|n| {
            Path::new(n)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| n.to_string())
        })
        .unwrap_or_else(|| "default".into());
    Path::new(bpffs::DEFAULT_ROOT)
        .join("rbt/net")
        .join(ns)
        .join(format!("{dev}-{attach_type}"))
}

/// `prog attach`: `<program pin>_link` (then `_link2`, ...) beside the program's pin, or
/// `/sys/fs/bpf/rbt_link_<prog id>` when the program is not pinned; the first free name.
pub fn prog_attach_default(prog_pin: Option<&str>, prog_id: u32) -> Result<PathBuf> {
    let base = match prog_pin {
        Some(p) => format!("{p}_link"),
        None => format!("{}/rbt_link_{prog_id}", bpffs::DEFAULT_ROOT),
    };
    (1..1000)
        .map(|n| {
            if n == 1 {
                PathBuf::from(&base)
            } else {
                PathBuf::from(format!("{base}{n}"))
            }
        })
        .find(|p| p.symlink_metadata().is_err())
        .ok_or_else(|| anyhow::anyhow!("{base}: no free link pin name; choose one with --pin"))
}

/// `prog load|loadall ... autoattach`: `<program pin>_link`.
pub fn autoattach(prog_pin: &Path) -> PathBuf {
    PathBuf::from(format!("{}_link", prog_pin.display()))
}

/// `prog attach ... usdt`: `pin` for the first probe site, `<pin>_2`, `<pin>_3`, ... for the others.
pub fn usdt_sites(pin: &Path, n: usize) -> Vec<PathBuf> {
    let mut v = vec![pin.to_path_buf()];
    v.extend((2..=n).map(|i| PathBuf::from(format!("{}_{i}", pin.display()))));
    v
}

/// A link pin must not exist yet; its directory is created under the bpffs root if needed.
pub fn check_free(path: &Path) -> Result<()> {
    if path.symlink_metadata().is_ok() {
        return Err(hinted(
            format!("{}: already exists", path.display()),
            "detach what is attached there first, or choose another path with --link-pin",
        ));
    }
    match path.parent() {
        Some(dir) if dir.exists() => bpffs::check_trusted_dir(dir),
        Some(dir) if dir.starts_with(bpffs::DEFAULT_ROOT) => {
            // Made by `pin`; what exists above it must be trusted.
            let mut above = dir;
            while !above.exists() {
                above = above.parent().unwrap_or(Path::new("/"));
            }
            bpffs::check_trusted_dir(above)
        }
        _ => bpffs::check_pin_path(path),
    }
}

/// Pin a link, creating its directory (mode 0700) when it is under the bpffs root; when the
/// pin fails, the directories made for it are removed.
pub fn pin(fd: impl AsFd, path: &Path) -> Result<()> {
    let mut made = Vec::new();
    if let Some(dir) = path.parent() {
        if !dir.exists() && dir.starts_with(bpffs::DEFAULT_ROOT) {
            made = bpffs::create_dirs(dir)?;
        }
    }
    let pinned = super::obj_pin(fd.as_fd(), path);
    if pinned.is_err() {
        for dir in made.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
    pinned
}

/// Remove every pin of link `link_id` under the bpffs root; the paths removed.
pub fn unpin_all_of(link_id: u32) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for (path, kind, id) in bpffs::walk_pins(Path::new(bpffs::DEFAULT_ROOT)) {
        if kind == Kind::Link && id == link_id && std::fs::remove_file(&path).is_ok() {
            remove_empty_dirs(&path);
            removed.push(path);
        }
    }
    removed
}

/// Remove the directories rbt made for link pins (under /sys/fs/bpf/rbt) once empty.
pub fn remove_empty_dirs(pin: &Path) {
    let top = Path::new(bpffs::DEFAULT_ROOT).join("rbt");
    let mut dir = pin.parent();
    while let Some(d) = dir {
        if !d.starts_with(&top) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naming_rules() {
        assert_eq!(
            net_default(Some("/run/netns/rbtA"), "v0", "xdp"),
            Path::new("/sys/fs/bpf/rbt/net/rbtA/v0-xdp")
        );
        assert_eq!(
            net_default(None, "v0", "tcx_ingress"),
            Path::new("/sys/fs/bpf/rbt/net/default/v0-tcx_ingress")
        );
        assert_eq!(
            autoattach(Path::new("/sys/fs/bpf/x/p")),
            Path::new("/sys/fs/bpf/x/p_link")
        );
        assert_eq!(
            usdt_sites(Path::new("/sys/fs/bpf/u"), 3),
            [
                PathBuf::from("/sys/fs/bpf/u"),
                PathBuf::from("/sys/fs/bpf/u_2"),
                PathBuf::from("/sys/fs/bpf/u_3")
            ]
        );
    }
}
