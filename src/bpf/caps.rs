// Capabilities: which of the ones BPF needs this process lacks, for error hints.

const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// The effective capability mask of this process, from /proc/self/status.
fn effective() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_cap_eff(&status)
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
}

/// Names of the BPF-relevant capabilities missing from `mask`.
fn missing(mask: u64) -> Vec<&'static str> {
    [
        (CAP_BPF, "CAP_BPF"),
        (CAP_SYS_ADMIN, "CAP_SYS_ADMIN"),
        (CAP_PERFMON, "CAP_PERFMON"),
        (CAP_NET_ADMIN, "CAP_NET_ADMIN"),
    ]
    .into_iter()
    .filter(|(bit, _)| mask & (1 << bit) == 0)
    .map(|(_, name)| name)
    .collect()
}

/// A hint for an EPERM from the bpf() syscall, naming the missing capabilities; None when
/// this process has them all (then EPERM came from something else).
pub fn missing_hint() -> Option<String> {
    let lacking = missing(effective()?);
    if lacking.is_empty() {
        return None;
    }
    Some(format!(
        "this process lacks {}; run rbt as root (e.g. with sudo) or grant CAP_BPF and CAP_PERFMON",
        lacking.join(", ")
    ))
}

/// Clear CAP_SYS_ADMIN, CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON from the effective set of
/// the calling thread only (capset acts per thread), as bpftool's `unprivileged` probing
/// does for the whole process. The permitted set keeps them; the thread should end soon.
pub fn drop_bpf_caps_on_this_thread() -> std::io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: `header` and the two-element `data` array are the layout capget expects
    // for version 3; both outlive the call.
    let ret = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if ret != 0 {
        return Err(std::io::Error::last_os_error());
    }
    for cap in [CAP_SYS_ADMIN, CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON] {
        data[(cap / 32) as usize].effective &= !(1 << (cap % 32));
    }
    header.pid = 0;
    // SAFETY: as above; pid 0 is the calling thread.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if ret != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_eff_is_parsed() {
        let status = "Name:\trbt\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        assert_eq!(parse_cap_eff(status), Some(0x1ff_ffff_ffff));
    }

    #[test]
    fn missing_names_cap_bpf() {
        assert_eq!(missing(u64::MAX), Vec::<&str>::new());
        let all_but_bpf = !(1u64 << CAP_BPF);
        assert_eq!(missing(all_but_bpf), vec!["CAP_BPF"]);
        assert_eq!(missing(0).len(), 4);
    }
}
