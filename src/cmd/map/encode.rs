// Key and value bytes from DATA words and from JSON (typed via BTF or bpftool's hex arrays).

use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::MapCtx;
use crate::btf::codec::Codec;
use crate::error::usage;
use crate::handle;

/// A byte token as bpftool reads it (`strtoul(.., 0)`, or base 16 after `hex`), 0..=255.
fn parse_byte(tok: &str, hex: bool) -> Result<u8> {
    let t = tok.trim();
    let v = if hex {
        u64::from_str_radix(t.trim_start_matches("0x").trim_start_matches("0X"), 16).ok()
    } else if let Some(h) = t.strip_prefix("0x").or(t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if t.len() > 1 && t.starts_with('0') {
        u64::from_str_radix(&t[1..], 8).ok()
    } else {
        t.parse::<u64>().ok()
    };
    match v {
        Some(b) if b <= 255 => Ok(b as u8),
        Some(b) => bail!("byte {b} (`{tok}`) is out of range 0..255"),
        None => bail!("`{tok}` is not a byte"),
    }
}

#[cfg(test)]
pub(super) fn parse_byte_for_tests(tok: &str, hex: bool) -> Option<u8> {
    parse_byte(tok, hex).ok()
}

fn is_byte_token(t: &str) -> bool {
    parse_byte(t, false).is_ok() || t.parse::<u64>().is_ok()
}

/// Bytes from DATA words: bpftool's byte list (`hex` makes every token hex), or one typed
/// word for `codec`.
pub(super) fn parse_data(
    words: &[String],
    size: usize,
    codec: &Codec,
    what: &str,
) -> Result<Vec<u8>> {
    let err_ctx = || what.to_string();
    match words {
        [] => Err(usage(format!("`{what}` needs DATA"))),
        [first, rest @ ..] if first == "hex" => {
            let bytes = rest
                .iter()
                .map(|t| parse_byte(t, true))
                .collect::<Result<Vec<u8>>>()?;
            check_len(bytes, size, what)
        }
        [one] if size == 1 && is_byte_token(one) => Ok(vec![parse_byte(one, false)?]),
        [one] => codec.encode_text(one, size).with_context(err_ctx),
        many => {
            if let Some(bad) = many.iter().find(|t| !is_byte_token(t)) {
                bail!(
                    "{what}: `{bad}` is not a byte; give bytes (`1 0 0 0`, `hex 0a 00`) or one typed value"
                );
            }
            let bytes = many
                .iter()
                .map(|t| parse_byte(t, false))
                .collect::<Result<Vec<u8>>>()?;
            check_len(bytes, size, what)
        }
    }
}

fn check_len(bytes: Vec<u8>, size: usize, what: &str) -> Result<Vec<u8>> {
    if bytes.len() != size {
        bail!("{what} expected {size} bytes got {}", bytes.len());
    }
    Ok(bytes)
}

/// A whole value for an update: per-CPU maps get the one value copied to every CPU, or a
/// JSON array of `{"cpu":N,"value":..}` / of ncpus values.
pub(super) fn encode_value_words(
    ctx: &MapCtx,
    words: &[String],
    held: &mut Vec<OwnedFd>,
) -> Result<Vec<u8>> {
    let vs = ctx.value_size();
    if let Some(kind) = ctx.fd_value_kind() {
        let h = handle::parse_all(kind, words)
            .with_context(|| format!("a {} value is a {} handle", ctx.type_name(), kind.noun()))?;
        let r = handle::resolve_one(kind, &h)?;
        let fd = r.fd.as_raw_fd() as u32;
        held.push(r.fd);
        return Ok(fd.to_le_bytes().to_vec());
    }
    if ctx.map.is_percpu() {
        if let [one] = words {
            if one.trim_start().starts_with('[') {
                let v = crate::btf::parse::text_value(one)?;
                return encode_value_json(ctx, &v, true);
            }
        }
        let single = parse_data(words, vs, &ctx.value, "value")?;
        return Ok(spread(ctx, &single));
    }
    parse_data(words, vs, &ctx.value, "value")
}

/// One value copied to every CPU slot.
fn spread(ctx: &MapCtx, single: &[u8]) -> Vec<u8> {
    let stride = ctx.map.stride();
    let mut all = vec![0u8; ctx.value_len()];
    for cpu in 0..ctx.map.ncpus() {
        all[cpu * stride..cpu * stride + single.len()].copy_from_slice(single);
    }
    all
}

/// A value from JSON (`--from` lines and per-CPU arrays).
pub(super) fn encode_value_json(ctx: &MapCtx, v: &Value, per_cpu_array: bool) -> Result<Vec<u8>> {
    let (vs, stride, ncpus) = (ctx.value_size(), ctx.map.stride(), ctx.map.ncpus());
    if !ctx.map.is_percpu() {
        return encode_json(&ctx.value, v, vs);
    }
    match v {
        Value::Array(items) if per_cpu_array => {
            let mut all = vec![0u8; ctx.value_len()];
            let objects = items.iter().all(|i| i.get("cpu").is_some());
            if !objects && items.len() != ncpus {
                bail!(
                    "a per-CPU value needs {} values (one per possible CPU), got {}",
                    ncpus,
                    items.len()
                );
            }
            for (i, item) in items.iter().enumerate() {
                let (cpu, val) = if objects {
                    let cpu = item["cpu"].as_u64().context("\"cpu\" must be a number")? as usize;
                    let val = item.get("value").context("missing \"value\"")?;
                    (cpu, val)
                } else {
                    (i, item)
                };
                if cpu >= ncpus {
                    bail!("cpu {cpu} does not exist ({ncpus} possible CPUs)");
                }
                let b = encode_json(&ctx.value, val, vs).with_context(|| format!("cpu {cpu}"))?;
                all[cpu * stride..cpu * stride + vs].copy_from_slice(&b);
            }
            Ok(all)
        }
        _ => Ok(spread(ctx, &encode_json(&ctx.value, v, vs)?)),
    }
}

/// A key or value from JSON: typed, or bpftool's `["0x0a",..]` byte arrays.
pub(super) fn encode_json(codec: &Codec, v: &Value, size: usize) -> Result<Vec<u8>> {
    if let Value::Array(items) = v {
        if items.len() == size
            && items.iter().all(|i| {
                i.as_str()
                    .is_some_and(|s| s.starts_with("0x") && s.len() <= 4)
            })
        {
            return items
                .iter()
                .map(|i| parse_byte(i.as_str().unwrap_or(""), false))
                .collect();
        }
    }
    codec.encode(v, size)
}

/// For fuzz/ (cargo-fuzz sets `cfg(fuzzing)`): `map update` words through the grammar and
/// bpftool's byte grammar (or one typed word under `codec`) to key and value bytes of the
/// given sizes, with no map behind them.
#[cfg(fuzzing)]
pub fn fuzz_update_words(
    words: &[String],
    codec: &Codec,
    key_size: usize,
    value_size: usize,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let w = super::words::update(words)?;
    let key = parse_data(&w.key, key_size, codec, "key")?;
    let value = parse_data(&w.value, value_size, codec, "value")?;
    Ok((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cmd::map::words_of as words;

    #[test]
    fn bytes_parse_like_bpftool_but_range_checked() {
        let c = Codec::Plain;
        assert_eq!(
            parse_data(&words("1 0x10 010 255"), 4, &c, "key").ok(),
            Some(vec![1, 16, 8, 255])
        );
        assert_eq!(
            parse_data(&words("hex 0a ff 10 00"), 4, &c, "key").ok(),
            Some(vec![10, 255, 16, 0])
        );
        let e = parse_data(&words("1 256 0 0"), 4, &c, "key").unwrap_err();
        assert!(format!("{e:#}").contains("256"), "{e:#}");
        let e = parse_data(&words("1 0 0"), 4, &c, "key").unwrap_err();
        assert_eq!(format!("{e:#}"), "key expected 4 bytes got 3");
        // One word is a typed value: an int for a 4-byte key without BTF.
        assert_eq!(
            parse_data(&words("258"), 4, &c, "key").ok(),
            Some(vec![2, 1, 0, 0])
        );
        assert!(parse_data(&words("256"), 1, &c, "key").is_err());
    }
}
