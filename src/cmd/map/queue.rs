// Keyless maps (queue, stack, bloom filter): peek, push/enqueue, pop/dequeue.

use anyhow::{bail, Result};

use super::encode::parse_data;
use super::view::{show_entry, EntryView};
use super::{open_map, words, MapCtx};
use crate::cli::MapTypeArgs;
use crate::error::{not_found, usage};
use crate::handle::Handle;
use crate::output::Output;

const KEYLESS: &[&str] = &["queue", "stack", "bloom_filter"];

fn keyless_ctx(h: &Handle, types: &MapTypeArgs, verb: &str) -> Result<MapCtx> {
    let ctx = open_map(h, types)?;
    if !KEYLESS.contains(&ctx.type_name()) {
        bail!(
            "map {verb} works on queue, stack and bloom_filter maps; this is a {} map (use `map lookup`/`map update`)",
            ctx.type_name()
        );
    }
    Ok(ctx)
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

pub fn peek(words: &[String], types: &MapTypeArgs, out: &mut Output) -> Result<()> {
    let w = words::peek(words)?;
    let ctx = keyless_ctx(&w.map, types, "peek")?;
    let vs = ctx.value_size();
    if ctx.type_name() == "bloom_filter" {
        let Some(vw) = w.value else {
            return Err(usage(
                "map peek on a bloom filter: expected MAP value VALUE",
            ));
        };
        let mut value = parse_data(&vw, vs, &ctx.value, "value")?;
        if !ctx.map.lookup(None, &mut value)? {
            return Err(not_found("value not in the bloom filter"));
        }
        return show_value(out, &ctx, &value);
    }
    if w.value.is_some() {
        return Err(usage("map peek: expected only MAP"));
    }
    let mut value = vec![0u8; vs];
    if !ctx.map.lookup(None, &mut value)? {
        return Err(not_found("the map is empty"));
    }
    show_value(out, &ctx, &value)
}

pub fn push(words: &[String], types: &MapTypeArgs, out: &mut Output) -> Result<()> {
    let w = words::push("push", words)?;
    let ctx = keyless_ctx(&w.map, types, "push")?;
    let value = parse_data(&w.value, ctx.value_size(), &ctx.value, "value")?;
    ctx.map.update(None, &value, w.flag)?;
    out.done(None)?;
    Ok(())
}

pub fn pop(words: &[String], types: &MapTypeArgs, out: &mut Output) -> Result<()> {
    let h = words::map_handle("pop", words)?;
    let ctx = keyless_ctx(&h, types, "pop")?;
    let mut value = vec![0u8; ctx.value_size()];
    if !ctx.map.lookup_and_delete(None, &mut value)? {
        return Err(not_found("the map is empty"));
    }
    show_value(out, &ctx, &value)
}
