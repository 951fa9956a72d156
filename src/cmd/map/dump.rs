// `map dump`: all elements of one map, or one group per map a name matches; undumpable types.

use anyhow::{Context, Result};
use serde::Serialize;

use super::view::EntryView;
use super::{map_ctx, words, MapCtx};
use crate::bpf::Kind;
use crate::cli::MapTypeArgs;
use crate::handle::{self, Handle};
use crate::output::Output;

/// Map types whose elements cannot be listed, and the verb that reads them.
pub(super) fn undumpable(type_name: &str) -> Option<&'static str> {
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

/// The head of one map's group when a name matches several: bpftool's fields.
#[derive(Serialize)]
struct DumpHead<'a> {
    id: u32,
    #[serde(rename = "type")]
    map_type: &'a str,
    name: &'a str,
    flags: u32,
}

pub fn dump(words: &[String], raw: bool, types: &MapTypeArgs, out: &mut Output) -> Result<()> {
    let h = words::map_handle("dump", words)?;
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
    out.groups_begin()?;
    for r in found {
        let ctx = map_ctx(r, &h, types)?;
        let info = ctx.map.info();
        let head = DumpHead {
            id: info.id,
            map_type: ctx.type_name(),
            name: &info.name,
            flags: info.flags,
        };
        let text = format!("{}: {}  name {}", info.id, ctx.type_name(), info.name);
        out.group_begin(&head, "elements", &text)?;
        dump_one(&ctx, &Handle::Id(info.id), raw, out)?;
        out.group_end()?;
    }
    out.groups_end()?;
    Ok(())
}

fn dump_one(ctx: &MapCtx, h: &Handle, raw: bool, out: &mut Output) -> Result<()> {
    if let Some(why) = undumpable(ctx.type_name()) {
        return Err(crate::error::hinted(
            format!("map {h} is a {} map and cannot be dumped", ctx.type_name()),
            why,
        ));
    }
    out.seq_begin(EntryView::header(ctx, true))?;
    for batch in ctx.map.entries() {
        let batch = batch.with_context(|| format!("dumping map {h}"))?;
        for (k, v) in batch.iter() {
            let e = EntryView {
                ctx,
                key: Some(k),
                value: v,
                raw,
            };
            out.seq_item(&e, || e.rows())
                .with_context(|| format!("dumping map {h}"))?;
        }
    }
    out.seq_end()?;
    Ok(())
}
