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
    /// line's (nothing is queued).
    pub fn push(&mut self, tag: usize, key: &[String], value: &[String]) -> Result<()> {
        let k = parse_data(key, self.ctx.key_size(), &self.ctx.key, "key")?;
        let v = encode_value_words(&self.ctx, value, &mut self.held)?;
        self.keys.extend_from_slice(&k);
        self.values.extend_from_slice(&v);
        self.tags.push(tag);
        Ok(())
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
