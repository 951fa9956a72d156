// USDT probes for `prog attach PROG usdt`: the target ELF's .note.stapsdt notes, their
// x86-64 argument strings turned into libbpf's `struct __bpf_usdt_spec`, and the uprobe
// links that carry the spec id as their BPF cookie.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result};

use super::errno;

/// One USDT probe site of an ELF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub provider: String,
    pub name: String,
    /// File offset of the probe's instruction (what a uprobe takes).
    pub offset: u64,
    /// File offset of the probe's semaphore, 0 when it has none.
    pub semaphore: u64,
    /// The argument string, e.g. `-4@%edi 8@-16(%rbp)`.
    pub args: String,
}

const NT_STAPSDT: u32 = 3;

/// Every USDT note of the ELF file at `path`, with addresses turned into file offsets
/// as libbpf does (the `.stapsdt.base` adjustment for prelinked files included).
pub fn notes(path: &Path) -> Result<Vec<Note>> {
    let data = crate::input::read_file(path, crate::input::MAX_ELF, "binary")?;
    notes_in(&data, &path.display())
}

/// The USDT notes of ELF bytes `data`; `path` names the file in errors.
pub fn notes_in(data: &[u8], path: &dyn std::fmt::Display) -> Result<Vec<Note>> {
    use object::{Object, ObjectSection};
    let file =
        object::File::parse(data).map_err(|e| anyhow::anyhow!("{path}: not an ELF file: {e}"))?;
    if file.architecture() != object::Architecture::X86_64 {
        anyhow::bail!(
            "{}: USDT arguments are only understood for x86-64 binaries (this one is {:?})",
            path,
            file.architecture()
        );
    }
    let Some(section) = file.section_by_name(".note.stapsdt") else {
        return Ok(Vec::new());
    };
    let raw = section
        .data()
        .map_err(|e| anyhow::anyhow!("{}: reading .note.stapsdt: {e}", path))?;
    let base_section = file.section_by_name(".stapsdt.base").map(|s| s.address());
    let mut notes = Vec::new();
    for n in parse_notes(raw) {
        let n = n.with_context(|| format!("{}: malformed .note.stapsdt", path))?;
        let mut ip = n.loc;
        if let (Some(actual), true) = (base_section, n.base != 0) {
            ip = ip.wrapping_add(actual).wrapping_sub(n.base);
        }
        let offset = file_offset(&file, ip).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: USDT {}:{} at {ip:#x} lies in no loadable segment",
                path,
                n.provider,
                n.name
            )
        })?;
        let semaphore = match n.sema {
            0 => 0,
            s => file_offset(&file, s).ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: semaphore of USDT {}:{} at {s:#x} lies in no loadable segment",
                    path,
                    n.provider,
                    n.name
                )
            })?,
        };
        notes.push(Note {
            provider: n.provider,
            name: n.name,
            offset,
            semaphore,
            args: n.args,
        });
    }
    Ok(notes)
}

fn file_offset(file: &object::File<'_>, addr: u64) -> Option<u64> {
    use object::{Object, ObjectSegment};
    file.segments().find_map(|seg| {
        let (file_off, _) = seg.file_range();
        (addr >= seg.address() && addr < seg.address() + seg.size())
            .then(|| addr - seg.address() + file_off)
    })
}

/// A stapsdt note as written: virtual addresses, not yet file offsets.
#[derive(Debug, PartialEq, Eq)]
struct RawNote {
    loc: u64,
    base: u64,
    sema: u64,
    provider: String,
    name: String,
    args: String,
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The stapsdt notes of a `.note.stapsdt` section (64-bit little-endian ELF).
fn parse_notes(raw: &[u8]) -> Vec<Result<RawNote>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 12 <= raw.len() {
        let (Some(namesz), Some(descsz), Some(kind)) =
            (le_u32(raw, at), le_u32(raw, at + 4), le_u32(raw, at + 8))
        else {
            break;
        };
        let name_at = at + 12;
        let desc_at = name_at + align4(namesz as usize);
        let next = desc_at + align4(descsz as usize);
        let (Some(name), Some(desc)) = (
            raw.get(name_at..name_at + namesz as usize),
            raw.get(desc_at..desc_at + descsz as usize),
        ) else {
            out.push(Err(anyhow::anyhow!("note at {at} runs past the section")));
            break;
        };
        at = next;
        if kind != NT_STAPSDT || name.split(|&c| c == 0).next() != Some(b"stapsdt") {
            continue;
        }
        out.push(parse_desc(desc));
    }
    out
}

fn parse_desc(desc: &[u8]) -> Result<RawNote> {
    let (Some(loc), Some(base), Some(sema)) = (le_u64(desc, 0), le_u64(desc, 8), le_u64(desc, 16))
    else {
        anyhow::bail!("note of {} bytes is too short", desc.len());
    };
    let mut strings = desc
        .get(24..)
        .unwrap_or_default()
        .split(|&c| c == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned());
    let provider = strings.next().unwrap_or_default();
    let name = strings.next().unwrap_or_default();
    let args = strings.next().unwrap_or_default();
    if provider.is_empty() || name.is_empty() {
        anyhow::bail!("note without a provider or name");
    }
    Ok(RawNote {
        loc,
        base,
        sema,
        provider,
        name,
        args,
    })
}

/// BPF_USDT_MAX_ARG_CNT in <bpf/usdt.bpf.h>.
pub const MAX_ARGS: usize = 12;
/// Size of `struct __bpf_usdt_arg_spec`.
const ARG_SPEC_SIZE: usize = 16;
/// Offsets in `struct __bpf_usdt_spec`: args[12], then usdt_cookie, then arg_cnt.
const COOKIE_AT: usize = MAX_ARGS * ARG_SPEC_SIZE;
const ARG_CNT_AT: usize = COOKIE_AT + 8;
/// The bytes of `struct __bpf_usdt_spec` that matter (the map's value may be padded).
pub const SPEC_SIZE: usize = ARG_CNT_AT + 2;

const ARG_CONST: u32 = 0;
const ARG_REG: u32 = 1;
const ARG_REG_DEREF: u32 = 2;

/// Offset of an x86-64 register (any of its names) in the kernel's `struct pt_regs`.
fn reg_offset(reg: &str) -> Option<i16> {
    let off = match reg {
        "rip" | "eip" => 128,
        "rax" | "eax" | "ax" | "al" => 80,
        "rbx" | "ebx" | "bx" | "bl" => 40,
        "rcx" | "ecx" | "cx" | "cl" => 88,
        "rdx" | "edx" | "dx" | "dl" => 96,
        "rsi" | "esi" | "si" | "sil" => 104,
        "rdi" | "edi" | "di" | "dil" => 112,
        "rbp" | "ebp" | "bp" | "bpl" => 32,
        "rsp" | "esp" | "sp" | "spl" => 152,
        _ => {
            let n = reg.strip_prefix('r')?;
            let n = n.trim_end_matches(['d', 'w', 'b']);
            match n {
                "8" => 72,
                "9" => 64,
                "10" => 56,
                "11" => 48,
                "12" => 24,
                "13" => 16,
                "14" => 8,
                "15" => 0,
                _ => return None,
            }
        }
    };
    Some(off)
}

/// One argument, as `struct __bpf_usdt_arg_spec` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgSpec {
    pub val_off: u64,
    pub arg_type: u32,
    pub reg_off: i16,
    pub signed: bool,
    pub bitshift: i8,
}

fn parse_int(text: &str) -> Option<i64> {
    let (neg, t) = match text.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, text),
    };
    let v = match t.strip_prefix("0x") {
        Some(h) => i64::from_str_radix(h, 16).ok()?,
        None => t.parse().ok()?,
    };
    Some(if neg { -v } else { v })
}

/// One x86-64 argument: `N@%reg`, `N@off(%reg)`, `N@(%reg)` or `N@$const`.
pub fn parse_arg(arg: &str) -> Result<ArgSpec> {
    let bad = |why: &str| anyhow::anyhow!("USDT argument `{arg}`: {why}");
    let (size, loc) = arg
        .split_once('@')
        .ok_or_else(|| bad("expected SIZE@LOCATION"))?;
    let size: i32 = size.parse().map_err(|_| bad("bad size"))?;
    let bytes = size.unsigned_abs();
    if ![1, 2, 4, 8].contains(&bytes) {
        return Err(bad("size must be 1, 2, 4 or 8 bytes"));
    }
    let reg =
        |name: &str| reg_offset(name).ok_or_else(|| bad(&format!("unknown register %{name}")));
    let (val_off, arg_type, reg_off) = if let Some(c) = loc.strip_prefix('$') {
        let v = parse_int(c).ok_or_else(|| bad("bad constant"))?;
        (v as u64, ARG_CONST, 0)
    } else if let Some(r) = loc.strip_prefix('%') {
        (0, ARG_REG, reg(r)?)
    } else if let Some((off, rest)) = loc.split_once("(%") {
        let r = rest
            .strip_suffix(')')
            .ok_or_else(|| bad("expected OFF(%REG)"))?;
        if r.contains(',') {
            return Err(bad(
                "indexed addressing (base,index,scale) is not supported",
            ));
        }
        let off = if off.is_empty() {
            0
        } else {
            parse_int(off).ok_or_else(|| bad("bad offset"))?
        };
        (off as u64, ARG_REG_DEREF, reg(r)?)
    } else {
        return Err(bad("expected %REG, OFF(%REG) or $CONST"));
    };
    Ok(ArgSpec {
        val_off,
        arg_type,
        reg_off,
        signed: size < 0,
        bitshift: (64 - bytes * 8) as i8,
    })
}

/// The bytes of `struct __bpf_usdt_spec` for an argument string, in a buffer of
/// `value_size` bytes (the spec map's value size).
pub fn spec_bytes(args: &str, value_size: usize) -> Result<Vec<u8>> {
    if value_size < SPEC_SIZE {
        anyhow::bail!(
            "the program's __bpf_usdt_specs values have {value_size} bytes, fewer than libbpf's struct __bpf_usdt_spec ({SPEC_SIZE})"
        );
    }
    let specs = args
        .split_whitespace()
        .map(parse_arg)
        .collect::<Result<Vec<_>>>()?;
    if specs.len() > MAX_ARGS {
        anyhow::bail!(
            "USDT probe has {} arguments; <bpf/usdt.bpf.h> handles at most {MAX_ARGS}",
            specs.len()
        );
    }
    let mut buf = vec![0u8; value_size];
    for (i, s) in specs.iter().enumerate() {
        let at = i * ARG_SPEC_SIZE;
        buf[at..at + 8].copy_from_slice(&s.val_off.to_le_bytes());
        buf[at + 8..at + 12].copy_from_slice(&s.arg_type.to_le_bytes());
        buf[at + 12..at + 14].copy_from_slice(&s.reg_off.to_le_bytes());
        buf[at + 14] = u8::from(s.signed);
        buf[at + 15] = s.bitshift as u8;
    }
    // usdt_cookie stays 0: `prog attach` has no way to pass one.
    buf[ARG_CNT_AT..ARG_CNT_AT + 2].copy_from_slice(&(specs.len() as i16).to_le_bytes());
    Ok(buf)
}

/// A BPF link running `prog` on perf event `event` with BPF cookie `cookie`.
pub fn perf_link_with_cookie(
    prog: BorrowedFd<'_>,
    event: BorrowedFd<'_>,
    cookie: u64,
) -> io::Result<OwnedFd> {
    // SAFETY: bpf_link_create_opts is plain data; all-zero is its default.
    let mut opts: libbpf_sys::bpf_link_create_opts = unsafe { std::mem::zeroed() };
    opts.sz = std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as _;
    opts.__bindgen_anon_1.perf_event.bpf_cookie = cookie;
    // SAFETY: both fds are live and `opts` is initialised with its size for the call.
    let fd = unsafe {
        libbpf_sys::bpf_link_create(
            prog.as_raw_fd(),
            event.as_raw_fd(),
            libbpf_sys::BPF_PERF_EVENT,
            &opts,
        )
    };
    if fd < 0 {
        return Err(errno(fd));
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// One uprobe_multi link (BPF_TRACE_UPROBE_MULTI) running `prog` at the file offsets
/// `sites` of `path` as (offset, semaphore offset, cookie), for `pid` or every process.
/// This is how libbpf attaches USDT programs when the kernel has uprobe_multi links, and
/// then loads SEC("usdt") programs for that attach type, which perf links refuse.
pub fn uprobe_multi_link(
    prog: BorrowedFd<'_>,
    path: &Path,
    sites: &[(u64, u64, u64)],
    pid: Option<i32>,
) -> io::Result<OwnedFd> {
    let cpath = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let offsets: Vec<libc::c_ulong> = sites.iter().map(|s| s.0 as libc::c_ulong).collect();
    let ref_ctrs: Vec<libc::c_ulong> = sites.iter().map(|s| s.1 as libc::c_ulong).collect();
    let cookies: Vec<u64> = sites.iter().map(|s| s.2).collect();
    // SAFETY: bpf_link_create_opts is plain data; all-zero is its default.
    let mut opts: libbpf_sys::bpf_link_create_opts = unsafe { std::mem::zeroed() };
    opts.sz = std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as _;
    opts.__bindgen_anon_1.uprobe_multi =
        libbpf_sys::bpf_link_create_opts__bindgen_ty_1__bindgen_ty_3 {
            flags: 0,
            cnt: sites.len() as u32,
            path: cpath.as_ptr(),
            offsets: offsets.as_ptr(),
            ref_ctr_offsets: if sites.iter().any(|s| s.1 != 0) {
                ref_ctrs.as_ptr()
            } else {
                std::ptr::null()
            },
            cookies: cookies.as_ptr(),
            pid: pid.map_or(0, |p| p as u32),
            __bindgen_padding_0: [0; 4],
        };
    // SAFETY: `prog` is live; `opts` is initialised with its size, and the path, offset,
    // ref_ctr and cookie arrays it points at hold `cnt` entries and outlive the call.
    let fd = unsafe {
        libbpf_sys::bpf_link_create(
            prog.as_raw_fd(),
            0,
            libbpf_sys::BPF_TRACE_UPROBE_MULTI,
            &opts,
        )
    };
    if fd < 0 {
        return Err(errno(fd));
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_parse_like_libbpf() {
        let a = parse_arg("-4@%edi").unwrap();
        assert_eq!(
            a,
            ArgSpec {
                val_off: 0,
                arg_type: ARG_REG,
                reg_off: 112,
                signed: true,
                bitshift: 32
            }
        );
        let b = parse_arg("8@-16(%rbp)").unwrap();
        assert_eq!(
            (b.val_off as i64, b.arg_type, b.reg_off),
            (-16, ARG_REG_DEREF, 32)
        );
        assert!(!b.signed);
        assert_eq!(b.bitshift, 0);
        let c = parse_arg("-1@$-5").unwrap();
        assert_eq!(
            (c.val_off as i64, c.arg_type, c.bitshift),
            (-5, ARG_CONST, 56)
        );
        assert_eq!(parse_arg("2@(%r12)").unwrap().reg_off, 24);
        assert_eq!(parse_arg("8@%r9").unwrap().reg_off, 64);
        assert_eq!(parse_arg("4@%r10d").unwrap().reg_off, 56);
        for bad in [
            "%edi",
            "3@%edi",
            "4@%xmm0",
            "8@(%rax,%rdx,8)",
            "4@edi",
            "x@%edi",
        ] {
            assert!(parse_arg(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spec_layout_matches_usdt_bpf_h() {
        let b = spec_bytes("-4@%edi 8@-16(%rbp)", 208).unwrap();
        assert_eq!(b.len(), 208);
        assert_eq!(&b[8..12], &1u32.to_le_bytes());
        assert_eq!(&b[12..14], &112i16.to_le_bytes());
        assert_eq!((b[14], b[15]), (1, 32));
        assert_eq!(&b[16..24], &(-16i64).to_le_bytes());
        assert_eq!(&b[24..28], &2u32.to_le_bytes());
        assert_eq!(&b[200..202], &2i16.to_le_bytes());
        assert!(spec_bytes("", 100).is_err());
    }

    #[test]
    fn notes_parse() {
        let mut raw = Vec::new();
        let mut desc = Vec::new();
        for v in [0x1130u64, 0x2000, 0] {
            desc.extend_from_slice(&v.to_le_bytes());
        }
        desc.extend_from_slice(b"prov\0hit\0-4@%edi\0");
        raw.extend_from_slice(&8u32.to_le_bytes());
        raw.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        raw.extend_from_slice(&3u32.to_le_bytes());
        raw.extend_from_slice(b"stapsdt\0");
        raw.extend_from_slice(&desc);
        while raw.len() % 4 != 0 {
            raw.push(0);
        }
        let notes = parse_notes(&raw);
        assert_eq!(notes.len(), 1);
        let n = notes[0].as_ref().unwrap();
        assert_eq!((n.loc, n.base, n.sema), (0x1130, 0x2000, 0));
        assert_eq!((n.provider.as_str(), n.name.as_str()), ("prov", "hit"));
        assert_eq!(n.args, "-4@%edi");
        assert!(parse_notes(&raw[..raw.len() - 8])[0].is_err());
    }
}
