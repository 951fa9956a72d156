// Which clsact qdiscs rbt created: a marker file under /run per (netns, interface), so a
// later detach removes a clsact rbt made once it is empty and never one it found.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::net::{self as kn, Direction};
use super::{net_netlink, net_ns};

const STATE_DIR: &str = "/run/rbt/clsact";

/// /run/rbt/clsact/<netns inode>-<ifindex>: present while a clsact rbt created is there.
fn marker(ifindex: u32) -> PathBuf {
    Path::new(STATE_DIR).join(format!("{}-{ifindex}", net_ns::current_netns_inode()))
}

fn mark_created(ifindex: u32, dev: &str) -> Result<()> {
    std::fs::create_dir_all(STATE_DIR).with_context(|| format!("creating {STATE_DIR}"))?;
    let path = marker(ifindex);
    std::fs::write(&path, format!("{dev}\n")).with_context(|| format!("writing {}", path.display()))
}

/// Whether rbt created the clsact on this interface (the marker names the same device).
fn created_by_rbt(ifindex: u32, dev: &str) -> bool {
    std::fs::read_to_string(marker(ifindex)).is_ok_and(|s| s.trim() == dev)
}

/// Make sure `dev` has a clsact qdisc; true when rbt created it (and marked it as its own).
pub fn ensure(ifindex: u32, dev: &str) -> Result<bool> {
    let created = kn::clsact_create(ifindex)?;
    if created {
        if let Err(e) = mark_created(ifindex, dev) {
            let _ = kn::clsact_destroy(ifindex);
            return Err(e);
        }
    }
    Ok(created)
}

/// Remove the clsact qdisc if rbt created it and no filter is left on it.
pub fn remove_if_ours_and_empty(ifindex: u32, dev: &str) -> Result<bool> {
    if !created_by_rbt(ifindex, dev) {
        return Ok(false);
    }
    for dir in [Direction::Ingress, Direction::Egress] {
        if !net_netlink::tc_filters(ifindex, dir)?.is_empty() {
            return Ok(false);
        }
    }
    kn::clsact_destroy(ifindex)?;
    let _ = std::fs::remove_file(marker(ifindex));
    Ok(true)
}
