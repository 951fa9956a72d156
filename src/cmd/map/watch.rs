// `map watch`: the typed dump of one map every interval, or with --delta each key's rate
// of change per second for the numeric members of its value (per-CPU values summed).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{Map, Number, Value};

use super::dump::undumpable;
use super::view::EntryView;
use super::{open_map, words, MapCtx};
use crate::cli::WatchArgs;
use crate::error::{hinted, usage};
use crate::handle::Handle;
use crate::output::Output;

/// One element at one dump: `{"timestamp":..,"key":..,"value":..}`.
#[derive(Serialize)]
struct Stamped<'a> {
    timestamp: f64,
    #[serde(flatten)]
    entry: &'a EntryView<'a>,
}

/// One key's rates over one interval: `{"timestamp":..,"key":..,"rate":..}`.
#[derive(Serialize)]
struct RateLine {
    timestamp: f64,
    key: Value,
    rate: Value,
}

pub fn watch(args: &WatchArgs, out: &mut Output) -> Result<()> {
    let h = words::map_handle("watch", &args.words)?;
    if args.interval < Duration::from_millis(10) {
        return Err(usage("--interval: must be at least 10ms"));
    }
    if args.count == Some(0) {
        return Err(usage("--count: must be at least 1"));
    }
    let ctx = open_map(&h, &args.types)?;
    if let Some(why) = undumpable(ctx.type_name()) {
        return Err(hinted(
            format!("map {h} is a {} map and cannot be watched", ctx.type_name()),
            why,
        ));
    }
    if args.delta {
        watch_delta(&ctx, &h, args, out)
    } else {
        watch_dump(&ctx, &h, args, out)
    }
}

fn now_secs() -> f64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    (t * 1000.0).round() / 1000.0
}

/// Sleep until `next`, then move it one interval on.
fn tick(next: &mut Instant, interval: Duration) {
    std::thread::sleep(next.saturating_duration_since(Instant::now()));
    *next += interval;
}

fn watch_dump(ctx: &MapCtx, h: &Handle, args: &WatchArgs, out: &mut Output) -> Result<()> {
    let mut next = Instant::now();
    let mut done = 0u64;
    while args.count.is_none_or(|n| done < n) {
        tick(&mut next, args.interval);
        let timestamp = now_secs();
        if !out.is_json() {
            let when = humantime::format_rfc3339_seconds(SystemTime::now());
            out.stream_line(&(), &format!("-- {when}  map {h}"))?;
            out.seq_begin(EntryView::header(ctx, true))?;
        }
        for batch in ctx.map.entries() {
            let batch = batch.with_context(|| format!("dumping map {h}"))?;
            for (k, v) in batch.iter() {
                let entry = EntryView {
                    ctx,
                    key: Some(k),
                    value: v,
                    raw: false,
                };
                if out.is_json() {
                    let line = Stamped {
                        timestamp,
                        entry: &entry,
                    };
                    out.stream_line_deferred(&line, "")?;
                } else {
                    out.seq_item(&entry, || entry.rows())?;
                }
            }
        }
        if !out.is_json() {
            out.seq_end()?;
        }
        out.flush()?;
        done += 1;
    }
    Ok(())
}

/// Every element's key (typed) and value with per-CPU parts summed, by key bytes.
fn read_summed(ctx: &MapCtx, h: &Handle) -> Result<Vec<(Vec<u8>, Value, Value)>> {
    let mut all = Vec::new();
    for batch in ctx.map.entries() {
        let batch = batch.with_context(|| format!("dumping map {h}"))?;
        for (k, v) in batch.iter() {
            let key = serde_json::to_value(ctx.key.view(k))?;
            let value = if ctx.map.is_percpu() {
                let (vs, stride) = (ctx.value_size(), ctx.map.stride());
                let mut sum = Value::Null;
                for cpu in 0..ctx.map.ncpus() {
                    let part = v
                        .get(cpu * stride..cpu * stride + vs)
                        .context("short per-CPU value")?;
                    let one = serde_json::to_value(ctx.value.view(part))?;
                    sum = if cpu == 0 { one } else { add(&sum, &one) };
                }
                sum
            } else {
                serde_json::to_value(ctx.value.view(v))?
            };
            all.push((k.to_vec(), key, value));
        }
    }
    Ok(all)
}

fn watch_delta(ctx: &MapCtx, h: &Handle, args: &WatchArgs, out: &mut Output) -> Result<()> {
    let mut prev: HashMap<Vec<u8>, Value> = HashMap::new();
    let mut prev_at = Instant::now();
    for (k, _, v) in read_summed(ctx, h)? {
        check_numeric(&v, h)?;
        prev.insert(k, v);
    }
    let mut next = prev_at + args.interval;
    let mut checked = !prev.is_empty();
    let mut done = 0u64;
    while args.count.is_none_or(|n| done < n) {
        tick(&mut next, args.interval);
        let now = read_summed(ctx, h)?;
        let at = Instant::now();
        let secs = at.duration_since(prev_at).as_secs_f64().max(1e-9);
        let timestamp = now_secs();
        if !out.is_json() {
            let when = humantime::format_rfc3339_seconds(SystemTime::now());
            out.stream_line(&(), &format!("-- {when}  map {h}, per second"))?;
            out.seq_begin(&["KEY", "RATE"])?;
        }
        let mut next_prev = HashMap::with_capacity(now.len());
        for (k, key, value) in now {
            if !checked {
                check_numeric(&value, h)?;
                checked = true;
            }
            // A key new since the last dump counts from zero.
            let rate = rate(prev.get(&k), &value, secs).unwrap_or(Value::Null);
            let line = RateLine {
                timestamp,
                key,
                rate,
            };
            if out.is_json() {
                out.stream_line_deferred(&line, "")?;
            } else {
                let row = vec![text(&line.key), text(&line.rate)];
                out.seq_item(&line, || vec![row])?;
            }
            next_prev.insert(k, value);
        }
        if !out.is_json() {
            out.seq_end()?;
        }
        out.flush()?;
        prev = next_prev;
        prev_at = at;
        done += 1;
    }
    Ok(())
}

/// A JSON value as a table cell: strings without quotes.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn check_numeric(value: &Value, h: &Handle) -> Result<()> {
    if has_number(value) {
        return Ok(());
    }
    Err(hinted(
        format!("map {h}: its value has no numeric member, so --delta has no rate to show"),
        "watch it without --delta, or give --value-type u64 (or u32) for a map without BTF",
    ))
}

fn has_number(v: &Value) -> bool {
    match v {
        Value::Number(_) => true,
        Value::Object(m) => m.values().any(has_number),
        Value::Array(a) => a.iter().any(has_number),
        _ => false,
    }
}

/// `a + b` for numbers, member by member for objects and arrays; other values stay `a`'s.
fn add(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_u64(), y.as_u64()) {
            (Some(x), Some(y)) => Value::from(x.wrapping_add(y)),
            _ => match (x.as_i64(), y.as_i64()) {
                (Some(x), Some(y)) => Value::from(x.wrapping_add(y)),
                _ => float(x.as_f64().unwrap_or(0.0) + y.as_f64().unwrap_or(0.0)),
            },
        },
        (Value::Object(x), Value::Object(y)) => Value::Object(
            x.iter()
                .map(|(k, v)| (k.clone(), y.get(k).map_or(v.clone(), |w| add(v, w))))
                .collect(),
        ),
        (Value::Array(x), Value::Array(y)) => Value::Array(
            x.iter()
                .enumerate()
                .map(|(i, v)| y.get(i).map_or(v.clone(), |w| add(v, w)))
                .collect(),
        ),
        _ => a.clone(),
    }
}

fn float(x: f64) -> Value {
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// The change per second from `prev` to `cur` of every numeric member (a counter that went
/// down was reset: its new value is the change); None when `cur` has no number.
fn rate(prev: Option<&Value>, cur: &Value, secs: f64) -> Option<Value> {
    match cur {
        Value::Number(n) => {
            let c = n.as_f64()?;
            let p = prev.and_then(Value::as_f64).unwrap_or(0.0);
            let d = if c >= p { c - p } else { c };
            Some(float(((d / secs) * 1000.0).round() / 1000.0))
        }
        Value::Object(m) => {
            let out: Map<String, Value> = m
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), rate(prev.and_then(|p| p.get(k)), v, secs)?)))
                .collect();
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(a) => {
            let out: Vec<Option<Value>> = a
                .iter()
                .enumerate()
                .map(|(i, v)| rate(prev.and_then(|p| p.get(i)), v, secs))
                .collect();
            out.iter()
                .any(Option::is_some)
                .then(|| Value::Array(out.into_iter().map(|v| v.unwrap_or(Value::Null)).collect()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rates_keep_numeric_members_only() {
        let prev = json!({"packets": 10, "bytes": 1000, "name": "eth0"});
        let cur = json!({"packets": 30, "bytes": 1500, "name": "eth0"});
        assert_eq!(
            rate(Some(&prev), &cur, 2.0),
            Some(json!({"packets": 10.0, "bytes": 250.0}))
        );
        assert_eq!(rate(None, &json!(8), 4.0), Some(json!(2.0)));
        assert_eq!(
            rate(Some(&json!(100)), &json!(5), 1.0),
            Some(json!(5.0)),
            "reset"
        );
        assert_eq!(rate(None, &json!("x"), 1.0), None);
        assert_eq!(
            rate(Some(&json!([1, 2])), &json!([3, 2]), 1.0),
            Some(json!([2.0, 0.0]))
        );
    }

    #[test]
    fn per_cpu_values_add_up() {
        assert_eq!(add(&json!(3), &json!(4)), json!(7));
        assert_eq!(
            add(&json!({"a": 1, "s": "x"}), &json!({"a": 2, "s": "y"})),
            json!({"a": 3, "s": "x"})
        );
        assert_eq!(add(&json!([1, 2]), &json!([10, 20])), json!([11, 22]));
        assert!(has_number(&json!({"a": {"b": [1]}})));
        assert!(!has_number(&json!({"a": "x"})));
    }
}
