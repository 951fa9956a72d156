// `map` verbs: show, dump, lookup, update (also --from), delete (also --all), getnext, pin,
// create, freeze, peek/push/enqueue/pop/dequeue; the map record, typed entries and rows.

use std::io::BufRead;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{bail, Context, Result};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::bpf::map::{self as kmap, Batch, MapInfo};
use crate::bpf::pids::PidRef;
use crate::bpf::{self, bpffs, Kind};
use crate::btf::codec::Codec;
use crate::btf::Btf;
use crate::cli::{Globals, MapTypeArgs, MapVerb};
use crate::cmd::object_verbs::{self, ShowContext};
use crate::error::{not_found, usage};
use crate::handle::{self, Handle};
use crate::output::{Output, Tabular};

pub fn run(verb: Option<MapVerb>, g: &Globals, out: &mut Output) -> Result<()> {
    match verb.unwrap_or(MapVerb::Show { handle: Vec::new() }) {
        MapVerb::Show { handle } => show(&handle, g, out),
        MapVerb::Dump { handle, raw, types } => dump(&handle, raw, &types, out),
        MapVerb::Update {
            args,
            from,
            keep_going,
            types,
        } => match from {
            Some(file) => update_from(&args, &file, keep_going, &types, out),
            None => update(&args, &types, out),
        },
        MapVerb::Lookup { args, types } => lookup(&args, &types, out),
        MapVerb::Getnext { args, types } => getnext(&args, &types, out),
        MapVerb::Delete { args, all, types } => delete(&args, all, &types, out),
        MapVerb::Pin { args } => object_verbs::pin(Kind::Map, &args, g, out),
        MapVerb::Create { args } => create(&args, g, out),
        MapVerb::Peek { args, types } => peek(&args, &types, out),
        MapVerb::Push { args, types } | MapVerb::Enqueue { args, types } => {
            push(&args, &types, out)
        }
        MapVerb::Pop { args, types } | MapVerb::Dequeue { args, types } => pop(&args, &types, out),
        MapVerb::Freeze { handle } => freeze(&handle, out),
        MapVerb::EventPipe(args) => crate::cmd::perf::events(&args, g, out),
    }
}

// ---- show ----

/// One map as `map show` prints it; field names and order are bpftool's.
#[derive(Debug, Serialize)]
pub struct MapRecord {
    pub id: u32,
    #[serde(rename = "type")]
    pub map_type: String,
    pub name: String,
    pub flags: u32,
    pub bytes_key: u32,
    pub bytes_value: u32,
    pub max_entries: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_memlock: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_prog_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_jited: Option<bool>,
    pub frozen: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub btf_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pids: Vec<PidRef>,
}

impl Tabular for MapRecord {
    fn header() -> &'static [&'static str] {
        &[
            "ID", "TYPE", "NAME", "KEY", "VALUE", "ENTRIES", "FLAGS", "MEMLOCK", "BTF", "PINNED",
        ]
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.map_type.clone(),
            self.name.clone(),
            format!("{}B", self.bytes_key),
            format!("{}B", self.bytes_value),
            self.max_entries.to_string(),
            flag_names(self.flags),
            self.bytes_memlock
                .map(|b| format!("{b}B"))
                .unwrap_or_default(),
            self.btf_id.map(|b| b.to_string()).unwrap_or_default(),
            self.pinned
                .as_ref()
                .map(|p| p.join(","))
                .unwrap_or_default(),
        ]
    }
}

fn record(fd: BorrowedFd<'_>, ctx: &ShowContext) -> Result<MapRecord> {
    let info = kmap::info(fd)?;
    let map_type = kmap::type_name(info.map_type);
    let is_prog_array = map_type == "prog_array";
    let owner_type = bpf::fdinfo_field(fd, "owner_prog_type").and_then(|v| v.parse::<u32>().ok());
    Ok(MapRecord {
        id: info.id,
        name: info.name,
        flags: info.flags,
        bytes_key: info.key_size,
        bytes_value: info.value_size,
        max_entries: info.max_entries,
        bytes_memlock: bpf::fdinfo_field(fd, "memlock").and_then(|v| v.parse().ok()),
        owner_prog_type: owner_type
            .filter(|_| is_prog_array)
            .map(bpf::prog::prog_type_name),
        owner_jited: bpf::fdinfo_field(fd, "owner_jited")
            .filter(|_| is_prog_array && owner_type.is_some())
            .map(|v| v == "1"),
        frozen: bpf::fdinfo_field(fd, "frozen")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        btf_id: (info.btf_id != 0).then_some(info.btf_id),
        pinned: ctx.pinned(info.id),
        pids: ctx.pids(info.id),
        map_type,
    })
}

fn show(words: &[String], g: &Globals, out: &mut Output) -> Result<()> {
    object_verbs::show(Kind::Map, words, g, out, record)
}

// ---- the map an element verb works on ----

/// An open map with the codecs for its keys and values.
struct MapCtx {
    fd: OwnedFd,
    info: MapInfo,
    type_name: String,
    key: Codec,
    value: Codec,
    has_btf: bool,
    percpu: bool,
    ncpus: usize,
    /// Bytes per CPU of a per-CPU value (value_size rounded up to 8); value_size otherwise.
    stride: usize,
}

impl MapCtx {
    fn key_size(&self) -> usize {
        self.info.key_size as usize
    }

    /// Bytes of a whole value as lookup returns it (all CPUs for per-CPU maps).
    fn value_len(&self) -> usize {
        if self.percpu {
            self.stride * self.ncpus
        } else {
            self.info.value_size as usize
        }
    }

    /// The kind of object a value names, for prog_array and map-in-map maps.
    fn fd_value_kind(&self) -> Option<Kind> {
        match self.type_name.as_str() {
            "prog_array" => Some(Kind::Prog),
            "array_of_maps" | "hash_of_maps" => Some(Kind::Map),
            _ => None,
        }
    }
}

const PERCPU_TYPES: &[&str] = &[
    "percpu_hash",
    "percpu_array",
    "lru_percpu_hash",
    "percpu_cgroup_storage",
];

/// Open the map named at the start of `words`; returns it and how many words it used.
fn open_map(words: &[String], types: &MapTypeArgs) -> Result<(MapCtx, usize)> {
    let (h, used) = handle::parse(Kind::Map, words)?;
    let resolved = handle::resolve_one(Kind::Map, &h)?;
    Ok((map_ctx(resolved, &h, types)?, used))
}

/// The codecs and sizes of an opened map.
fn map_ctx(resolved: handle::Resolved, h: &handle::Handle, types: &MapTypeArgs) -> Result<MapCtx> {
    let info = kmap::info(resolved.fd.as_fd()).with_context(|| format!("map {h}"))?;
    let type_name = kmap::type_name(info.map_type);
    let btf = if info.btf_id != 0 {
        Btf::from_kernel_id(info.btf_id).ok().map(Rc::new)
    } else {
        None
    };
    let pick = |ty: &Option<String>, btf_id: u32, size: u32, side: &str| -> Result<Codec> {
        if let Some(name) = ty {
            return Codec::simple(name, size as usize, side).map_err(|e| usage(format!("{e:#}")));
        }
        if let Some(b) = &btf {
            if btf_id != 0 && b.size_of(btf_id).ok() == Some(size as usize) {
                return Ok(Codec::btf(b.clone(), btf_id));
            }
        }
        Ok(Codec::Plain)
    };
    let key = pick(&types.key_type, info.btf_key_type_id, info.key_size, "key")?;
    let value = pick(
        &types.value_type,
        info.btf_value_type_id,
        info.value_size,
        "value",
    )?;
    let percpu = PERCPU_TYPES.contains(&type_name.as_str());
    let ncpus = if percpu { kmap::possible_cpus()? } else { 1 };
    let stride = if percpu {
        (info.value_size as usize).div_ceil(8) * 8
    } else {
        info.value_size as usize
    };
    let has_btf = matches!(key, Codec::Btf { .. }) || matches!(value, Codec::Btf { .. });
    Ok(MapCtx {
        fd: resolved.fd,
        info,
        type_name,
        key,
        value,
        has_btf,
        percpu,
        ncpus,
        stride,
    })
}

// ---- typed entries ----

/// One element as JSON: `{"key":..,"value":..}`, per-CPU `{"key":..,"values":[..]}`, or
/// with `raw` bpftool's hex arrays plus `formatted`.
struct EntryView<'a> {
    ctx: &'a MapCtx,
    key: Option<&'a [u8]>,
    value: &'a [u8],
    raw: bool,
}

struct HexBytes<'a>(&'a [u8]);

impl Serialize for HexBytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for b in self.0 {
            let text = [b'0', b'x', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]];
            seq.serialize_element(std::str::from_utf8(&text).unwrap_or("0x00"))?;
        }
        seq.end()
    }
}

/// Per-CPU values: `[{"cpu":N,"value":..}]`, typed or raw.
struct PerCpu<'a> {
    ctx: &'a MapCtx,
    value: &'a [u8],
    raw: bool,
}

impl Serialize for PerCpu<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.ctx;
        let vs = c.info.value_size as usize;
        let mut seq = s.serialize_seq(Some(c.ncpus))?;
        for cpu in 0..c.ncpus {
            let part = &self.value[cpu * c.stride..cpu * c.stride + vs];
            if self.raw {
                seq.serialize_element(&CpuValue {
                    cpu,
                    value: HexBytes(part),
                })?;
            } else {
                seq.serialize_element(&CpuValue {
                    cpu,
                    value: c.value.view(part),
                })?;
            }
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct CpuValue<V: Serialize> {
    cpu: usize,
    value: V,
}

struct Formatted<'a>(&'a EntryView<'a>);

impl Serialize for Formatted<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut map = s.serialize_map(None)?;
        if let Some(k) = e.key {
            map.serialize_entry("key", &e.ctx.key.view(k))?;
        }
        if e.ctx.percpu {
            map.serialize_entry(
                "values",
                &PerCpu {
                    ctx: e.ctx,
                    value: e.value,
                    raw: false,
                },
            )?;
        } else {
            map.serialize_entry("value", &e.ctx.value.view(e.value))?;
        }
        map.end()
    }
}

impl Serialize for EntryView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if !self.raw {
            return Formatted(self).serialize(s);
        }
        let mut map = s.serialize_map(None)?;
        if let Some(k) = self.key {
            map.serialize_entry("key", &HexBytes(k))?;
        }
        if self.ctx.percpu {
            map.serialize_entry(
                "values",
                &PerCpu {
                    ctx: self.ctx,
                    value: self.value,
                    raw: true,
                },
            )?;
        } else {
            map.serialize_entry("value", &HexBytes(self.value))?;
        }
        if self.ctx.has_btf {
            map.serialize_entry("formatted", &Formatted(self))?;
        }
        map.end()
    }
}

fn hex_text(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl EntryView<'_> {
    fn header(ctx: &MapCtx, keyed: bool) -> &'static [&'static str] {
        match (keyed, ctx.percpu) {
            (true, true) => &["KEY", "CPU", "VALUE"],
            (true, false) => &["KEY", "VALUE"],
            (false, _) => &["VALUE"],
        }
    }

    fn rows(&self) -> Vec<Vec<String>> {
        let c = self.ctx;
        let text = |codec: &Codec, b: &[u8]| {
            if self.raw {
                hex_text(b)
            } else {
                codec.text(b)
            }
        };
        let key = self.key.map(|k| text(&c.key, k));
        if !c.percpu {
            let v = text(&c.value, self.value);
            return vec![match key {
                Some(k) => vec![k, v],
                None => vec![v],
            }];
        }
        let vs = c.info.value_size as usize;
        (0..c.ncpus)
            .map(|cpu| {
                let part = &self.value[cpu * c.stride..cpu * c.stride + vs];
                let k = if cpu == 0 {
                    key.clone().unwrap_or_default()
                } else {
                    String::new()
                };
                vec![k, cpu.to_string(), text(&c.value, part)]
            })
            .collect()
    }
}

/// Print one element: a JSON object, or a one-element table.
fn show_entry(out: &mut Output, e: &EntryView<'_>) -> Result<()> {
    if out.is_json() {
        out.json(e)?;
    } else {
        out.seq_begin(EntryView::header(e.ctx, e.key.is_some()))?;
        out.seq_item(e, || e.rows())?;
        out.seq_end()?;
    }
    Ok(())
}

// ---- dump ----

/// Map types whose elements cannot be listed, and the verb that reads them.
fn undumpable(type_name: &str) -> Option<&'static str> {
    Some(match type_name {
        "ringbuf" | "user_ringbuf" | "perf_event_array" => {
            "its records are a stream: read them with `rbt perf events MAP`"
        }
        "queue" | "stack" => "it has no keys: read it with `rbt map peek MAP` or `rbt map pop MAP`",
        "bloom_filter" => "it has no keys: test a value with `rbt map peek MAP value VALUE`",
        "sk_storage" | "inode_storage" | "task_storage" | "cgrp_storage" => {
            "its keys are file descriptors of sockets, inodes, tasks or cgroups; it cannot be listed"
        }
        "arena" => "it is memory mapped, not keyed",
        "struct_ops" => "dump it with `bpftool struct_ops dump`",
        _ => return None,
    })
}

/// Elements per batch call: about 256 KiB of keys and values, within 64..=65536.
fn batch_count(ctx: &MapCtx) -> usize {
    let per = ctx.key_size().max(1) + ctx.value_len().max(1);
    ((1usize << 18) / per).clamp(64, 65536)
}

/// A chunk of elements read by one batch call.
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

/// Chunks in flight between the reading thread and the writer (bounds memory).
const CHUNKS_IN_FLIGHT: usize = 2;

/// Call `f` on every element, with BPF_MAP_LOOKUP_BATCH (growing the buffer on ENOSPC) or,
/// where the map type has no batch operation, get_next_key + lookup. The batches are read
/// on a second thread while `f` formats the previous one; at most CHUNKS_IN_FLIGHT chunks
/// exist at a time, so memory stays bounded.
fn for_each_entry(ctx: &MapCtx, mut f: impl FnMut(&[u8], &[u8]) -> Result<()>) -> Result<()> {
    let ks = ctx.key_size();
    let vl = ctx.value_len();
    let count = batch_count(ctx);
    let fd = ctx.fd.as_fd();
    let unsupported = std::thread::scope(|scope| -> Result<bool> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Produced>>(CHUNKS_IN_FLIGHT);
        let (back_tx, back_rx) = std::sync::mpsc::channel::<Chunk>();
        let reader = scope.spawn(move || read_batches(fd, ks, vl, count, &tx, &back_rx));
        let mut unsupported = false;
        let consumed = (|| -> Result<()> {
            for msg in rx.iter() {
                match msg? {
                    Produced::Chunk(chunk) => {
                        for i in 0..chunk.n {
                            f(
                                &chunk.keys[i * ks..(i + 1) * ks],
                                &chunk.values[i * vl..(i + 1) * vl],
                            )?;
                        }
                        // The reader may be gone already; then the buffer is just freed.
                        let _ = back_tx.send(chunk);
                    }
                    Produced::Unsupported => unsupported = true,
                }
            }
            Ok(())
        })();
        // Dropping the receivers stops the reader at its next send.
        drop(rx);
        drop(back_tx);
        let _ = reader.join();
        consumed.map(|()| unsupported)
    })?;
    if unsupported {
        return for_each_by_key(ctx, f);
    }
    Ok(())
}

/// The reading side of `for_each_entry`: batch lookups, sent chunk by chunk.
fn read_batches(
    fd: BorrowedFd<'_>,
    ks: usize,
    vl: usize,
    mut count: usize,
    tx: &std::sync::mpsc::SyncSender<Result<Produced>>,
    back: &std::sync::mpsc::Receiver<Chunk>,
) {
    let tok_len = ks.max(8);
    let mut token_in = vec![0u8; tok_len];
    let mut token_out = vec![0u8; tok_len];
    let mut started = false;
    loop {
        let mut chunk = back.try_recv().unwrap_or_else(|_| Chunk {
            keys: Vec::new(),
            values: Vec::new(),
            n: 0,
        });
        chunk.keys.resize(count * ks, 0);
        chunk.values.resize(count * vl, 0);
        let r = kmap::lookup_batch(
            fd,
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
                if count > (1 << 24) {
                    let _ = tx.send(Err(anyhow::anyhow!(
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

fn for_each_by_key(ctx: &MapCtx, mut f: impl FnMut(&[u8], &[u8]) -> Result<()>) -> Result<()> {
    let mut key = vec![0u8; ctx.key_size()];
    let mut next = vec![0u8; ctx.key_size()];
    let mut value = vec![0u8; ctx.value_len()];
    let mut first = true;
    while kmap::next_key(
        ctx.fd.as_fd(),
        (!first).then_some(key.as_slice()),
        &mut next,
    )? {
        first = false;
        std::mem::swap(&mut key, &mut next);
        // An element deleted between get_next_key and lookup is skipped.
        if kmap::lookup(ctx.fd.as_fd(), Some(&key), &mut value, 0)? {
            f(&key, &value)?;
        }
    }
    Ok(())
}

fn dump(words: &[String], raw: bool, types: &MapTypeArgs, out: &mut Output) -> Result<()> {
    let h = handle::parse_all(Kind::Map, words)?;
    let found = handle::resolve_all(Kind::Map, &h)?;
    if found.len() == 1 {
        let ctx = found
            .into_iter()
            .next()
            .map(|r| map_ctx(r, &h, types))
            .context("no map")??;
        return dump_one(&ctx, &h, raw, out);
    }
    // Several maps match (a name): like bpftool, one object per map with its elements.
    let json = out.is_json();
    if json {
        out.raw(b"[")?;
    }
    for (i, r) in found.into_iter().enumerate() {
        let ctx = map_ctx(r, &h, types)?;
        let head = serde_json::json!({
            "id": ctx.info.id,
            "type": ctx.type_name,
            "name": ctx.info.name,
            "flags": ctx.info.flags,
        })
        .to_string();
        if json {
            let open = head.strip_suffix('}').unwrap_or(&head);
            let sep = if i > 0 { "," } else { "" };
            out.raw(format!("{sep}{open},\"elements\":").as_bytes())?;
        } else {
            let sep = if i > 0 { "\n" } else { "" };
            out.raw(
                format!(
                    "{sep}{}: {}  name {}\n",
                    ctx.info.id, ctx.type_name, ctx.info.name
                )
                .as_bytes(),
            )?;
        }
        let id = Handle::Id(ctx.info.id);
        dump_one(&ctx, &id, raw, out)?;
        if json {
            out.raw(b"}")?;
        }
    }
    if json {
        out.raw(b"]\n")?;
    }
    Ok(())
}

fn dump_one(ctx: &MapCtx, h: &Handle, raw: bool, out: &mut Output) -> Result<()> {
    if let Some(why) = undumpable(&ctx.type_name) {
        return Err(crate::error::hinted(
            format!("map {h} is a {} map and cannot be dumped", ctx.type_name),
            why,
        ));
    }
    out.seq_begin(EntryView::header(ctx, true))?;
    for_each_entry(ctx, |k, v| {
        let e = EntryView {
            ctx,
            key: Some(k),
            value: v,
            raw,
        };
        out.seq_item(&e, || e.rows())?;
        Ok(())
    })
    .with_context(|| format!("dumping map {h}"))?;
    out.seq_end()?;
    Ok(())
}

// ---- DATA on the command line ----

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

fn is_byte_token(t: &str) -> bool {
    parse_byte(t, false).is_ok() || t.parse::<u64>().is_ok()
}

/// Bytes from DATA words: bpftool's byte list (`hex` makes every token hex), or one typed
/// word for `codec`.
fn parse_data(words: &[String], size: usize, codec: &Codec, what: &str) -> Result<Vec<u8>> {
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
fn encode_value_words(ctx: &MapCtx, words: &[String], held: &mut Vec<OwnedFd>) -> Result<Vec<u8>> {
    let vs = ctx.info.value_size as usize;
    if let Some(kind) = ctx.fd_value_kind() {
        let h = handle::parse_all(kind, words)
            .with_context(|| format!("a {} value is a {} handle", ctx.type_name, kind.noun()))?;
        let r = handle::resolve_one(kind, &h)?;
        let fd = r.fd.as_raw_fd() as u32;
        held.push(r.fd);
        return Ok(fd.to_le_bytes().to_vec());
    }
    if ctx.percpu {
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
    let mut all = vec![0u8; ctx.value_len()];
    for cpu in 0..ctx.ncpus {
        all[cpu * ctx.stride..cpu * ctx.stride + single.len()].copy_from_slice(single);
    }
    all
}

/// A value from JSON (`--from` lines and per-CPU arrays).
fn encode_value_json(ctx: &MapCtx, v: &Value, per_cpu_array: bool) -> Result<Vec<u8>> {
    let vs = ctx.info.value_size as usize;
    if !ctx.percpu {
        return encode_json(&ctx.value, v, vs);
    }
    match v {
        Value::Array(items) if per_cpu_array => {
            let mut all = vec![0u8; ctx.value_len()];
            let objects = items.iter().all(|i| i.get("cpu").is_some());
            if !objects && items.len() != ctx.ncpus {
                bail!(
                    "a per-CPU value needs {} values (one per possible CPU), got {}",
                    ctx.ncpus,
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
                if cpu >= ctx.ncpus {
                    bail!("cpu {cpu} does not exist ({} possible CPUs)", ctx.ncpus);
                }
                let b = encode_json(&ctx.value, val, vs).with_context(|| format!("cpu {cpu}"))?;
                all[cpu * ctx.stride..cpu * ctx.stride + vs].copy_from_slice(&b);
            }
            Ok(all)
        }
        _ => Ok(spread(ctx, &encode_json(&ctx.value, v, vs)?)),
    }
}

/// A key or value from JSON: typed, or bpftool's `["0x0a",..]` byte arrays.
fn encode_json(codec: &Codec, v: &Value, size: usize) -> Result<Vec<u8>> {
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

/// Split `key DATA.. value VALUE.. [flag]` into its parts.
struct ElemArgs<'a> {
    key: Option<&'a [String]>,
    value: Option<&'a [String]>,
    flag: Option<&'a str>,
}

fn split_elem_args<'a>(words: &'a [String], verb: &str) -> Result<ElemArgs<'a>> {
    let mut rest = words;
    let mut flag = None;
    if let Some(last) = rest.last() {
        if matches!(last.as_str(), "any" | "exist" | "noexist") && rest.len() > 2 {
            flag = Some(last.as_str());
            rest = &rest[..rest.len() - 1];
        }
    }
    let mut key = None;
    let mut value = None;
    match rest.first().map(String::as_str) {
        None => {}
        Some("key") => {
            let body = &rest[1..];
            match body.iter().position(|w| w == "value") {
                Some(p) => {
                    key = Some(&body[..p]);
                    value = Some(&body[p + 1..]);
                }
                None => key = Some(body),
            }
        }
        Some("value") => value = Some(&rest[1..]),
        Some(other) => {
            return Err(usage(format!(
                "map {verb}: expected `key` or `value`, got `{other}`"
            )))
        }
    }
    Ok(ElemArgs { key, value, flag })
}

fn update_flag(flag: Option<&str>) -> u64 {
    match flag {
        Some("noexist") => libbpf_sys::BPF_NOEXIST as u64,
        Some("exist") => libbpf_sys::BPF_EXIST as u64,
        _ => libbpf_sys::BPF_ANY as u64,
    }
}

// ---- lookup, update, delete, getnext ----

fn lookup(words: &[String], types: &MapTypeArgs, out: &mut Output) -> Result<()> {
    let (ctx, used) = open_map(words, types)?;
    let a = split_elem_args(&words[used..], "lookup")?;
    let (Some(kw), None, None) = (a.key, a.value, a.flag) else {
        return Err(usage("map lookup: expected MAP key DATA"));
    };
    let key = parse_data(kw, ctx.key_size(), &ctx.key, "key")?;
    let mut value = vec![0u8; ctx.value_len()];
    if !kmap::lookup(ctx.fd.as_fd(), Some(&key), &mut value, 0)? {
        return Err(not_found("key not found"));
    }
    show_entry(
        out,
        &EntryView {
            ctx: &ctx,
            key: Some(&key),
            value: &value,
            raw: false,
        },
    )
}

fn update(words: &[String], types: &MapTypeArgs, out: &mut Output) -> Result<()> {
    let (ctx, used) = open_map(words, types)?;
    let a = split_elem_args(&words[used..], "update")?;
    let (Some(kw), Some(vw)) = (a.key, a.value) else {
        return Err(usage(
            "map update: expected MAP key DATA value VALUE [any|exist|noexist] (or MAP --from FILE)",
        ));
    };
    let key = parse_data(kw, ctx.key_size(), &ctx.key, "key")?;
    let mut held = Vec::new();
    let value = encode_value_words(&ctx, vw, &mut held)?;
    kmap::update(ctx.fd.as_fd(), Some(&key), &value, update_flag(a.flag))?;
    out.done(None)?;
    Ok(())
}

fn delete(words: &[String], all: bool, types: &MapTypeArgs, out: &mut Output) -> Result<()> {
    let (ctx, used) = open_map(words, types)?;
    if all {
        if used != words.len() {
            return Err(usage("map delete --all: expected only MAP"));
        }
        let n = delete_all(&ctx)?;
        out.done(Some(&format!("deleted {n} elements")))?;
        return Ok(());
    }
    let a = split_elem_args(&words[used..], "delete")?;
    let (Some(kw), None, None) = (a.key, a.value, a.flag) else {
        return Err(usage("map delete: expected MAP key DATA (or MAP --all)"));
    };
    let key = parse_data(kw, ctx.key_size(), &ctx.key, "key")?;
    if !kmap::delete(ctx.fd.as_fd(), &key).map_err(|e| array_delete_hint(&ctx, e))? {
        return Err(not_found("key not found"));
    }
    out.done(None)?;
    Ok(())
}

fn array_delete_hint(ctx: &MapCtx, e: anyhow::Error) -> anyhow::Error {
    if ctx.type_name.contains("array") && !ctx.type_name.contains("of_maps") {
        let prog = ctx.type_name == "prog_array";
        if !prog {
            return crate::error::hinted(
                format!("{e:#}"),
                "elements of array maps cannot be deleted; update them to zero instead",
            );
        }
    }
    e
}

/// Delete every element: read keys in batches from the start and delete them (batch
/// delete where the kernel has it). Returns how many were deleted.
fn delete_all(ctx: &MapCtx) -> Result<usize> {
    if let Some(why) = undumpable(&ctx.type_name) {
        bail!("a {} map cannot be emptied by key: {why}", ctx.type_name);
    }
    let ks = ctx.key_size();
    let limit = batch_count(ctx);
    let mut total = 0usize;
    let mut batch_delete = true;
    loop {
        let mut keys: Vec<u8> = Vec::with_capacity(limit * ks);
        let mut n = 0usize;
        let mut cur: Option<Vec<u8>> = None;
        let mut next = vec![0u8; ks];
        while n < limit && kmap::next_key(ctx.fd.as_fd(), cur.as_deref(), &mut next)? {
            keys.extend_from_slice(&next);
            n += 1;
            cur = Some(next.clone());
        }
        if n == 0 {
            return Ok(total);
        }
        if batch_delete {
            let (done, err) = kmap::delete_batch(ctx.fd.as_fd(), &keys, n);
            match err {
                None => {
                    total += done;
                    continue;
                }
                Some(e)
                    if done == 0
                        && matches!(
                            e.raw_os_error(),
                            Some(libc::EINVAL) | Some(524) | Some(libc::EOPNOTSUPP)
                        ) =>
                {
                    batch_delete = false;
                }
                Some(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    total += done;
                    continue;
                }
                Some(e) => {
                    return Err(array_delete_hint(
                        ctx,
                        bpf::kernel_error(e, "deleting elements in a batch"),
                    ))
                }
            }
        }
        for k in keys.chunks(ks) {
            if kmap::delete(ctx.fd.as_fd(), k).map_err(|e| array_delete_hint(ctx, e))? {
                total += 1;
            }
        }
    }
}

#[derive(Serialize)]
struct NextKey<'a> {
    key: Option<crate::btf::codec::View<'a>>,
    next_key: Option<crate::btf::codec::View<'a>>,
}

fn getnext(words: &[String], types: &MapTypeArgs, out: &mut Output) -> Result<()> {
    let (ctx, used) = open_map(words, types)?;
    let a = split_elem_args(&words[used..], "getnext")?;
    if a.value.is_some() || a.flag.is_some() {
        return Err(usage("map getnext: expected MAP [key DATA]"));
    }
    let key = match a.key {
        Some(kw) => Some(parse_data(kw, ctx.key_size(), &ctx.key, "key")?),
        None => None,
    };
    let mut next = vec![0u8; ctx.key_size()];
    if !kmap::next_key(ctx.fd.as_fd(), key.as_deref(), &mut next)? {
        return Err(not_found(if key.is_some() {
            "no key after this one (or the map is empty)"
        } else {
            "the map is empty"
        }));
    }
    let rec = NextKey {
        key: key.as_deref().map(|k| ctx.key.view(k)),
        next_key: Some(ctx.key.view(&next)),
    };
    if out.is_json() {
        out.json(&rec)?;
    } else {
        out.seq_begin(&["KEY", "NEXT_KEY"])?;
        let row = vec![
            key.as_deref()
                .map(|k| ctx.key.text(k))
                .unwrap_or_else(|| "-".into()),
            ctx.key.text(&next),
        ];
        out.seq_item(&rec, || vec![row])?;
        out.seq_end()?;
    }
    Ok(())
}

// ---- update --from ----

/// Elements buffered for one BPF_MAP_UPDATE_BATCH call, with their line numbers.
struct Pending {
    keys: Vec<u8>,
    values: Vec<u8>,
    lines: Vec<usize>,
    batch: bool,
    applied: usize,
}

impl Pending {
    fn flush(&mut self, ctx: &MapCtx) -> Result<()> {
        let n = self.lines.len();
        if n == 0 {
            return Ok(());
        }
        let ks = ctx.key_size();
        let vl = ctx.value_len();
        if self.batch {
            let (done, err) = kmap::update_batch(ctx.fd.as_fd(), &self.keys, &self.values, n, 0);
            match err {
                None => {
                    self.applied += n;
                    self.clear();
                    return Ok(());
                }
                Some(e)
                    if done == 0
                        && self.applied == 0
                        && matches!(
                            e.raw_os_error(),
                            Some(libc::EINVAL) | Some(524) | Some(libc::EOPNOTSUPP)
                        ) =>
                {
                    // No batch operation for this map type: one update per element.
                    self.batch = false;
                }
                Some(e) => {
                    self.applied += done;
                    let line = self.lines.get(done).copied().unwrap_or(0);
                    return Err(anyhow::Error::new(e)).with_context(|| {
                        format!(
                            "line {line}: updating the map ({} elements applied before it)",
                            self.applied
                        )
                    });
                }
            }
        }
        for i in 0..n {
            let k = &self.keys[i * ks..(i + 1) * ks];
            let v = &self.values[i * vl..(i + 1) * vl];
            kmap::update(ctx.fd.as_fd(), Some(k), v, 0).with_context(|| {
                format!(
                    "line {}: {} elements applied before it",
                    self.lines[i], self.applied
                )
            })?;
            self.applied += 1;
        }
        self.clear();
        Ok(())
    }

    fn clear(&mut self) {
        self.keys.clear();
        self.values.clear();
        self.lines.clear();
    }
}

/// The JSON of one input line: strips the `[`, `,` and `]` that `rbt -j map dump` puts
/// around its one-element-per-line array. None for lines with no element.
fn line_json(line: &str) -> Option<&str> {
    let t = line.trim();
    let t = t.strip_prefix('[').unwrap_or(t).trim_start();
    let t = t.strip_suffix(']').unwrap_or(t).trim_end();
    let t = t.strip_suffix(',').unwrap_or(t).trim_end();
    (!t.is_empty()).then_some(t)
}

/// One input line: typed `key`/`value`(`values`), or bpftool's shape whose `formatted`
/// holds the typed form.
#[derive(serde::Deserialize)]
struct LineIn {
    key: Option<Value>,
    value: Option<Value>,
    values: Option<Value>,
    formatted: Option<Box<LineIn>>,
}

fn parse_line(ctx: &MapCtx, text: &str) -> Result<(Vec<u8>, Vec<u8>)> {
    let line: LineIn = serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            anyhow::anyhow!("expected an object {{\"key\":..,\"value\":..}}: {e}")
        } else {
            anyhow::anyhow!("malformed JSON: {e}")
        }
    })?;
    let src = match line.formatted {
        Some(f) => *f,
        None => line,
    };
    let kv = src.key.context("missing \"key\"")?;
    let key = encode_json(&ctx.key, &kv, ctx.key_size()).context("key")?;
    let value = if let Some(vals) = &src.values {
        encode_value_json(ctx, vals, true).context("values")?
    } else {
        let vv = src.value.context("missing \"value\"")?;
        encode_value_json(ctx, &vv, false).context("value")?
    };
    Ok((key, value))
}

fn update_from(
    words: &[String],
    file: &Path,
    keep_going: bool,
    types: &MapTypeArgs,
    out: &mut Output,
) -> Result<()> {
    let (ctx, used) = open_map(words, types)?;
    if used != words.len() {
        return Err(usage("map update --from: expected only MAP"));
    }
    if ctx.fd_value_kind().is_some() {
        bail!(
            "--from cannot fill a {} map: its values are handles; use `map update MAP key DATA value HANDLE`",
            ctx.type_name
        );
    }
    let reader: Box<dyn BufRead> = if file == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?,
        ))
    };
    let chunk = batch_count(&ctx);
    let mut pending = Pending {
        keys: Vec::with_capacity(chunk * ctx.key_size()),
        values: Vec::with_capacity(chunk * ctx.value_len()),
        lines: Vec::with_capacity(chunk),
        batch: true,
        applied: 0,
    };
    let mut bad = 0usize;
    let mut reader = reader;
    let mut line = String::new();
    let mut lineno = 0usize;
    loop {
        line.clear();
        lineno += 1;
        let n = reader
            .read_line(&mut line)
            .with_context(|| format!("reading {} line {lineno}", file.display()))?;
        if n == 0 {
            break;
        }
        let Some(text) = line_json(&line) else {
            continue;
        };
        match parse_line(&ctx, text) {
            Ok((k, v)) => {
                pending.keys.extend_from_slice(&k);
                pending.values.extend_from_slice(&v);
                pending.lines.push(lineno);
                if pending.lines.len() >= chunk {
                    pending.flush(&ctx)?;
                }
            }
            Err(e) if keep_going => {
                bad += 1;
                out.warn(&format!("line {lineno}: {e:#} (skipped)"));
            }
            Err(e) => {
                pending.flush(&ctx)?;
                return Err(e.context(format!(
                    "line {lineno} ({} elements applied before it, none after)",
                    pending.applied
                )));
            }
        }
    }
    pending.flush(&ctx)?;
    if bad > 0 {
        bail!(
            "{bad} bad lines skipped; {} elements applied",
            pending.applied
        );
    }
    out.done(Some(&format!("updated {} elements", pending.applied)))?;
    Ok(())
}

// ---- pin, freeze, create ----

fn freeze(words: &[String], out: &mut Output) -> Result<()> {
    let h = handle::parse_all(Kind::Map, words)?;
    let map = handle::resolve_one(Kind::Map, &h)?;
    kmap::freeze(map.fd.as_fd()).with_context(|| format!("map {h}"))?;
    out.done(None)?;
    Ok(())
}

/// Map flags by their symbolic names (BPF_F_*, lower case without the prefix).
const MAP_FLAGS: &[(&str, u32)] = &[
    ("no_prealloc", 1 << 0),
    ("no_common_lru", 1 << 1),
    ("numa_node", 1 << 2),
    ("rdonly", 1 << 3),
    ("wronly", 1 << 4),
    ("stack_build_id", 1 << 5),
    ("zero_seed", 1 << 6),
    ("rdonly_prog", 1 << 7),
    ("wronly_prog", 1 << 8),
    ("clone", 1 << 9),
    ("mmapable", 1 << 10),
    ("preserve_elems", 1 << 11),
    ("inner_map", 1 << 12),
    ("link", 1 << 13),
    ("path_fd", 1 << 14),
    ("vtype_btf_obj_fd", 1 << 15),
    ("token_fd", 1 << 16),
    ("segv_on_fault", 1 << 17),
    ("no_user_conv", 1 << 18),
];

/// `no_prealloc,rdonly_prog`, `no_prealloc|0x80`, `BPF_F_NO_PREALLOC` or a number.
fn parse_flags(text: &str) -> Result<u32> {
    let mut flags = 0u32;
    for part in text
        .split([',', '|'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let lower = part.to_ascii_lowercase();
        let name = lower.strip_prefix("bpf_f_").unwrap_or(&lower);
        if let Some((_, bit)) = MAP_FLAGS.iter().find(|(n, _)| *n == name) {
            flags |= bit;
            continue;
        }
        let num = match part.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16).ok(),
            None => part.parse().ok(),
        };
        match num {
            Some(n) => flags |= n,
            None => {
                let names: Vec<&str> = MAP_FLAGS.iter().map(|(n, _)| *n).collect();
                return Err(usage(format!(
                    "unknown map flag `{part}`; known: {}",
                    names.join(", ")
                )));
            }
        }
    }
    Ok(flags)
}

/// Flags as symbolic names for the table (`no_prealloc,rdonly_prog`).
fn flag_names(flags: u32) -> String {
    if flags == 0 {
        return String::new();
    }
    let mut names: Vec<String> = Vec::new();
    let mut rest = flags;
    for (n, bit) in MAP_FLAGS {
        if flags & bit != 0 {
            names.push((*n).to_owned());
            rest &= !bit;
        }
    }
    if rest != 0 {
        names.push(format!("{rest:#x}"));
    }
    names.join(",")
}

fn create(args: &[String], g: &Globals, out: &mut Output) -> Result<()> {
    let Some(file) = args.first() else {
        return Err(usage(
            "map create: expected FILE type TYPE key N value N entries N name NAME",
        ));
    };
    let file = PathBuf::from(file);
    let mut spec = kmap::CreateSpec::default();
    let (mut has_type, mut has_key, mut has_value, mut has_entries, mut has_name) =
        (false, false, false, false, false);
    let mut inner: Option<handle::Handle> = None;
    let mut i = 1;
    let num = |i: usize, what: &str| -> Result<u64> {
        let v = args
            .get(i)
            .ok_or_else(|| usage(format!("`{what}` needs a value")))?;
        let n = match v.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).ok(),
            None => v.parse().ok(),
        };
        n.ok_or_else(|| usage(format!("`{what} {v}`: expected a number")))
    };
    let small = |v: u64, what: &str| -> Result<u32> {
        u32::try_from(v).map_err(|_| usage(format!("`{what} {v}` is too large")))
    };
    while i < args.len() {
        let word = args[i].as_str();
        match word {
            "type" => {
                let t = args
                    .get(i + 1)
                    .ok_or_else(|| usage("`type` needs a value"))?;
                let names = kmap::type_names();
                spec.map_type = names.iter().position(|n| n == t).ok_or_else(|| {
                    usage(format!(
                        "unknown map type `{t}`; known types: {}",
                        names[1..].join(", ")
                    ))
                })? as u32;
                has_type = true;
                i += 2;
            }
            "key" => {
                spec.key_size = small(num(i + 1, word)?, word)?;
                has_key = true;
                i += 2;
            }
            "value" => {
                spec.value_size = small(num(i + 1, word)?, word)?;
                has_value = true;
                i += 2;
            }
            "entries" => {
                spec.max_entries = small(num(i + 1, word)?, word)?;
                has_entries = true;
                i += 2;
            }
            "name" => {
                let n = args
                    .get(i + 1)
                    .ok_or_else(|| usage("`name` needs a value"))?;
                if n.len() > 15 {
                    return Err(usage(format!("map name `{n}` is longer than 15 characters")));
                }
                spec.name = n.clone();
                has_name = true;
                i += 2;
            }
            "flags" => {
                let f = args
                    .get(i + 1)
                    .ok_or_else(|| usage("`flags` needs a value"))?;
                spec.flags = parse_flags(f)?;
                i += 2;
            }
            "inner_map" => {
                let (h, used) = handle::parse(Kind::Map, &args[i + 1..])?;
                inner = Some(h);
                i += 1 + used;
            }
            other => {
                return Err(usage(format!(
                    "map create: unknown keyword `{other}`; expected type, key, value, entries, name, flags, inner_map"
                )))
            }
        }
    }
    let missing: Vec<&str> = [
        (has_type, "type"),
        (has_key, "key"),
        (has_value, "value"),
        (has_entries, "entries"),
        (has_name, "name"),
    ]
    .into_iter()
    .filter(|(has, _)| !has)
    .map(|(_, n)| n)
    .collect();
    if !missing.is_empty() {
        return Err(usage(format!("map create: missing {}", missing.join(", "))));
    }
    bpffs::ensure_mounted(g.nomount)?;
    bpffs::check_pin_path(&file)?;
    let inner_fd = match &inner {
        Some(h) => Some(handle::resolve_one(Kind::Map, h)?.fd),
        None => None,
    };
    spec.inner_map_fd = inner_fd.as_ref().map(|f| f.as_raw_fd());
    let fd = kmap::create(&spec)?;
    // If pinning fails, dropping `fd` frees the map: nothing is left behind.
    bpf::obj_pin(fd.as_fd(), &file)?;
    out.done(None)?;
    Ok(())
}

// ---- queue, stack, bloom filter ----

const KEYLESS: &[&str] = &["queue", "stack", "bloom_filter"];

fn keyless_ctx(words: &[String], types: &MapTypeArgs, verb: &str) -> Result<(MapCtx, usize)> {
    let (ctx, used) = open_map(words, types)?;
    if !KEYLESS.contains(&ctx.type_name.as_str()) {
        bail!(
            "map {verb} works on queue, stack and bloom_filter maps; this is a {} map (use `map lookup`/`map update`)",
            ctx.type_name
        );
    }
    Ok((ctx, used))
}

fn show_value(out: &mut Output, ctx: &MapCtx, value: &[u8]) -> Result<()> {
    show_entry(
        out,
        &EntryView {
            ctx,
            key: None,
            value,
            raw: false,
        },
    )
}

fn peek(words: &[String], types: &MapTypeArgs, out: &mut Output) -> Result<()> {
    let (ctx, used) = keyless_ctx(words, types, "peek")?;
    let a = split_elem_args(&words[used..], "peek")?;
    let vs = ctx.info.value_size as usize;
    if ctx.type_name == "bloom_filter" {
        let Some(vw) = a.value else {
            return Err(usage(
                "map peek on a bloom filter: expected MAP value VALUE",
            ));
        };
        let mut value = parse_data(vw, vs, &ctx.value, "value")?;
        if !kmap::lookup(ctx.fd.as_fd(), None, &mut value, 0)? {
            return Err(not_found("value not in the bloom filter"));
        }
        return show_value(out, &ctx, &value);
    }
    if a.key.is_some() || a.value.is_some() {
        return Err(usage("map peek: expected only MAP"));
    }
    let mut value = vec![0u8; vs];
    if !kmap::lookup(ctx.fd.as_fd(), None, &mut value, 0)? {
        return Err(not_found("the map is empty"));
    }
    show_value(out, &ctx, &value)
}

fn push(words: &[String], types: &MapTypeArgs, out: &mut Output) -> Result<()> {
    let (ctx, used) = keyless_ctx(words, types, "push")?;
    let a = split_elem_args(&words[used..], "push")?;
    let (None, Some(vw)) = (a.key, a.value) else {
        return Err(usage("map push: expected MAP value VALUE [exist]"));
    };
    let value = parse_data(vw, ctx.info.value_size as usize, &ctx.value, "value")?;
    kmap::update(ctx.fd.as_fd(), None, &value, update_flag(a.flag))?;
    out.done(None)?;
    Ok(())
}

fn pop(words: &[String], types: &MapTypeArgs, out: &mut Output) -> Result<()> {
    let (ctx, used) = keyless_ctx(words, types, "pop")?;
    if used != words.len() {
        return Err(usage("map pop: expected only MAP"));
    }
    let mut value = vec![0u8; ctx.info.value_size as usize];
    if !kmap::lookup_and_delete(ctx.fd.as_fd(), None, &mut value)? {
        return Err(not_found("the map is empty"));
    }
    show_value(out, &ctx, &value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

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

    #[test]
    fn elem_args_split() {
        let w = words("key 1 0 0 0 value 2 0 0 0 noexist");
        let a = split_elem_args(&w, "update").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.key.map(|k| k.len()), Some(4));
        assert_eq!(a.value.map(|k| k.len()), Some(4));
        assert_eq!(a.flag, Some("noexist"));
        assert!(split_elem_args(&words("bogus 1"), "update").is_err());
    }

    #[test]
    fn flags_parse_by_name_and_number() {
        assert_eq!(parse_flags("no_prealloc").ok(), Some(1));
        assert_eq!(parse_flags("no_prealloc,rdonly_prog").ok(), Some(129));
        assert_eq!(parse_flags("BPF_F_MMAPABLE|0x1").ok(), Some(1025));
        assert_eq!(parse_flags("4").ok(), Some(4));
        assert!(parse_flags("bogus").is_err());
        assert_eq!(flag_names(129), "no_prealloc,rdonly_prog");
    }

    #[test]
    fn dump_lines_are_stripped_of_array_decoration() {
        assert_eq!(
            line_json("[{\"key\":1,\"value\":2},"),
            Some("{\"key\":1,\"value\":2}")
        );
        assert_eq!(
            line_json("{\"key\":1,\"value\":2}]"),
            Some("{\"key\":1,\"value\":2}")
        );
        assert_eq!(line_json("[]"), None);
        assert_eq!(line_json("  "), None);
    }
}
