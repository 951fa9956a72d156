// `map update MAP --from FILE`: JSON lines into the map with BPF_MAP_UPDATE_BATCH.

use std::io::BufRead;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::elements::{Element, Elements};
use super::encode::{encode_json, encode_value_json};
use super::{open_map, words, MapCtx};
use crate::bpf::map::UpdateFlag;
use crate::cli::MapTypeArgs;
use crate::output::Output;

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
            let (done, err) = ctx.map.update_batch(&self.keys, &self.values, n)?;
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
            ctx.map
                .update(Some(k), v, UpdateFlag::Any)
                .with_context(|| {
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

pub fn update_from(
    words: &[String],
    file: &Path,
    keep_going: bool,
    types: &MapTypeArgs,
    out: &mut Output,
) -> Result<()> {
    let h = words::update_from(words)?;
    let ctx = open_map(&h, types)?;
    if ctx.fd_value_kind().is_some() {
        bail!(
            "--from cannot fill a {} map: its values are handles; use `map update MAP key DATA value HANDLE`",
            ctx.type_name()
        );
    }
    let reader: Box<dyn BufRead> = if file == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(crate::input::open_regular(
            file, "--from",
        )?))
    };
    let chunk = ctx.map.batch_count();
    let mut pending = Pending {
        keys: Vec::with_capacity(chunk * ctx.key_size()),
        values: Vec::with_capacity(chunk * ctx.value_len()),
        lines: Vec::with_capacity(chunk),
        batch: true,
        applied: 0,
    };
    let mut bad = 0usize;
    let mut elements = Elements::new(reader, crate::input::MAX_OBJECT);
    while let Some(Element { line: lineno, text }) = elements
        .next_element()
        .with_context(|| format!("reading {}", file.display()))?
    {
        match parse_line(&ctx, &text) {
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
