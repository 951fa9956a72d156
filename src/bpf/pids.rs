// Which processes hold BPF objects open: a walk of /proc/*/fd, as bpftool's `pids` field.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Kind;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PidRef {
    pub pid: u32,
    pub comm: String,
}

/// For every object id of `kind`, the processes (other than rbt itself) holding an fd to it.
pub fn holders(kind: Kind) -> BTreeMap<u32, Vec<PidRef>> {
    let me = std::process::id();
    let mut map: BTreeMap<u32, Vec<PidRef>> = BTreeMap::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return map;
    };
    for proc in procs.flatten() {
        let Some(pid) = proc
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let mut comm: Option<String> = None;
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            if !kind.is_anon_inode(&target.to_string_lossy()) {
                continue;
            }
            let info_path = format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_string_lossy());
            let Some(id) = std::fs::read_to_string(info_path)
                .ok()
                .and_then(|t| id_from_fdinfo(&t, kind.fdinfo_id_key()))
            else {
                continue;
            };
            let comm = comm
                .get_or_insert_with(|| {
                    std::fs::read_to_string(format!("/proc/{pid}/comm"))
                        .map(|c| c.trim_end().to_owned())
                        .unwrap_or_default()
                })
                .clone();
            let list = map.entry(id).or_default();
            if !list.iter().any(|p| p.pid == pid) {
                list.push(PidRef { pid, comm });
            }
        }
    }
    map
}

fn id_from_fdinfo(text: &str, key: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_read_from_fdinfo() {
        assert_eq!(
            id_from_fdinfo("pos:\t0\nprog_id:\t17\n", "prog_id"),
            Some(17)
        );
        assert_eq!(id_from_fdinfo("map_id:\t3\n", "prog_id"), None);
    }
}
