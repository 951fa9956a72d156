// `MapFd::entries()`: every element, batch by batch, read on a second thread; bounded memory.

use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

use anyhow::{anyhow, Result};

use super::map::{Batch, MapFd};

/// Batches in flight between the reading thread and the consumer (bounds memory).
const BATCHES_IN_FLIGHT: usize = 2;

/// The largest batch the reader grows to when a hash bucket does not fit.
const MAX_BATCH: usize = 1 << 24;

impl MapFd {
    /// Elements per batch call: about 256 KiB of keys and values, within 64..=65536.
    pub fn batch_count(&self) -> usize {
        let per = self.key_size().max(1) + self.value_len().max(1);
        ((1usize << 18) / per).clamp(64, 65536)
    }

    /// Every element, batch by batch, with BPF_MAP_LOOKUP_BATCH on a second thread while
    /// the caller works on the previous batch (at most BATCHES_IN_FLIGHT wait at a time);
    /// where the map type has no batch lookup, by get_next_key + lookup on this thread.
    pub fn entries(&self) -> Entries<'_> {
        let count = self.batch_count();
        let state = match self.try_clone().and_then(|map| Reader::spawn(map, count)) {
            Ok(reader) => State::Threaded(reader),
            Err(e) => State::Failed(Some(e)),
        };
        Entries {
            map: self,
            count,
            state,
        }
    }
}

/// Keys and values of up to one batch call; dropping it hands its buffers back to the
/// reader.
pub struct EntryBatch {
    chunk: Chunk,
    key_size: usize,
    value_len: usize,
    back: Option<Sender<Chunk>>,
}

impl EntryBatch {
    /// The elements: (key, whole value) byte slices.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let (ks, vl) = (self.key_size, self.value_len);
        (0..self.chunk.n).map(move |i| {
            (
                &self.chunk.keys[i * ks..(i + 1) * ks],
                &self.chunk.values[i * vl..(i + 1) * vl],
            )
        })
    }
}

impl Drop for EntryBatch {
    fn drop(&mut self) {
        if let Some(back) = &self.back {
            // The reader may be gone already; then the buffers are just freed.
            let _ = back.send(std::mem::take(&mut self.chunk));
        }
    }
}

/// The iterator `MapFd::entries` returns.
pub struct Entries<'a> {
    map: &'a MapFd,
    count: usize,
    state: State,
}

enum State {
    Threaded(Reader),
    /// The map type has no batch operation: get_next_key from `after`, then lookup.
    ByKey {
        after: Option<Vec<u8>>,
    },
    Failed(Option<anyhow::Error>),
    Done,
}

impl Iterator for Entries<'_> {
    type Item = Result<EntryBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match &mut self.state {
                State::Threaded(reader) => match reader.rx.as_ref().map(Receiver::recv) {
                    Some(Ok(Ok(Produced::Chunk(chunk)))) => {
                        return Some(Ok(EntryBatch {
                            chunk,
                            key_size: self.map.key_size(),
                            value_len: self.map.value_len(),
                            back: reader.back.clone(),
                        }))
                    }
                    Some(Ok(Ok(Produced::Unsupported))) => {
                        self.state = State::ByKey { after: None };
                    }
                    Some(Ok(Err(e))) => {
                        self.state = State::Done;
                        return Some(Err(e));
                    }
                    // The reader is done (or already stopped).
                    Some(Err(_)) | None => self.state = State::Done,
                },
                State::ByKey { after } => {
                    let read = by_key(self.map, after, self.count);
                    return match read {
                        Ok(Some(chunk)) => Some(Ok(EntryBatch {
                            chunk,
                            key_size: self.map.key_size(),
                            value_len: self.map.value_len(),
                            back: None,
                        })),
                        Ok(None) => {
                            self.state = State::Done;
                            None
                        }
                        Err(e) => {
                            self.state = State::Done;
                            Some(Err(e))
                        }
                    };
                }
                State::Failed(e) => {
                    let e = e.take();
                    self.state = State::Done;
                    return e.map(Err);
                }
                State::Done => return None,
            }
        }
    }
}

/// Up to `count` elements after the key `after` (from the first with None), by
/// get_next_key + lookup. None at the end of the map.
fn by_key(map: &MapFd, after: &mut Option<Vec<u8>>, count: usize) -> Result<Option<Chunk>> {
    let (ks, vl) = (map.key_size(), map.value_len());
    let mut chunk = Chunk::default();
    let mut next = vec![0u8; ks];
    let mut value = vec![0u8; vl];
    while chunk.n < count && map.next_key(after.as_deref(), &mut next)? {
        let key = after.get_or_insert_with(Vec::new);
        key.clear();
        key.extend_from_slice(&next);
        // An element deleted between get_next_key and lookup is skipped.
        if map.lookup(Some(&next), &mut value)? {
            chunk.keys.extend_from_slice(&next);
            chunk.values.extend_from_slice(&value);
            chunk.n += 1;
        }
    }
    Ok((chunk.n > 0).then_some(chunk))
}

/// The buffers of one batch call.
#[derive(Default)]
struct Chunk {
    keys: Vec<u8>,
    values: Vec<u8>,
    n: usize,
}

enum Produced {
    Chunk(Chunk),
    /// The map type has no batch operation: iterate by key instead.
    Unsupported,
}

/// The reading thread and the channels to it. Dropping it stops the thread at its next
/// send and waits for it.
struct Reader {
    rx: Option<Receiver<Result<Produced>>>,
    back: Option<Sender<Chunk>>,
    thread: Option<JoinHandle<()>>,
}

impl Reader {
    fn spawn(map: MapFd, count: usize) -> Result<Reader> {
        let (tx, rx) = sync_channel::<Result<Produced>>(BATCHES_IN_FLIGHT);
        let (back_tx, back_rx) = channel::<Chunk>();
        let thread = std::thread::Builder::new()
            .name("rbt-map-reader".into())
            .spawn(move || read_batches(&map, count, &tx, &back_rx))
            .map_err(|e| anyhow!("starting the map reader thread: {e}"))?;
        Ok(Reader {
            rx: Some(rx),
            back: Some(back_tx),
            thread: Some(thread),
        })
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // Closing the channels first makes the reader's next send fail, so it returns.
        self.rx = None;
        self.back = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The reading side: batch lookups from the start of the map, sent chunk by chunk, reusing
/// the buffers that come back.
fn read_batches(
    map: &MapFd,
    mut count: usize,
    tx: &SyncSender<Result<Produced>>,
    back: &Receiver<Chunk>,
) {
    let (ks, vl) = (map.key_size(), map.value_len());
    let tok_len = ks.max(8);
    let mut token_in = vec![0u8; tok_len];
    let mut token_out = vec![0u8; tok_len];
    let mut started = false;
    loop {
        let mut chunk = back.try_recv().unwrap_or_default();
        chunk.keys.resize(count * ks, 0);
        chunk.values.resize(count * vl, 0);
        let r = map.lookup_batch(
            started.then_some(token_in.as_slice()),
            &mut token_out,
            &mut chunk.keys,
            &mut chunk.values,
            count,
        );
        let (n, end) = match r {
            Ok(Batch::More(n)) => (n, false),
            Ok(Batch::End(n)) => (n, true),
            Ok(Batch::NoSpace) => {
                count *= 2;
                if count > MAX_BATCH {
                    let _ = tx.send(Err(anyhow!(
                        "a hash bucket does not fit in {count} elements"
                    )));
                    return;
                }
                continue;
            }
            Ok(Batch::Unsupported) => {
                let _ = tx.send(Ok(Produced::Unsupported));
                return;
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        chunk.n = n;
        if n > 0 && tx.send(Ok(Produced::Chunk(chunk))).is_err() {
            return;
        }
        if end {
            return;
        }
        std::mem::swap(&mut token_in, &mut token_out);
        started = true;
    }
}

#[cfg(test)]
mod tests {
    use super::super::map::{create, type_names, CreateSpec, UpdateFlag};
    use super::*;

    /// A new map of `type_name` with u32 keys and u64 values, or None (and why) when this
    /// process may not create maps.
    fn new_map(type_name: &str, entries: u32) -> Option<MapFd> {
        let map_type = type_names().iter().position(|n| *n == type_name)? as u32;
        let spec = CreateSpec {
            map_type,
            name: "rbt_unit".into(),
            key_size: 4,
            value_size: 8,
            max_entries: entries,
            ..Default::default()
        };
        match create(&spec).and_then(MapFd::new) {
            Ok(m) => Some(m),
            Err(e) => {
                let required = std::env::var("RBT_REQUIRE_KERNEL").as_deref() == Ok("1");
                assert!(
                    !required,
                    "RBT_REQUIRE_KERNEL=1 but creating a map failed: {e:#}"
                );
                eprintln!("SKIP: cannot create a BPF map: {e:#}");
                None
            }
        }
    }

    #[test]
    fn wrong_buffer_lengths_are_errors() {
        let Some(m) = new_map("hash", 4) else {
            return;
        };
        let mut value = [0u8; 8];
        assert!(m.update(Some(&[1, 0, 0]), &value, UpdateFlag::Any).is_err());
        assert!(m
            .update(Some(&[1, 0, 0, 0]), &value[..4], UpdateFlag::Any)
            .is_err());
        assert!(m.update(None, &value, UpdateFlag::Any).is_err());
        assert!(m.lookup(Some(&[1, 0, 0, 0]), &mut value[..7]).is_err());
        assert!(m.next_key(None, &mut [0u8; 2]).is_err());
        assert!(m.delete(&[0u8; 5]).is_err());
        let mut keys = vec![0u8; 4 * 3];
        let mut values = vec![0u8; 8 * 4];
        let mut tok = [0u8; 8];
        assert!(m
            .lookup_batch(None, &mut tok, &mut keys, &mut values, 4)
            .is_err());
        assert!(m.update_batch(&keys, &values, 4).is_err());
        assert!(m.delete_batch(&keys, 4).is_err());
        m.update(
            Some(&[1, 0, 0, 0]),
            &7u64.to_le_bytes(),
            UpdateFlag::NoExist,
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
        assert!(m
            .lookup(Some(&[1, 0, 0, 0]), &mut value)
            .is_ok_and(|found| found));
        assert_eq!(u64::from_le_bytes(value), 7);
    }

    #[test]
    fn entries_yield_every_element_once() {
        let n = 50_000u32;
        let Some(m) = new_map("hash", n) else {
            return;
        };
        for i in 0..n {
            m.update(
                Some(&i.to_le_bytes()),
                &u64::from(i * 3).to_le_bytes(),
                UpdateFlag::Any,
            )
            .unwrap_or_else(|e| panic!("{e:#}"));
        }
        let mut seen = vec![false; n as usize];
        for batch in m.entries() {
            let batch = batch.unwrap_or_else(|e| panic!("{e:#}"));
            for (k, v) in batch.iter() {
                let k = u32::from_le_bytes(k.try_into().unwrap_or_default());
                let v = u64::from_le_bytes(v.try_into().unwrap_or_default());
                assert_eq!(v, u64::from(k) * 3);
                assert!(
                    !std::mem::replace(&mut seen[k as usize], true),
                    "key {k} twice"
                );
            }
        }
        assert!(seen.iter().all(|s| *s));
        // Stopping early stops the reader thread (the iterator's drop joins it).
        let mut it = m.entries();
        assert!(it.next().is_some_and(|b| b.is_ok()));
        drop(it);
    }
}
