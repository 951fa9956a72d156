// How a map's key or value bytes are read and written: by BTF, by a named simple type
// (`--key-type u32|be16|ipv4|mac|str|hex|...`), or without either (ints for sizes 1/2/4/8,
// hex strings otherwise).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::rc::Rc;

use anyhow::{bail, Context, Result};
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::format::{le_u128, Typed};
use super::{parse, Btf};
use crate::hex;

/// The simple types `--key-type` / `--value-type` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Simple {
    U(u32),
    I(u32),
    Be(u32),
    Ipv4,
    Ipv6,
    Mac,
    Str,
    Hex,
}

pub const SIMPLE_NAMES: &str =
    "u8, u16, u32, u64, i8, i16, i32, i64, be16, be32, be64, ipv4, ipv6, mac, str, hex";

impl Simple {
    pub fn by_name(name: &str) -> Result<Simple> {
        Ok(match name {
            "u8" => Simple::U(1),
            "u16" => Simple::U(2),
            "u32" => Simple::U(4),
            "u64" => Simple::U(8),
            "i8" => Simple::I(1),
            "i16" => Simple::I(2),
            "i32" => Simple::I(4),
            "i64" => Simple::I(8),
            "be16" => Simple::Be(2),
            "be32" => Simple::Be(4),
            "be64" => Simple::Be(8),
            "ipv4" => Simple::Ipv4,
            "ipv6" => Simple::Ipv6,
            "mac" => Simple::Mac,
            "str" => Simple::Str,
            "hex" => Simple::Hex,
            other => bail!("unknown type `{other}`; known: {SIMPLE_NAMES}"),
        })
    }

    /// Append the text of `b` under this type to `out`: what `Codec::text` shows, without
    /// the round trip through JSON (label values of `metrics --key-type`, per element).
    pub fn text_into(self, b: &[u8], out: &mut String) {
        use std::fmt::Write as _;
        let int = || le_u128(b) as u64;
        let _ = match self {
            Simple::U(_) => write!(out, "{}", int()),
            Simple::I(n) => {
                let shift = 64 - (n * 8).min(64);
                write!(out, "{}", ((int() << shift) as i64) >> shift)
            }
            Simple::Be(_) => write!(out, "{}", b.iter().fold(0u64, |v, x| (v << 8) | *x as u64)),
            Simple::Ipv4 => match <[u8; 4]>::try_from(b) {
                Ok(a) => write!(out, "{}", Ipv4Addr::from(a)),
                Err(_) => out.write_str(&hex::prefixed(b)),
            },
            Simple::Ipv6 => match <[u8; 16]>::try_from(b) {
                Ok(a) => write!(out, "{}", Ipv6Addr::from(a)),
                Err(_) => out.write_str(&hex::prefixed(b)),
            },
            Simple::Mac => out.write_str(&hex::colons(b)),
            Simple::Str => {
                let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                out.write_str(&String::from_utf8_lossy(&b[..end]))
            }
            Simple::Hex => out.write_str(&hex::prefixed(b)),
        };
    }

    /// The fixed size of the type, None for str and hex (any size).
    pub fn size(self) -> Option<usize> {
        match self {
            Simple::U(n) | Simple::I(n) | Simple::Be(n) => Some(n as usize),
            Simple::Ipv4 => Some(4),
            Simple::Ipv6 => Some(16),
            Simple::Mac => Some(6),
            Simple::Str | Simple::Hex => None,
        }
    }
}

/// The interpretation of one side (key or value) of a map.
#[derive(Debug, Clone)]
pub enum Codec {
    /// `int` is set when the type is a plain integer of 1/2/4/8 bytes (a fast path):
    /// (bytes, signed).
    Btf {
        btf: Rc<Btf>,
        id: u32,
        int: Option<(u32, bool)>,
    },
    Simple(Simple),
    /// No type information: unsigned ints for sizes 1/2/4/8, hex strings otherwise.
    Plain,
}

impl Codec {
    /// A codec for BTF type `id`.
    pub fn btf(btf: Rc<Btf>, id: u32) -> Codec {
        let int = match btf.resolve(id) {
            Ok((_, super::Type::Int(i)))
                if matches!(i.size, 1 | 2 | 4 | 8)
                    && i.bit_offset == 0
                    && (i.bits == 0 || i.bits == i.size * 8)
                    && !i.bool
                    && !i.char =>
            {
                Some((i.size, i.signed))
            }
            _ => None,
        };
        Codec::Btf { btf, id, int }
    }

    /// A codec for `size` bytes; checks a simple type's size against it.
    pub fn simple(name: &str, size: usize, side: &str) -> Result<Codec> {
        let s = Simple::by_name(name).with_context(|| format!("--{side}-type"))?;
        if let Some(n) = s.size() {
            if n != size {
                bail!("--{side}-type {name} is {n} bytes but the map's {side} is {size} bytes");
            }
        }
        Ok(Codec::Simple(s))
    }

    /// A Serialize view of `bytes` under this codec.
    pub fn view<'a>(&'a self, bytes: &'a [u8]) -> View<'a> {
        View { codec: self, bytes }
    }

    /// The value as a compact one-line text (table cells).
    pub fn text(&self, bytes: &[u8]) -> String {
        match serde_json::to_string(&self.view(bytes)) {
            // A string is shown without its JSON quotes.
            Ok(t) if t.starts_with('"') => serde_json::from_str::<String>(&t).unwrap_or(t),
            Ok(t) => t,
            Err(e) => format!("<{e}>"),
        }
    }

    /// Encode a JSON value to exactly `size` bytes.
    pub fn encode(&self, v: &Value, size: usize) -> Result<Vec<u8>> {
        let bytes = match self {
            Codec::Btf {
                int: Some((n, signed)),
                ..
            } if !matches!(v, Value::String(_)) => {
                int_value(v, n * 8, *signed)?.to_le_bytes()[..*n as usize].to_vec()
            }
            Codec::Btf { btf, id, .. } => parse::from_json(btf, *id, v)?,
            Codec::Simple(s) => encode_simple(*s, v, size)?,
            Codec::Plain => encode_plain(v, size)?,
        };
        if bytes.len() != size {
            bail!("expected {size} bytes, the type gives {}", bytes.len());
        }
        Ok(bytes)
    }

    /// Encode a command-line word (JSON, or a bare word taken as a string).
    pub fn encode_text(&self, text: &str, size: usize) -> Result<Vec<u8>> {
        self.encode(&parse::text_value(text)?, size)
    }
}

/// A Serialize view of bytes under a codec.
pub struct View<'a> {
    codec: &'a Codec,
    bytes: &'a [u8],
}

impl Serialize for View<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = self.bytes;
        match self.codec {
            Codec::Btf {
                int: Some((n, signed)),
                ..
            } if b.len() == *n as usize => {
                let raw = le_u128(b) as u64;
                if *signed {
                    let shift = 64 - n * 8;
                    s.serialize_i64(((raw << shift) as i64) >> shift)
                } else {
                    s.serialize_u64(raw)
                }
            }
            Codec::Btf { btf, id, .. } => Typed::new(btf, *id, b).serialize(s),
            Codec::Plain => match b.len() {
                1 | 2 | 4 | 8 => s.serialize_u64(le_u128(b) as u64),
                _ => s.serialize_str(&hex::prefixed(b)),
            },
            Codec::Simple(simple) => match *simple {
                Simple::U(_) => s.serialize_u64(le_u128(b) as u64),
                Simple::I(n) => {
                    let shift = 64 - n * 8;
                    s.serialize_i64(((le_u128(b) as u64) << shift) as i64 >> shift)
                }
                Simple::Be(_) => {
                    let mut v = 0u64;
                    for x in b {
                        v = (v << 8) | *x as u64;
                    }
                    s.serialize_u64(v)
                }
                Simple::Ipv4 => {
                    let a: [u8; 4] = b.try_into().map_err(serde::ser::Error::custom)?;
                    s.collect_str(&Ipv4Addr::from(a))
                }
                Simple::Ipv6 => {
                    let a: [u8; 16] = b.try_into().map_err(serde::ser::Error::custom)?;
                    s.collect_str(&Ipv6Addr::from(a))
                }
                Simple::Mac => s.serialize_str(&hex::colons(b)),
                Simple::Str => {
                    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                    s.serialize_str(&String::from_utf8_lossy(&b[..end]))
                }
                Simple::Hex => s.serialize_str(&hex::prefixed(b)),
            },
        }
    }
}

fn int_value(v: &Value, bits: u32, signed: bool) -> Result<u64> {
    let (neg, mag): (bool, u128) = match v {
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => (false, u as u128),
            (None, Some(i)) => (true, i.unsigned_abs() as u128),
            _ if n.as_f64() == Some(0.0) => (false, 0),
            _ => bail!("expected an integer, got {n}"),
        },
        Value::String(t) => {
            let t = t.trim();
            let (neg, body) = match t.strip_prefix('-') {
                Some(r) => (true, r),
                None => (false, t),
            };
            let mag = match body.strip_prefix("0x").or(body.strip_prefix("0X")) {
                Some(h) => u128::from_str_radix(h, 16),
                None => body.parse::<u128>(),
            }
            .map_err(|_| anyhow::anyhow!("expected an integer, got \"{t}\""))?;
            (neg, mag)
        }
        other => bail!("expected an integer, got {other}"),
    };
    let max_u = if bits >= 64 {
        u64::MAX as u128
    } else {
        (1u128 << bits) - 1
    };
    let shown = if neg {
        format!("-{mag}")
    } else {
        mag.to_string()
    };
    if signed {
        let half = 1u128 << (bits - 1);
        let ok = if neg { mag <= half } else { mag < half };
        if !ok {
            bail!(
                "{shown} is out of range for a {bits}-bit signed integer (-{half}..{})",
                half - 1
            );
        }
        let v = if neg {
            (mag as i128).wrapping_neg()
        } else {
            mag as i128
        };
        Ok((v as u128 & max_u) as u64)
    } else {
        if neg && mag != 0 || mag > max_u {
            bail!("{shown} is out of range for a {bits}-bit unsigned integer (0..{max_u})");
        }
        Ok(mag as u64)
    }
}

fn parse_hex_bytes(t: &str, size: usize) -> Result<Vec<u8>> {
    let h: String = t
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if h.len() != size * 2 {
        bail!(
            "hex string \"{t}\" has {} bytes, expected {size}",
            h.len() / 2
        );
    }
    (0..size)
        .map(|i| {
            u8::from_str_radix(&h[2 * i..2 * i + 2], 16)
                .map_err(|_| anyhow::anyhow!("bad hex string \"{t}\""))
        })
        .collect()
}

fn encode_plain(v: &Value, size: usize) -> Result<Vec<u8>> {
    match size {
        1 | 2 | 4 | 8 => {
            let x = int_value(v, size as u32 * 8, false)?;
            Ok(x.to_le_bytes()[..size].to_vec())
        }
        _ => match v {
            Value::String(t) => parse_hex_bytes(t, size),
            other => bail!("expected a hex string of {size} bytes, got {other}"),
        },
    }
}

fn encode_simple(s: Simple, v: &Value, size: usize) -> Result<Vec<u8>> {
    let text = || match v {
        Value::String(t) => Ok(t.as_str()),
        other => bail!("expected a string, got {other}"),
    };
    Ok(match s {
        Simple::U(n) => int_value(v, n * 8, false)?.to_le_bytes()[..n as usize].to_vec(),
        Simple::I(n) => int_value(v, n * 8, true)?.to_le_bytes()[..n as usize].to_vec(),
        Simple::Be(n) => {
            let x = int_value(v, n * 8, false)?;
            x.to_be_bytes()[8 - n as usize..].to_vec()
        }
        Simple::Ipv4 => {
            let t = text()?;
            let a: Ipv4Addr = t
                .parse()
                .with_context(|| format!("bad IPv4 address \"{t}\""))?;
            a.octets().to_vec()
        }
        Simple::Ipv6 => {
            let t = text()?;
            let a: Ipv6Addr = t
                .parse()
                .with_context(|| format!("bad IPv6 address \"{t}\""))?;
            a.octets().to_vec()
        }
        Simple::Mac => parse_hex_bytes(text()?, 6).context("bad MAC address")?,
        Simple::Str => {
            let t = text()?;
            if t.len() >= size {
                bail!(
                    "string \"{t}\" is too long: at most {} bytes",
                    size.saturating_sub(1)
                );
            }
            let mut b = t.as_bytes().to_vec();
            b.resize(size, 0);
            b
        }
        Simple::Hex => parse_hex_bytes(text()?, size)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round(c: &Codec, bytes: &[u8]) -> Value {
        let v = serde_json::to_value(c.view(bytes)).unwrap_or(Value::Null);
        assert_eq!(
            c.encode(&v, bytes.len()).ok().as_deref(),
            Some(bytes),
            "{v}"
        );
        v
    }

    #[test]
    fn simple_text_into_matches_the_json_view() {
        let cases: &[(&str, &[u8])] = &[
            ("u32", &[1, 2, 0, 0]),
            ("i16", &[0xfe, 0xff]),
            ("i64", &[0xff; 8]),
            ("be16", &[0x1f, 0x90]),
            ("ipv4", &[10, 0, 0, 1]),
            (
                "ipv6",
                &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            ),
            ("mac", &[2, 0, 0, 0, 0, 0xaa]),
            ("str", b"a\"b\0zz"),
            ("hex", &[0, 0xff, 7]),
        ];
        for (name, bytes) in cases {
            let s = Simple::by_name(name).unwrap_or(Simple::Hex);
            let mut text = String::new();
            s.text_into(bytes, &mut text);
            assert_eq!(text, Codec::Simple(s).text(bytes), "{name}");
        }
    }

    #[test]
    fn plain_is_ints_or_hex() {
        let c = Codec::Plain;
        assert_eq!(round(&c, &[1, 0, 0, 0]), json!(1));
        assert_eq!(round(&c, &[1, 2, 3]), json!("0x010203"));
        assert!(c.encode(&json!(256), 1).is_err());
        assert!(c.encode(&json!("0x01"), 3).is_err());
    }

    #[test]
    fn btf_int_fast_path_matches_the_general_one() {
        let mut b = crate::btf::testing::Builder::new();
        let i16_ = b.int("short", 2, 1);
        let u64_ = b.int("unsigned long", 8, 0);
        let td = b.typedef("__u64", u64_);
        let bool_ = b.int("_Bool", 1, 4);
        let btf = Rc::new(b.build());
        let c = Codec::btf(btf.clone(), i16_);
        assert!(matches!(
            c,
            Codec::Btf {
                int: Some((2, true)),
                ..
            }
        ));
        assert_eq!(round(&c, &(-300i16).to_le_bytes()), json!(-300));
        assert!(c.encode(&json!(40000), 2).is_err());
        assert_eq!(c.encode(&json!("0x10"), 2).ok(), Some(vec![16, 0]));
        let c = Codec::btf(btf.clone(), td);
        assert_eq!(round(&c, &u64::MAX.to_le_bytes()), json!(u64::MAX));
        assert!(c.encode(&json!(-1), 8).is_err());
        let c = Codec::btf(btf, bool_);
        assert!(matches!(c, Codec::Btf { int: None, .. }));
        assert_eq!(round(&c, &[1]), json!(true));
    }

    #[test]
    fn simple_types_round_trip() {
        let ip = Codec::simple("ipv4", 4, "key").unwrap_or(Codec::Plain);
        assert_eq!(round(&ip, &[10, 0, 0, 1]), json!("10.0.0.1"));
        let be = Codec::simple("be16", 2, "key").unwrap_or(Codec::Plain);
        assert_eq!(round(&be, &[0x01, 0xbb]), json!(443));
        let i = Codec::simple("i32", 4, "value").unwrap_or(Codec::Plain);
        assert_eq!(round(&i, &(-7i32).to_le_bytes()), json!(-7));
        assert!(i.encode(&json!(2147483648u64), 4).is_err());
        let mac = Codec::simple("mac", 6, "key").unwrap_or(Codec::Plain);
        assert_eq!(
            round(&mac, &[0, 0x11, 0x22, 0x33, 0x44, 0xff]),
            json!("00:11:22:33:44:ff")
        );
        let st = Codec::simple("str", 8, "key").unwrap_or(Codec::Plain);
        assert_eq!(round(&st, b"eth0\0\0\0\0"), json!("eth0"));
        let v6 = Codec::simple("ipv6", 16, "key").unwrap_or(Codec::Plain);
        let mut b = [0u8; 16];
        b[15] = 1;
        assert_eq!(round(&v6, &b), json!("::1"));
        let e = Codec::simple("u32", 8, "key").map(|_| ()).unwrap_err();
        assert!(format!("{e:#}").contains("is 4 bytes but the map's key is 8 bytes"));
        assert!(Codec::simple("bogus", 4, "key").is_err());
    }
}
