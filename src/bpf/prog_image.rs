// A loaded program's code as the kernel hands it out for `prog dump`: the translated
// (xlated) instructions, the JIT image, and the func_info / line_info / ksym arrays.

use std::os::fd::{AsRawFd, BorrowedFd};

use anyhow::{bail, Result};

use super::{errno, kernel_error};

/// One func_info record: where a function starts (in instructions) and its BTF FUNC id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FuncInfo {
    pub insn_off: u32,
    pub type_id: u32,
}

/// One line_info record: the instruction it starts at and the BTF string offsets of the
/// file name and source line; `line_col` packs the line (high 22 bits) and column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineInfo {
    pub insn_off: u32,
    pub file_name_off: u32,
    pub line_off: u32,
    pub line_col: u32,
}

impl LineInfo {
    pub fn line(&self) -> u32 {
        self.line_col >> 10
    }
    pub fn col(&self) -> u32 {
        self.line_col & 0x3ff
    }
}

/// Which code to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Xlated,
    Jited,
}

/// Everything `prog dump` needs from one program.
#[derive(Debug, Clone, Default)]
pub struct ProgImage {
    pub id: u32,
    pub btf_id: u32,
    /// The instructions (xlated) or machine code (jited).
    pub code: Vec<u8>,
    /// Kernel addresses of the JITed functions (main program first).
    pub jited_ksyms: Vec<u64>,
    /// Byte length of each JITed function.
    pub jited_func_lens: Vec<u32>,
    pub func_info: Vec<FuncInfo>,
    pub line_info: Vec<LineInfo>,
    /// For each line_info record, the address in the JIT image where it starts.
    pub jited_line_info: Vec<u64>,
}

fn get_info(fd: BorrowedFd<'_>, info: &mut libbpf_sys::bpf_prog_info, what: &str) -> Result<()> {
    let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    // SAFETY: `info` is a bpf_prog_info of `len` bytes, valid for writes; every array
    // pointer set in it by the caller points at a buffer sized for the count beside it.
    let ret = unsafe { libbpf_sys::bpf_prog_get_info_by_fd(fd.as_raw_fd(), info, &mut len) };
    if ret != 0 {
        return Err(kernel_error(errno(ret), what.to_owned()));
    }
    Ok(())
}

/// Read the code of `which` kind and the debug arrays that go with it.
pub fn read(fd: BorrowedFd<'_>, which: Code) -> Result<ProgImage> {
    let mut first = libbpf_sys::bpf_prog_info::default();
    get_info(fd, &mut first, "reading program info")?;
    let code_len = match which {
        Code::Xlated => first.xlated_prog_len,
        Code::Jited => first.jited_prog_len,
    };
    if code_len == 0 {
        match which {
            Code::Xlated => bail!(
                "program {} has no translated instructions (the kernel hides them, e.g. \
                 without CAP_SYS_ADMIN or for an offloaded program)",
                first.id
            ),
            Code::Jited => bail!("program {} is not JIT-compiled (no native image)", first.id),
        }
    }
    let mut code = vec![0u8; code_len as usize];
    let nr_ksyms = first.nr_jited_ksyms;
    let nr_lens = first.nr_jited_func_lens;
    let mut ksyms = vec![0u64; nr_ksyms as usize];
    let mut lens = vec![0u32; nr_lens as usize];
    let finfo_size = first.func_info_rec_size.max(8) as usize;
    let linfo_size = first.line_info_rec_size.max(16) as usize;
    let nr_finfo = if first.btf_id != 0 {
        first.nr_func_info
    } else {
        0
    };
    let nr_linfo = if first.btf_id != 0 {
        first.nr_line_info
    } else {
        0
    };
    let mut finfo = vec![0u8; nr_finfo as usize * finfo_size];
    let mut linfo = vec![0u8; nr_linfo as usize * linfo_size];
    let nr_jlinfo = if which == Code::Jited {
        first.nr_jited_line_info.min(nr_linfo)
    } else {
        0
    };
    let mut jlinfo = vec![0u64; nr_jlinfo as usize];

    let mut info = libbpf_sys::bpf_prog_info::default();
    match which {
        Code::Xlated => {
            info.xlated_prog_len = code_len;
            info.xlated_prog_insns = code.as_mut_ptr() as u64;
        }
        Code::Jited => {
            info.jited_prog_len = code_len;
            info.jited_prog_insns = code.as_mut_ptr() as u64;
        }
    }
    info.nr_jited_ksyms = nr_ksyms;
    info.jited_ksyms = ksyms.as_mut_ptr() as u64;
    info.nr_jited_func_lens = nr_lens;
    info.jited_func_lens = lens.as_mut_ptr() as u64;
    info.nr_func_info = nr_finfo;
    info.func_info_rec_size = finfo_size as u32;
    info.func_info = finfo.as_mut_ptr() as u64;
    info.nr_line_info = nr_linfo;
    info.line_info_rec_size = linfo_size as u32;
    info.line_info = linfo.as_mut_ptr() as u64;
    if nr_jlinfo > 0 {
        info.nr_jited_line_info = nr_jlinfo;
        info.jited_line_info_rec_size = 8;
        info.jited_line_info = jlinfo.as_mut_ptr() as u64;
    }
    get_info(fd, &mut info, "reading program code")?;
    // The kernel reports the real sizes; a program does not change once loaded, but a
    // smaller answer must never let stale zeros through.
    let got_len = match which {
        Code::Xlated => info.xlated_prog_len,
        Code::Jited => info.jited_prog_len,
    };
    code.truncate(got_len.min(code_len) as usize);
    ksyms.truncate(info.nr_jited_ksyms.min(nr_ksyms) as usize);
    lens.truncate(info.nr_jited_func_lens.min(nr_lens) as usize);
    jlinfo.truncate(info.nr_jited_line_info.min(nr_jlinfo) as usize);
    let func_info = finfo
        .chunks_exact(finfo_size)
        .take(info.nr_func_info.min(nr_finfo) as usize)
        .map(|r| FuncInfo {
            insn_off: u32_at(r, 0),
            type_id: u32_at(r, 4),
        })
        .collect();
    let line_info = linfo
        .chunks_exact(linfo_size)
        .take(info.nr_line_info.min(nr_linfo) as usize)
        .map(|r| LineInfo {
            insn_off: u32_at(r, 0),
            file_name_off: u32_at(r, 4),
            line_off: u32_at(r, 8),
            line_col: u32_at(r, 12),
        })
        .collect();
    Ok(ProgImage {
        id: first.id,
        btf_id: first.btf_id,
        code,
        jited_ksyms: ksyms,
        jited_func_lens: lens,
        func_info,
        line_info,
        jited_line_info: jlinfo,
    })
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
        .unwrap_or(0)
}

/// bpftool's full program name: the kernel keeps 15 characters; when the name fills them
/// and the program has BTF func_info, the name of its first FUNC is the full one.
pub fn full_name(fd: BorrowedFd<'_>, kernel_name: &str, btf_id: u32, nr_func_info: u32) -> String {
    if kernel_name.len() < 15 || btf_id == 0 || nr_func_info == 0 {
        return kernel_name.to_owned();
    }
    first_func_name(fd).unwrap_or_else(|| kernel_name.to_owned())
}

/// The name of the program's first FUNC in its BTF func_info (bpftool's name of a program
/// behind a struct_ops function pointer); None without BTF or func_info.
pub fn first_func_name(fd: BorrowedFd<'_>) -> Option<String> {
    let mut rec = [0u8; 8];
    let mut info = libbpf_sys::bpf_prog_info {
        nr_func_info: 1,
        func_info_rec_size: 8,
        func_info: rec.as_mut_ptr() as u64,
        ..Default::default()
    };
    get_info(fd, &mut info, "reading program func_info").ok()?;
    if info.btf_id == 0 || info.nr_func_info == 0 {
        return None;
    }
    let type_id = u32_at(&rec, 4);
    func_name(info.btf_id, type_id)
}

/// The name of FUNC `type_id` in BTF object `btf_id`, if it is a FUNC.
fn func_name(btf_id: u32, type_id: u32) -> Option<String> {
    const BTF_KIND_FUNC: u32 = 12;
    // SAFETY: plain call taking an integer; returns NULL or an owned struct btf.
    let btf = unsafe { libbpf_sys::btf__load_from_kernel_by_id(btf_id) };
    if btf.is_null() {
        return None;
    }
    // SAFETY: `btf` is valid until the btf__free below; btf__type_by_id returns NULL or
    // a pointer into it, and btf__name_by_offset a NUL-terminated string inside it, both
    // read before the free.
    let name = unsafe {
        let t = libbpf_sys::btf__type_by_id(btf, type_id);
        if t.is_null() || ((*t).info >> 24) & 0x1f != BTF_KIND_FUNC {
            None
        } else {
            let p = libbpf_sys::btf__name_by_offset(btf, (*t).name_off);
            (!p.is_null()).then(|| std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned())
        }
    };
    // SAFETY: `btf` came from btf__load_from_kernel_by_id and is freed exactly once.
    unsafe { libbpf_sys::btf__free(btf) };
    name.filter(|n| !n.is_empty())
}
