//! `map update` lines of a `batch file`, applied together: the map opened once, each line's key and value encoded, runs submitted with BPF_MAP_UPDATE_BATCH.

use std::os::fd::OwnedFd;

use anyhow::Result;

use super::encode::{encode_value_words, parse_data};
use super::{open_map, MapCtx};
use crate::bpf::map::UpdateFlag;
use crate::cli::MapTypeArgs;
use crate::handle::Handle;

/// Elements of consecutive `map update` lines on one map with one flag, waiting for one
/// BPF_MAP_UPDATE_BATCH call. Each element carries its caller's tag (a command index).
pub struct Updater {
    ctx: MapCtx,
    flag: UpdateFlag,
    keys: Vec<u8>,
    values: Vec<u8>,
    tags: Vec<usize>,
    /// prog_array and map-in-map values name objects by fd: held open until applied.
    held: Vec<OwnedFd>,
    /// Whether the map takes BPF_MAP_UPDATE_BATCH (cleared when the kernel says no).
    batch: bool,
    chunk: usize,
}

/// What one flush did, element by element in order: each tag, with its error if it failed.
pub type Flushed = Vec<(usize, Option<anyhow::Error>)>;

impl Updater {
    /// Open the map `h` names (resolved now: a pin made by an earlier line is found).
    pub fn open(h: &Handle, flag: UpdateFlag) -> Result<Updater> {
        let ctx = open_map(h, &MapTypeArgs::default())?;
        let chunk = ctx.map.batch_count();
        // Handle-valued maps hold fds until their update: keep those runs short.
        let chunk = if ctx.fd_value_kind().is_some() {
            chunk.min(256)
        } else {
            chunk
        };
        Ok(Updater {
            keys: Vec::with_capacity(chunk * ctx.key_size()),
            values: Vec::with_capacity(chunk * ctx.value_len()),
            tags: Vec::with_capacity(chunk),
            held: Vec::new(),
            // The kernel's batch update takes no exist/noexist flag (EINVAL): those go
            // one element at a time.
            batch: flag == UpdateFlag::Any,
            chunk,
            flag,
            ctx,
        })
    }

    /// Encode one line's key and value words and queue the element. An error is that
    /// line's (nothing is queued). Byte lists (`1 0 0 0`, `hex 0a 00`) are read in place;
    /// other forms (one typed word, per-CPU and handle values) go through `parse_data` and
    /// `encode_value_words`, as `map update` reads them.
    pub fn push<'a, I>(&mut self, tag: usize, key: I, value: I) -> Result<()>
    where
        I: Iterator<Item = &'a str> + Clone,
    {
        let (ks, vs) = (self.ctx.key_size(), self.ctx.value_size());
        let (k0, v0) = (self.keys.len(), self.values.len());
        let plain_value = self.ctx.fd_value_kind().is_none() && !self.ctx.map.is_percpu();
        if bytes_into(key.clone(), ks, &mut self.keys)
            && plain_value
            && bytes_into(value.clone(), vs, &mut self.values)
        {
            self.tags.push(tag);
            return Ok(());
        }
        self.keys.truncate(k0);
        self.values.truncate(v0);
        let key: Vec<String> = key.map(str::to_owned).collect();
        let value: Vec<String> = value.map(str::to_owned).collect();
        let k = parse_data(&key, ks, &self.ctx.key, "key")?;
        let v = encode_value_words(&self.ctx, &value, &mut self.held)?;
        self.keys.extend_from_slice(&k);
        self.values.extend_from_slice(&v);
        self.tags.push(tag);
        Ok(())
    }

    /// Queue an element whose key and value bytes were read already (`byte_list`); false,
    /// with nothing queued, when they do not fit this map (wrong sizes, per-CPU or handle
    /// values): `push` then reads the words and says what is wrong.
    pub fn push_bytes(&mut self, tag: usize, key: &[u8], value: &[u8]) -> bool {
        let plain_value = self.ctx.fd_value_kind().is_none() && !self.ctx.map.is_percpu();
        if !plain_value || key.len() != self.ctx.key_size() || value.len() != self.ctx.value_size()
        {
            return false;
        }
        self.keys.extend_from_slice(key);
        self.values.extend_from_slice(value);
        self.tags.push(tag);
        true
    }

    /// Whether a batch is full and should be flushed.
    pub fn full(&self) -> bool {
        self.tags.len() >= self.chunk
    }

    /// Apply the queued elements: one BPF_MAP_UPDATE_BATCH, then, from the element the
    /// kernel stopped at (or for a map type without batch updates), one update per element
    /// so that an error names its line. With `keep_going` the elements after a failed one
    /// are still applied; without, nothing after it is.
    pub fn flush(&mut self, keep_going: bool) -> Flushed {
        let mut out = Flushed::new();
        let n = self.tags.len();
        if n == 0 {
            return out;
        }
        let (ks, vl) = (self.ctx.key_size(), self.ctx.value_len());
        let mut from = 0;
        if self.batch {
            match self.ctx.map.update_batch(&self.keys, &self.values, n) {
                Ok((done, None)) => from = done,
                Ok((done, Some(e))) => {
                    // A call refused before its first element may leave the count as it
                    // was: nothing was applied then.
                    let done = if done >= n { 0 } else { done };
                    from = done;
                    if done == 0
                        && matches!(
                            e.raw_os_error(),
                            Some(libc::EINVAL) | Some(524) | Some(libc::EOPNOTSUPP)
                        )
                    {
                        self.batch = false;
                    }
                }
                Err(_) => self.batch = false,
            }
        }
        out.extend(self.tags[..from].iter().map(|&t| (t, None)));
        for i in from..n {
            let k = &self.keys[i * ks..(i + 1) * ks];
            let v = &self.values[i * vl..(i + 1) * vl];
            match self.ctx.map.update(Some(k), v, self.flag) {
                Ok(()) => out.push((self.tags[i], None)),
                Err(e) => {
                    out.push((self.tags[i], Some(e)));
                    if !keep_going {
                        break;
                    }
                }
            }
        }
        self.keys.clear();
        self.values.clear();
        self.tags.clear();
        self.held.clear();
        out
    }
}

/// Append the bytes of a byte list (two or more byte words, or `hex` and hex words) to
/// `out`; false, with `out` partly written, for any other form (one typed word, ...).
pub fn byte_list<'a>(mut words: impl Iterator<Item = &'a str>, out: &mut Vec<u8>) -> bool {
    let Some(first) = words.next() else {
        return false;
    };
    let start = out.len();
    let hex = first == "hex";
    if !hex {
        match byte(first, false) {
            Some(b) => out.push(b),
            None => return false,
        }
    }
    for w in words {
        match byte(w, hex) {
            Some(b) => out.push(b),
            None => return false,
        }
    }
    hex || out.len() - start >= 2
}

/// A list of two or more byte words (or `hex` and byte words) of exactly `size` bytes,
/// appended to `out`; false (with `out` partly written) for any other form, which
/// `parse_data` then reads and reports on.
fn bytes_into<'a>(words: impl Iterator<Item = &'a str>, size: usize, out: &mut Vec<u8>) -> bool {
    let start = out.len();
    byte_list(words, out) && out.len() - start == size
}

/// One byte token as `encode::parse_byte` reads it, for the plain forms only (decimal,
/// 0x hex, 0-prefixed octal; bare hex digits after `hex`); None for anything else.
fn byte(t: &str, hex: bool) -> Option<u8> {
    let b = t.as_bytes();
    let (digits, radix) = if hex {
        (
            t.strip_prefix("0x").or(t.strip_prefix("0X")).unwrap_or(t),
            16,
        )
    } else if let Some(h) = t.strip_prefix("0x").or(t.strip_prefix("0X")) {
        (h, 16)
    } else if b.len() > 1 && b[0] == b'0' {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    if digits.is_empty() || digits.len() > 3 {
        return None;
    }
    let mut v = 0u32;
    for c in digits.bytes() {
        v = v * radix + char::from(c).to_digit(radix)?;
    }
    u8::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_words_read_like_parse_byte() {
        for (t, hex, want) in [
            ("0", false, Some(0)),
            ("255", false, Some(255)),
            ("256", false, None),
            ("0x0a", false, Some(10)),
            ("010", false, Some(8)),
            ("08", false, None),
            ("ff", true, Some(255)),
            ("0xff", true, Some(255)),
            ("1a", false, None),
            ("+1", false, None),
            ("", false, None),
        ] {
            assert_eq!(byte(t, hex), want, "{t}");
            if let Some(b) = want {
                let same = super::super::encode::parse_byte_for_tests(t, hex);
                assert_eq!(same, Some(b), "{t}");
            }
        }
        let mut v = Vec::new();
        assert!(bytes_into(["1", "0", "0", "0"].into_iter(), 4, &mut v));
        assert_eq!(v, [1, 0, 0, 0]);
        v.clear();
        assert!(!bytes_into(["5"].into_iter(), 1, &mut v));
        v.clear();
        assert!(bytes_into(["hex", "0a"].into_iter(), 1, &mut v));
        v.clear();
        assert!(!bytes_into(["1", "0", "0"].into_iter(), 4, &mut v));
    }
}
