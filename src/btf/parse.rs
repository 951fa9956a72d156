// JSON / text -> bytes for a BTF type: the inverse of `format`, with range checks, enum
// names, strings for char arrays, zero for missing struct members and an error that lists
// the valid members for an unknown one.

use std::fmt::Display;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::format::is_char_elem;
use super::{Btf, Composite, Enum, Int, Type};

/// Encode `value` as BTF type `type_id`; the result has exactly the type's size.
pub fn from_json(btf: &Btf, type_id: u32, value: &Value) -> Result<Vec<u8>> {
    let size = btf.size_of(type_id)?;
    let mut out = vec![0u8; size];
    write(btf, type_id, value, &mut out, "")?;
    Ok(out)
}

/// Encode command-line text: JSON (`{"a":1}`, `5`, `"x"`), or else a bare word taken as a
/// string (`eth0` for a char array, `GREEN` for an enum, `0x1f` for an int).
pub fn from_text(btf: &Btf, type_id: u32, text: &str) -> Result<Vec<u8>> {
    from_json(btf, type_id, &text_value(text)?)
}

/// The JSON value a command-line word stands for.
pub fn text_value(text: &str) -> Result<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => Ok(v),
        Err(e) => {
            let t = text.trim_start();
            if t.starts_with(['{', '[', '"']) {
                bail!("malformed JSON `{text}`: {e}");
            }
            Ok(Value::String(text.to_owned()))
        }
    }
}

/// A type's C spelling, computed only when an error message needs it.
struct TypeName<'a>(&'a Btf, u32);

impl Display for TypeName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.type_name(self.1))
    }
}

struct EnumWord<'a>(&'a str);

impl Display for EnumWord<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "enum {}", self.0)
    }
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An integer from JSON: a number, or a string in decimal / 0x hex / 0b / 0o.
#[derive(Debug, Clone, Copy, PartialEq)]
enum IntVal {
    Pos(u128),
    Neg(i128),
}

fn parse_int_text(t: &str) -> Option<IntVal> {
    let t = t.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let body = body.replace('_', "");
    let mag = if let Some(h) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        u128::from_str_radix(h, 16).ok()?
    } else if let Some(b) = body.strip_prefix("0b") {
        u128::from_str_radix(b, 2).ok()?
    } else if let Some(o) = body.strip_prefix("0o") {
        u128::from_str_radix(o, 8).ok()?
    } else {
        body.parse::<u128>().ok()?
    };
    if neg && mag != 0 {
        let v = 0i128.checked_sub_unsigned(mag)?;
        Some(IntVal::Neg(v))
    } else {
        Some(IntVal::Pos(mag))
    }
}

fn int_of(v: &Value, path: &str, what: &dyn Display) -> Result<IntVal> {
    match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Ok(IntVal::Pos(u as u128))
            } else if let Some(i) = n.as_i64() {
                Ok(IntVal::Neg(i as i128))
            } else if n.as_f64() == Some(0.0) {
                // `-0` parses as a float.
                Ok(IntVal::Pos(0))
            } else {
                bail!("{}expected an integer for {what}, got {n}", at(path))
            }
        }
        Value::String(s) => parse_int_text(s)
            .with_context(|| format!("{}expected an integer for {what}, got \"{s}\"", at(path))),
        Value::Bool(b) => Ok(IntVal::Pos(*b as u128)),
        other => bail!(
            "{}expected an integer for {what}, got {}",
            at(path),
            kind_of(other)
        ),
    }
}

/// Check `v` fits `bits` bits (signed or not) and return its bit pattern.
fn fit(v: IntVal, bits: u32, signed: bool, path: &str, what: &dyn Display) -> Result<u128> {
    let mask = if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    let range = || {
        if signed {
            let half = 1u128 << (bits - 1);
            format!("-{half}..{}", half - 1)
        } else {
            format!("0..{mask}")
        }
    };
    let ok = match (v, signed) {
        (IntVal::Pos(m), false) => m <= mask,
        (IntVal::Neg(_), false) => false,
        (IntVal::Pos(m), true) => m < (1u128 << (bits - 1)),
        (IntVal::Neg(x), true) => bits >= 128 || x >= -(1i128 << (bits - 1)),
    };
    if !ok {
        let shown = match v {
            IntVal::Pos(m) => m.to_string(),
            IntVal::Neg(x) => x.to_string(),
        };
        bail!(
            "{}{shown} is out of range for {what} ({})",
            at(path),
            range()
        );
    }
    Ok(match v {
        IntVal::Pos(m) => m,
        IntVal::Neg(x) => (x as u128) & mask,
    })
}

/// Write `nbits` of `v` at bit `bit_off` of little-endian `out`.
fn write_bits(out: &mut [u8], bit_off: u32, nbits: u32, v: u128) {
    if bit_off.is_multiple_of(8) && nbits.is_multiple_of(8) {
        let start = (bit_off / 8) as usize;
        let n = (nbits / 8) as usize;
        if let Some(dst) = out.get_mut(start..start + n) {
            dst.copy_from_slice(&v.to_le_bytes()[..n.min(16)]);
            return;
        }
    }
    for i in 0..nbits {
        let bit = bit_off + i;
        let byte = (bit / 8) as usize;
        if byte >= out.len() {
            return;
        }
        let mask = 1u8 << (bit % 8);
        if (v >> i) & 1 == 1 {
            out[byte] |= mask;
        } else {
            out[byte] &= !mask;
        }
    }
}

fn int_bits(
    btf: &Btf,
    v: &Value,
    i: &Int,
    bits: u32,
    path: &str,
    name: &dyn Display,
) -> Result<u128> {
    if i.bool {
        return match v {
            Value::Bool(b) => Ok(*b as u128),
            other => fit(int_of(other, path, name)?, 1, false, path, name),
        };
    }
    if i.char && i.size == 1 {
        if let Value::String(s) = v {
            if s.len() == 1 {
                return Ok(s.as_bytes()[0] as u128);
            }
        }
    }
    let _ = btf;
    fit(int_of(v, path, name)?, bits, i.signed, path, name)
}

fn enum_bits(v: &Value, e: &Enum, bits: u32, path: &str) -> Result<u128> {
    let what = EnumWord(&e.name);
    if let Value::String(s) = v {
        if let Some((_, val)) = e.values.iter().find(|(n, _)| n == s) {
            let mask = if bits >= 64 {
                u64::MAX as u128
            } else {
                (1u128 << bits) - 1
            };
            return Ok((*val as u64 as u128) & mask);
        }
        if parse_int_text(s).is_none() {
            let names: Vec<&str> = e.values.iter().map(|(n, _)| n.as_str()).collect();
            bail!(
                "{}unknown {what} value \"{s}\"; valid: {}",
                at(path),
                names.join(", ")
            );
        }
    }
    fit(int_of(v, path, &what)?, bits, e.signed, path, &what)
}

fn write(btf: &Btf, id: u32, v: &Value, out: &mut [u8], path: &str) -> Result<()> {
    let (rid, t) = btf.resolve(id)?;
    let name = TypeName(btf, id);
    match t {
        Type::Int(i) => {
            let bits = if i.bits == 0 { i.size * 8 } else { i.bits };
            let raw = int_bits(btf, v, i, bits, path, &name)?;
            write_bits(out, i.bit_offset, bits, raw);
        }
        Type::Enum(e) => {
            let raw = enum_bits(v, e, e.size * 8, path)?;
            write_bits(out, 0, e.size * 8, raw);
        }
        Type::Ptr { .. } => {
            let raw = fit(int_of(v, path, &name)?, 64, false, path, &name)?;
            write_bits(out, 0, 64, raw);
        }
        Type::Float { size, .. } => {
            let f = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.parse::<f64>().ok(),
                _ => None,
            }
            .with_context(|| format!("{}expected a number for {name}, got {v}", at(path)))?;
            match size {
                4 => out[..4].copy_from_slice(&(f as f32).to_le_bytes()),
                8 => out[..8].copy_from_slice(&f.to_le_bytes()),
                _ => bail!("{}{size}-byte floats are not supported", at(path)),
            }
        }
        Type::Array { elem, len, .. } => write_array(btf, *elem, *len, v, out, path, &name)?,
        Type::Struct(c) => write_composite(btf, c, v, out, path, "struct")?,
        Type::Union(c) => write_composite(btf, c, v, out, path, "union")?,
        Type::Datasec { vars, .. } => {
            let Value::Object(obj) = v else {
                bail!(
                    "{}expected an object for {name}, got {}",
                    at(path),
                    kind_of(v)
                );
            };
            for (k, val) in obj {
                let var = vars
                    .iter()
                    .find(|x| x.name == k)
                    .with_context(|| format!("{}{name} has no variable `{k}`", at(path)))?;
                let start = var.offset as usize;
                let part = out
                    .get_mut(start..start + var.size as usize)
                    .context("variable out of bounds")?;
                write(btf, var.ty, val, part, &join(path, k))?;
            }
        }
        _ => bail!(
            "{}cannot encode a value of type {}",
            at(path),
            btf.type_name(rid)
        ),
    }
    Ok(())
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn write_array(
    btf: &Btf,
    elem: u32,
    len: u32,
    v: &Value,
    out: &mut [u8],
    path: &str,
    name: &dyn Display,
) -> Result<()> {
    let len = len as usize;
    if let Value::String(s) = v {
        if is_char_elem(btf, elem) {
            if s.len() >= len {
                bail!(
                    "{}string \"{s}\" is too long for {name}: at most {} characters",
                    at(path),
                    len.saturating_sub(1)
                );
            }
            out[..s.len()].copy_from_slice(s.as_bytes());
            out[s.len()..len].fill(0);
            return Ok(());
        }
    }
    let Value::Array(items) = v else {
        bail!(
            "{}expected an array for {name}, got {}",
            at(path),
            kind_of(v)
        );
    };
    if items.len() != len {
        bail!(
            "{}{name} expects {len} elements, got {}",
            at(path),
            items.len()
        );
    }
    let esize = btf.size_of(elem)?;
    for (i, item) in items.iter().enumerate() {
        write(
            btf,
            elem,
            item,
            &mut out[i * esize..(i + 1) * esize],
            &format!("{path}[{i}]"),
        )?;
    }
    Ok(())
}

fn write_composite(
    btf: &Btf,
    c: &Composite,
    v: &Value,
    out: &mut [u8],
    path: &str,
    word: &str,
) -> Result<()> {
    let Value::Object(obj) = v else {
        bail!(
            "{}expected an object for {word} {}, got {}",
            at(path),
            c.name,
            kind_of(v)
        );
    };
    let member_name = |i: usize, n: &str| {
        if n.is_empty() {
            format!("__anon{i}")
        } else {
            n.to_owned()
        }
    };
    for (key, val) in obj {
        let Some((i, m)) = c
            .members
            .iter()
            .enumerate()
            .find(|(i, m)| member_name(*i, &m.name) == *key)
        else {
            let valid: Vec<String> = c
                .members
                .iter()
                .enumerate()
                .map(|(i, m)| member_name(i, &m.name))
                .collect();
            bail!(
                "{}{word} {} has no member `{key}`; valid members: {}",
                at(path),
                c.name,
                valid.join(", ")
            );
        };
        let mpath = join(path, &member_name(i, &m.name));
        if m.bitfield == 0 && m.bit_offset.is_multiple_of(8) {
            let start = (m.bit_offset / 8) as usize;
            let size = btf.size_of(m.ty)?;
            let part = out
                .get_mut(start..start + size)
                .with_context(|| format!("{mpath}: member out of bounds"))?;
            write(btf, m.ty, val, part, &mpath)?;
            continue;
        }
        let nbits = if m.bitfield == 0 {
            btf.size_of(m.ty)? as u32 * 8
        } else {
            m.bitfield
        };
        let (_, t) = btf.resolve(m.ty)?;
        let raw = match t {
            Type::Int(i) => int_bits(btf, val, i, nbits, &mpath, &TypeName(btf, m.ty))?,
            Type::Enum(e) => enum_bits(val, e, nbits, &mpath)?,
            _ => fit(
                int_of(val, &mpath, &"bitfield")?,
                nbits,
                false,
                &mpath,
                &"bitfield",
            )?,
        };
        write_bits(out, m.bit_offset, nbits, raw);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::format::to_json;
    use super::super::testing::Builder;
    use super::*;
    use serde_json::json;

    fn enc(btf: &Btf, id: u32, v: Value) -> Vec<u8> {
        match from_json(btf, id, &v) {
            Ok(b) => b,
            Err(e) => panic!("encode {v}: {e:#}"),
        }
    }

    fn err(btf: &Btf, id: u32, v: Value) -> String {
        match from_json(btf, id, &v) {
            Ok(b) => panic!("encoding {v} should fail, got {b:?}"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn ints_are_range_checked() {
        let mut b = Builder::new();
        let u8_ = b.int("unsigned char", 1, 0);
        let i8_ = b.int("signed char", 1, 1);
        let u64_ = b.int("unsigned long", 8, 0);
        let i128_ = b.int("__int128", 16, 1);
        let u128_ = b.int("unsigned __int128", 16, 0);
        let bool_ = b.int("_Bool", 1, 4);
        let btf = b.build();
        assert_eq!(enc(&btf, u8_, json!(255)), [255]);
        assert!(err(&btf, u8_, json!(256)).contains("out of range"));
        assert!(err(&btf, u8_, json!(-1)).contains("out of range"));
        assert_eq!(enc(&btf, i8_, json!(-128)), [0x80]);
        assert!(err(&btf, i8_, json!(128)).contains("-128..127"));
        assert_eq!(enc(&btf, u64_, json!(u64::MAX)), u64::MAX.to_le_bytes());
        assert_eq!(enc(&btf, u64_, json!("0x10")), 16u64.to_le_bytes());
        assert!(err(&btf, u64_, json!(1.5)).contains("expected an integer"));
        assert!(err(&btf, u64_, json!("x")).contains("expected an integer"));
        assert_eq!(enc(&btf, i128_, json!(-2)), (-2i128).to_le_bytes());
        assert_eq!(
            enc(&btf, u128_, json!(u128::MAX.to_string())),
            u128::MAX.to_le_bytes()
        );
        assert_eq!(enc(&btf, bool_, json!(true)), [1]);
        assert!(err(&btf, bool_, json!(2)).contains("out of range"));
    }

    #[test]
    fn structs_arrays_enums_bitfields_round_trip() {
        let mut b = Builder::new();
        let c = b.int("char", 1, 1);
        let u32_ = b.int("unsigned int", 4, 0);
        let i32_ = b.int("int", 4, 1);
        let name = b.array(c, u32_, 8);
        let e = b.enum32("color", 4, false, &[("RED", 0), ("GREEN", 1)]);
        let nums = b.array(e, u32_, 2);
        let st = b.composite(
            false,
            "s",
            24,
            &[
                ("name", name, 0, 0),
                ("nums", nums, 64, 0),
                ("lo", u32_, 128, 3),
                ("mid", i32_, 131, 5),
                ("col", e, 136, 2),
                ("id", u32_, 160, 0),
            ],
        );
        let btf = b.build();
        let v = json!({"name":"eth0","nums":["GREEN",7],"lo":5,"mid":-2,"col":"GREEN","id":9});
        let bytes = enc(&btf, st, v.clone());
        assert_eq!(bytes.len(), 24);
        assert_eq!(to_json(&btf, st, &bytes).ok(), Some(v));
        // Missing members are zero.
        let bytes = enc(&btf, st, json!({"id": 3}));
        assert_eq!(
            to_json(&btf, st, &bytes).ok(),
            Some(json!({"name":"","nums":["RED","RED"],"lo":0,"mid":0,"col":"RED","id":3}))
        );
        let e1 = err(&btf, st, json!({"bogus": 1}));
        assert!(e1.contains("no member `bogus`"), "{e1}");
        assert!(e1.contains("name, nums, lo, mid, col, id"), "{e1}");
        assert!(err(&btf, st, json!({"lo": 8})).contains("lo: 8 is out of range"));
        assert!(err(&btf, st, json!({"mid": -17})).contains("out of range"));
        assert!(err(&btf, st, json!({"name": "way too long"})).contains("too long"));
        assert!(err(&btf, st, json!({"nums": [1]})).contains("expects 2 elements"));
        let e2 = err(&btf, st, json!({"col": "BLUE"}));
        assert!(e2.contains("RED, GREEN"), "{e2}");
        assert!(err(&btf, st, json!([1])).contains("expected an object"));
    }

    #[test]
    fn text_is_json_or_a_bare_string() {
        let mut b = Builder::new();
        let c = b.int("char", 1, 1);
        let u32_ = b.int("unsigned int", 4, 0);
        let name = b.array(c, u32_, 8);
        let btf = b.build();
        assert_eq!(
            from_text(&btf, name, "eth0").ok(),
            Some(b"eth0\0\0\0\0".to_vec())
        );
        assert_eq!(
            from_text(&btf, u32_, "0x10").ok(),
            Some(16u32.to_le_bytes().to_vec())
        );
        assert_eq!(
            from_text(&btf, u32_, "17").ok(),
            Some(17u32.to_le_bytes().to_vec())
        );
        let e = from_text(&btf, u32_, "{\"a\":").map(|_| ()).unwrap_err();
        assert!(format!("{e:#}").contains("malformed JSON"));
    }
}
