// Typed data: a safe, owned model of a BTF blob (types and names), and the conversions
// between a BTF type's bytes and JSON (`format`: bytes -> JSON, `parse`: JSON/text -> bytes).
//
// STABLE API (used by `map`, `prog show` metadata and `perf events --type`):
//   crate::btf::Btf::from_kernel_id(btf_id) -> Result<Btf>   BTF the kernel holds (map/prog btf_id)
//   crate::btf::Btf::from_elf(path) -> Result<Btf>           the .BTF of an object file
//   crate::btf::Btf::from_raw(bytes) -> Result<Btf>          a raw BTF blob (header + types + strings)
//   btf.find_by_name(name) -> Option<u32>                    first type with that name (not a func)
//   btf.size_of(type_id) -> Result<usize>                    byte size of a type
//   btf.type_name(type_id) -> String                         C-like spelling, for messages
//   btf.datasec_vars(type_id) -> Vec<DatasecVar>             the variables of a DATASEC (.rodata ...)
//   crate::btf::format::to_json(&btf, type_id, bytes) -> Result<serde_json::Value>
//   crate::btf::format::Typed::new(&btf, type_id, bytes)     a `Serialize` view, no allocation
//   crate::btf::parse::from_json(&btf, type_id, &value) -> Result<Vec<u8>>
//   crate::btf::parse::from_text(&btf, type_id, text) -> Result<Vec<u8>> (JSON, or a bare string)

// Until every caller is merged, parts of the API have no user in some branches.
#![allow(dead_code)]

pub mod codec;
pub mod format;
pub mod func;
pub mod parse;

use std::path::Path;

use anyhow::{bail, Context, Result};

const BTF_MAGIC: u16 = 0xeb9f;

/// What a BTF type is, with the fields rbt needs (names resolved to owned strings).
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::enum_variant_names)] // TypeTag is BTF's own name
pub enum Type {
    Void,
    Int(Int),
    Ptr {
        target: u32,
    },
    Array {
        elem: u32,
        index: u32,
        len: u32,
    },
    Struct(Composite),
    Union(Composite),
    Enum(Enum),
    Fwd {
        name: String,
    },
    Typedef {
        name: String,
        target: u32,
    },
    Volatile {
        target: u32,
    },
    Const {
        target: u32,
    },
    Restrict {
        target: u32,
    },
    Func {
        name: String,
        proto: u32,
    },
    FuncProto,
    Var {
        name: String,
        target: u32,
    },
    Datasec {
        name: String,
        size: u32,
        vars: Vec<DatasecVar>,
    },
    Float {
        name: String,
        size: u32,
    },
    DeclTag {
        target: u32,
    },
    TypeTag {
        target: u32,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Int {
    pub name: String,
    /// Byte size of the storage.
    pub size: u32,
    pub signed: bool,
    pub char: bool,
    pub bool: bool,
    /// Bit offset inside the storage and number of bits (usually 0 and size*8).
    pub bit_offset: u32,
    pub bits: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub name: String,
    pub ty: u32,
    /// Offset from the start of the struct, in bits.
    pub bit_offset: u32,
    /// Bitfield width in bits; 0 for a normal member.
    pub bitfield: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Composite {
    pub name: String,
    pub size: u32,
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Enum {
    pub name: String,
    pub size: u32,
    pub signed: bool,
    /// Enumerators; values are stored as the 64-bit pattern (sign-extended for signed).
    pub values: Vec<(String, i64)>,
}

/// One variable of a DATASEC: its VAR type id, offset and size inside the section.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasecVar {
    pub var: u32,
    pub name: String,
    /// The variable's own type (the VAR's target).
    pub ty: u32,
    pub offset: u32,
    pub size: u32,
}

/// A parsed BTF blob. Type id 0 is void; ids index `types`.
#[derive(Debug, Clone)]
pub struct Btf {
    types: Vec<Type>,
    /// The string section (line_info and func_info point into it).
    strings: Vec<u8>,
    /// Return type and parameters of each FUNC_PROTO, by type id (see func.rs).
    protos: std::collections::HashMap<u32, func::Proto>,
}

fn rd32(b: &[u8], at: usize) -> Result<u32> {
    let s = b
        .get(at..at + 4)
        .with_context(|| format!("BTF truncated at byte {at}"))?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn name_at(strings: &[u8], off: u32) -> String {
    let Some(rest) = strings.get(off as usize..) else {
        return String::new();
    };
    let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end]).into_owned()
}

impl Btf {
    /// Parse a raw BTF blob (little-endian, as the kernel and libbpf hand it out).
    pub fn from_raw(raw: &[u8]) -> Result<Btf> {
        if raw.len() < 24 {
            bail!("BTF blob too short ({} bytes)", raw.len());
        }
        let magic = u16::from_le_bytes([raw[0], raw[1]]);
        if magic != BTF_MAGIC {
            bail!("not a BTF blob (magic {magic:#06x})");
        }
        let hdr_len = rd32(raw, 4)? as usize;
        let type_off = rd32(raw, 8)? as usize;
        let type_len = rd32(raw, 12)? as usize;
        let str_off = rd32(raw, 16)? as usize;
        let str_len = rd32(raw, 20)? as usize;
        let types_bytes = raw
            .get(hdr_len + type_off..hdr_len + type_off + type_len)
            .context("BTF type section out of bounds")?;
        let strings = raw
            .get(hdr_len + str_off..hdr_len + str_off + str_len)
            .context("BTF string section out of bounds")?;
        let mut types = vec![Type::Void];
        let mut protos = std::collections::HashMap::new();
        let mut at = 0usize;
        while at < types_bytes.len() {
            let (ty, used) = parse_type(types_bytes, at, strings)
                .with_context(|| format!("BTF type id {}", types.len()))?;
            if ty == Type::FuncProto {
                protos.insert(
                    types.len() as u32,
                    func::Proto::parse(types_bytes, at, strings)?,
                );
            }
            types.push(ty);
            at += used;
        }
        Ok(Btf {
            types,
            strings: strings.to_vec(),
            protos,
        }
        .link_datasecs())
    }

    /// The BTF object the kernel holds under `id` (a map's or program's `btf_id`).
    pub fn from_kernel_id(id: u32) -> Result<Btf> {
        let raw = crate::bpf::btf::raw_by_id(id)?;
        Btf::from_raw(&raw).with_context(|| format!("parsing BTF id {id}"))
    }

    /// The .BTF section of an ELF object file.
    #[allow(dead_code)] // used by `perf events --type` and tests
    pub fn from_elf(path: &Path) -> Result<Btf> {
        let raw = crate::bpf::btf::raw_from_file(path)?;
        Btf::from_raw(&raw).with_context(|| format!("parsing the BTF of {}", path.display()))
    }

    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn get(&self, id: u32) -> Result<&Type> {
        self.types
            .get(id as usize)
            .with_context(|| format!("BTF has no type id {id}"))
    }

    /// Follow typedef/const/volatile/restrict/type_tag to the type that gives the layout.
    pub fn resolve(&self, mut id: u32) -> Result<(u32, &Type)> {
        for _ in 0..64 {
            let t = self.get(id)?;
            match t {
                Type::Typedef { target, .. }
                | Type::Volatile { target }
                | Type::Const { target }
                | Type::Restrict { target }
                | Type::TypeTag { target }
                | Type::Var { target, .. } => id = *target,
                _ => return Ok((id, t)),
            }
        }
        bail!("BTF type {id}: modifier chain too long")
    }

    /// Follow only const/volatile/restrict/type_tag (not typedefs).
    pub fn skip_mods(&self, mut id: u32) -> Result<(u32, &Type)> {
        for _ in 0..64 {
            let t = self.get(id)?;
            match t {
                Type::Volatile { target }
                | Type::Const { target }
                | Type::Restrict { target }
                | Type::TypeTag { target } => id = *target,
                _ => return Ok((id, t)),
            }
        }
        bail!("BTF type {id}: modifier chain too long")
    }

    /// The byte size of a type.
    pub fn size_of(&self, id: u32) -> Result<usize> {
        let (rid, t) = self.resolve(id)?;
        Ok(match t {
            Type::Int(i) => i.size as usize,
            Type::Ptr { .. } => 8,
            Type::Array { elem, len, .. } => self.size_of(*elem)? * *len as usize,
            Type::Struct(c) | Type::Union(c) => c.size as usize,
            Type::Enum(e) => e.size as usize,
            Type::Float { size, .. } | Type::Datasec { size, .. } => *size as usize,
            _ => bail!("BTF type {rid} ({}) has no size", self.type_name(rid)),
        })
    }

    /// The first type called `name` that is a data type (not a function or variable).
    pub fn find_by_name(&self, name: &str) -> Option<u32> {
        self.types.iter().enumerate().find_map(|(i, t)| {
            let n = match t {
                Type::Int(x) => &x.name,
                Type::Struct(c) | Type::Union(c) => &c.name,
                Type::Enum(e) => &e.name,
                Type::Typedef { name, .. }
                | Type::Float { name, .. }
                | Type::Datasec { name, .. } => name,
                _ => return None,
            };
            (n == name).then_some(i as u32)
        })
    }

    /// The variables of a DATASEC type (e.g. `.rodata`), with their names and types.
    #[allow(dead_code)] // used by `prog show` metadata
    pub fn datasec_vars(&self, id: u32) -> Vec<DatasecVar> {
        match self.get(id) {
            Ok(Type::Datasec { vars, .. }) => vars.clone(),
            _ => Vec::new(),
        }
    }

    /// A C-like spelling of a type, for messages: `struct flow`, `__u32`, `char[16]`.
    pub fn type_name(&self, id: u32) -> String {
        let Ok(t) = self.get(id) else {
            return format!("<bad type {id}>");
        };
        match t {
            Type::Void => "void".into(),
            Type::Int(i) => i.name.clone(),
            Type::Ptr { target } => format!("{} *", self.type_name(*target)),
            Type::Array { elem, len, .. } => format!("{}[{len}]", self.type_name(*elem)),
            Type::Struct(c) => format!("struct {}", c.name),
            Type::Union(c) => format!("union {}", c.name),
            Type::Enum(e) => format!("enum {}", e.name),
            Type::Fwd { name } => format!("struct {name} (forward)"),
            Type::Typedef { name, .. } => name.clone(),
            Type::Volatile { target } => format!("volatile {}", self.type_name(*target)),
            Type::Const { target } => format!("const {}", self.type_name(*target)),
            Type::Restrict { target } | Type::TypeTag { target } | Type::DeclTag { target } => {
                self.type_name(*target)
            }
            Type::Func { name, .. } => format!("func {name}"),
            Type::FuncProto => "func proto".into(),
            Type::Var { name, .. } => format!("var {name}"),
            Type::Datasec { name, .. } => format!("section {name}"),
            Type::Float { name, .. } => name.clone(),
        }
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
            (
                if kind == 4 {
                    Type::Struct(c)
                } else {
                    Type::Union(c)
                },
                12 + vlen * 12,
            )
        }
        6 => {
            let mut values = Vec::with_capacity(vlen);
            for i in 0..vlen {
                let m = x + i * 8;
                let raw = rd32(b, m + 4)?;
                let v = if kflag { raw as i32 as i64 } else { raw as i64 };
                values.push((name_at(strings, rd32(b, m)?), v));
            }
            (
                Type::Enum(Enum {
                    name,
                    size: size_or_type,
                    signed: kflag,
                    values,
                }),
                12 + vlen * 8,
            )
        }
        7 => (Type::Fwd { name }, 12),
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
            },
            12,
        ),
        13 => (Type::FuncProto, 12 + vlen * 8),
        14 => (
            Type::Var {
                name,
                target: size_or_type,
            },
            16,
        ),
        15 => {
            let mut vars = Vec::with_capacity(vlen);
            for i in 0..vlen {
                let m = x + i * 12;
                vars.push(DatasecVar {
                    var: rd32(b, m)?,
                    name: String::new(),
                    ty: 0,
                    offset: rd32(b, m + 4)?,
                    size: rd32(b, m + 8)?,
                });
            }
            (
                Type::Datasec {
                    name,
                    size: size_or_type,
                    vars,
                },
                12 + vlen * 12,
            )
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
                target: size_or_type,
            },
            16,
        ),
        18 => (
            Type::TypeTag {
                target: size_or_type,
            },
            12,
        ),
        19 => {
            let mut values = Vec::with_capacity(vlen);
            for i in 0..vlen {
                let m = x + i * 12;
                let lo = rd32(b, m + 4)? as u64;
                let hi = rd32(b, m + 8)? as u64;
                values.push((name_at(strings, rd32(b, m)?), ((hi << 32) | lo) as i64));
            }
            (
                Type::Enum(Enum {
                    name,
                    size: size_or_type,
                    signed: kflag,
                    values,
                }),
                12 + vlen * 12,
            )
        }
        k => bail!("unknown BTF kind {k}"),
    })
}

impl Btf {
    /// Fill in the names and types of DATASEC variables (they point at VAR types that may
    /// come later in the blob).
    fn link_datasecs(mut self) -> Btf {
        let vars: Vec<(usize, Vec<(String, u32)>)> = self
            .types
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match t {
                Type::Datasec { vars, .. } => Some((
                    i,
                    vars.iter()
                        .map(|v| match self.types.get(v.var as usize) {
                            Some(Type::Var { name, target }) => (name.clone(), *target),
                            _ => (String::new(), 0),
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

#[cfg(test)]
pub(crate) mod testing {
    //! A tiny BTF blob builder for unit tests.
    use super::*;

    pub struct Builder {
        types: Vec<u8>,
        strings: Vec<u8>,
        pub next_id: u32,
    }

    impl Builder {
        pub fn new() -> Self {
            Builder {
                types: Vec::new(),
                strings: vec![0],
                next_id: 1,
            }
        }
        fn s(&mut self, name: &str) -> u32 {
            if name.is_empty() {
                return 0;
            }
            let off = self.strings.len() as u32;
            self.strings.extend_from_slice(name.as_bytes());
            self.strings.push(0);
            off
        }
        fn w(&mut self, v: u32) {
            self.types.extend_from_slice(&v.to_le_bytes());
        }
        fn head(&mut self, name: &str, kind: u32, vlen: u32, kflag: bool, st: u32) -> u32 {
            let n = self.s(name);
            self.w(n);
            self.w((kind << 24) | vlen | if kflag { 1 << 31 } else { 0 });
            self.w(st);
            let id = self.next_id;
            self.next_id += 1;
            id
        }
        /// enc: 1 signed, 2 char, 4 bool
        pub fn int(&mut self, name: &str, size: u32, enc: u32) -> u32 {
            let id = self.head(name, 1, 0, false, size);
            self.w((enc << 24) | (size * 8));
            id
        }
        pub fn ptr(&mut self, target: u32) -> u32 {
            self.head("", 2, 0, false, target)
        }
        pub fn array(&mut self, elem: u32, index: u32, len: u32) -> u32 {
            let id = self.head("", 3, 0, false, 0);
            self.w(elem);
            self.w(index);
            self.w(len);
            id
        }
        /// members: (name, type, bit offset, bitfield size)
        pub fn composite(
            &mut self,
            union: bool,
            name: &str,
            size: u32,
            members: &[(&str, u32, u32, u32)],
        ) -> u32 {
            let kflag = members.iter().any(|m| m.3 != 0);
            let id = self.head(
                name,
                if union { 5 } else { 4 },
                members.len() as u32,
                kflag,
                size,
            );
            for (n, t, off, bits) in members {
                let n = self.s(n);
                self.w(n);
                self.w(*t);
                self.w(if kflag { (bits << 24) | off } else { *off });
            }
            id
        }
        pub fn enum32(&mut self, name: &str, size: u32, signed: bool, vals: &[(&str, i32)]) -> u32 {
            let id = self.head(name, 6, vals.len() as u32, signed, size);
            for (n, v) in vals {
                let n = self.s(n);
                self.w(n);
                self.w(*v as u32);
            }
            id
        }
        pub fn enum64(&mut self, name: &str, size: u32, signed: bool, vals: &[(&str, u64)]) -> u32 {
            let id = self.head(name, 19, vals.len() as u32, signed, size);
            for (n, v) in vals {
                let n = self.s(n);
                self.w(n);
                self.w(*v as u32);
                self.w((*v >> 32) as u32);
            }
            id
        }
        pub fn typedef(&mut self, name: &str, target: u32) -> u32 {
            self.head(name, 8, 0, false, target)
        }
        pub fn volatile(&mut self, target: u32) -> u32 {
            self.head("", 9, 0, false, target)
        }
        pub fn konst(&mut self, target: u32) -> u32 {
            self.head("", 10, 0, false, target)
        }
        pub fn float(&mut self, name: &str, size: u32) -> u32 {
            self.head(name, 16, 0, false, size)
        }
        pub fn var(&mut self, name: &str, target: u32) -> u32 {
            let id = self.head(name, 14, 0, false, target);
            self.w(1);
            id
        }
        /// vars: (var id, offset, size)
        pub fn datasec(&mut self, name: &str, size: u32, vars: &[(u32, u32, u32)]) -> u32 {
            let id = self.head(name, 15, vars.len() as u32, false, size);
            for (v, o, s) in vars {
                self.w(*v);
                self.w(*o);
                self.w(*s);
            }
            id
        }
        pub fn raw(&self) -> Vec<u8> {
            let mut out = Vec::new();
            out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
            out.push(1);
            out.push(0);
            for v in [
                24u32,
                0,
                self.types.len() as u32,
                self.types.len() as u32,
                self.strings.len() as u32,
            ] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&self.types);
            out.extend_from_slice(&self.strings);
            out
        }
        pub fn build(&self) -> Btf {
            match Btf::from_raw(&self.raw()) {
                Ok(b) => b,
                Err(e) => panic!("test BTF: {e:#}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::Builder;
    use super::*;

    #[test]
    fn raw_blob_round_trips_types() {
        let mut b = Builder::new();
        let u32_ = b.int("unsigned int", 4, 0);
        let c = b.int("char", 1, 1);
        let arr = b.array(c, u32_, 16);
        let st = b.composite(
            false,
            "flow",
            20,
            &[("id", u32_, 0, 0), ("name", arr, 32, 0)],
        );
        let td = b.typedef("flow_t", st);
        let v = b.var("bpf_metadata_a", arr);
        let ds = b.datasec(".rodata", 16, &[(v, 0, 16)]);
        let btf = b.build();
        assert_eq!(btf.len(), 8);
        assert_eq!(btf.size_of(td).ok(), Some(20));
        assert_eq!(btf.size_of(arr).ok(), Some(16));
        assert_eq!(btf.type_name(td), "flow_t");
        assert_eq!(btf.type_name(arr), "char[16]");
        assert_eq!(btf.find_by_name("flow"), Some(st));
        assert_eq!(btf.find_by_name(".rodata"), Some(ds));
        let vars = btf.datasec_vars(ds);
        assert_eq!(vars.len(), 1);
        assert_eq!(vars[0].name, "bpf_metadata_a");
        assert_eq!(vars[0].ty, arr);
        assert!(matches!(btf.resolve(td), Ok((id, Type::Struct(_))) if id == st));
    }

    #[test]
    fn the_running_kernels_btf_parses() {
        let Ok(raw) = std::fs::read("/sys/kernel/btf/vmlinux") else {
            let required = std::env::var("RBT_REQUIRE_KERNEL").as_deref() == Ok("1");
            assert!(
                !required,
                "RBT_REQUIRE_KERNEL=1 but /sys/kernel/btf/vmlinux is missing"
            );
            eprintln!("SKIP: no /sys/kernel/btf/vmlinux");
            return;
        };
        let btf = Btf::from_raw(&raw).unwrap_or_else(|e| panic!("{e:#}"));
        assert!(btf.len() > 10_000);
        let id = btf.find_by_name("iphdr").unwrap_or(0);
        assert_eq!(btf.size_of(id).ok(), Some(20));
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(Btf::from_raw(&[0u8; 10]).is_err());
        assert!(Btf::from_raw(&[0u8; 40]).is_err());
    }
}
