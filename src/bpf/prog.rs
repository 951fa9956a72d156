// Programs in the kernel: their info (bpf_prog_get_info_by_fd), type names, run-time stats.

use std::os::fd::{AsRawFd, BorrowedFd};

use anyhow::Result;

use super::{c_chars, errno, kernel_error, static_str};

/// What the kernel says about one loaded program.
#[derive(Debug, Clone)]
pub struct ProgInfo {
    pub id: u32,
    pub type_name: String,
    /// The full name: from BTF func_info when the kernel's 15 characters are all used.
    pub name: String,
    pub tag: [u8; 8],
    pub gpl_compatible: bool,
    pub run_time_ns: u64,
    pub run_cnt: u64,
    pub recursion_misses: u64,
    /// Nanoseconds since boot.
    pub load_time: u64,
    pub uid: u32,
    pub bytes_xlated: u32,
    pub bytes_jited: u32,
    pub map_ids: Vec<u32>,
    pub btf_id: u32,
    /// The BTF object and type a program attaches to (lsm_cgroup, tracing), 0 if none.
    pub attach_btf_obj_id: u32,
    pub attach_btf_id: u32,
}

/// Read a program's info, including its map ids.
pub fn info(fd: BorrowedFd<'_>) -> Result<ProgInfo> {
    let mut raw = libbpf_sys::bpf_prog_info::default();
    let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    // SAFETY: `raw` is a zeroed bpf_prog_info of `len` bytes, valid for writes.
    let ret = unsafe { libbpf_sys::bpf_prog_get_info_by_fd(fd.as_raw_fd(), &mut raw, &mut len) };
    if ret != 0 {
        return Err(kernel_error(errno(ret), "reading program info"));
    }
    let mut map_ids = vec![0u32; raw.nr_map_ids as usize];
    if !map_ids.is_empty() {
        let nr = raw.nr_map_ids;
        let mut again = libbpf_sys::bpf_prog_info {
            nr_map_ids: nr,
            map_ids: map_ids.as_mut_ptr() as u64,
            ..Default::default()
        };
        let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
        // SAFETY: `map_ids` has room for `nr` u32s and outlives the call; the kernel
        // writes at most `nr_map_ids` ids there.
        let ret =
            unsafe { libbpf_sys::bpf_prog_get_info_by_fd(fd.as_raw_fd(), &mut again, &mut len) };
        if ret != 0 {
            return Err(kernel_error(errno(ret), "reading program map ids"));
        }
        map_ids.truncate(again.nr_map_ids.min(nr) as usize);
    }
    Ok(ProgInfo {
        id: raw.id,
        type_name: prog_type_name(raw.type_),
        name: super::prog_image::full_name(fd, &c_chars(&raw.name), raw.btf_id, raw.nr_func_info),
        tag: raw.tag,
        gpl_compatible: raw.gpl_compatible() != 0,
        run_time_ns: raw.run_time_ns,
        run_cnt: raw.run_cnt,
        recursion_misses: raw.recursion_misses,
        load_time: raw.load_time,
        uid: raw.created_by_uid,
        bytes_xlated: raw.xlated_prog_len,
        bytes_jited: raw.jited_prog_len,
        map_ids,
        btf_id: raw.btf_id,
        attach_btf_obj_id: raw.attach_btf_obj_id,
        attach_btf_id: raw.attach_btf_id,
    })
}

/// bpftool's name of a program type ("xdp", "sched_cls", ...), or the number.
pub fn prog_type_name(t: u32) -> String {
    // SAFETY: returns NULL or a pointer into a static table.
    let s = static_str(unsafe { libbpf_sys::libbpf_bpf_prog_type_str(t) });
    if s.is_empty() {
        t.to_string()
    } else {
        s.to_owned()
    }
}

/// Every program type name libbpf knows, in the kernel's order.
pub fn prog_type_names() -> Vec<&'static str> {
    (0..256u32)
        // SAFETY: returns NULL or a pointer into a static table.
        .map(|t| static_str(unsafe { libbpf_sys::libbpf_bpf_prog_type_str(t) }))
        .take_while(|s| !s.is_empty())
        .collect()
}

/// A program type by name ("xdp", "sched_cls", ...), as bpftool's `type` keyword takes it.
pub fn prog_type_by_name(name: &str) -> Option<u32> {
    prog_type_names()
        .iter()
        .position(|n| *n == name)
        .map(|i| i as u32)
}

/// A program's `.rodata` map as bpftool's metadata needs it: the map's BTF id, the
/// DATASEC type of its value, and the value's bytes.
pub struct Rodata {
    pub btf_id: u32,
    pub value_type_id: u32,
    pub bytes: Vec<u8>,
}

/// Find the `.rodata` map among `map_ids` (a one-entry array with BTF, as bpftool
/// looks for it) and read its value.
pub fn rodata(map_ids: &[u32]) -> Option<Rodata> {
    use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType};
    map_ids.iter().find_map(|&id| {
        let map = MapHandle::from_map_id(id).ok()?;
        let info = map.info().ok()?;
        let raw = &info.info;
        let is_rodata = info.map_type() == MapType::Array
            && raw.key_size == 4
            && raw.max_entries == 1
            && raw.btf_value_type_id != 0
            && c_chars(&raw.name).ends_with(".rodata");
        if !is_rodata {
            return None;
        }
        let bytes = map.lookup(&0u32.to_ne_bytes(), MapFlags::ANY).ok()??;
        Some(Rodata {
            btf_id: raw.btf_id,
            value_type_id: raw.btf_value_type_id,
            bytes,
        })
    })
}

/// What BPF_PROG_TEST_RUN gives back.
#[derive(Debug, Clone)]
pub struct TestRun {
    pub retval: u32,
    /// Average nanoseconds per run.
    pub duration: u32,
    pub data_out: Vec<u8>,
    pub ctx_out: Vec<u8>,
}

/// Run a program once or `repeat` times on `data_in` (and `ctx_in`) with BPF_PROG_TEST_RUN.
pub fn test_run(
    fd: BorrowedFd<'_>,
    data_in: &[u8],
    ctx_in: Option<&[u8]>,
    data_out_size: u32,
    ctx_out_size: u32,
    repeat: u32,
) -> Result<TestRun> {
    let mut data_out = vec![0u8; data_out_size as usize];
    let mut ctx_out = vec![0u8; ctx_out_size as usize];
    let mut opts = libbpf_sys::bpf_test_run_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_test_run_opts>() as libbpf_sys::size_t,
        data_in: data_in.as_ptr().cast(),
        data_size_in: data_in.len() as u32,
        repeat: repeat as i32,
        ..Default::default()
    };
    if !data_out.is_empty() {
        opts.data_out = data_out.as_mut_ptr().cast();
        opts.data_size_out = data_out_size;
    }
    if let Some(ctx) = ctx_in {
        opts.ctx_in = ctx.as_ptr().cast();
        opts.ctx_size_in = ctx.len() as u32;
    }
    if !ctx_out.is_empty() {
        opts.ctx_out = ctx_out.as_mut_ptr().cast();
        opts.ctx_size_out = ctx_out_size;
    }
    // SAFETY: every pointer in `opts` points into a buffer that outlives the call, with
    // the matching size; the kernel writes at most data_size_out / ctx_size_out bytes.
    let ret = unsafe { libbpf_sys::bpf_prog_test_run_opts(fd.as_raw_fd(), &mut opts) };
    if ret != 0 {
        let err = errno(ret);
        if err.raw_os_error() == Some(libc::EINVAL) {
            return Err(crate::error::hinted(
                format!("running the program (BPF_PROG_TEST_RUN): {err}"),
                "the input does not fit the program type (XDP and tc need at least a 14-byte \
                 Ethernet header in data_in), or the type has no test runs",
            ));
        }
        return Err(kernel_error(err, "running the program (BPF_PROG_TEST_RUN)"));
    }
    data_out.truncate(opts.data_size_out as usize);
    ctx_out.truncate(opts.ctx_size_out as usize);
    Ok(TestRun {
        retval: opts.retval,
        duration: opts.duration,
        data_out,
        ctx_out,
    })
}

/// Convert a time since boot (ns) to seconds since the epoch, the way bpftool does.
pub fn boot_ns_to_epoch_secs(boot_ns: u64) -> i64 {
    let real = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME);
    let boot = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME);
    match (real, boot) {
        (Ok(r), Ok(b)) => {
            (r.tv_sec() - b.tv_sec()) + (r.tv_nsec() - b.tv_nsec() + boot_ns as i64) / 1_000_000_000
        }
        _ => (boot_ns / 1_000_000_000) as i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip() {
        let xdp = prog_type_by_name("xdp").unwrap_or(0);
        assert_eq!(prog_type_name(xdp), "xdp");
        assert!(prog_type_by_name("no_such_type").is_none());
        assert_eq!(prog_type_names()[0], "unspec");
    }
}
