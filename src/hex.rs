// Hex and number text: bytes as lowercase hex in each shape rbt prints (tags, perf event
// data, typed map values, MAC addresses, bpftool's byte arrays), and numbers given as
// decimal or 0x-hex. The one place these formats are written.

use std::fmt;

use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;

const DIGITS: &[u8; 16] = b"0123456789abcdef";

fn digits(b: u8) -> [u8; 2] {
    [DIGITS[(b >> 4) as usize], DIGITS[(b & 15) as usize]]
}

/// `prefix`, then two hex digits per byte with `sep` between bytes.
fn joined(bytes: &[u8], prefix: &str, sep: Option<char>) -> String {
    let mut out = String::with_capacity(prefix.len() + bytes.len() * 3);
    out.push_str(prefix);
    for (i, b) in bytes.iter().enumerate() {
        if let (Some(sep), true) = (sep, i > 0) {
            out.push(sep);
        }
        let [hi, lo] = digits(*b);
        out.push(hi as char);
        out.push(lo as char);
    }
    out
}

/// `ab01`: a program tag, perf event data.
pub fn compact(bytes: &[u8]) -> String {
    joined(bytes, "", None)
}

/// `ab 01`: bytes for a human (perf event data, raw map entries in a table).
pub fn spaced(bytes: &[u8]) -> String {
    joined(bytes, "", Some(' '))
}

/// `ab:01`: a MAC address.
pub fn colons(bytes: &[u8]) -> String {
    joined(bytes, "", Some(':'))
}

/// `0xab01`: bytes in memory order as one value (untyped map data of odd sizes).
pub fn prefixed(bytes: &[u8]) -> String {
    joined(bytes, "0x", None)
}

/// Bytes shown as one lowercase hex string (`ab01`) by Display and Serialize, written
/// in stack-sized chunks without building a String (perf event streams).
#[derive(Debug, Clone, Copy)]
pub struct HexStr<'a>(pub &'a [u8]);

impl fmt::Display for HexStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 512];
        for chunk in self.0.chunks(buf.len() / 2) {
            for (i, b) in chunk.iter().enumerate() {
                buf[2 * i..2 * i + 2].copy_from_slice(&digits(*b));
            }
            // Only ASCII hex digits were written.
            f.write_str(std::str::from_utf8(&buf[..chunk.len() * 2]).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

impl Serialize for HexStr<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `0xab`: one byte as bpftool writes it, on the stack.
#[derive(Debug, Clone, Copy)]
pub struct Byte0x([u8; 4]);

impl Byte0x {
    pub fn new(b: u8) -> Byte0x {
        let [hi, lo] = digits(b);
        Byte0x([b'0', b'x', hi, lo])
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII was written.
        std::str::from_utf8(&self.0).unwrap_or("0x00")
    }
}

/// bpftool's shape of raw bytes: an array of `"0xab"` strings, one per byte.
#[derive(Debug, Clone, Copy)]
pub struct ByteArray<'a>(pub &'a [u8]);

impl Serialize for ByteArray<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for &b in self.0 {
            seq.serialize_element(Byte0x::new(b).as_str())?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let b = [0xab, 0x01, 0x00];
        assert_eq!(compact(&b), "ab0100");
        assert_eq!(spaced(&b), "ab 01 00");
        assert_eq!(colons(&b), "ab:01:00");
        assert_eq!(prefixed(&b), "0xab0100");
        assert_eq!(compact(&[]), "");
        assert_eq!(prefixed(&[]), "0x");
        assert_eq!(HexStr(&b).to_string(), "ab0100");
        assert_eq!(
            serde_json::to_string(&ByteArray(&b)).ok().as_deref(),
            Some(r#"["0xab","0x01","0x00"]"#)
        );
    }

    #[test]
    fn long_hex_str_spans_chunks() {
        let b: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        assert_eq!(HexStr(&b).to_string(), compact(&b));
        assert_eq!(
            serde_json::to_string(&HexStr(&b)).ok(),
            Some(format!("\"{}\"", compact(&b)))
        );
    }
}
