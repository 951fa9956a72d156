// The full-screen view of `prog top`: a header with the host's total BPF CPU overhead, one
// row per program with a sparkline of its last minute, and the keys that sort, filter,
// pause and scroll. Draws on the terminal through ratatui (the one exception to Output:
// a live screen is not a stream of records).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::Result;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState};
use ratatui::Frame as Screen;

use super::{sort_rows, Frame, Sampler, TopRecord};
use crate::bpf::stats::StatsSource;
use crate::grammar::words::{TopSort, Word};

/// Columns of the sparkline (a minute of samples is squeezed into them).
const SPARK_WIDTH: usize = 30;
const BARS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

const HELP: &[&str] = &[
    "rbt prog top: every loaded BPF program, refreshed each interval",
    "",
    "  s          next sort key (cpu, rate, avg, runtime)",
    "  /          filter by name or type (Enter keeps it, Esc clears it)",
    "  p, space   pause / resume",
    "  up, down   scroll (PgUp, PgDn, Home)",
    "  ?          this help",
    "  q, Ctrl-C  quit",
    "",
    "RUNS/S and AVG NS are over the last interval; CPU% is the share of one core,",
    "HOST% of every online CPU. LAST MINUTE shows runs/s.",
];

struct View<'a> {
    sort: TopSort,
    filter: String,
    editing: bool,
    paused: bool,
    help: bool,
    table: TableState,
    interval: Duration,
    source: &'a StatsSource,
}

/// Leaves the alternate screen and raw mode however the view ends.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

pub fn run(
    sampler: &mut Sampler,
    interval: Duration,
    sort: TopSort,
    source: &StatsSource,
) -> Result<()> {
    let mut terminal = ratatui::try_init()?;
    let _restore = Restore;
    let mut view = View {
        sort,
        filter: String::new(),
        editing: false,
        paused: false,
        help: false,
        table: TableState::default(),
        interval,
        source,
    };
    let mut frame = Frame {
        rows: Vec::new(),
        total_cpu_pct: 0.0,
        ncpus: 1,
    };
    let mut next = Instant::now() + interval;
    loop {
        sort_rows(&mut frame.rows, view.sort);
        terminal.draw(|s| draw(s, &mut view, &frame, sampler))?;
        let wait = next.saturating_duration_since(Instant::now());
        if event::poll(wait)? {
            if let Event::Key(key) = event::read()? {
                if key.kind != KeyEventKind::Release && !handle_key(&mut view, key) {
                    return Ok(());
                }
            }
            continue;
        }
        next += interval;
        if next < Instant::now() {
            next = Instant::now() + interval;
        }
        if !view.paused {
            frame = sampler.sample()?;
        }
    }
}

/// Apply a key; false means quit.
fn handle_key(view: &mut View, key: KeyEvent) -> bool {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return false;
    }
    if view.editing {
        match key.code {
            KeyCode::Enter => view.editing = false,
            KeyCode::Esc => {
                view.editing = false;
                view.filter.clear();
            }
            KeyCode::Backspace => {
                view.filter.pop();
            }
            KeyCode::Char(c) => view.filter.push(c),
            _ => {}
        }
        view.table.select(None);
        return true;
    }
    if view.help {
        view.help = false;
        return !matches!(key.code, KeyCode::Char('q'));
    }
    match key.code {
        KeyCode::Char('q') | KeyCode::Esc => return false,
        KeyCode::Char('?') | KeyCode::Char('h') => view.help = true,
        KeyCode::Char('s') => view.sort = next_sort(view.sort),
        KeyCode::Char('/') => view.editing = true,
        KeyCode::Char('p') | KeyCode::Char(' ') => view.paused = !view.paused,
        KeyCode::Down | KeyCode::Char('j') => view.table.scroll_down_by(1),
        KeyCode::Up | KeyCode::Char('k') => view.table.scroll_up_by(1),
        KeyCode::PageDown => view.table.scroll_down_by(20),
        KeyCode::PageUp => view.table.scroll_up_by(20),
        KeyCode::Home => view.table.select(None),
        _ => {}
    }
    true
}

fn next_sort(s: TopSort) -> TopSort {
    let all = TopSort::ALL;
    let i = all.iter().position(|x| *x == s).unwrap_or(0);
    all[(i + 1) % all.len()]
}

fn matches_filter(r: &TopRecord, filter: &str) -> bool {
    if filter.is_empty() {
        return true;
    }
    let f = filter.to_lowercase();
    r.name.to_lowercase().contains(&f) || r.prog_type.to_lowercase().contains(&f)
}

fn draw(s: &mut Screen, view: &mut View, frame: &Frame, sampler: &Sampler) {
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(s.area());
    let shown: Vec<&TopRecord> = frame
        .rows
        .iter()
        .filter(|r| matches_filter(r, &view.filter))
        .collect();
    let header = vec![
        Line::from(format!(
            "BPF CPU: {:.3}% of the host ({} CPUs), {:.2}% of one core  |  {} programs, {} shown",
            frame.host_pct(),
            frame.ncpus,
            frame.total_cpu_pct,
            frame.rows.len(),
            shown.len()
        )),
        Line::from(format!(
            "interval {}  sort {}  stats {}{}",
            humantime::format_duration(view.interval),
            view.sort.word(),
            view.source.describe(),
            if view.paused { "  [PAUSED]" } else { "" }
        )),
        Line::from(if view.editing || !view.filter.is_empty() {
            format!(
                "filter: {}{}",
                view.filter,
                if view.editing { "_" } else { "" }
            )
        } else {
            String::new()
        }),
    ];
    s.render_widget(Paragraph::new(header), head);
    s.render_stateful_widget(table(&shown, view.sort, sampler), body, &mut view.table);
    let keys = "q quit  s sort  / filter  p pause  ? help";
    s.render_widget(
        Paragraph::new(keys).style(Style::default().add_modifier(Modifier::REVERSED)),
        foot,
    );
    if view.help {
        let area = centered(s.area(), 84, HELP.len() as u16 + 2);
        s.render_widget(Clear, area);
        let lines: Vec<Line> = HELP.iter().map(|l| Line::from(*l)).collect();
        s.render_widget(
            Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" help ")),
            area,
        );
    }
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    area.centered(
        Constraint::Length(w.min(area.width)),
        Constraint::Length(h.min(area.height)),
    )
}

fn table<'a>(rows: &[&'a TopRecord], sort: TopSort, sampler: &Sampler) -> Table<'a> {
    let title = |name: &'static str, key: Option<TopSort>| {
        let marked = key == Some(sort);
        Cell::from(if marked {
            format!("{name}▼")
        } else {
            name.to_string()
        })
    };
    let header = Row::new(vec![
        title("ID", None),
        title("TYPE", None),
        title("NAME", None),
        title("RUNS/S", Some(TopSort::Rate)),
        title("AVG NS", Some(TopSort::Avg)),
        title("CPU%", Some(TopSort::Cpu)),
        title("HOST%", None),
        title("TOTAL", Some(TopSort::Runtime)),
        title("LAST MINUTE", None),
    ])
    .style(Style::default().add_modifier(Modifier::BOLD));
    let body: Vec<Row> = rows
        .iter()
        .map(|r| {
            Row::new(vec![
                r.id.to_string(),
                r.prog_type.clone(),
                r.name.clone(),
                format!("{:.1}", r.runs_per_sec),
                r.avg_ns.to_string(),
                format!("{:.2}", r.cpu_pct),
                format!("{:.3}", r.host_cpu_pct),
                total(r.run_time_ns),
                sampler.history(r.id).map(sparkline).unwrap_or_default(),
            ])
        })
        .collect();
    Table::new(
        body,
        [
            Constraint::Length(7),
            Constraint::Length(14),
            Constraint::Length(16),
            Constraint::Length(11),
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(12),
            Constraint::Length(SPARK_WIDTH as u16),
        ],
    )
    .header(header)
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
}

/// Nanoseconds in the largest unit that keeps them above 1 (`1.5ms`, `20.0s`).
fn total(ns: u64) -> String {
    let ns = ns as f64;
    for (unit, size) in [("s", 1e9), ("ms", 1e6), ("µs", 1e3)] {
        if ns >= size {
            return format!("{:.1}{unit}", ns / size);
        }
    }
    format!("{ns}ns")
}

/// Bars for a series, scaled to its own maximum, squeezed to SPARK_WIDTH columns (each
/// column the largest of the samples it covers).
pub fn sparkline(series: &VecDeque<f64>) -> String {
    let n = series.len();
    if n == 0 {
        return String::new();
    }
    let per = n.div_ceil(SPARK_WIDTH);
    let cols: Vec<f64> = series
        .iter()
        .copied()
        .collect::<Vec<_>>()
        .chunks(per)
        .map(|c| c.iter().copied().fold(0.0, f64::max))
        .collect();
    let max = cols.iter().copied().fold(0.0, f64::max);
    cols.iter()
        .map(|&v| {
            if max <= 0.0 || v <= 0.0 {
                BARS[0]
            } else {
                let i = (v / max * 8.0).ceil() as usize;
                BARS[i.clamp(1, 8)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_to_its_maximum() {
        let s: VecDeque<f64> = [0.0, 1.0, 4.0, 8.0].into_iter().collect();
        assert_eq!(sparkline(&s), " ▁▄█");
        let flat: VecDeque<f64> = [0.0; 5].into_iter().collect();
        assert_eq!(sparkline(&flat), "     ");
        let long: VecDeque<f64> = (0..60).map(f64::from).collect();
        assert_eq!(sparkline(&long).chars().count(), SPARK_WIDTH);
    }

    #[test]
    fn totals_pick_a_unit() {
        assert_eq!(total(0), "0ns");
        assert_eq!(total(1_500), "1.5µs");
        assert_eq!(total(2_000_000_000), "2.0s");
    }

    #[test]
    fn sort_keys_cycle() {
        let mut s = TopSort::Cpu;
        for _ in 0..TopSort::ALL.len() {
            s = next_sort(s);
        }
        assert_eq!(s, TopSort::Cpu);
    }
}
