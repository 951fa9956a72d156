// Entering another network namespace for interface work only (setns on this thread), and
// returning to the original one when the guard drops; mounts (bpffs) are untouched.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::sched::{setns, CloneFlags};

use crate::error::hinted;

/// Where a `--netns` argument points: a bare NAME is /run/netns/NAME, else a path.
pub fn netns_path(arg: &str) -> PathBuf {
    if arg.contains('/') {
        PathBuf::from(arg)
    } else {
        Path::new("/run/netns").join(arg)
    }
}

/// While alive, this thread is in another network namespace; dropping it returns.
pub struct NetnsGuard {
    original: File,
}

impl NetnsGuard {
    /// Enter the namespace `arg` names (see `netns_path`).
    pub fn enter(arg: &str) -> Result<NetnsGuard> {
        let path = netns_path(arg);
        let target = crate::input::open_regular(&path, "network namespace").map_err(|e| {
            hinted(
                format!("network namespace `{arg}`: {e:#}"),
                "list the named namespaces with `ip netns list`",
            )
        })?;
        let original = File::open("/proc/thread-self/ns/net")
            .context("opening the current network namespace")?;
        setns(target.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| {
            anyhow::anyhow!(
                "entering network namespace {}: {e} (is it a network namespace?)",
                path.display()
            )
        })?;
        Ok(NetnsGuard { original })
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        // Nothing sensible can be done if returning fails; the process ends soon after.
        let _ = setns(self.original.as_fd(), CloneFlags::CLONE_NEWNET);
    }
}

/// The inode of the current thread's network namespace (names state files per namespace).
pub fn current_netns_inode() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/thread-self/ns/net")
        .map(|m| m.ino())
        .unwrap_or(0)
}
