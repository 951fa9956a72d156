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

pub mod bpftool_json;
pub mod c_dump;
mod check;
pub mod codec;
#[cfg(test)]
mod dump_tests;
pub mod format;
pub mod func;
pub mod parse;
pub mod raw_dump;
mod read;
#[cfg(test)]
pub(crate) mod testing;
pub mod write;

use std::path::Path;

use anyhow::{bail, Context, Result};

const BTF_MAGIC: u16 = 0xeb9f;

/// A BTF name: most are short, so they live inline (no allocation per name).
pub type Name = compact_str::CompactString;

/// How deep any walk over a type chain goes before it calls the BTF corrupt.
pub const MAX_DEPTH: usize = 256;

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
        name: Name,
        /// `union foo;` rather than `struct foo;`.
        union: bool,
    },
    Typedef {
        name: Name,
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
        name: Name,
        proto: u32,
        /// 0 static, 1 global, 2 extern.
        linkage: u32,
    },
    FuncProto {
        ret: u32,
        params: Vec<Param>,
    },
    Var {
        name: Name,
        target: u32,
        /// 0 static, 1 global-alloc, 2 extern.
        linkage: u32,
    },
    Datasec {
        name: Name,
        size: u32,
        vars: Vec<DatasecVar>,
    },
    Float {
        name: Name,
        size: u32,
    },
    DeclTag {
        name: Name,
        target: u32,
        /// -1 for the type itself, else the member or parameter index.
        component_idx: i32,
    },
    TypeTag {
        name: Name,
        target: u32,
    },
}

/// One parameter of a FUNC_PROTO; type 0 with no name is the `...` of a variadic function.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: Name,
    pub ty: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Int {
    pub name: Name,
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
    pub name: Name,
    pub ty: u32,
    /// Offset from the start of the struct, in bits.
    pub bit_offset: u32,
    /// Bitfield width in bits; 0 for a normal member.
    pub bitfield: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Composite {
    pub name: Name,
    pub size: u32,
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Enum {
    pub name: Name,
    pub size: u32,
    pub signed: bool,
    /// BTF_KIND_ENUM64 (64-bit values) rather than BTF_KIND_ENUM.
    pub is64: bool,
    /// Enumerators; values are stored as the 64-bit pattern (sign-extended for signed).
    pub values: Vec<(Name, i64)>,
}

/// One variable of a DATASEC: its VAR type id, offset and size inside the section.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasecVar {
    pub var: u32,
    pub name: Name,
    /// The variable's own type (the VAR's target).
    pub ty: u32,
    pub offset: u32,
    pub size: u32,
}

/// A parsed BTF blob. Type id 0 is void; ids index `types`. A split BTF (a module's) holds
/// its base's types and strings first, so ids and name offsets read as the kernel's do.
#[derive(Debug, Clone)]
pub struct Btf {
    types: Vec<Type>,
    /// The string section (the base's strings first for a split BTF).
    strings: Vec<u8>,
    /// The first type id this blob defines (1, or the base's type count for a split BTF).
    start_id: u32,
}

impl Btf {
    /// The BTF object the kernel holds under `id` (a map's or program's `btf_id`).
    pub fn from_kernel_id(id: u32) -> Result<Btf> {
        let raw = crate::bpf::btf::raw_by_id(id)?;
        Btf::from_raw(&raw).with_context(|| format!("parsing BTF id {id}"))
    }

    /// A BTF file (raw blob or ELF .BTF), on top of `base` when it is split BTF.
    pub fn from_file(path: &Path, base: Option<&Btf>) -> Result<Btf> {
        let raw = read::raw_from_path(path)?;
        let btf = match base {
            Some(base) => Btf::from_raw_split(&raw, base),
            None => Btf::from_raw(&raw),
        };
        btf.with_context(|| format!("{}: corrupt BTF", path.display()))
    }

    /// The kernel's BTF object `id` and what the kernel says about it; a module's split BTF
    /// is read on top of `base`.
    pub fn from_kernel_id_split(
        id: u32,
        base: Option<&Btf>,
    ) -> Result<(Btf, crate::bpf::btf::BtfInfo)> {
        let (raw, info) = crate::bpf::btf::raw_and_info(id)?;
        let btf = match base {
            Some(base) => Btf::from_raw_split(&raw, base),
            None => Btf::from_raw(&raw),
        };
        Ok((btf.with_context(|| format!("parsing BTF id {id}"))?, info))
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
                | Type::TypeTag { target, .. }
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
                | Type::TypeTag { target, .. } => id = *target,
                _ => return Ok((id, t)),
            }
        }
        bail!("BTF type {id}: modifier chain too long")
    }

    /// The byte size of a type (arrays of arrays multiplied out, overflow is an error).
    pub fn size_of(&self, id: u32) -> Result<usize> {
        let mut id = id;
        let mut count: usize = 1;
        for _ in 0..MAX_DEPTH {
            let (rid, t) = self.resolve(id)?;
            let size = match t {
                Type::Int(i) => i.size as usize,
                Type::Ptr { .. } => 8,
                Type::Array { elem, len, .. } => {
                    count = count
                        .checked_mul(*len as usize)
                        .with_context(|| format!("BTF type {rid}: array size overflows"))?;
                    id = *elem;
                    continue;
                }
                Type::Struct(c) | Type::Union(c) => c.size as usize,
                Type::Enum(e) => e.size as usize,
                Type::Float { size, .. } | Type::Datasec { size, .. } => *size as usize,
                _ => bail!("BTF type {rid} ({}) has no size", self.type_name(rid)),
            };
            return size
                .checked_mul(count)
                .with_context(|| format!("BTF type {rid}: array size overflows"));
        }
        bail!("BTF type {id}: arrays nested too deep")
    }

    /// The first type id this blob defines: 1, or the base's type count for a split BTF.
    pub fn start_id(&self) -> u32 {
        self.start_id
    }

    /// The name of a type as BTF stores it ("" for anonymous types and modifiers).
    pub fn name_of(&self, id: u32) -> &str {
        match self.types.get(id as usize) {
            Some(
                Type::Int(Int { name, .. })
                | Type::Struct(Composite { name, .. })
                | Type::Union(Composite { name, .. })
                | Type::Enum(Enum { name, .. })
                | Type::Fwd { name, .. }
                | Type::Typedef { name, .. }
                | Type::Func { name, .. }
                | Type::Var { name, .. }
                | Type::Datasec { name, .. }
                | Type::Float { name, .. }
                | Type::DeclTag { name, .. }
                | Type::TypeTag { name, .. },
            ) => name,
            _ => "",
        }
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
        self.type_name_at(id, 0)
    }

    fn type_name_at(&self, id: u32, depth: usize) -> String {
        let Ok(t) = self.get(id) else {
            return format!("<bad type {id}>");
        };
        if depth > MAX_DEPTH {
            return "...".into();
        }
        let name = |target: &u32| self.type_name_at(*target, depth + 1);
        match t {
            Type::Void => "void".into(),
            Type::Int(i) => i.name.to_string(),
            Type::Ptr { target } => format!("{} *", name(target)),
            Type::Array { elem, len, .. } => format!("{}[{len}]", name(elem)),
            Type::Struct(c) => format!("struct {}", c.name),
            Type::Union(c) => format!("union {}", c.name),
            Type::Enum(e) => format!("enum {}", e.name),
            Type::Fwd { name, union } => {
                let tag = if *union { "union" } else { "struct" };
                format!("{tag} {name} (forward)")
            }
            Type::Typedef { name, .. } => name.to_string(),
            Type::Volatile { target } => format!("volatile {}", name(target)),
            Type::Const { target } => format!("const {}", name(target)),
            Type::Restrict { target }
            | Type::TypeTag { target, .. }
            | Type::DeclTag { target, .. } => name(target),
            Type::Func { name, .. } => format!("func {name}"),
            Type::FuncProto { .. } => "func proto".into(),
            Type::Var { name, .. } => format!("var {name}"),
            Type::Datasec { name, .. } => format!("section {name}"),
            Type::Float { name, .. } => name.to_string(),
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
