// Map elements as records: typed (BTF) or raw JSON, per-CPU values, and table rows.

use crate::hex::{self, ByteArray};
use anyhow::Result;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::MapCtx;
use crate::btf::codec::Codec;
use crate::output::Output;

/// One element as JSON: `{"key":..,"value":..}`, per-CPU `{"key":..,"values":[..]}`, or
/// with `raw` bpftool's hex arrays plus `formatted`.
pub(super) struct EntryView<'a> {
    pub ctx: &'a MapCtx,
    pub key: Option<&'a [u8]>,
    pub value: &'a [u8],
    pub raw: bool,
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
        let (vs, stride, ncpus) = (c.value_size(), c.map.stride(), c.map.ncpus());
        let mut seq = s.serialize_seq(Some(ncpus))?;
        for cpu in 0..ncpus {
            let part = &self.value[cpu * stride..cpu * stride + vs];
            if self.raw {
                seq.serialize_element(&CpuValue {
                    cpu,
                    value: ByteArray(part),
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
        if e.ctx.map.is_percpu() {
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
            map.serialize_entry("key", &ByteArray(k))?;
        }
        if self.ctx.map.is_percpu() {
            map.serialize_entry(
                "values",
                &PerCpu {
                    ctx: self.ctx,
                    value: self.value,
                    raw: true,
                },
            )?;
        } else {
            map.serialize_entry("value", &ByteArray(self.value))?;
        }
        if self.ctx.has_btf {
            map.serialize_entry("formatted", &Formatted(self))?;
        }
        map.end()
    }
}

impl EntryView<'_> {
    pub fn header(ctx: &MapCtx, keyed: bool) -> &'static [&'static str] {
        match (keyed, ctx.map.is_percpu()) {
            (true, true) => &["KEY", "CPU", "VALUE"],
            (true, false) => &["KEY", "VALUE"],
            (false, _) => &["VALUE"],
        }
    }

    pub fn rows(&self) -> Vec<Vec<String>> {
        let c = self.ctx;
        let text = |codec: &Codec, b: &[u8]| {
            if self.raw {
                hex::spaced(b)
            } else {
                codec.text(b)
            }
        };
        let key = self.key.map(|k| text(&c.key, k));
        if !c.map.is_percpu() {
            let v = text(&c.value, self.value);
            return vec![match key {
                Some(k) => vec![k, v],
                None => vec![v],
            }];
        }
        let (vs, stride) = (c.value_size(), c.map.stride());
        (0..c.map.ncpus())
            .map(|cpu| {
                let part = &self.value[cpu * stride..cpu * stride + vs];
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
pub(super) fn show_entry(out: &mut Output, e: &EntryView<'_>) -> Result<()> {
    if out.is_json() {
        out.json(e)?;
    } else {
        out.seq_begin(EntryView::header(e.ctx, e.key.is_some()))?;
        out.seq_item(e, || e.rows())?;
        out.seq_end()?;
    }
    Ok(())
}
