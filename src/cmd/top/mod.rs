// `prog top`: samples every program's run-time statistics each interval, turns them into
// rates and CPU shares, and shows them full screen (tui.rs) or as JSON lines.

mod tui;

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::IsTerminal;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use serde::Serialize;

use crate::bpf::stats::{self, ProgStats, StatsReader};
use crate::bpf::Kind;
use crate::cli::TopArgs;
use crate::error::usage;
use crate::grammar::{self, words::TopSort, words::Word};
use crate::handle;
use crate::output::{Output, Tabular};

/// How much history the sparkline keeps.
const HISTORY: Duration = Duration::from_secs(60);

/// One program over one interval.
#[derive(Debug, Clone, Serialize)]
pub struct TopRecord {
    /// Seconds since the epoch at the end of the interval.
    pub timestamp: f64,
    pub id: u32,
    #[serde(rename = "type")]
    pub prog_type: String,
    pub name: String,
    /// Runs counted while statistics were on, since load (bpftool's field).
    pub run_cnt: u64,
    /// Nanoseconds run while statistics were on, since load (bpftool's field).
    pub run_time_ns: u64,
    pub runs_per_sec: f64,
    /// Nanoseconds per run during the interval (0 without runs).
    pub avg_ns: u64,
    /// Share of one CPU core, in percent.
    pub cpu_pct: f64,
    /// Share of the whole host (every online CPU), in percent.
    pub host_cpu_pct: f64,
}

impl Tabular for TopRecord {
    fn header() -> &'static [&'static str] {
        &["ID", "TYPE", "NAME", "RUNS/S", "AVG NS", "CPU%", "HOST%"]
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.prog_type.clone(),
            self.name.clone(),
            format!("{:.1}", self.runs_per_sec),
            self.avg_ns.to_string(),
            format!("{:.2}", self.cpu_pct),
            format!("{:.3}", self.host_cpu_pct),
        ]
    }
}

/// Everything one refresh shows.
pub struct Frame {
    pub rows: Vec<TopRecord>,
    /// Sum of every program's share of one core, in percent.
    pub total_cpu_pct: f64,
    pub ncpus: usize,
}

impl Frame {
    pub fn host_pct(&self) -> f64 {
        self.total_cpu_pct / self.ncpus as f64
    }
}

/// Turns successive counter readings into per-interval records and keeps a minute of
/// runs/s history per program for the sparklines.
pub struct Sampler {
    reader: StatsReader,
    only: Option<HashSet<u32>>,
    prev: HashMap<u32, (u64, u64)>,
    prev_at: Instant,
    history: HashMap<u32, VecDeque<f64>>,
    history_len: usize,
    ncpus: usize,
}

impl Sampler {
    fn new(only: Option<HashSet<u32>>, interval: Duration) -> Result<Sampler> {
        let mut s = Sampler {
            reader: StatsReader::default(),
            only,
            prev: HashMap::new(),
            prev_at: Instant::now(),
            history: HashMap::new(),
            history_len: history_len(interval),
            ncpus: stats::online_cpus(),
        };
        s.baseline()?;
        Ok(s)
    }

    fn read(&mut self) -> Result<Vec<ProgStats>> {
        let mut all = self.reader.read()?;
        if let Some(only) = &self.only {
            all.retain(|p| only.contains(&p.id));
        }
        Ok(all)
    }

    /// Take the readings the next interval is measured from.
    fn baseline(&mut self) -> Result<()> {
        let now = self.read()?;
        self.prev = now
            .iter()
            .map(|p| (p.id, (p.run_cnt, p.run_time_ns)))
            .collect();
        self.prev_at = Instant::now();
        Ok(())
    }

    /// Read the counters again and compute each program's rates since the last sample.
    pub fn sample(&mut self) -> Result<Frame> {
        let now = self.read()?;
        let at = Instant::now();
        let secs = at.duration_since(self.prev_at).as_secs_f64().max(1e-9);
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let mut rows = Vec::with_capacity(now.len());
        let mut next = HashMap::with_capacity(now.len());
        for p in now {
            // A program new since the last sample counts from zero.
            let (cnt0, time0) = self.prev.get(&p.id).copied().unwrap_or((0, 0));
            let runs = p.run_cnt.saturating_sub(cnt0);
            let ns = p.run_time_ns.saturating_sub(time0);
            let cpu_pct = ns as f64 / (secs * 1e9) * 100.0;
            let rec = TopRecord {
                timestamp: round(timestamp, 3),
                id: p.id,
                prog_type: p.type_name,
                name: p.name,
                run_cnt: p.run_cnt,
                run_time_ns: p.run_time_ns,
                runs_per_sec: round(runs as f64 / secs, 2),
                avg_ns: ns.checked_div(runs).unwrap_or(0),
                cpu_pct: round(cpu_pct, 4),
                host_cpu_pct: round(cpu_pct / self.ncpus as f64, 4),
            };
            next.insert(p.id, (p.run_cnt, p.run_time_ns));
            let h = self.history.entry(p.id).or_default();
            h.push_back(runs as f64 / secs);
            while h.len() > self.history_len {
                h.pop_front();
            }
            rows.push(rec);
        }
        self.history.retain(|id, _| next.contains_key(id));
        self.prev = next;
        self.prev_at = at;
        let total_cpu_pct = rows.iter().map(|r| r.cpu_pct).sum();
        Ok(Frame {
            rows,
            total_cpu_pct,
            ncpus: self.ncpus,
        })
    }

    /// The runs/s of the last minute of program `id`, oldest first.
    pub fn history(&self, id: u32) -> Option<&VecDeque<f64>> {
        self.history.get(&id)
    }
}

fn history_len(interval: Duration) -> usize {
    let n = HISTORY.as_secs_f64() / interval.as_secs_f64().max(1e-3);
    (n.ceil() as usize).clamp(2, 600)
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// Order `rows` by `key`, largest first, then by id.
pub fn sort_rows(rows: &mut [TopRecord], key: TopSort) {
    let value = |r: &TopRecord| match key {
        TopSort::Runtime => r.run_time_ns as f64,
        TopSort::Rate => r.runs_per_sec,
        TopSort::Avg => r.avg_ns as f64,
        TopSort::Cpu => r.cpu_pct,
    };
    rows.sort_by(|a, b| value(b).total_cmp(&value(a)).then(a.id.cmp(&b.id)));
}

pub fn top(args: &TopArgs, out: &mut Output) -> Result<()> {
    let m = grammar::parse("prog", "top", &args.words)?;
    let sort = TopSort::from_word(&args.sort)
        .ok_or_else(|| usage(format!("--sort: unknown key `{}`", args.sort)))?;
    if args.interval < Duration::from_millis(10) {
        return Err(usage("--interval: must be at least 10ms"));
    }
    if args.count == Some(0) {
        return Err(usage("--count: must be at least 1"));
    }
    let mut only: Option<HashSet<u32>> = None;
    for occ in m.all("PROG") {
        let h = occ.handle(0)?;
        let set = only.get_or_insert_with(HashSet::new);
        for r in handle::resolve_all(Kind::Prog, &h)? {
            set.insert(crate::bpf::prog::info(std::os::fd::AsFd::as_fd(&r.fd))?.id);
        }
    }
    let source = stats::enable_run_time_stats()?;
    let mut sampler = Sampler::new(only, args.interval)?;
    let screen = !out.is_json() && std::io::stdout().is_terminal();
    if screen {
        out.flush()?;
        return tui::run(&mut sampler, args.interval, sort, &source);
    }
    json_lines(&mut sampler, args, sort, out)
}

/// One JSON line per program per interval, until --count intervals have passed.
fn json_lines(
    sampler: &mut Sampler,
    args: &TopArgs,
    sort: TopSort,
    out: &mut Output,
) -> Result<()> {
    let mut next = Instant::now() + args.interval;
    let mut done = 0u64;
    while args.count.is_none_or(|n| done < n) {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        next += args.interval;
        let mut frame = sampler.sample()?;
        sort_rows(&mut frame.rows, sort);
        for rec in &frame.rows {
            // Without -j the lines are JSON too: stdout is not a terminal here.
            let text = if out.is_json() {
                String::new()
            } else {
                serde_json::to_string(rec)?
            };
            out.stream_line_deferred(rec, &text)?;
        }
        out.flush()?;
        done += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: u32, rate: f64, avg: u64, cpu: f64, total: u64) -> TopRecord {
        TopRecord {
            timestamp: 0.0,
            id,
            prog_type: "xdp".into(),
            name: format!("p{id}"),
            run_cnt: 0,
            run_time_ns: total,
            runs_per_sec: rate,
            avg_ns: avg,
            cpu_pct: cpu,
            host_cpu_pct: cpu / 2.0,
        }
    }

    #[test]
    fn sort_keys_order_largest_first() {
        let mut rows = vec![
            rec(1, 5.0, 10, 0.5, 300),
            rec(2, 50.0, 1, 0.1, 100),
            rec(3, 1.0, 99, 0.9, 200),
        ];
        let ids = |rows: &[TopRecord]| rows.iter().map(|r| r.id).collect::<Vec<_>>();
        sort_rows(&mut rows, TopSort::Rate);
        assert_eq!(ids(&rows), [2, 1, 3]);
        sort_rows(&mut rows, TopSort::Avg);
        assert_eq!(ids(&rows), [3, 1, 2]);
        sort_rows(&mut rows, TopSort::Cpu);
        assert_eq!(ids(&rows), [3, 1, 2]);
        sort_rows(&mut rows, TopSort::Runtime);
        assert_eq!(ids(&rows), [1, 3, 2]);
    }

    #[test]
    fn history_covers_a_minute() {
        assert_eq!(history_len(Duration::from_secs(1)), 60);
        assert_eq!(history_len(Duration::from_millis(500)), 120);
        assert_eq!(history_len(Duration::from_secs(120)), 2);
    }
}
