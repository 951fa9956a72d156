// Programs attached through perf events, as `perf show` finds them: a walk of /proc/*/fd
// with BPF_TASK_FD_QUERY on every perf event and BPF link fd.

/// What BPF_TASK_FD_QUERY says about one fd of one process.
#[derive(Debug, Clone)]
pub struct TaskFd {
    pub pid: u32,
    pub fd: u32,
    pub prog_id: u32,
    /// bpftool's name: raw_tracepoint, tracepoint, kprobe, kretprobe, uprobe, uretprobe.
    pub fd_type: &'static str,
    /// The tracepoint, function or file name.
    pub name: String,
    pub probe_offset: u64,
    pub probe_addr: u64,
    /// The link id when the fd is a BPF link.
    pub link_id: Option<u32>,
}

pub fn fd_type_name(t: u32) -> &'static str {
    match t {
        libbpf_sys::BPF_FD_TYPE_RAW_TRACEPOINT => "raw_tracepoint",
        libbpf_sys::BPF_FD_TYPE_TRACEPOINT => "tracepoint",
        libbpf_sys::BPF_FD_TYPE_KPROBE => "kprobe",
        libbpf_sys::BPF_FD_TYPE_KRETPROBE => "kretprobe",
        libbpf_sys::BPF_FD_TYPE_UPROBE => "uprobe",
        libbpf_sys::BPF_FD_TYPE_URETPROBE => "uretprobe",
        _ => "unknown",
    }
}

/// Query one fd of process `pid`; None when it carries no BPF program.
pub fn task_fd_query(pid: u32, fd: u32) -> Option<TaskFd> {
    let mut buf = vec![0 as std::os::raw::c_char; 4096];
    let mut len = buf.len() as u32;
    let mut prog_id = 0u32;
    let mut fd_type = 0u32;
    let mut probe_offset = 0u64;
    let mut probe_addr = 0u64;
    // SAFETY: `buf` has `len` bytes; every out pointer is valid for the call.
    let ret = unsafe {
        libbpf_sys::bpf_task_fd_query(
            pid as i32,
            fd as i32,
            0,
            buf.as_mut_ptr(),
            &mut len,
            &mut prog_id,
            &mut fd_type,
            &mut probe_offset,
            &mut probe_addr,
        )
    };
    if ret != 0 {
        return None;
    }
    Some(TaskFd {
        pid,
        fd,
        prog_id,
        fd_type: fd_type_name(fd_type),
        name: super::c_chars(&buf),
        probe_offset,
        probe_addr,
        link_id: None,
    })
}

/// Every perf event or BPF link fd of every process that has a BPF program behind it,
/// ordered by pid and fd.
pub fn attached_task_fds() -> Vec<TaskFd> {
    let mut found = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return found;
    };
    let mut pids: Vec<u32> = procs
        .flatten()
        .filter_map(|p| p.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let mut nums: Vec<(u32, String)> = fds
            .flatten()
            .filter_map(|e| {
                let n = e.file_name().to_str()?.parse().ok()?;
                let target = std::fs::read_link(e.path()).ok()?;
                Some((n, target.to_string_lossy().into_owned()))
            })
            .filter(|(_, t)| t == "anon_inode:[perf_event]" || super::Kind::Link.is_anon_inode(t))
            .collect();
        nums.sort_unstable();
        for (fd, target) in nums {
            if let Some(mut q) = task_fd_query(pid, fd) {
                if super::Kind::Link.is_anon_inode(&target) {
                    q.link_id = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
                        .ok()
                        .and_then(|t| {
                            t.lines()
                                .find_map(|l| l.strip_prefix("link_id:"))
                                .and_then(|v| v.trim().parse().ok())
                        });
                }
                found.push(q);
            }
        }
    }
    found
}
