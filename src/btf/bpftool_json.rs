//! BTF type + bytes -> JSON exactly as bpftool's btf_dumper writes it (`struct_ops dump`).
//
// It differs from `format` where bpftool does: bitfields and 128-bit integers are hex
// strings ("0x1f"), chars are one-character strings, anonymous members keep an empty name,
// and a pointer to a function prototype that holds a small number (a program id, in a
// struct_ops value) is spelled by the caller (`FuncPtr`), e.g.
// "u32 (struct sock *) my_ssthresh/prog_id:21".

use anyhow::{bail, Result};
use serde_json::{Map, Value};

use super::format::{le_u128, read_bits};
use super::{Btf, Type};

/// Spells a function pointer: (FUNC_PROTO type id, the pointer's value) -> the string
/// bpftool prints, or None to print the value as a number.
pub type FuncPtr<'a> = &'a dyn Fn(u32, u64) -> Option<String>;

/// The value of BTF type `type_id` in `bytes`, as bpftool's btf_dumper prints it in JSON.
pub fn to_json(btf: &Btf, type_id: u32, bytes: &[u8], func_ptr: FuncPtr<'_>) -> Result<Value> {
    let size = btf.size_of(type_id)?;
    if bytes.len() < size {
        bail!(
            "{}: expected {size} bytes, got {}",
            btf.type_name(type_id),
            bytes.len()
        );
    }
    Dumper { btf, func_ptr }.value(type_id, 0, bytes, 0)
}

struct Dumper<'a> {
    btf: &'a Btf,
    func_ptr: FuncPtr<'a>,
}

const MAX_NEST: usize = 64;

fn hex(v: u128) -> Value {
    Value::String(format!("{v:#x}"))
}

impl Dumper<'_> {
    /// `bit_offset` (0..8) is where the value starts in the first byte of `bytes`.
    fn value(&self, id: u32, bit_offset: u32, bytes: &[u8], depth: usize) -> Result<Value> {
        if depth > MAX_NEST {
            bail!("BTF type {id}: nested too deep");
        }
        let (rid, t) = self.btf.resolve(id)?;
        let size = self.btf.size_of(rid).unwrap_or(0);
        let need = (bit_offset as usize + size * 8).div_ceil(8);
        let Some(bytes) = bytes.get(..need.max(size)) else {
            bail!("{}: value out of bounds", self.btf.type_name(rid));
        };
        Ok(match t {
            Type::Int(i) => {
                let bits = if i.bits == 0 { i.size * 8 } else { i.bits };
                if bit_offset != 0 || i.bit_offset != 0 || bits % 8 != 0 {
                    return Ok(hex(read_bits(bytes, bit_offset + i.bit_offset, bits)));
                }
                if bits == 128 {
                    return Ok(hex(le_u128(&bytes[..16])));
                }
                let raw = le_u128(&bytes[..(bits / 8) as usize]);
                if i.bool {
                    Value::Bool(raw != 0)
                } else if i.char {
                    let c = raw as u8;
                    Value::String(char::from(c).to_string())
                } else if !matches!(bits, 8 | 16 | 32 | 64) {
                    hex(read_bits(bytes, 0, bits))
                } else if i.signed {
                    let shift = 128 - bits;
                    Value::from(((raw << shift) as i128 >> shift) as i64)
                } else {
                    Value::from(raw as u64)
                }
            }
            Type::Enum(e) => {
                let n = e.size.min(8) as usize;
                let raw = le_u128(&bytes[..n]) as u64;
                let mask = if n >= 8 {
                    u64::MAX
                } else {
                    (1u64 << (n * 8)) - 1
                };
                if let Some((name, _)) = e.values.iter().find(|(_, v)| (*v as u64) & mask == raw) {
                    Value::String(name.to_string())
                } else if e.is64 {
                    Value::from(raw as i64)
                } else {
                    let shift = 64 - n * 8;
                    Value::from(((raw << shift) as i64) >> shift)
                }
            }
            Type::Ptr { target } => {
                let v = le_u128(&bytes[..8]) as u64;
                let proto = self
                    .btf
                    .resolve(*target)
                    .ok()
                    .filter(|(_, t)| matches!(t, Type::FuncProto { .. }))
                    .map(|(pid, _)| pid);
                match proto {
                    Some(pid) if v <= u32::MAX as u64 => {
                        (self.func_ptr)(pid, v).map_or(Value::from(v), Value::String)
                    }
                    _ => Value::from(v),
                }
            }
            Type::Array { elem, len, .. } => {
                if *len > 0 && super::format::is_char_elem(self.btf, *elem) {
                    if let Some(s) = c_string(bytes) {
                        return Ok(Value::String(s));
                    }
                }
                let esize = self.btf.size_of(*elem)?;
                let mut items = Vec::with_capacity(*len as usize);
                for i in 0..*len as usize {
                    let part = bytes.get(i * esize..).unwrap_or(&[]);
                    items.push(self.value(*elem, 0, part, depth + 1)?);
                }
                Value::Array(items)
            }
            Type::Struct(c) | Type::Union(c) => {
                let mut map = Map::new();
                for m in &c.members {
                    let start = (m.bit_offset / 8) as usize;
                    let part = bytes.get(start..).unwrap_or(&[]);
                    let v = if m.bitfield != 0 {
                        hex(read_bits(part, m.bit_offset % 8, m.bitfield))
                    } else {
                        self.value(m.ty, m.bit_offset % 8, part, depth + 1)?
                    };
                    map.insert(m.name.to_string(), v);
                }
                Value::Object(map)
            }
            _ => bail!(
                "cannot print a value of type {} as bpftool does",
                self.btf.type_name(rid)
            ),
        })
    }
}

/// bpftool's string rule: printable characters up to a NUL inside the array.
fn c_string(bytes: &[u8]) -> Option<String> {
    let nul = bytes.iter().position(|&b| b == 0)?;
    let s = &bytes[..nul];
    s.iter()
        .all(|&b| (0x20..0x7f).contains(&b))
        .then(|| String::from_utf8_lossy(s).into_owned())
}

#[cfg(test)]
mod tests {
    use super::super::testing::Builder;
    use super::*;
    use serde_json::json;

    #[test]
    fn bitfields_are_hex_strings_and_func_pointers_are_spelled() {
        let mut b = Builder::new();
        let u32_ = b.int("unsigned int", 4, 0);
        let c = b.int("char", 1, 1);
        let name = b.array(c, u32_, 4);
        let proto = b.func_proto(u32_, &[("", u32_)]);
        let fp = b.ptr(proto);
        let e = b.enum32("state", 4, false, &[("ON", 1)]);
        let s = b.composite(
            false,
            "ops",
            24,
            &[
                ("lo", u32_, 0, 3),
                ("hi", u32_, 3, 29),
                ("f", fp, 64, 0),
                ("name", name, 128, 0),
                ("st", e, 160, 0),
            ],
        );
        let btf = b.build();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&(5u32 | (9 << 3)).to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&21u64.to_le_bytes());
        bytes.extend_from_slice(b"cc\0\0");
        bytes.extend_from_slice(&1u32.to_le_bytes());
        let spell = |p: u32, v: u64| Some(format!("proto {p} prog {v}"));
        let v = to_json(&btf, s, &bytes, &spell).expect("dump");
        assert_eq!(
            v,
            json!({"lo": "0x5", "hi": "0x9", "f": format!("proto {proto} prog 21"),
                   "name": "cc", "st": "ON"})
        );
        let none = |_: u32, _: u64| None;
        let v = to_json(&btf, s, &bytes, &none).expect("dump");
        assert_eq!(v["f"], json!(21));
        assert!(to_json(&btf, s, &bytes[..8], &none).is_err());
    }
}
