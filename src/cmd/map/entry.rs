// Element verbs of keyed maps: lookup, update, delete (also --all) and getnext.

use std::os::fd::OwnedFd;

use anyhow::{bail, Result};
use serde::Serialize;

use super::dump::undumpable;
use super::encode::{encode_value_words, parse_data};
use super::view::{show_entry, EntryView};
use super::{open_map, words, MapCtx};
use crate::bpf;
use crate::btf::codec::View;
use crate::cli::MapTypeArgs;
use crate::error::not_found;
use crate::output::Output;

pub fn lookup(words: &[String], types: &MapTypeArgs, out: &mut Output) -> Result<()> {
    let w = words::lookup(words)?;
    let ctx = open_map(&w.map, types)?;
    let key = parse_data(&w.key, ctx.key_size(), &ctx.key, "key")?;
    let mut value = vec![0u8; ctx.value_len()];
    if !ctx.map.lookup(Some(&key), &mut value)? {
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

pub fn update(words: &[String], types: &MapTypeArgs, out: &mut Output) -> Result<()> {
    let w = words::update(words)?;
    let ctx = open_map(&w.map, types)?;
    let key = parse_data(&w.key, ctx.key_size(), &ctx.key, "key")?;
    // The fds of the objects a prog_array or map-in-map value names, open until the update.
    let mut held: Vec<OwnedFd> = Vec::new();
    let value = encode_value_words(&ctx, &w.value, &mut held)?;
    ctx.map.update(Some(&key), &value, w.flag)?;
    out.done(None)?;
    Ok(())
}

pub fn delete(words: &[String], all: bool, types: &MapTypeArgs, out: &mut Output) -> Result<()> {
    let w = words::delete(words, all)?;
    let ctx = open_map(&w.map, types)?;
    let Some(key_words) = w.key else {
        let n = delete_all(&ctx)?;
        out.done(Some(&format!("deleted {n} elements")))?;
        return Ok(());
    };
    let key = parse_data(&key_words, ctx.key_size(), &ctx.key, "key")?;
    if !ctx
        .map
        .delete(&key)
        .map_err(|e| array_delete_hint(&ctx, e))?
    {
        return Err(not_found("key not found"));
    }
    out.done(None)?;
    Ok(())
}

fn array_delete_hint(ctx: &MapCtx, e: anyhow::Error) -> anyhow::Error {
    let t = ctx.type_name();
    if t.contains("array") && !t.contains("of_maps") && t != "prog_array" {
        return crate::error::hinted(
            format!("{e:#}"),
            "elements of array maps cannot be deleted; update them to zero instead",
        );
    }
    e
}

/// Delete every element: read keys in batches from the start and delete them (batch
/// delete where the kernel has it). Returns how many were deleted.
fn delete_all(ctx: &MapCtx) -> Result<usize> {
    if let Some(why) = undumpable(ctx.type_name()) {
        bail!("a {} map cannot be emptied by key: {why}", ctx.type_name());
    }
    let ks = ctx.key_size();
    let limit = ctx.map.batch_count();
    let mut total = 0usize;
    let mut batch_delete = true;
    loop {
        let mut keys: Vec<u8> = Vec::with_capacity(limit * ks);
        let mut n = 0usize;
        let mut cur: Option<Vec<u8>> = None;
        let mut next = vec![0u8; ks];
        while n < limit && ctx.map.next_key(cur.as_deref(), &mut next)? {
            keys.extend_from_slice(&next);
            n += 1;
            cur = Some(next.clone());
        }
        if n == 0 {
            return Ok(total);
        }
        if batch_delete {
            let (done, err) = ctx.map.delete_batch(&keys, n)?;
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
            if ctx.map.delete(k).map_err(|e| array_delete_hint(ctx, e))? {
                total += 1;
            }
        }
    }
}

#[derive(Serialize)]
struct NextKey<'a> {
    key: Option<View<'a>>,
    next_key: Option<View<'a>>,
}

pub fn getnext(words: &[String], types: &MapTypeArgs, out: &mut Output) -> Result<()> {
    let w = words::getnext(words)?;
    let ctx = open_map(&w.map, types)?;
    let key = match w.key {
        Some(kw) => Some(parse_data(&kw, ctx.key_size(), &ctx.key, "key")?),
        None => None,
    };
    let mut next = vec![0u8; ctx.key_size()];
    if !ctx.map.next_key(key.as_deref(), &mut next)? {
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
