// BTF type + bytes -> JSON: a `Serialize` view (`Typed`) that walks the type over the bytes
// without allocating, and `to_json` for callers that want a serde_json::Value.
//
// Shapes: ints are numbers (u64/i64 exact; 128-bit numbers that do not fit 64 bits are
// decimal strings), bool true/false, a printable NUL-terminated char array a string, other
// arrays arrays, structs and unions objects keyed by member name, enums the enumerator's
// name (the number when none matches), bitfields numbers, pointers numbers, floats numbers
// (NaN and infinities as strings), typedef/const/volatile transparent, a DATASEC an object
// of its variables.

use anyhow::{bail, Result};
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::{Btf, Composite, Enum, Int, Type};

/// Format the value of BTF type `type_id` held in `bytes` as JSON.
pub fn to_json(btf: &Btf, type_id: u32, bytes: &[u8]) -> Result<serde_json::Value> {
    let size = btf.size_of(type_id)?;
    if bytes.len() < size {
        bail!(
            "{}: expected {size} bytes, got {}",
            btf.type_name(type_id),
            bytes.len()
        );
    }
    Ok(serde_json::to_value(Typed::new(btf, type_id, bytes))?)
}

/// A typed value: serializes `bytes` as BTF type `id` describes them.
#[derive(Clone, Copy)]
pub struct Typed<'a> {
    btf: &'a Btf,
    id: u32,
    bytes: &'a [u8],
}

impl<'a> Typed<'a> {
    pub fn new(btf: &'a Btf, id: u32, bytes: &'a [u8]) -> Self {
        Typed { btf, id, bytes }
    }
}

/// Little-endian bytes as an unsigned number (at most 16 bytes).
pub fn le_u128(bytes: &[u8]) -> u128 {
    let mut v = 0u128;
    for (i, b) in bytes.iter().take(16).enumerate() {
        v |= (*b as u128) << (8 * i);
    }
    v
}

/// `nbits` bits starting at bit `bit_off` of little-endian `bytes`.
pub fn read_bits(bytes: &[u8], bit_off: u32, nbits: u32) -> u128 {
    let first = (bit_off / 8) as usize;
    let last = ((bit_off + nbits).div_ceil(8) as usize).min(bytes.len());
    let window = bytes.get(first..last).unwrap_or(&[]);
    let v = le_u128(window) >> (bit_off % 8);
    if nbits >= 128 {
        v
    } else {
        v & ((1u128 << nbits) - 1)
    }
}

fn sign_extend(v: u128, bits: u32) -> i128 {
    if bits == 0 || bits >= 128 {
        return v as i128;
    }
    let shift = 128 - bits;
    ((v << shift) as i128) >> shift
}

fn ser_signed<S: Serializer>(s: S, v: i128) -> Result<S::Ok, S::Error> {
    match i64::try_from(v) {
        Ok(x) => s.serialize_i64(x),
        Err(_) => s.serialize_str(&v.to_string()),
    }
}

fn ser_unsigned<S: Serializer>(s: S, v: u128) -> Result<S::Ok, S::Error> {
    match u64::try_from(v) {
        Ok(x) => s.serialize_u64(x),
        Err(_) => s.serialize_str(&v.to_string()),
    }
}

fn ser_int<S: Serializer>(s: S, int: &Int, raw: u128, bits: u32) -> Result<S::Ok, S::Error> {
    if int.bool {
        return s.serialize_bool(raw != 0);
    }
    if int.char && int.size == 1 {
        let c = raw as u8;
        if (0x20..0x7f).contains(&c) {
            return s.serialize_char(c as char);
        }
    }
    if int.signed {
        ser_signed(s, sign_extend(raw, bits))
    } else {
        ser_unsigned(s, raw)
    }
}

fn ser_enum<S: Serializer>(s: S, e: &Enum, raw: u128, bits: u32) -> Result<S::Ok, S::Error> {
    let pattern = if e.signed {
        sign_extend(raw, bits) as i64
    } else {
        raw as u64 as i64
    };
    if let Some((name, _)) = e.values.iter().find(|(_, v)| *v == pattern) {
        return s.serialize_str(name);
    }
    if e.signed {
        ser_signed(s, sign_extend(raw, bits))
    } else {
        ser_unsigned(s, raw)
    }
}

/// bpftool's rule for a char array printed as a string: element type (through modifiers,
/// not typedefs) is a 1-byte int that is `char` or char-encoded, and the bytes are
/// printable up to a NUL inside the array.
pub fn is_char_elem(btf: &Btf, elem: u32) -> bool {
    match btf.skip_mods(elem) {
        Ok((_, Type::Int(i))) => i.size == 1 && (i.char || i.name == "char"),
        _ => false,
    }
}

fn as_c_string(bytes: &[u8]) -> Option<&str> {
    let nul = bytes.iter().position(|&b| b == 0)?;
    let s = &bytes[..nul];
    if s.iter().all(|&b| (0x20..0x7f).contains(&b)) {
        std::str::from_utf8(s).ok()
    } else {
        None
    }
}

impl Serialize for Typed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let btf = self.btf;
        let (rid, t) = btf.resolve(self.id).map_err(S::Error::custom)?;
        let size = btf.size_of(rid).map_err(S::Error::custom)?;
        let Some(bytes) = self.bytes.get(..size) else {
            return Err(S::Error::custom(format!(
                "{}: expected {size} bytes, got {}",
                btf.type_name(rid),
                self.bytes.len()
            )));
        };
        match t {
            Type::Int(i) => {
                let bits = if i.bits == 0 { i.size * 8 } else { i.bits };
                ser_int(s, i, read_bits(bytes, i.bit_offset, bits), bits)
            }
            Type::Enum(e) => ser_enum(s, e, le_u128(bytes), e.size * 8),
            Type::Ptr { .. } => s.serialize_u64(le_u128(bytes) as u64),
            Type::Float { .. } => ser_float(s, bytes),
            Type::Array { elem, len, .. } => {
                if is_char_elem(btf, *elem) {
                    if let Some(text) = as_c_string(bytes) {
                        return s.serialize_str(text);
                    }
                }
                let esize = btf.size_of(*elem).map_err(S::Error::custom)?;
                let mut seq = s.serialize_seq(Some(*len as usize))?;
                for i in 0..*len as usize {
                    let part = &bytes[i * esize..(i + 1) * esize];
                    seq.serialize_element(&Typed::new(btf, *elem, part))?;
                }
                seq.end()
            }
            Type::Struct(c) | Type::Union(c) => ser_composite(s, btf, c, bytes),
            Type::Datasec { vars, .. } => {
                let mut map = s.serialize_map(Some(vars.len()))?;
                for v in vars {
                    let start = v.offset as usize;
                    let part = bytes
                        .get(start..start + v.size as usize)
                        .ok_or_else(|| S::Error::custom(format!("{}: out of bounds", v.name)))?;
                    map.serialize_entry(&v.name, &Typed::new(btf, v.ty, part))?;
                }
                map.end()
            }
            other => Err(S::Error::custom(format!(
                "cannot format a value of type {} ({:?})",
                btf.type_name(rid),
                std::mem::discriminant(other)
            ))),
        }
    }
}

fn ser_float<S: Serializer>(s: S, bytes: &[u8]) -> Result<S::Ok, S::Error> {
    let v = match bytes.len() {
        4 => f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as f64,
        8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(bytes);
            f64::from_le_bytes(b)
        }
        _ => return s.serialize_str(&crate::hex::prefixed(bytes)),
    };
    if v.is_finite() {
        s.serialize_f64(v)
    } else {
        s.serialize_str(&v.to_string())
    }
}

/// One member of a struct/union: a bitfield or a normal member.
struct MemberValue<'a> {
    btf: &'a Btf,
    ty: u32,
    bytes: &'a [u8],
    bit_offset: u32,
    bitfield: u32,
}

impl Serialize for MemberValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.bitfield == 0 && self.bit_offset.is_multiple_of(8) {
            let start = (self.bit_offset / 8) as usize;
            let part = self.bytes.get(start..).unwrap_or(&[]);
            return Typed::new(self.btf, self.ty, part).serialize(s);
        }
        let (_, t) = self.btf.resolve(self.ty).map_err(S::Error::custom)?;
        let nbits = if self.bitfield == 0 {
            self.btf.size_of(self.ty).map_err(S::Error::custom)? as u32 * 8
        } else {
            self.bitfield
        };
        let raw = read_bits(self.bytes, self.bit_offset, nbits);
        match t {
            Type::Int(i) => ser_int(s, i, raw, nbits),
            Type::Enum(e) => ser_enum(s, e, raw, nbits),
            _ => ser_unsigned(s, raw),
        }
    }
}

fn ser_composite<S: Serializer>(
    s: S,
    btf: &Btf,
    c: &Composite,
    bytes: &[u8],
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(c.members.len()))?;
    for (i, m) in c.members.iter().enumerate() {
        let value = MemberValue {
            btf,
            ty: m.ty,
            bytes,
            bit_offset: m.bit_offset,
            bitfield: m.bitfield,
        };
        if m.name.is_empty() {
            // An anonymous struct/union: bpftool shows it under an empty-ish key; rbt
            // names it by position so JSON objects keep unique keys.
            map.serialize_entry(&format!("__anon{i}"), &value)?;
        } else {
            map.serialize_entry(&m.name, &value)?;
        }
    }
    map.end()
}

#[cfg(test)]
mod tests {
    use super::super::testing::Builder;
    use super::*;
    use serde_json::json;

    fn fmt(btf: &Btf, id: u32, bytes: &[u8]) -> serde_json::Value {
        match to_json(btf, id, bytes) {
            Ok(v) => v,
            Err(e) => panic!("format: {e:#}"),
        }
    }

    #[test]
    fn ints_of_every_width() {
        let mut b = Builder::new();
        let u8_ = b.int("unsigned char", 1, 0);
        let i8_ = b.int("signed char", 1, 1);
        let u16_ = b.int("unsigned short", 2, 0);
        let i32_ = b.int("int", 4, 1);
        let u64_ = b.int("unsigned long", 8, 0);
        let i64_ = b.int("long", 8, 1);
        let u128_ = b.int("unsigned __int128", 16, 0);
        let i128_ = b.int("__int128", 16, 1);
        let bool_ = b.int("_Bool", 1, 4);
        let btf = b.build();
        assert_eq!(fmt(&btf, u8_, &[200]), json!(200));
        assert_eq!(fmt(&btf, i8_, &[0xff]), json!(-1));
        assert_eq!(fmt(&btf, u16_, &[0x34, 0x12]), json!(0x1234));
        assert_eq!(fmt(&btf, i32_, &(-5i32).to_le_bytes()), json!(-5));
        assert_eq!(fmt(&btf, u64_, &u64::MAX.to_le_bytes()), json!(u64::MAX));
        assert_eq!(fmt(&btf, i64_, &i64::MIN.to_le_bytes()), json!(i64::MIN));
        assert_eq!(fmt(&btf, u128_, &7u128.to_le_bytes()), json!(7));
        assert_eq!(
            fmt(&btf, u128_, &u128::MAX.to_le_bytes()),
            json!(u128::MAX.to_string())
        );
        assert_eq!(fmt(&btf, i128_, &(-3i128).to_le_bytes()), json!(-3));
        assert_eq!(
            fmt(&btf, i128_, &i128::MIN.to_le_bytes()),
            json!(i128::MIN.to_string())
        );
        assert_eq!(fmt(&btf, bool_, &[1]), json!(true));
        assert_eq!(fmt(&btf, bool_, &[0]), json!(false));
        assert!(to_json(&btf, u64_, &[1, 2]).is_err());
    }

    #[test]
    fn char_arrays_arrays_structs_unions() {
        let mut b = Builder::new();
        let c = b.int("char", 1, 1);
        let u32_ = b.int("unsigned int", 4, 0);
        let name = b.array(c, u32_, 8);
        let nums = b.array(u32_, u32_, 2);
        let inner = b.composite(false, "inner", 8, &[("a", u32_, 0, 0), ("b", u32_, 32, 0)]);
        let next = b.next_id;
        let un = b.composite(
            true,
            "u",
            4,
            &[("x", u32_, 0, 0), ("bytes", next + 1, 0, 0)],
        );
        let four = b.array(c, u32_, 4);
        assert_eq!(four, un + 1);
        let outer = b.composite(
            false,
            "outer",
            28,
            &[
                ("name", name, 0, 0),
                ("nums", nums, 64, 0),
                ("in", inner, 128, 0),
                ("u", un, 192, 0),
            ],
        );
        let btf = b.build();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"eth0\0\0\0\0");
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&2u32.to_le_bytes());
        bytes.extend_from_slice(&3u32.to_le_bytes());
        bytes.extend_from_slice(&4u32.to_le_bytes());
        bytes.extend_from_slice(&[0x41, 0x42, 0, 0]);
        assert_eq!(
            fmt(&btf, outer, &bytes),
            json!({"name":"eth0","nums":[1,2],"in":{"a":3,"b":4},
                   "u":{"x":0x4241,"bytes":"AB"}})
        );
        // Not NUL-terminated or not printable: an array of numbers.
        assert_eq!(fmt(&btf, four, b"abcd"), json!([97, 98, 99, 100]));
        assert_eq!(fmt(&btf, four, &[1, 0, 0, 0]), json!([1, 0, 0, 0]));
        assert_eq!(fmt(&btf, four, &[0, 0, 0, 0]), json!(""));
    }

    #[test]
    fn enums_bitfields_modifiers_pointers_floats() {
        let mut b = Builder::new();
        let u32_ = b.int("unsigned int", 4, 0);
        let i32_ = b.int("int", 4, 1);
        let e = b.enum32("color", 4, false, &[("RED", 0), ("GREEN", 1)]);
        let se = b.enum32("sign", 4, true, &[("NEG", -1)]);
        let e64 = b.enum64("big", 8, false, &[("HUGE", u64::MAX - 1)]);
        let td = b.typedef("color_t", e);
        let cv = b.konst(td);
        let vv = b.volatile(cv);
        let bits = b.composite(
            false,
            "bits",
            4,
            &[
                ("lo", u32_, 0, 3),
                ("mid", i32_, 3, 5),
                ("col", e, 8, 2),
                ("hi", u32_, 10, 22),
            ],
        );
        let p = b.ptr(u32_);
        let f32_ = b.float("float", 4);
        let f64_ = b.float("double", 8);
        let btf = b.build();
        assert_eq!(fmt(&btf, vv, &1u32.to_le_bytes()), json!("GREEN"));
        assert_eq!(fmt(&btf, e, &7u32.to_le_bytes()), json!(7));
        assert_eq!(fmt(&btf, se, &(-1i32).to_le_bytes()), json!("NEG"));
        assert_eq!(fmt(&btf, se, &(-2i32).to_le_bytes()), json!(-2));
        assert_eq!(fmt(&btf, e64, &(u64::MAX - 1).to_le_bytes()), json!("HUGE"));
        assert_eq!(fmt(&btf, e64, &5u64.to_le_bytes()), json!(5));
        // lo=5 (3 bits), mid=-2 (5 bits), col=GREEN, hi=1000
        let v: u32 = 5 | ((0b11110) << 3) | (1 << 8) | (1000 << 10);
        assert_eq!(
            fmt(&btf, bits, &v.to_le_bytes()),
            json!({"lo":5,"mid":-2,"col":"GREEN","hi":1000})
        );
        assert_eq!(
            fmt(&btf, p, &0xdead_beefu64.to_le_bytes()),
            json!(0xdead_beefu64)
        );
        assert_eq!(fmt(&btf, f32_, &1.5f32.to_le_bytes()), json!(1.5));
        assert_eq!(fmt(&btf, f64_, &(-0.25f64).to_le_bytes()), json!(-0.25));
        assert_eq!(fmt(&btf, f64_, &f64::NAN.to_le_bytes()), json!("NaN"));
    }

    #[test]
    fn datasec_is_an_object_of_variables() {
        let mut b = Builder::new();
        let c = b.int("char", 1, 1);
        let i32_ = b.int("int", 4, 1);
        let arr = b.array(c, i32_, 4);
        let va = b.var("bpf_metadata_a", arr);
        let vb = b.var("bpf_metadata_b", i32_);
        let ds = b.datasec(".rodata", 8, &[(va, 0, 4), (vb, 4, 4)]);
        let btf = b.build();
        let mut bytes = b"foo\0".to_vec();
        bytes.extend_from_slice(&1i32.to_le_bytes());
        assert_eq!(
            fmt(&btf, ds, &bytes),
            json!({"bpf_metadata_a":"foo","bpf_metadata_b":1})
        );
    }
}
