// Reading a raw BTF blob (header, type section, string section) into the `Btf` model, for a
// base BTF or a split BTF on top of its base; every offset and count is checked.

use anyhow::{bail, Context, Result};

use super::{check, Btf, Composite, DatasecVar, Enum, Int, Member, Name, Param, Type, BTF_MAGIC};

/// The most types rbt reads from one blob (vmlinux has about 150,000).
const MAX_TYPES: usize = 4_000_000;

fn rd32(b: &[u8], at: usize) -> Result<u32> {
    let s = at
        .checked_add(4)
        .and_then(|end| b.get(at..end))
        .with_context(|| format!("BTF truncated at byte {at}"))?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn name_at(strings: &[u8], off: u32) -> Name {
    let Some(rest) = strings.get(off as usize..) else {
        return Name::default();
    };
    let bytes = match std::ffi::CStr::from_bytes_until_nul(rest) {
        Ok(c) => c.to_bytes(),
        Err(_) => rest,
    };
    match std::str::from_utf8(bytes) {
        Ok(s) => Name::new(s),
        Err(_) => Name::from_utf8_lossy(bytes),
    }
}

/// The type and string sections of a blob, bounds-checked against the header.
fn sections(raw: &[u8]) -> Result<(&[u8], &[u8])> {
    if raw.len() < 24 {
        bail!("BTF blob too short ({} bytes)", raw.len());
    }
    let magic = u16::from_le_bytes([raw[0], raw[1]]);
    if magic != BTF_MAGIC {
        bail!("not a BTF blob (magic {magic:#06x})");
    }
    let hdr_len = rd32(raw, 4)? as usize;
    if hdr_len < 24 || hdr_len > raw.len() {
        bail!("BTF header length {hdr_len} is out of bounds");
    }
    let section = |off_at: usize, len_at: usize, what: &str| -> Result<&[u8]> {
        let off = rd32(raw, off_at)? as usize;
        let len = rd32(raw, len_at)? as usize;
        let start = hdr_len + off;
        raw.get(start..start + len).with_context(|| {
            format!(
                "BTF {what} section ({len} bytes at {start}) is out of bounds of the {}-byte blob",
                raw.len()
            )
        })
    };
    Ok((section(8, 12, "type")?, section(16, 20, "string")?))
}

impl Btf {
    /// Parse a raw BTF blob (little-endian, as the kernel and libbpf hand it out).
    pub fn from_raw(raw: &[u8]) -> Result<Btf> {
        let (types_bytes, strings) = sections(raw)?;
        let btf = Btf {
            types: vec![Type::Void],
            strings: strings.to_vec(),
            start_id: 1,
        };
        btf.read_types(types_bytes)
    }

    /// Parse a split BTF blob (a kernel module's) on top of `base` (vmlinux): its type ids
    /// and string offsets continue the base's.
    pub fn from_raw_split(raw: &[u8], base: &Btf) -> Result<Btf> {
        let (types_bytes, strings) = sections(raw)?;
        let mut all = base.strings.clone();
        all.extend_from_slice(strings);
        let btf = Btf {
            types: base.types.clone(),
            strings: all,
            start_id: base.types.len() as u32,
        };
        btf.read_types(types_bytes)
    }

    fn read_types(mut self, types_bytes: &[u8]) -> Result<Btf> {
        let mut at = 0usize;
        while at < types_bytes.len() {
            if self.types.len() >= MAX_TYPES {
                bail!("BTF has more than {MAX_TYPES} types");
            }
            let (ty, used) = parse_type(types_bytes, at, &self.strings)
                .with_context(|| format!("BTF type id {}", self.types.len()))?;
            self.types.push(ty);
            at += used;
        }
        check::validate(&self)?;
        Ok(self.link_datasecs())
    }

    /// Fill in the names and types of DATASEC variables (they point at VAR types that may
    /// come later in the blob).
    fn link_datasecs(mut self) -> Btf {
        let start = self.start_id as usize;
        let vars: Vec<(usize, Vec<(Name, u32)>)> = self
            .types
            .iter()
            .enumerate()
            .skip(start)
            .filter_map(|(i, t)| match t {
                Type::Datasec { vars, .. } => Some((
                    i,
                    vars.iter()
                        .map(|v| match self.types.get(v.var as usize) {
                            Some(Type::Var { name, target, .. }) => (name.clone(), *target),
                            _ => (Name::default(), 0),
                        })
                        .collect(),
                )),
                _ => None,
            })
            .collect();
        for (i, named) in vars {
            if let Some(Type::Datasec { vars, .. }) = self.types.get_mut(i) {
                for (v, (name, ty)) in vars.iter_mut().zip(named) {
                    v.name = name;
                    v.ty = ty;
                }
            }
        }
        self
    }
}

fn parse_type(b: &[u8], at: usize, strings: &[u8]) -> Result<(Type, usize)> {
    let name = name_at(strings, rd32(b, at)?);
    let info = rd32(b, at + 4)?;
    let size_or_type = rd32(b, at + 8)?;
    let vlen = (info & 0xffff) as usize;
    let kind = (info >> 24) & 0x1f;
    let kflag = info >> 31 == 1;
    let x = at + 12;
    // Every vlen entry is checked against the section before anything is allocated.
    let entries = |each: usize| -> Result<usize> {
        let used = 12 + vlen * each;
        if at + used > b.len() {
            bail!("{vlen} entries of {each} bytes run past the end of the type section");
        }
        Ok(used)
    };
    Ok(match kind {
        1 => {
            let enc = rd32(b, x)?;
            let e = (enc >> 24) & 0x0f;
            (
                Type::Int(Int {
                    name,
                    size: size_or_type,
                    signed: e & 1 != 0,
                    char: e & 2 != 0,
                    bool: e & 4 != 0,
                    bit_offset: (enc >> 16) & 0xff,
                    bits: enc & 0xff,
                }),
                16,
            )
        }
        2 => (
            Type::Ptr {
                target: size_or_type,
            },
            12,
        ),
        3 => (
            Type::Array {
                elem: rd32(b, x)?,
                index: rd32(b, x + 4)?,
                len: rd32(b, x + 8)?,
            },
            24,
        ),
        4 | 5 => {
            let used = entries(12)?;
            let mut members = Vec::with_capacity(vlen);
            for i in 0..vlen {
                let m = x + i * 12;
                let off = rd32(b, m + 8)?;
                let (bit_offset, bitfield) = if kflag {
                    (off & 0xff_ffff, off >> 24)
                } else {
                    (off, 0)
                };
                members.push(Member {
                    name: name_at(strings, rd32(b, m)?),
                    ty: rd32(b, m + 4)?,
                    bit_offset,
                    bitfield,
                });
            }
            let c = Composite {
                name,
                size: size_or_type,
                members,
            };
            let t = if kind == 4 {
                Type::Struct(c)
            } else {
                Type::Union(c)
            };
            (t, used)
        }
        6 | 19 => {
            let each = if kind == 6 { 8 } else { 12 };
            let used = entries(each)?;
            let mut values = Vec::with_capacity(vlen);
            for i in 0..vlen {
                let m = x + i * each;
                let lo = rd32(b, m + 4)?;
                let v = if kind == 19 {
                    let hi = rd32(b, m + 8)? as u64;
                    ((hi << 32) | lo as u64) as i64
                } else if kflag {
                    lo as i32 as i64
                } else {
                    lo as i64
                };
                values.push((name_at(strings, rd32(b, m)?), v));
            }
            let e = Enum {
                name,
                size: size_or_type,
                signed: kflag,
                is64: kind == 19,
                values,
            };
            (Type::Enum(e), used)
        }
        7 => (Type::Fwd { name, union: kflag }, 12),
        8 => (
            Type::Typedef {
                name,
                target: size_or_type,
            },
            12,
        ),
        9 => (
            Type::Volatile {
                target: size_or_type,
            },
            12,
        ),
        10 => (
            Type::Const {
                target: size_or_type,
            },
            12,
        ),
        11 => (
            Type::Restrict {
                target: size_or_type,
            },
            12,
        ),
        12 => (
            Type::Func {
                name,
                proto: size_or_type,
                linkage: vlen as u32,
            },
            12,
        ),
        13 => {
            let used = entries(8)?;
            let mut params = Vec::with_capacity(vlen);
            for i in 0..vlen {
                let m = x + i * 8;
                params.push(Param {
                    name: name_at(strings, rd32(b, m)?),
                    ty: rd32(b, m + 4)?,
                });
            }
            let t = Type::FuncProto {
                ret: size_or_type,
                params,
            };
            (t, used)
        }
        14 => (
            Type::Var {
                name,
                target: size_or_type,
                linkage: rd32(b, x)?,
            },
            16,
        ),
        15 => {
            let used = entries(12)?;
            let mut vars = Vec::with_capacity(vlen);
            for i in 0..vlen {
                let m = x + i * 12;
                vars.push(DatasecVar {
                    var: rd32(b, m)?,
                    name: Name::default(),
                    ty: 0,
                    offset: rd32(b, m + 4)?,
                    size: rd32(b, m + 8)?,
                });
            }
            let t = Type::Datasec {
                name,
                size: size_or_type,
                vars,
            };
            (t, used)
        }
        16 => (
            Type::Float {
                name,
                size: size_or_type,
            },
            12,
        ),
        17 => (
            Type::DeclTag {
                name,
                target: size_or_type,
                component_idx: rd32(b, x)? as i32,
            },
            16,
        ),
        18 => (
            Type::TypeTag {
                name,
                target: size_or_type,
            },
            12,
        ),
        k => bail!("unknown BTF kind {k}"),
    })
}

/// The largest BTF file rbt reads (vmlinux's is about 6 MiB).
const MAX_FILE: u64 = 512 << 20;

/// The raw BTF of a file: a raw blob (/sys/kernel/btf/*), or the .BTF section of an ELF
/// object (a BPF object, a vmlinux or a module .ko).
pub fn raw_from_path(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut data = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    if data.len() as u64 > MAX_FILE {
        bail!("{}: larger than {} MiB", path.display(), MAX_FILE >> 20);
    }
    if data.get(..2) == Some(&BTF_MAGIC.to_le_bytes()[..]) {
        return Ok(data);
    }
    if data.get(..4) != Some(b"\x7fELF") {
        bail!("{}: neither a raw BTF blob nor an ELF file", path.display());
    }
    use object::{Object, ObjectSection};
    let elf = object::File::parse(&*data)
        .with_context(|| format!("{}: not a valid ELF file", path.display()))?;
    let section = elf
        .section_by_name(".BTF")
        .with_context(|| format!("{}: has no .BTF section", path.display()))?;
    let bytes = section
        .data()
        .with_context(|| format!("{}: cannot read its .BTF section", path.display()))?;
    Ok(bytes.to_vec())
}

/// A blob's type records as bytes (record i is type id i + 1) and its string section, for
/// `write::Writer` to extend.
pub(crate) fn records(raw: &[u8]) -> Result<(Vec<Vec<u8>>, Vec<u8>)> {
    let (types_bytes, strings) = sections(raw)?;
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < types_bytes.len() {
        if out.len() >= MAX_TYPES {
            bail!("BTF has more than {MAX_TYPES} types");
        }
        let (_, used) = parse_type(types_bytes, at, strings)
            .with_context(|| format!("BTF type id {}", out.len() + 1))?;
        out.push(types_bytes[at..at + used].to_vec());
        at += used;
    }
    Ok((out, strings.to_vec()))
}
