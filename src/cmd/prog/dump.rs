// `prog dump xlated|jited PROG [file FILE | opcodes | linum | visual]`: the words, the raw
// image to FILE, and the translated instructions as bpftool prints them (plain, JSON, DOT).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::bpf::kallsyms::Kallsyms;
use crate::bpf::prog_image::{self, Code, LineInfo, ProgImage};
use crate::bpf::{self, Kind};
use crate::btf::Btf;
use crate::error::usage;
use crate::grammar::{self, words::DumpCode};
use crate::handle;
use crate::insn::{self, cfg, Insn, Names};
use crate::output::{Listing, Output};

/// What the words after `prog dump` ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DumpOptions {
    pub code: DumpCode,
    pub file: Option<std::path::PathBuf>,
    pub opcodes: bool,
    pub linum: bool,
    pub visual: bool,
}

fn parse_options(m: &grammar::Matches) -> Result<DumpOptions> {
    let code = m
        .choice::<DumpCode>("CODE")?
        .ok_or_else(|| usage("prog dump: expected `xlated` or `jited`"))?;
    let o = DumpOptions {
        code,
        file: m.path("file"),
        opcodes: m.has("opcodes"),
        linum: m.has("linum"),
        visual: m.has("visual"),
    };
    if o.file.is_some() && (o.opcodes || o.linum || o.visual) {
        return Err(usage(
            "`file FILE` writes the raw image and takes no other option (opcodes, linum, visual)",
        ));
    }
    if o.visual && o.code == DumpCode::Jited {
        return Err(usage(
            "`visual` draws translated instructions: `prog dump xlated PROG visual`",
        ));
    }
    Ok(o)
}

pub fn dump(words: &[String], out: &mut Output) -> Result<()> {
    let m = grammar::parse("prog", "dump", words)?;
    let opts = parse_options(&m)?;
    let handle = m
        .handle("PROG")?
        .ok_or_else(|| usage("prog dump: expected PROG"))?;
    let jited = opts.code == DumpCode::Jited;
    if jited && opts.file.is_none() && !cfg!(target_arch = "x86_64") {
        return Err(crate::error::hinted(
            format!(
                "disassembling JITed code is only supported on x86-64 (this host is {})",
                std::env::consts::ARCH
            ),
            "`rbt prog dump jited PROG file FILE` writes the raw image for another disassembler",
        ));
    }
    // `name` and `tag` may match several programs: bpftool dumps each (a JSON array of
    // the dumps); a file or a graph is of one program.
    let progs = if opts.file.is_some() || opts.visual {
        vec![handle::resolve_one(Kind::Prog, &handle)?]
    } else {
        handle::resolve_all(Kind::Prog, &handle)?
    };
    let which = if jited { Code::Jited } else { Code::Xlated };
    let mut images = Vec::with_capacity(progs.len());
    for prog in &progs {
        let fd = prog.fd.as_fd();
        let read = prog_image::read(fd, which).and_then(|image| Ok((image, bpf::prog::info(fd)?)));
        images.push(read.with_context(|| format!("program {}", prog.id))?);
    }
    if let [(image, _)] = images.as_slice() {
        return dump_one(image, &opts, out);
    }
    // Several programs: each behind bpftool's header line, or in bpftool's JSON object.
    if !out.is_json() {
        for (k, (image, info)) in images.iter().enumerate() {
            if k > 0 {
                out.raw(b"\n")?;
            }
            let gpl = if info.gpl_compatible { "  gpl" } else { "" };
            let head = format!(
                "{}: {}  name {}  tag {}{gpl}\n",
                info.id,
                info.type_name,
                info.name,
                crate::hex::compact(&info.tag)
            );
            out.raw(head.as_bytes())?;
            dump_one(image, &opts, out)?;
        }
        return Ok(());
    }
    let mut all = Vec::with_capacity(images.len());
    for (image, info) in &images {
        let btf = load_btf(image, opts.linum, out);
        let insns = if jited {
            serde_json::to_value(super::jited::listing(image, btf.as_ref(), &opts)?)?
        } else {
            let decoded = decode(&image.code);
            let records: Vec<XlatedInsn> = xlated(image, &decoded, btf.as_ref(), &opts).collect();
            serde_json::to_value(records)?
        };
        all.push(ProgDump {
            id: info.id,
            prog_type: info.type_name.clone(),
            name: info.name.clone(),
            tag: crate::hex::compact(&info.tag),
            gpl_compatible: info.gpl_compatible,
            insns,
        });
    }
    Ok(out.json(&all)?)
}

/// One of several dumps in JSON: bpftool's program header and the listing as `insns`.
#[derive(Debug, Serialize)]
struct ProgDump {
    id: u32,
    #[serde(rename = "type")]
    prog_type: String,
    name: String,
    tag: String,
    gpl_compatible: bool,
    insns: serde_json::Value,
}

/// One program's dump: the raw image to FILE, the DOT graph, or the listing.
fn dump_one(image: &ProgImage, opts: &DumpOptions, out: &mut Output) -> Result<()> {
    if let Some(path) = &opts.file {
        write_new_file(path, &image.code)?;
        out.done(None)?;
        return Ok(());
    }
    let btf = load_btf(image, opts.linum, out);
    if opts.code == DumpCode::Jited {
        let funcs = super::jited::listing(image, btf.as_ref(), opts)?;
        return Ok(out.listing(funcs)?);
    }
    let insns = decode(&image.code);
    let records = xlated(image, &insns, btf.as_ref(), opts);
    if opts.visual && !out.is_json() {
        let records: Vec<XlatedInsn> = records.collect();
        let dot = visual(image, &insns, &records, btf.as_ref());
        return Ok(out.raw(dot.as_bytes())?);
    }
    Ok(out.listing(records)?)
}

/// The program's BTF, for source lines and function signatures; a program without BTF
/// is dumped without them (a note on stderr when `linum` asked for line numbers).
fn load_btf(image: &ProgImage, linum: bool, out: &mut Output) -> Option<Btf> {
    if image.btf_id == 0 {
        if linum {
            out.warn(&format!(
                "program {} has no BTF: no source lines to number",
                image.id
            ));
        }
        return None;
    }
    match Btf::from_kernel_id(image.btf_id) {
        Ok(b) => Some(b),
        Err(e) => {
            out.warn(&format!(
                "program {}: {e:#}; dumping without source lines",
                image.id
            ));
            None
        }
    }
}

/// Write `bytes` to a new file at `path` through a temporary name in the same directory,
/// so a failure leaves nothing at `path` (and no temporary file).
fn write_new_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| usage(format!("file `{}`: not a file name", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.rbt-{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("writing {}", path.display()));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// All instructions of an xlated image.
pub(super) fn decode(code: &[u8]) -> Vec<Insn> {
    (0..code.len() / insn::INSN_SIZE)
        .filter_map(|i| Insn::at(code, i))
        .collect()
}

/// One translated instruction as bpftool prints it: its function's signature when a
/// function starts here, the source line from line_info, the disassembly, the opcodes.
#[derive(Debug, Serialize)]
pub struct XlatedInsn {
    #[serde(skip)]
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
    #[serde(flatten)]
    pub line: Option<SourceLine>,
    pub disasm: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opcodes: Option<Opcodes>,
    /// rbt: the map a 64-bit load refers to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map: Option<MapRef>,
    /// The instruction's bytes (16 for a 64-bit load), for the plain `opcodes` line.
    #[serde(skip)]
    pub bytes: Opcodes,
}

/// A line_info record as bpftool shows it (file and numbers only with `linum`).
#[derive(Debug, Clone, Serialize)]
pub struct SourceLine {
    pub src: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_num: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_col: Option<u32>,
}

impl SourceLine {
    pub fn new(btf: &Btf, l: &LineInfo, linum: bool) -> SourceLine {
        let src = btf
            .string_at(l.line_off)
            .unwrap_or("")
            .trim_start()
            .to_owned();
        let (file, line_num, line_col) = if linum {
            (
                Some(btf.string_at(l.file_name_off).unwrap_or("").to_owned()),
                (l.line() != 0).then_some(l.line()),
                (l.col() != 0).then_some(l.col()),
            )
        } else {
            (None, None, None)
        };
        SourceLine {
            src,
            file,
            line_num,
            line_col,
        }
    }

    /// bpftool's `; <source>` line (also for an empty source line, as bpftool 7.1).
    pub fn text(&self, out: &mut String) {
        match &self.file {
            Some(file) => {
                let _ = writeln!(
                    out,
                    "; {} [file:{} line_num:{} line_col:{}]",
                    self.src,
                    file,
                    self.line_num.unwrap_or(0),
                    self.line_col.unwrap_or(0)
                );
            }
            None => {
                let _ = writeln!(out, "; {}", self.src);
            }
        }
    }
}

/// bpftool's `opcodes` object (`code`, `src_reg`, `dst_reg` hex strings, `off` and `imm`
/// arrays of hex bytes), made from the instruction's bytes only when serialized.
#[derive(Debug, Clone, Copy)]
pub struct Opcodes {
    bytes: [u8; 16],
    len: usize,
}

impl Serialize for Opcodes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let b = &self.bytes;
        let mut m = s.serialize_map(Some(5))?;
        // Registers are one hex digit ("0x5"); the rest bpftool's "0xab" byte strings.
        const NIBBLE: [&str; 16] = [
            "0x0", "0x1", "0x2", "0x3", "0x4", "0x5", "0x6", "0x7", "0x8", "0x9", "0xa", "0xb",
            "0xc", "0xd", "0xe", "0xf",
        ];
        m.serialize_entry("code", crate::hex::Byte0x::new(b[0]).as_str())?;
        m.serialize_entry("src_reg", NIBBLE[(b[1] >> 4) as usize])?;
        m.serialize_entry("dst_reg", NIBBLE[(b[1] & 0x0f) as usize])?;
        m.serialize_entry("off", &crate::hex::ByteArray(&b[2..4]))?;
        let imm_end = if self.len > 8 { 16 } else { 8 };
        m.serialize_entry("imm", &crate::hex::ByteArray(&b[4..imm_end]))?;
        m.end()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MapRef {
    pub id: u32,
    pub name: String,
}

impl Listing for XlatedInsn {
    fn text(&self, out: &mut String) {
        if let Some(proto) = &self.proto {
            let _ = writeln!(out, "{proto}:");
        }
        if let Some(line) = &self.line {
            line.text(out);
        }
        let _ = write!(out, "{:>4}: {}", format!(" {}", self.index), self.disasm);
        if let Some(map) = &self.map {
            let _ = write!(out, "  // {}", map.name);
        }
        out.push('\n');
        if self.opcodes.is_some() {
            out.push_str("       ");
            let b = &self.bytes;
            hex_bytes(&b.bytes[..8], out);
            if b.len > 8 {
                out.push(' ');
                hex_bytes(&b.bytes[8..16], out);
            }
            out.push('\n');
        }
    }
}

/// bpftool's fprint_hex: bytes in hex, one space apart.
fn hex_bytes(bytes: &[u8], out: &mut String) {
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0x0f) as usize] as char);
    }
}

/// Names calls and maps the way bpftool does: helpers and kfuncs by kernel symbol,
/// subprogram calls by their JITed symbol, maps by id (and rbt adds the map's name).
pub(super) struct DumpNames<'a> {
    kallsyms: Option<Kallsyms>,
    jited_ksyms: &'a [u64],
    map_names: HashMap<u32, String>,
    /// The map the last 64-bit load referred to.
    last_map: Option<MapRef>,
}

impl<'a> DumpNames<'a> {
    pub fn new(jited_ksyms: &'a [u64]) -> Self {
        DumpNames {
            kallsyms: None,
            jited_ksyms,
            map_names: HashMap::new(),
            last_map: None,
        }
    }

    pub fn kallsyms(&mut self) -> &Kallsyms {
        self.kallsyms
            .get_or_insert_with(|| Kallsyms::load().unwrap_or_default())
    }

    fn map_name(&mut self, id: u32) -> String {
        self.map_names
            .entry(id)
            .or_insert_with(|| {
                bpf::fd_by_id(Kind::Map, id)
                    .and_then(|fd| bpf::map::info(fd.as_fd()))
                    .map(|i| i.name)
                    .unwrap_or_default()
            })
            .clone()
    }
}

impl Names for DumpNames<'_> {
    fn call(&mut self, insn: &Insn) -> Option<String> {
        let n_ksyms = self.jited_ksyms.len();
        let subprog = insn.src == insn::PSEUDO_CALL;
        let mut addr = self
            .kallsyms()
            .call_base
            .wrapping_add(insn.imm as i64 as u64);
        if subprog && (insn.imm as u32 as usize) < n_ksyms {
            addr = self.jited_ksyms[insn.imm as u32 as usize];
        }
        let sym = self.kallsyms().name(addr).map(str::to_owned);
        Some(match (subprog, sym) {
            // The kernel keeps a JITed subprogram call's relative offset in `off`.
            (true, _) if n_ksyms == 0 => format!("{:+}", insn.off),
            (true, Some(s)) => format!("{:+}#{s}", insn.off),
            (true, None) => format!("{:+}#{addr:#x}", insn.off),
            (false, Some(s)) => s,
            (false, None) => format!("{addr:#x}"),
        })
    }

    fn imm64(&mut self, insn: &Insn, next: &Insn, full: u64) -> String {
        if matches!(insn.src, insn::PSEUDO_MAP_FD | insn::PSEUDO_MAP_VALUE) {
            let id = insn.imm as u32;
            let name = self.map_name(id);
            self.last_map = (!name.is_empty()).then_some(MapRef { id, name });
        }
        insn::default_imm64(insn, next, full)
    }
}

/// bpftool's bpf_prog_linfo__lfind: the line_info record for instruction `i`, looking
/// from the `nr_skip`-th record on (records already printed are skipped).
pub(super) fn lfind(lines: &[LineInfo], i: u32, nr_skip: usize) -> Option<&LineInfo> {
    let rest = lines.get(nr_skip..)?;
    if rest.first().is_none_or(|l| i < l.insn_off) {
        return None;
    }
    let n = rest.iter().take_while(|l| i >= l.insn_off).count();
    rest.get(n - 1)
}

/// The records of an xlated dump, with bpftool's rules for signatures and source lines.
/// Made one at a time, so a big program streams out in bounded memory.
fn xlated<'a>(
    image: &'a ProgImage,
    insns: &'a [Insn],
    btf: Option<&'a Btf>,
    o: &'a DumpOptions,
) -> impl Iterator<Item = XlatedInsn> + 'a {
    let mut names = DumpNames::new(&image.jited_ksyms);
    let mut funcs = image.func_info.iter().peekable();
    let mut nr_skip = 0usize;
    let mut i = 0usize;
    std::iter::from_fn(move || {
        let insn = insns.get(i)?;
        let next = insns.get(i + 1);
        let double = insn.is_ld_imm64();
        let mut proto = None;
        if let Some(btf) = btf {
            if let Some(f) = funcs.next_if(|f| f.insn_off as usize == i) {
                proto = btf.func_signature(f.type_id).filter(|s| !s.is_empty());
            }
        }
        let line = match btf {
            Some(btf) => lfind(&image.line_info, i as u32, nr_skip).map(|l| {
                nr_skip += 1;
                SourceLine::new(btf, l, o.linum)
            }),
            None => None,
        };
        let mut disasm = String::new();
        names.last_map = None;
        insn::disasm(insn, next, &mut names, &mut disasm);
        let width = if double && next.is_some() { 2 } else { 1 };
        let mut bytes = Opcodes {
            bytes: [0; 16],
            len: width * 8,
        };
        bytes.bytes[..width * 8].copy_from_slice(&image.code[i * 8..(i + width) * 8]);
        let opcodes = o.opcodes.then_some(bytes);
        let record = XlatedInsn {
            index: i,
            proto,
            line,
            disasm,
            opcodes,
            map: names.last_map.take(),
            bytes,
        };
        i += if double { 2 } else { 1 };
        Some(record)
    })
}

/// The DOT graph of `visual`: functions from func_info (or the whole program as one).
fn visual(image: &ProgImage, insns: &[Insn], records: &[XlatedInsn], btf: Option<&Btf>) -> String {
    let mut lines = vec![String::new(); insns.len()];
    for r in records {
        let mut text = String::new();
        if let Some(line) = &r.line {
            line.text(&mut text);
        }
        let _ = write!(text, "{:>4}: {}", format!(" {}", r.index), r.disasm);
        lines[r.index] = text;
    }
    let mut starts: Vec<(usize, String)> = image
        .func_info
        .iter()
        .map(|f| {
            let name = btf
                .and_then(|b| b.func_signature(f.type_id))
                .unwrap_or_default();
            (f.insn_off as usize, name)
        })
        .collect();
    if starts.first().is_none_or(|s| s.0 != 0) {
        starts.insert(0, (0, String::new()));
    }
    let funcs: Vec<cfg::Func<'_>> = starts
        .iter()
        .enumerate()
        .map(|(k, (start, name))| cfg::Func {
            name,
            start: *start,
            end: starts.get(k + 1).map_or(insns.len(), |s| s.0),
        })
        .collect();
    cfg::dot(insns, &funcs, &lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(line: &str) -> Result<DumpOptions> {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse_options(&grammar::parse("prog", "dump", &words)?)
    }

    #[test]
    fn options_parse_and_conflicts_are_usage_errors() {
        let o = opts("xlated id 1 opcodes linum visual").ok();
        assert!(o.is_some_and(|o| o.opcodes && o.linum && o.visual));
        let o = opts("jited id 1 file /tmp/x").ok();
        assert!(o.is_some_and(|o| o.code == DumpCode::Jited && o.file.is_some()));
        for bad in [
            "jited id 1 visual",
            "xlated id 1 file /tmp/x opcodes",
            "xlated id 1 bogus",
            "sideways id 1",
            "xlated",
            "xlated id 1 file",
        ] {
            let err = opts(bad).err();
            assert_eq!(err.map(|e| crate::error::exit_code(&e)), Some(2), "{bad}");
        }
    }

    fn li(insn_off: u32) -> LineInfo {
        LineInfo {
            insn_off,
            ..Default::default()
        }
    }

    #[test]
    fn lfind_follows_bpftool() {
        let lines = [li(0), li(3), li(5)];
        assert_eq!(lfind(&lines, 0, 0).map(|l| l.insn_off), Some(0));
        assert!(lfind(&lines, 1, 1).is_none());
        assert_eq!(lfind(&lines, 4, 1).map(|l| l.insn_off), Some(3));
        assert_eq!(lfind(&lines, 9, 2).map(|l| l.insn_off), Some(5));
        assert!(lfind(&lines, 9, 3).is_none());
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().ok();
        let Some(dir) = dir else { return };
        let missing = dir.path().join("no/such/dir/out.bin");
        assert!(write_new_file(&missing, b"x").is_err());
        let ok = dir.path().join("out.bin");
        assert!(write_new_file(&ok, b"abc").is_ok());
        assert_eq!(std::fs::read(&ok).ok(), Some(b"abc".to_vec()));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        assert_eq!(names.len(), 1);
    }
}
