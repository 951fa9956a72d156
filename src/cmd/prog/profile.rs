//! `prog profile PROG [duration D] METRIC...`: hardware counters around each run of a program, in bpftool's output.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::bpf::profile::{self, Metric, Reading, Readings, MAX_METRICS, METRICS};
use crate::bpf::{stream, Kind};
use crate::error::{hinted, usage};
use crate::grammar::{self, Matches};
use crate::handle;
use crate::output::Output;

/// What `prog profile` was asked for.
#[derive(Debug, PartialEq)]
struct ProfileOptions {
    /// None: until SIGINT or SIGTERM.
    duration: Option<Duration>,
    /// In bpftool's order, whatever the order given.
    metrics: Vec<Metric>,
}

fn parse_options(m: &Matches) -> Result<ProfileOptions> {
    let metrics: Vec<Metric> = METRICS.into_iter().filter(|x| m.has(x.name)).collect();
    let names = || {
        METRICS
            .iter()
            .map(|x| x.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if metrics.is_empty() {
        return Err(usage(format!(
            "prog profile: name at least one metric: {}",
            names()
        )));
    }
    if metrics.len() > MAX_METRICS {
        return Err(usage(format!(
            "prog profile: too many ({}) metrics, please specify no more than {MAX_METRICS} metrics at a time",
            metrics.len()
        )));
    }
    Ok(ProfileOptions {
        duration: m.number::<u64>("duration")?.map(Duration::from_secs),
        metrics,
    })
}

/// One metric as bpftool's JSON shows it; `unavailable` (rbt's) says why a metric has no
/// counter, its numbers then being 0.
#[derive(Debug, Serialize)]
pub struct MetricRecord {
    pub metric: &'static str,
    pub run_cnt: u64,
    pub value: u64,
    pub enabled: u64,
    pub running: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// bpftool's derived ratios: (metric, the metric it is divided by, label, multiplier).
const RATIOS: &[(&str, &str, &str, f64)] = &[
    ("instructions", "cycles", "insns per cycle", 1.0),
    (
        "llc_misses",
        "instructions",
        "LLC misses per million insns",
        1e6,
    ),
    (
        "itlb_misses",
        "instructions",
        "itlb misses per million insns",
        1e6,
    ),
    (
        "dtlb_misses",
        "instructions",
        "dtlb misses per million insns",
        1e6,
    ),
];

fn records(readings: &Readings) -> Vec<MetricRecord> {
    readings
        .metrics
        .iter()
        .map(|(metric, reading)| {
            let r = reading.as_ref().copied().unwrap_or_default();
            MetricRecord {
                metric: metric.name,
                run_cnt: readings.run_cnt,
                value: r.counter,
                enabled: r.enabled,
                running: r.running,
                unavailable: reading.as_ref().err().cloned(),
            }
        })
        .collect()
}

/// bpftool's plain output: the run count, then a line per metric with its ratio and, when
/// the counter was multiplexed, the share of time it ran.
fn plain(readings: &Readings) -> String {
    let mut text = format!("\n{:>18} {:<20}\n", readings.run_cnt, "run_cnt");
    let value_of = |name: &str| -> Option<Reading> {
        readings
            .metrics
            .iter()
            .find(|(m, _)| m.name == name)
            .and_then(|(_, r)| r.as_ref().ok().copied())
    };
    for (metric, reading) in &readings.metrics {
        let r = match reading {
            Ok(r) => r,
            Err(why) => {
                text.push_str(&format!("{:>18} {:<20}# {why}\n", "-", metric.name));
                continue;
            }
        };
        text.push_str(&format!("{:>18} {:<20}", r.counter, metric.name));
        let ratio = RATIOS
            .iter()
            .find(|(name, ..)| *name == metric.name)
            .and_then(|(_, base, label, mul)| {
                let b = value_of(base)?;
                (b.counter > 0).then(|| (r.counter as f64 * mul / b.counter as f64, label))
            });
        match ratio {
            Some((v, label)) => text.push_str(&format!("# {v:>8.2} {label:<30}")),
            None => text.push_str(&format!("{:<41}", "")),
        }
        if r.enabled > r.running {
            text.push_str(&format!(
                "({:4.2}%)",
                r.running as f64 * 100.0 / r.enabled as f64
            ));
        }
        text.push('\n');
    }
    text
}

pub fn profile(words: &[String], out: &mut Output) -> Result<()> {
    let m = grammar::parse("prog", "profile", words)?;
    let handle = m
        .handle("PROG")?
        .ok_or_else(|| usage("prog profile: expected PROG"))?;
    let opts = parse_options(&m)?;
    let prog = handle::resolve_one(Kind::Prog, &handle)?;
    let func = profile::target_func(prog.fd.as_fd()).ok_or_else(|| {
        hinted(
            format!(
                "prog profile: program {} has no BTF (func_info), which fentry/fexit need to name their target",
                prog.id
            ),
            "load it from an object compiled with -g (clang -g -target bpf ...)",
        )
    })?;
    // SIGINT and SIGTERM end the profile early; the results are still printed.
    stream::install_stop_handlers()?;
    let running = profile::start(prog.fd.as_fd(), &func, &opts.metrics)?;
    for (metric, why) in running.unavailable() {
        if let Some(why) = why {
            out.warn(&format!("{}: {why}", metric.name));
        }
    }
    wait(opts.duration);
    let readings = running.stop()?;
    if out.is_json() {
        out.json(&records(&readings))?;
    } else {
        out.raw(plain(&readings).as_bytes())?;
    }
    Ok(())
}

/// Sleep for `duration`, or until SIGINT or SIGTERM.
fn wait(duration: Option<Duration>) {
    let end = duration.map(|d| Instant::now() + d);
    while stream::stop_signal().is_none() {
        let step = match end {
            Some(end) => {
                let left = end.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                left.min(Duration::from_millis(100))
            }
            None => Duration::from_millis(100),
        };
        std::thread::sleep(step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(line: &str) -> Result<ProfileOptions> {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse_options(&grammar::parse("prog", "profile", &words)?)
    }

    #[test]
    fn options_parse() {
        let o = opts("id 7 duration 2 instructions cycles").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.duration, Some(Duration::from_secs(2)));
        let names: Vec<&str> = o.metrics.iter().map(|m| m.name).collect();
        assert_eq!(names, ["cycles", "instructions"], "bpftool's order");
        let o = opts("name f dtlb_misses").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.duration, None);
        for bad in [
            "id 7",
            "id 7 duration 2",
            "id 7 cycles instructions l1d_loads llc_misses itlb_misses",
            "id 7 cycles duration",
            "id 7 cycles duration x",
            "id 7 cycles bogus",
        ] {
            let err = opts(bad).err().unwrap_or_else(|| panic!("{bad} parsed"));
            assert_eq!(crate::error::exit_code(&err), 2, "{bad}");
        }
    }

    fn readings(metrics: Vec<(usize, std::result::Result<Reading, String>)>) -> Readings {
        Readings {
            run_cnt: 1000,
            metrics: metrics.into_iter().map(|(i, r)| (METRICS[i], r)).collect(),
        }
    }

    #[test]
    fn plain_is_bpftools_format() {
        let r = |counter, enabled, running| {
            Ok(Reading {
                counter,
                enabled,
                running,
            })
        };
        let text = plain(&readings(vec![
            (0, r(2000, 10, 10)),
            (1, r(3000, 10, 5)),
            (3, r(3, 10, 10)),
        ]));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "");
        assert_eq!(lines[1], format!("{:>18} {:<20}", 1000, "run_cnt"));
        assert_eq!(lines[2], format!("{:>18} {:<20}{:41}", 2000, "cycles", ""));
        assert_eq!(
            lines[3],
            format!(
                "{:>18} {:<20}# {:>8} {:<30}(50.00%)",
                3000, "instructions", "1.50", "insns per cycle"
            )
        );
        assert_eq!(
            lines[4],
            format!(
                "{:>18} {:<20}# {:>8} {:<30}",
                3, "llc_misses", "1000.00", "LLC misses per million insns"
            )
        );
    }

    #[test]
    fn json_has_bpftools_fields_in_bpftools_order() {
        // bpftool's profile_print_readings_json: metric, run_cnt, value, enabled, running.
        let rd = readings(vec![(
            1,
            Ok(Reading {
                counter: 5,
                enabled: 7,
                running: 6,
            }),
        )]);
        let text = serde_json::to_string(&records(&rd)).unwrap_or_default();
        assert_eq!(
            text,
            r#"[{"metric":"instructions","run_cnt":1000,"value":5,"enabled":7,"running":6}]"#
        );
    }

    #[test]
    fn a_metric_without_counter_is_said_and_zero_in_json() {
        let rd = readings(vec![(0, Err("no hardware counter on this machine".into()))]);
        let text = plain(&rd);
        assert!(text.contains("- cycles              # no hardware counter on this machine"));
        let json = serde_json::to_value(records(&rd)).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!([{"metric": "cycles", "run_cnt": 1000, "value": 0, "enabled": 0,
                "running": 0, "unavailable": "no hardware counter on this machine"}])
        );
    }
}
