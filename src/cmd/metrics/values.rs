// The values of `--map` and `--histogram` maps: one family per numeric member (or one
// histogram), shared by every map of the same name and told apart by a `map_id` label.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use anyhow::{Context, Result};

use super::exposition::{metric_name, Exposition, Kind, Num};
use super::layout::{self, Buckets, Field, KeyLabel};
use super::scrape::{BucketKind, Targets};
use crate::bpf::map::MapFd;
use crate::bpf::Kind as ObjKind;
use crate::btf::Btf;
use crate::handle;

/// One `--map` or `--histogram` map, with the layout of its keys and values.
pub struct Values<'a> {
    map: MapFd,
    id: String,
    labels: Vec<KeyLabel>,
    /// Per `--key-type`: whether it applied to this map's key.
    key_types_used: Vec<bool>,
    shape: Shape,
    family: String,
    targets: &'a Targets,
}

enum Shape {
    Fields(Vec<Field>),
    Histogram(Buckets),
}

/// Every map the targets name, opened, each once; what cannot be opened is logged.
pub fn open_all<'a>(t: &'a Targets, log: &mut dyn FnMut(&str)) -> Vec<Values<'a>> {
    let mut seen = HashSet::new();
    let mut sources = Vec::new();
    let named = t.maps.iter().map(|h| (h, false));
    for (h, histogram) in named.chain(t.histograms.iter().map(|h| (h, true))) {
        let found = match handle::resolve_all(ObjKind::Map, h) {
            Ok(found) => found,
            Err(err) => {
                log(&format!("map {h}: {err:#}; not exported this time"));
                continue;
            }
        };
        for r in found {
            let id = r.id;
            if !seen.insert(id) {
                continue;
            }
            match MapFd::new(r.fd).and_then(|map| Values::new(map, t, histogram)) {
                Ok(v) => sources.push(v),
                Err(err) => log(&format!("map {h} (id {id}): {err:#}; not exported")),
            }
        }
    }
    sources
}

/// One family to write: its name, kind, help, and the (map, member) pairs that feed it.
struct Family {
    name: String,
    kind: Kind,
    help: String,
    parts: Vec<(usize, Option<usize>)>,
}

/// Write every family of `sources`; returns the elements read per map id.
pub fn export<W: Write>(
    sources: &[Values<'_>],
    e: &mut Exposition<W>,
    log: &mut dyn FnMut(&str),
) -> Result<HashMap<u32, usize>> {
    let mut plan: Vec<Family> = Vec::new();
    for (i, v) in sources.iter().enumerate() {
        for (name, kind, help, member) in v.families() {
            match plan.iter_mut().find(|f| f.name == name) {
                Some(f) if f.kind == kind => f.parts.push((i, member)),
                Some(_) => log(&format!(
                    "map id {}: `{name}` is already a family of another kind; not exported",
                    v.id
                )),
                None => plan.push(Family {
                    name,
                    kind,
                    help,
                    parts: vec![(i, member)],
                }),
            }
        }
    }
    let mut counted = HashMap::new();
    for f in &plan {
        e.family(&f.name, f.kind, &f.help)?;
        for &(i, member) in &f.parts {
            let v = &sources[i];
            match v.write(e, &f.name, member) {
                Ok(n) => {
                    counted.entry(v.map.info().id).or_insert(n);
                }
                Err(err) => log(&format!("map id {}: {err:#}; series left out", v.id)),
            }
        }
    }
    Ok(counted)
}

impl<'a> Values<'a> {
    pub fn new(map: MapFd, targets: &'a Targets, histogram: bool) -> Result<Values<'a>> {
        let info = map.info().clone();
        if let Some(why) = unreadable(map.type_name()) {
            anyhow::bail!("a {} map cannot be exported: {why}", map.type_name());
        }
        let btf = match info.btf_id {
            0 => None,
            id => Some(Btf::from_kernel_id(id).context("reading the map's BTF")?),
        };
        let (ks, vs) = (info.key_size as usize, info.value_size as usize);
        let mut labels = layout::key_labels(btf.as_ref(), info.btf_key_type_id, ks, &["map_id"])?;
        let key_types_used = layout::apply_key_types(&mut labels, ks, &targets.key_types)?;
        let shape = if histogram {
            Shape::Histogram(layout::value_buckets(
                btf.as_ref(),
                info.btf_value_type_id,
                vs,
            )?)
        } else {
            Shape::Fields(layout::value_fields(
                btf.as_ref(),
                info.btf_value_type_id,
                vs,
            )?)
        };
        Ok(Values {
            family: metric_name(&format!("rbt_map_value_{}", info.name)),
            id: info.id.to_string(),
            map,
            labels,
            key_types_used,
            shape,
            targets,
        })
    }

    /// Per `--key-type` of the targets: whether it applied to this map's key.
    pub fn key_types_used(&self) -> &[bool] {
        &self.key_types_used
    }

    /// The names of the labels taken from the key.
    pub fn label_names(&self) -> impl Iterator<Item = String> + '_ {
        self.labels.iter().map(|l| l.name.clone())
    }

    /// The families this map feeds: (name, kind, help, member index).
    fn families(&self) -> Vec<(String, Kind, String, Option<usize>)> {
        let map = &self.map.info().name;
        match &self.shape {
            Shape::Fields(fields) => fields
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let (name, what) = match f.name.as_str() {
                        "" => (self.family.clone(), "value"),
                        m => (metric_name(&format!("{}_{m}", self.family)), m),
                    };
                    let help = format!("Map {map}: {what}, summed over CPUs.");
                    // promtool: a `_total` name is a counter's, any other a gauge's.
                    let kind = if name.ends_with("_total") {
                        Kind::Counter
                    } else {
                        Kind::Gauge
                    };
                    (name, kind, help, Some(i))
                })
                .collect(),
            Shape::Histogram(_) => vec![(
                self.family.clone(),
                Kind::Histogram,
                format!("Map {map}: its buckets as a histogram."),
                None,
            )],
        }
    }

    /// Write the samples of one member (or the histograms) of every element; returns the
    /// number of elements read.
    fn write<W: Write>(
        &self,
        e: &mut Exposition<W>,
        name: &str,
        member: Option<usize>,
    ) -> Result<usize> {
        let (ncpus, stride) = (self.map.ncpus(), self.map.stride());
        match (&self.shape, member) {
            (Shape::Fields(fields), Some(i)) => {
                let f = fields.get(i).context("no such member")?;
                self.each(|labels, value| {
                    let v = layout::read_field(f, value, ncpus, stride);
                    Ok(e.sample(name, labels, v)?)
                })
            }
            (Shape::Histogram(b), _) => {
                let bounds = self.bounds(b.fields.len());
                let mut buckets = Vec::with_capacity(bounds.len());
                self.each(|labels, value| {
                    buckets.clear();
                    let mut sum = 0.0;
                    for (f, &le) in b.fields.iter().zip(&bounds) {
                        let c = match layout::read_field(f, value, ncpus, stride) {
                            Num::U(c) => c,
                            other => other.as_f64().max(0.0) as u128,
                        };
                        sum += c as f64 * le;
                        buckets.push((le, c));
                    }
                    Ok(e.histogram(name, labels, &buckets, sum)?)
                })
            }
            (Shape::Fields(_), None) => Ok(0),
        }
    }

    /// Upper bounds of `n` buckets.
    fn bounds(&self, n: usize) -> Vec<f64> {
        let m = self.targets.multiplier;
        (0..n)
            .map(|i| match self.targets.buckets {
                BucketKind::Log2 => 2f64.powi(i as i32) * m,
                BucketKind::Linear => i as f64 * m,
            })
            .collect()
    }

    /// Call `f` with each element's labels (`map_id` first) and value until it says the
    /// series limit is reached. Returns the number of elements read.
    fn each(&self, mut f: impl FnMut(&[(&str, &str)], &[u8]) -> Result<bool>) -> Result<usize> {
        let mut n = 0;
        let mut values = Vec::with_capacity(self.labels.len());
        let mut room = true;
        for batch in self.map.entries() {
            let batch = batch?;
            for (key, value) in batch.iter() {
                n += 1;
                if !room {
                    continue;
                }
                layout::label_values(&self.labels, key, &mut values);
                let keys = self.labels.iter().zip(&values);
                let pairs: Vec<(&str, &str)> = std::iter::once(("map_id", self.id.as_str()))
                    .chain(keys.map(|(l, v)| (l.name.as_str(), v.as_str())))
                    .collect();
                room = f(&pairs, value)?;
            }
        }
        Ok(n)
    }
}

/// Map types without listable keyed values.
fn unreadable(type_name: &str) -> Option<&'static str> {
    Some(match type_name {
        "ringbuf" | "user_ringbuf" | "perf_event_array" => "its records are a stream",
        "queue" | "stack" | "bloom_filter" => "it has no keys",
        "sk_storage" | "inode_storage" | "task_storage" | "cgrp_storage" => {
            "its keys are file descriptors"
        }
        "arena" | "struct_ops" => "it holds no counters",
        _ => return None,
    })
}
