// `map` verbs: dispatch, and the open map with its key/value codecs (`MapCtx`) they share.

mod batch_update;
mod create;
mod dump;
mod elements;
mod encode;
mod entry;
mod queue;
mod show;
mod update_from;
mod view;
mod watch;
mod words;

#[cfg(fuzzing)]
pub use encode::fuzz_update_words;

pub use batch_update::{byte_list, Flushed, Updater};

use std::rc::Rc;

use anyhow::{Context, Result};

use crate::bpf::map::MapFd;
use crate::bpf::Kind;
use crate::btf::codec::Codec;
use crate::btf::Btf;
use crate::cli::{Globals, MapTypeArgs, MapVerb};
use crate::cmd::object_verbs;
use crate::error::usage;
use crate::handle::{self, Handle};
use crate::output::Output;

pub fn run(verb: Option<MapVerb>, g: &Globals, out: &mut Output) -> Result<()> {
    match verb.unwrap_or(MapVerb::Show { words: Vec::new() }) {
        MapVerb::Show { words } => show::show(&words, g, out),
        MapVerb::Dump { words, raw, types } => dump::dump(&words, raw, &types, out),
        MapVerb::Update {
            words,
            from,
            keep_going,
            types,
        } => match from {
            Some(file) => update_from::update_from(&words, &file, keep_going, &types, out),
            None => entry::update(&words, &types, out),
        },
        MapVerb::Lookup { words, types } => entry::lookup(&words, &types, out),
        MapVerb::Getnext { words, types } => entry::getnext(&words, &types, out),
        MapVerb::Delete { words, all, types } => entry::delete(&words, all, &types, out),
        MapVerb::Pin { words } => object_verbs::pin(Kind::Map, &words, g, out),
        MapVerb::Create { words } => create::create(&words, g, out),
        MapVerb::Peek { words, types } => queue::peek(&words, &types, out),
        MapVerb::Push { words, types } | MapVerb::Enqueue { words, types } => {
            queue::push(&words, &types, out)
        }
        MapVerb::Pop { words, types } | MapVerb::Dequeue { words, types } => {
            queue::pop(&words, &types, out)
        }
        MapVerb::Freeze { words } => create::freeze(&words, out),
        MapVerb::EventPipe(args) => crate::cmd::perf::events(&args, g, out),
        MapVerb::Watch(args) => watch::watch(&args, out),
    }
}

/// An open map with the codecs for its keys and values.
struct MapCtx {
    map: MapFd,
    key: Codec,
    value: Codec,
    has_btf: bool,
}

impl MapCtx {
    fn type_name(&self) -> &str {
        self.map.type_name()
    }

    fn key_size(&self) -> usize {
        self.map.key_size()
    }

    /// Bytes of one value (one CPU's, for per-CPU maps).
    fn value_size(&self) -> usize {
        self.map.value_size()
    }

    /// Bytes of a whole value as lookup returns it (all CPUs for per-CPU maps).
    fn value_len(&self) -> usize {
        self.map.value_len()
    }

    /// The kind of object a value names, for prog_array and map-in-map maps.
    fn fd_value_kind(&self) -> Option<Kind> {
        match self.type_name() {
            "prog_array" => Some(Kind::Prog),
            "array_of_maps" | "hash_of_maps" => Some(Kind::Map),
            _ => None,
        }
    }
}

/// Open the one map `h` names.
fn open_map(h: &Handle, types: &MapTypeArgs) -> Result<MapCtx> {
    let resolved = handle::resolve_one(Kind::Map, h)?;
    map_ctx(resolved, h, types)
}

/// The codecs and sizes of an opened map.
fn map_ctx(resolved: handle::Resolved, h: &Handle, types: &MapTypeArgs) -> Result<MapCtx> {
    let map = MapFd::new(resolved.fd).with_context(|| format!("map {h}"))?;
    let info = map.info();
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
    let has_btf = matches!(key, Codec::Btf { .. }) || matches!(value, Codec::Btf { .. });
    Ok(MapCtx {
        map,
        key,
        value,
        has_btf,
    })
}

/// Words of a command line split at white space, for the unit tests of the verbs' parsers.
#[cfg(test)]
fn words_of(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}
