// `metrics` verbs: print and serve the Prometheus text exposition of programs and maps.

mod exposition;
mod layout;
mod print;
mod scrape;
mod serve;
mod values;

use anyhow::Result;

pub use scrape::BucketKind;

use crate::bpf::Kind;
use crate::cli::{MetricsMaps, MetricsPrintArgs, MetricsVerb};
use crate::error::usage;
use crate::handle::{self, Handle};
use crate::output::Output;

pub fn run(verb: Option<MetricsVerb>, out: &mut Output) -> Result<()> {
    let verb = verb.unwrap_or_else(|| {
        MetricsVerb::Print(MetricsPrintArgs {
            words: Vec::new(),
            maps: MetricsMaps {
                maps: Vec::new(),
                histograms: Vec::new(),
                buckets: BucketKind::Log2,
                bucket_multiplier: 1.0,
                key_types: Vec::new(),
            },
            max_series: None,
        })
    });
    match verb {
        MetricsVerb::Print(args) => print::print(&args, out),
        MetricsVerb::Serve(args) => serve::serve(&args, out),
    }
}

/// The maps to export, each handle given in one word (`id=7`, `name=counts`, `/path`).
fn targets(m: &MetricsMaps, max_series: Option<usize>) -> Result<scrape::Targets> {
    let parse = |words: &[String]| -> Result<Vec<Handle>> {
        words.iter().map(|w| one_word_map(w)).collect()
    };
    if !m.bucket_multiplier.is_finite() || m.bucket_multiplier <= 0.0 {
        return Err(usage(format!(
            "--bucket-multiplier {}: expected a positive number",
            m.bucket_multiplier
        )));
    }
    Ok(scrape::Targets {
        maps: parse(&m.maps)?,
        histograms: parse(&m.histograms)?,
        buckets: m.buckets,
        multiplier: m.bucket_multiplier,
        max_series,
        key_types: m
            .key_types
            .iter()
            .map(|w| layout::KeyType::parse(w).map_err(|e| usage(format!("{e:#}"))))
            .collect::<Result<_>>()?,
    })
}

/// A MAP in one word: `id=7`, `name=counts`, `pinned=/p`, `/p`, or the words `id 7`.
fn one_word_map(word: &str) -> Result<Handle> {
    let parts: Vec<String> = word
        .splitn(2, |c: char| c == '=' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    handle::parse_all(Kind::Map, &parts).map_err(|e| {
        usage(format!(
            "--map `{word}`: {e:#} (one word: id=N, name=NAME or /pinned/path)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_named_in_one_word() {
        assert_eq!(one_word_map("id=7").ok(), Some(Handle::Id(7)));
        assert_eq!(one_word_map("id 7").ok(), Some(Handle::Id(7)));
        assert_eq!(
            one_word_map("name=my=map").ok(),
            Some(Handle::Name("my=map".into()))
        );
        assert_eq!(
            one_word_map("/sys/fs/bpf/x").ok(),
            Some(Handle::Pinned("/sys/fs/bpf/x".into()))
        );
        assert!(one_word_map("id=x").is_err());
        assert!(one_word_map("tag=0102030405060708").is_err());
        assert!(one_word_map("").is_err());
    }
}
