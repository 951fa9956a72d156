// What a map's bytes become in the exposition: key labels (from the key's BTF members) and
// numeric value fields or histogram buckets (from the value's BTF), read straight from bytes.

use anyhow::{bail, Result};

use super::exposition::{label_name, Num};
use crate::btf::codec::{Simple, SIMPLE_NAMES};
use crate::btf::format::{is_char_elem, read_bits};
use crate::btf::{Btf, Type};

/// How one key label is spelled from the key's bytes.
#[derive(Debug, Clone, PartialEq)]
enum LabelKind {
    Unsigned,
    Signed,
    Bool,
    /// Enumerators by value; a value without a name prints as a number.
    Enum(Vec<(String, i64)>, bool),
    /// A char array: the text up to the first NUL.
    Chars,
    /// Anything else: hex bytes.
    Hex,
    /// A type the user named with `--key-type` (ipv4, mac, be16, ...), over whole bytes.
    Simple(Simple),
}

/// One `--key-type [MEMBER=]TYPE`: a key member (a label name), or the whole key, shown
/// as one of map dump's `--key-type` types.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyType {
    /// The word as given (for messages).
    pub word: String,
    /// The label it retypes; None for the whole key.
    pub member: Option<String>,
    pub simple: Simple,
}

impl KeyType {
    pub fn parse(word: &str) -> Result<KeyType> {
        let (member, ty) = match word.split_once('=') {
            Some((m, t)) => (Some(m.trim()), t.trim()),
            None => (None, word.trim()),
        };
        if member == Some("") {
            bail!("--key-type `{word}`: expected MEMBER=TYPE or TYPE");
        }
        let simple = Simple::by_name(ty).map_err(|_| {
            anyhow::anyhow!("--key-type `{word}`: unknown type `{ty}`; known: {SIMPLE_NAMES}")
        })?;
        Ok(KeyType {
            word: word.to_owned(),
            member: member.map(String::from),
            simple,
        })
    }
}

/// Retype the labels of a key of `size` bytes by `types`: a whole-key type makes the key
/// one label, a member type changes how that label is spelled. Returns, per type, whether
/// it applied to this key (a member type applies to keys that have the member).
pub fn apply_key_types(
    labels: &mut Vec<KeyLabel>,
    size: usize,
    types: &[KeyType],
) -> Result<Vec<bool>> {
    let mut used = vec![false; types.len()];
    let whole: Vec<&KeyType> = types.iter().filter(|t| t.member.is_none()).collect();
    if whole.len() > 1 {
        bail!(
            "--key-type `{}` and `{}`: the whole key can have one type",
            whole[0].word,
            whole[1].word
        );
    }
    if let Some(t) = whole.first() {
        if let Some(n) = t.simple.size().filter(|&n| n != size) {
            bail!(
                "--key-type `{}` is {n} bytes but the map's key is {size} bytes",
                t.word
            );
        }
        // A key of one label that covers it keeps that label's name.
        let name = match labels.as_slice() {
            [only] if only.bit_off == 0 && only.bits as usize == size * 8 => only.name.clone(),
            _ => "key".to_owned(),
        };
        *labels = vec![KeyLabel {
            name,
            bit_off: 0,
            bits: size as u32 * 8,
            kind: LabelKind::Simple(t.simple),
        }];
    }
    for (i, t) in types.iter().enumerate() {
        let Some(member) = &t.member else {
            used[i] = true;
            continue;
        };
        let Some(l) = labels.iter_mut().find(|l| &l.name == member) else {
            continue;
        };
        if l.bit_off % 8 != 0 || l.bits % 8 != 0 {
            bail!(
                "--key-type `{}`: key member {member} is a bitfield ({} bits), not whole bytes",
                t.word,
                l.bits
            );
        }
        let bytes = (l.bits / 8) as usize;
        if let Some(n) = t.simple.size().filter(|&n| n != bytes) {
            bail!(
                "--key-type `{}` is {n} bytes but key member {member} is {bytes} bytes",
                t.word
            );
        }
        l.kind = LabelKind::Simple(t.simple);
        used[i] = true;
    }
    Ok(used)
}

/// One label taken from the key: bits `bit_off..bit_off + bits` (whole bytes for chars/hex).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyLabel {
    pub name: String,
    bit_off: u32,
    bits: u32,
    kind: LabelKind,
}

/// One number taken from the value (of one CPU's slot).
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The member path joined by `_` (`""` for a scalar value).
    pub name: String,
    bit_off: u32,
    bits: u32,
    signed: bool,
    float: bool,
}

/// An array of integer buckets inside the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    pub name: String,
    pub fields: Vec<Field>,
}

/// The key's labels, in order.
/// `taken`: label names the caller adds itself; a member of the same name gets a suffix.
pub fn key_labels(
    btf: Option<&Btf>,
    type_id: u32,
    size: usize,
    taken: &[&str],
) -> Result<Vec<KeyLabel>> {
    let mut labels = Vec::new();
    match btf.filter(|_| type_id != 0) {
        Some(btf) => walk_key(btf, type_id, "", 0, &mut labels)?,
        None => labels.push(KeyLabel {
            name: String::new(),
            bit_off: 0,
            bits: size as u32 * 8,
            kind: if matches!(size, 1 | 2 | 4 | 8) {
                LabelKind::Unsigned
            } else {
                LabelKind::Hex
            },
        }),
    }
    // A scalar key is `key`; member names are made valid, `le` is the histogram's.
    let mut seen: std::collections::HashSet<String> = taken.iter().map(|t| t.to_string()).collect();
    for l in &mut labels {
        let mut name = if l.name.is_empty() {
            "key".to_owned()
        } else {
            label_name(&l.name)
        };
        if name == "le" {
            name = "key_le".to_owned();
        }
        let base = name.clone();
        let mut n = 2;
        while !seen.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        l.name = name;
    }
    Ok(labels)
}

fn join(prefix: &str, name: &str) -> String {
    match (prefix.is_empty(), name.is_empty()) {
        (true, _) => name.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix}_{name}"),
    }
}

fn walk_key(btf: &Btf, id: u32, name: &str, off: u32, out: &mut Vec<KeyLabel>) -> Result<()> {
    let (rid, t) = btf.resolve(id)?;
    let size = btf.size_of(rid).unwrap_or(0) as u32;
    let leaf = |kind, bits| KeyLabel {
        name: name.to_owned(),
        bit_off: off,
        bits,
        kind,
    };
    match t {
        Type::Int(i) if i.bool => out.push(leaf(LabelKind::Bool, i.bits)),
        Type::Int(i) if i.signed => out.push(leaf(LabelKind::Signed, i.bits)),
        Type::Int(i) => out.push(leaf(LabelKind::Unsigned, i.bits)),
        Type::Ptr { .. } => out.push(leaf(LabelKind::Unsigned, 64)),
        Type::Enum(e) => out.push(leaf(
            LabelKind::Enum(
                e.values.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
                e.signed,
            ),
            e.size * 8,
        )),
        Type::Struct(c) => {
            for m in &c.members {
                let bits_here = m.bitfield;
                let before = out.len();
                walk_key(btf, m.ty, &join(name, &m.name), off + m.bit_offset, out)?;
                if bits_here != 0 && out.len() == before + 1 {
                    if let Some(l) = out.last_mut() {
                        l.bits = bits_here;
                    }
                }
            }
        }
        Type::Array { elem, .. } if is_char_elem(btf, *elem) => {
            out.push(leaf(LabelKind::Chars, size * 8))
        }
        _ => out.push(leaf(LabelKind::Hex, size * 8)),
    }
    Ok(())
}

/// The label values of one key, in the order of `labels` (the strings of `out` reused).
pub fn label_values(labels: &[KeyLabel], key: &[u8], out: &mut Vec<String>) {
    out.resize_with(labels.len(), String::new);
    for (l, text) in labels.iter().zip(out.iter_mut()) {
        text.clear();
        write_label(l, key, text);
    }
}

fn write_label(l: &KeyLabel, key: &[u8], text: &mut String) {
    use std::fmt::Write as _;
    let bytes = || {
        let start = (l.bit_off / 8) as usize;
        let end = (start + (l.bits / 8) as usize).min(key.len());
        key.get(start..end).unwrap_or(&[])
    };
    let _ = match &l.kind {
        LabelKind::Unsigned => write!(text, "{}", read_bits(key, l.bit_off, l.bits)),
        LabelKind::Signed => write!(
            text,
            "{}",
            sign_extend(read_bits(key, l.bit_off, l.bits), l.bits)
        ),
        LabelKind::Bool => write!(text, "{}", read_bits(key, l.bit_off, l.bits) != 0),
        LabelKind::Enum(values, signed) => {
            let raw = read_bits(key, l.bit_off, l.bits);
            let v = if *signed {
                sign_extend(raw, l.bits) as i64
            } else {
                raw as u64 as i64
            };
            match values.iter().find(|(_, x)| *x == v) {
                Some((name, _)) => text.write_str(name),
                None if *signed => write!(text, "{v}"),
                None => write!(text, "{}", v as u64),
            }
        }
        LabelKind::Chars => {
            let b = bytes();
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            text.write_str(&String::from_utf8_lossy(&b[..end]))
        }
        LabelKind::Hex => text.write_str(&crate::hex::compact(bytes())),
        LabelKind::Simple(s) => {
            s.text_into(bytes(), text);
            Ok(())
        }
    };
}

fn sign_extend(v: u128, bits: u32) -> i128 {
    if bits == 0 || bits >= 128 {
        return v as i128;
    }
    let shift = 128 - bits;
    ((v << shift) as i128) >> shift
}

/// The numeric fields of the value (nested structs flattened, arrays and unions left out).
/// A value with none is an error that names its type.
pub fn value_fields(btf: Option<&Btf>, type_id: u32, size: usize) -> Result<Vec<Field>> {
    let mut fields = Vec::new();
    match btf.filter(|_| type_id != 0) {
        Some(btf) => {
            walk_value(btf, type_id, "", 0, &mut fields)?;
            if fields.is_empty() {
                bail!(
                    "its value ({}) has no numeric members to export",
                    btf.type_name(type_id)
                );
            }
        }
        None if matches!(size, 1 | 2 | 4 | 8) => fields.push(number("", 0, size as u32 * 8)),
        None => bail!(
            "its value is {size} bytes without BTF: only 1, 2, 4 or 8-byte values can be exported"
        ),
    }
    Ok(fields)
}

fn number(name: &str, bit_off: u32, bits: u32) -> Field {
    Field {
        name: name.to_owned(),
        bit_off,
        bits,
        signed: false,
        float: false,
    }
}

fn walk_value(btf: &Btf, id: u32, name: &str, off: u32, out: &mut Vec<Field>) -> Result<()> {
    let (_, t) = btf.resolve(id)?;
    match t {
        Type::Int(i) if !i.bool => out.push(Field {
            signed: i.signed,
            ..number(name, off + i.bit_offset, i.bits)
        }),
        Type::Enum(e) => out.push(Field {
            signed: e.signed,
            ..number(name, off, e.size * 8)
        }),
        Type::Float { size, .. } if *size == 4 || *size == 8 => out.push(Field {
            float: true,
            ..number(name, off, size * 8)
        }),
        Type::Struct(c) => {
            for m in &c.members {
                let before = out.len();
                walk_value(btf, m.ty, &join(name, &m.name), off + m.bit_offset, out)?;
                if m.bitfield != 0 && out.len() == before + 1 {
                    if let Some(f) = out.last_mut() {
                        f.bits = m.bitfield;
                    }
                }
            }
        }
        Type::Datasec { vars, .. } => {
            for v in vars {
                walk_value(btf, v.ty, &join(name, &v.name), off + v.offset * 8, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The histogram buckets of a value: the value itself when it is an array of integers,
/// else its first member that is one.
pub fn value_buckets(btf: Option<&Btf>, type_id: u32, size: usize) -> Result<Buckets> {
    let Some(btf) = btf.filter(|_| type_id != 0) else {
        if !size.is_multiple_of(8) || size == 0 {
            bail!("its value is {size} bytes without BTF: buckets need BTF or u64 slots");
        }
        let fields = (0..size as u32 / 8)
            .map(|i| number("", i * 64, 64))
            .collect();
        return Ok(Buckets {
            name: String::new(),
            fields,
        });
    };
    let as_buckets = |id: u32, name: &str, off: u32| -> Option<Buckets> {
        let (_, Type::Array { elem, len, .. }) = btf.resolve(id).ok()? else {
            return None;
        };
        let (_, Type::Int(i)) = btf.resolve(*elem).ok()? else {
            return None;
        };
        let fields = (0..*len)
            .map(|k| Field {
                signed: i.signed,
                ..number("", off + k * i.size * 8, i.size * 8)
            })
            .collect();
        Some(Buckets {
            name: name.to_owned(),
            fields,
        })
    };
    if let Some(b) = as_buckets(type_id, "", 0) {
        return Ok(b);
    }
    if let Ok((_, Type::Struct(c))) = btf.resolve(type_id) {
        if let Some(b) = c
            .members
            .iter()
            .find_map(|m| as_buckets(m.ty, &m.name, m.bit_offset))
        {
            return Ok(b);
        }
    }
    bail!(
        "its value ({}) is not an array of integer buckets",
        btf.type_name(type_id)
    )
}

/// One field of a value, summed over the CPUs of a per-CPU value (`stride` bytes apart).
pub fn read_field(f: &Field, value: &[u8], ncpus: usize, stride: usize) -> Num {
    let mut sum = None;
    for cpu in 0..ncpus.max(1) {
        let slot = value.get(cpu * stride..).unwrap_or(&[]);
        let raw = read_bits(slot, f.bit_off, f.bits);
        let v = if f.float && f.bits == 32 {
            Num::F(f32::from_bits(raw as u32) as f64)
        } else if f.float {
            Num::F(f64::from_bits(raw as u64))
        } else if f.signed {
            Num::I(sign_extend(raw, f.bits))
        } else {
            Num::U(raw)
        };
        sum = Some(match sum {
            None => v,
            Some(s) => s + v,
        });
    }
    sum.unwrap_or(Num::U(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::testing::Builder;

    #[test]
    fn scalar_keys_are_one_key_label() {
        let mut b = Builder::new();
        let u32_t = b.int("__u32", 4, 0);
        let btf = b.build();
        let labels = key_labels(Some(&btf), u32_t, 4, &[]).unwrap_or_default();
        let mut v = Vec::new();
        label_values(&labels, &5u32.to_le_bytes(), &mut v);
        assert_eq!(labels[0].name, "key");
        assert_eq!(v, ["5"]);
        let raw = key_labels(None, 0, 6, &[]).unwrap_or_default();
        label_values(&raw, &[1, 2, 3, 4, 5, 6], &mut v);
        assert_eq!(v, ["010203040506"]);
    }

    #[test]
    fn struct_keys_give_one_label_per_member_and_enum_names() {
        let mut b = Builder::new();
        let u32_t = b.int("__u32", 4, 0);
        let proto = b.enum32("proto", 4, false, &[("PROTO_TCP", 6), ("PROTO_UDP", 17)]);
        let char_t = b.int("char", 1, 1 << 1);
        let idx = b.int("int", 4, 1);
        let name = b.array(char_t, idx, 8);
        let key = b.composite(
            false,
            "flow",
            16,
            &[
                ("saddr", u32_t, 0, 0),
                ("proto", proto, 32, 0),
                ("le", name, 64, 0),
            ],
        );
        let btf = b.build();
        let labels = key_labels(Some(&btf), key, 16, &["map_id"]).unwrap_or_default();
        let names: Vec<&str> = labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["saddr", "proto", "key_le"]);
        let mut bytes = vec![10, 0, 0, 0, 6, 0, 0, 0];
        bytes.extend_from_slice(b"a\"b\n\0\0\0\0");
        let mut v = Vec::new();
        label_values(&labels, &bytes, &mut v);
        assert_eq!(v, ["10", "PROTO_TCP", "a\"b\n"]);
    }

    #[test]
    fn key_types_retype_members_or_the_whole_key() {
        let mut b = Builder::new();
        let u32_t = b.int("__u32", 4, 0);
        let u8_t = b.int("__u8", 1, 0);
        let idx = b.int("int", 4, 1);
        let mac = b.array(u8_t, idx, 6);
        let u16_t = b.int("__u16", 2, 0);
        let key = b.composite(
            false,
            "addr",
            12,
            &[
                ("src", u32_t, 0, 0),
                ("mac", mac, 32, 0),
                ("port", u16_t, 80, 0),
            ],
        );
        let btf = b.build();
        let types = |words: &[&str]| -> Vec<KeyType> {
            words
                .iter()
                .filter_map(|w| KeyType::parse(w).ok())
                .collect()
        };
        let key_bytes = [10, 0, 0, 1, 2, 0, 0, 0, 0, 0xaa, 0x1f, 0x90];
        let mut labels = key_labels(Some(&btf), key, 12, &["map_id"]).unwrap_or_default();
        let used = apply_key_types(
            &mut labels,
            12,
            &types(&["src=ipv4", "mac=mac", "port=be16", "other=ipv4"]),
        )
        .ok();
        assert_eq!(used, Some(vec![true, true, true, false]));
        let mut v = Vec::new();
        label_values(&labels, &key_bytes, &mut v);
        assert_eq!(v, ["10.0.0.1", "02:00:00:00:00:aa", "8080"]);

        // The whole key: one label.
        let mut labels = key_labels(Some(&btf), key, 12, &["map_id"]).unwrap_or_default();
        assert!(apply_key_types(&mut labels, 12, &types(&["hex"])).is_ok());
        label_values(&labels, &key_bytes, &mut v);
        assert_eq!(
            (labels[0].name.as_str(), v[0].as_str()),
            (
                "key",
                "0x0a00000102000000 00aa1f90".replace(' ', "").as_str()
            )
        );
        let mut scalar = key_labels(Some(&btf), u32_t, 4, &[]).unwrap_or_default();
        assert!(apply_key_types(&mut scalar, 4, &types(&["ipv4"])).is_ok());
        label_values(&scalar, &[192, 168, 0, 1], &mut v);
        assert_eq!(v, ["192.168.0.1"]);

        // Sizes must match; a bad word is refused.
        let mut labels = key_labels(Some(&btf), key, 12, &["map_id"]).unwrap_or_default();
        let err = apply_key_types(&mut labels, 12, &types(&["src=ipv6"]))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("--key-type `src=ipv6` is 16 bytes but key member src is 4 bytes")
        );
        assert!(apply_key_types(&mut labels, 12, &types(&["ipv4"])).is_err());
        assert!(apply_key_types(&mut labels, 12, &types(&["hex", "str"])).is_err());
        assert!(KeyType::parse("src=ipv5").is_err());
        assert!(KeyType::parse("=ipv4").is_err());
    }

    #[test]
    fn value_fields_flatten_structs_and_sum_cpus() {
        let mut b = Builder::new();
        let u64_t = b.int("__u64", 8, 0);
        let value = b.composite(
            false,
            "counts",
            16,
            &[("packets", u64_t, 0, 0), ("bytes", u64_t, 64, 0)],
        );
        let btf = b.build();
        let fields = value_fields(Some(&btf), value, 16).unwrap_or_default();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[1].name, "bytes");
        let mut bytes = Vec::new();
        for cpu in 0..3u64 {
            bytes.extend_from_slice(&(cpu + 1).to_le_bytes());
            bytes.extend_from_slice(&(100 * cpu).to_le_bytes());
        }
        assert_eq!(read_field(&fields[0], &bytes, 3, 16), Num::U(6));
        assert_eq!(read_field(&fields[1], &bytes, 3, 16), Num::U(300));
    }

    #[test]
    fn values_without_numbers_are_refused() {
        let mut b = Builder::new();
        let char_t = b.int("char", 1, 1 << 1);
        let idx = b.int("int", 4, 1);
        let name = b.array(char_t, idx, 16);
        let value = b.composite(false, "comm", 16, &[("comm", name, 0, 0)]);
        let btf = b.build();
        let err = value_fields(Some(&btf), value, 16)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("its value (struct comm) has no numeric members to export")
        );
        assert!(value_fields(None, 0, 12).is_err());
    }

    #[test]
    fn bucket_arrays_are_found() {
        let mut b = Builder::new();
        let u64_t = b.int("__u64", 8, 0);
        let idx = b.int("int", 4, 1);
        let slots = b.array(u64_t, idx, 4);
        let value = b.composite(false, "hist", 32, &[("slots", slots, 0, 0)]);
        let btf = b.build();
        let buckets = value_buckets(Some(&btf), value, 32).ok();
        assert_eq!(buckets.as_ref().map(|b| b.fields.len()), Some(4));
        assert_eq!(buckets.map(|b| b.name), Some("slots".to_owned()));
        assert!(value_buckets(Some(&btf), u64_t, 8).is_err());
    }
}
