// `btf dump ... format raw`: every type as bpftool prints it, one `[id] KIND 'name' ...`
// line (plus a tab-indented line per member) in text, `{"types":[{"id","kind","name",..}]}`
// in JSON, with bpftool's field names, order and types.

use std::fmt::Write as _;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::{Btf, Type};

/// bpftool's kind names.
pub fn kind_name(t: &Type) -> &'static str {
    match t {
        Type::Void => "UNKNOWN",
        Type::Int(_) => "INT",
        Type::Ptr { .. } => "PTR",
        Type::Array { .. } => "ARRAY",
        Type::Struct(_) => "STRUCT",
        Type::Union(_) => "UNION",
        Type::Enum(e) if e.is64 => "ENUM64",
        Type::Enum(_) => "ENUM",
        Type::Fwd { .. } => "FWD",
        Type::Typedef { .. } => "TYPEDEF",
        Type::Volatile { .. } => "VOLATILE",
        Type::Const { .. } => "CONST",
        Type::Restrict { .. } => "RESTRICT",
        Type::Func { .. } => "FUNC",
        Type::FuncProto { .. } => "FUNC_PROTO",
        Type::Var { .. } => "VAR",
        Type::Datasec { .. } => "DATASEC",
        Type::Float { .. } => "FLOAT",
        Type::DeclTag { .. } => "DECL_TAG",
        Type::TypeTag { .. } => "TYPE_TAG",
    }
}

fn int_encoding(i: &super::Int) -> &'static str {
    match (i.signed, i.char, i.bool) {
        (false, false, false) => "(none)",
        (true, false, false) => "SIGNED",
        (false, true, false) => "CHAR",
        (false, false, true) => "BOOL",
        _ => "UNKN",
    }
}

fn func_linkage(l: u32) -> &'static str {
    match l {
        0 => "static",
        1 => "global",
        2 => "extern",
        _ => "(unknown)",
    }
}

fn var_linkage(l: u32) -> &'static str {
    match l {
        0 => "static",
        1 => "global",
        2 => "extern",
        _ => "(unknown)",
    }
}

fn anon(name: &str) -> &str {
    if name.is_empty() {
        "(anon)"
    } else {
        name
    }
}

fn signedness(signed: bool) -> &'static str {
    if signed {
        "SIGNED"
    } else {
        "UNSIGNED"
    }
}

/// The types to dump: `roots` if given, else every type this blob defines.
pub fn ids(btf: &Btf, roots: &[u32]) -> Vec<u32> {
    if roots.is_empty() {
        (btf.start_id()..btf.len() as u32).collect()
    } else {
        roots.to_vec()
    }
}

/// bpftool's text form of the types `ids`.
pub fn text(btf: &Btf, ids: &[u32]) -> String {
    let mut s = String::with_capacity(ids.len() * 64);
    for &id in ids {
        // Writing to a String cannot fail.
        let _ = type_text(&mut s, btf, id);
    }
    s
}

fn type_text(s: &mut String, btf: &Btf, id: u32) -> std::fmt::Result {
    let Ok(t) = btf.get(id) else {
        return writeln!(s, "[{id}] UNKNOWN '(anon)'");
    };
    write!(s, "[{id}] {} '{}'", kind_name(t), anon(btf.name_of(id)))?;
    match t {
        Type::Void => {}
        Type::Int(i) => write!(
            s,
            " size={} bits_offset={} nr_bits={} encoding={}",
            i.size,
            i.bit_offset,
            i.bits,
            int_encoding(i)
        )?,
        Type::Ptr { target }
        | Type::Const { target }
        | Type::Volatile { target }
        | Type::Restrict { target }
        | Type::Typedef { target, .. }
        | Type::TypeTag { target, .. } => write!(s, " type_id={target}")?,
        Type::Array { elem, index, len } => {
            write!(s, " type_id={elem} index_type_id={index} nr_elems={len}")?
        }
        Type::Struct(c) | Type::Union(c) => {
            write!(s, " size={} vlen={}", c.size, c.members.len())?;
            for m in &c.members {
                write!(
                    s,
                    "\n\t'{}' type_id={} bits_offset={}",
                    anon(&m.name),
                    m.ty,
                    m.bit_offset
                )?;
                if m.bitfield != 0 {
                    write!(s, " bitfield_size={}", m.bitfield)?;
                }
            }
        }
        Type::Enum(e) => {
            write!(
                s,
                " encoding={} size={} vlen={}",
                signedness(e.signed),
                e.size,
                e.values.len()
            )?;
            for (name, v) in &e.values {
                match (e.is64, e.signed) {
                    (false, true) => write!(s, "\n\t'{}' val={}", anon(name), *v as i32)?,
                    (false, false) => write!(s, "\n\t'{}' val={}", anon(name), *v as u32)?,
                    (true, true) => write!(s, "\n\t'{}' val={}LL", anon(name), v)?,
                    (true, false) => write!(s, "\n\t'{}' val={}ULL", anon(name), *v as u64)?,
                }
            }
        }
        Type::Fwd { union, .. } => {
            write!(s, " fwd_kind={}", if *union { "union" } else { "struct" })?
        }
        Type::Func { proto, linkage, .. } => {
            write!(s, " type_id={proto} linkage={}", func_linkage(*linkage))?
        }
        Type::FuncProto { ret, params } => {
            write!(s, " ret_type_id={ret} vlen={}", params.len())?;
            for p in params {
                write!(s, "\n\t'{}' type_id={}", anon(&p.name), p.ty)?;
            }
        }
        Type::Var {
            target, linkage, ..
        } => write!(s, " type_id={target}, linkage={}", var_linkage(*linkage))?,
        Type::Datasec { size, vars, .. } => {
            write!(s, " size={size} vlen={}", vars.len())?;
            for v in vars {
                write!(
                    s,
                    "\n\ttype_id={} offset={} size={}",
                    v.var, v.offset, v.size
                )?;
                if let Ok(vt) = btf.get(v.var) {
                    write!(s, " ({} '{}')", kind_name(vt), anon(btf.name_of(v.var)))?;
                }
            }
        }
        Type::Float { size, .. } => write!(s, " size={size}")?,
        Type::DeclTag {
            target,
            component_idx,
            ..
        } => write!(s, " type_id={target} component_idx={component_idx}")?,
    }
    s.push('\n');
    Ok(())
}

/// bpftool's JSON form: `{"types":[...]}`, serialized as it is written (no tree in memory).
pub struct RawJson<'a> {
    pub btf: &'a Btf,
    pub ids: &'a [u32],
}

impl Serialize for RawJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("types", &Types(self))?;
        m.end()
    }
}

struct Types<'a, 'b>(&'a RawJson<'b>);

impl Serialize for Types<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.ids.len()))?;
        for &id in self.0.ids {
            seq.serialize_element(&TypeJson {
                btf: self.0.btf,
                id,
            })?;
        }
        seq.end()
    }
}

struct TypeJson<'a> {
    btf: &'a Btf,
    id: u32,
}

/// A list of small objects, each a list of (field, value) pairs.
struct Objects<T>(Vec<Vec<(&'static str, T)>>);

impl<T: Serialize> Serialize for Objects<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for o in &self.0 {
            seq.serialize_element(&Fields(o))?;
        }
        seq.end()
    }
}

struct Fields<'a, T>(&'a [(&'static str, T)]);

impl<T: Serialize> Serialize for Fields<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// A JSON scalar of a member/value/param field.
#[derive(Serialize)]
#[serde(untagged)]
enum Scalar<'a> {
    Str(&'a str),
    U(u64),
    I(i64),
}

impl Serialize for TypeJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let btf = self.btf;
        let t = btf.get(self.id).unwrap_or(&Type::Void);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("kind", kind_name(t))?;
        m.serialize_entry("name", anon(btf.name_of(self.id)))?;
        match t {
            Type::Void => {}
            Type::Int(i) => {
                m.serialize_entry("size", &i.size)?;
                m.serialize_entry("bits_offset", &i.bit_offset)?;
                m.serialize_entry("nr_bits", &i.bits)?;
                m.serialize_entry("encoding", int_encoding(i))?;
            }
            Type::Ptr { target }
            | Type::Const { target }
            | Type::Volatile { target }
            | Type::Restrict { target }
            | Type::Typedef { target, .. }
            | Type::TypeTag { target, .. } => m.serialize_entry("type_id", target)?,
            Type::Array { elem, index, len } => {
                m.serialize_entry("type_id", elem)?;
                m.serialize_entry("index_type_id", index)?;
                m.serialize_entry("nr_elems", len)?;
            }
            Type::Struct(c) | Type::Union(c) => {
                m.serialize_entry("size", &c.size)?;
                m.serialize_entry("vlen", &c.members.len())?;
                let members = c
                    .members
                    .iter()
                    .map(|x| {
                        let mut f = vec![
                            ("name", Scalar::Str(anon(&x.name))),
                            ("type_id", Scalar::U(x.ty.into())),
                            ("bits_offset", Scalar::U(x.bit_offset.into())),
                        ];
                        if x.bitfield != 0 {
                            f.push(("bitfield_size", Scalar::U(x.bitfield.into())));
                        }
                        f
                    })
                    .collect();
                m.serialize_entry("members", &Objects(members))?;
            }
            Type::Enum(e) => {
                m.serialize_entry("encoding", signedness(e.signed))?;
                m.serialize_entry("size", &e.size)?;
                m.serialize_entry("vlen", &e.values.len())?;
                let values = e
                    .values
                    .iter()
                    .map(|(name, v)| {
                        let val = match (e.is64, e.signed) {
                            (false, true) => Scalar::I((*v as i32).into()),
                            (false, false) => Scalar::U((*v as u32).into()),
                            (true, true) => Scalar::I(*v),
                            (true, false) => Scalar::U(*v as u64),
                        };
                        vec![("name", Scalar::Str(anon(name))), ("val", val)]
                    })
                    .collect();
                m.serialize_entry("values", &Objects(values))?;
            }
            Type::Fwd { union, .. } => {
                m.serialize_entry("fwd_kind", if *union { "union" } else { "struct" })?
            }
            Type::Func { proto, linkage, .. } => {
                m.serialize_entry("type_id", proto)?;
                m.serialize_entry("linkage", func_linkage(*linkage))?;
            }
            Type::FuncProto { ret, params } => {
                m.serialize_entry("ret_type_id", ret)?;
                m.serialize_entry("vlen", &params.len())?;
                let ps = params
                    .iter()
                    .map(|p| {
                        vec![
                            ("name", Scalar::Str(anon(&p.name))),
                            ("type_id", Scalar::U(p.ty.into())),
                        ]
                    })
                    .collect();
                m.serialize_entry("params", &Objects(ps))?;
            }
            Type::Var {
                target, linkage, ..
            } => {
                m.serialize_entry("type_id", target)?;
                m.serialize_entry("linkage", var_linkage(*linkage))?;
            }
            Type::Datasec { size, vars, .. } => {
                m.serialize_entry("size", size)?;
                m.serialize_entry("vlen", &vars.len())?;
                let vs = vars
                    .iter()
                    .map(|v| {
                        vec![
                            ("type_id", v.var as u64),
                            ("offset", v.offset.into()),
                            ("size", v.size.into()),
                        ]
                    })
                    .collect();
                m.serialize_entry("vars", &Objects(vs))?;
            }
            Type::Float { size, .. } => m.serialize_entry("size", size)?,
            Type::DeclTag {
                target,
                component_idx,
                ..
            } => {
                m.serialize_entry("type_id", target)?;
                m.serialize_entry("component_idx", component_idx)?;
            }
        }
        m.end()
    }
}
