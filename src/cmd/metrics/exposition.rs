// The Prometheus text exposition format (0.0.4): metric and label names made valid, label
// values and help text escaped, families written once with HELP and TYPE, a series limit.

use std::fmt;
use std::io::{self, Write};

/// A sample's value: integers stay exact (sums of per-CPU u64 counters), floats as floats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    U(u128),
    I(i128),
    F(f64),
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Num::U(v) => write!(f, "{v}"),
            Num::I(v) => write!(f, "{v}"),
            Num::F(v) if v.is_nan() => f.write_str("NaN"),
            Num::F(v) if v.is_infinite() => f.write_str(if v > 0.0 { "+Inf" } else { "-Inf" }),
            Num::F(v) => write!(f, "{v}"),
        }
    }
}

impl std::ops::Add for Num {
    type Output = Num;
    fn add(self, other: Num) -> Num {
        match (self, other) {
            (Num::U(a), Num::U(b)) => Num::U(a.wrapping_add(b)),
            (Num::F(a), b) | (b, Num::F(a)) => Num::F(a + b.as_f64()),
            (a, b) => Num::I(a.as_i128().wrapping_add(b.as_i128())),
        }
    }
}

impl Num {
    pub fn as_f64(self) -> f64 {
        match self {
            Num::U(v) => v as f64,
            Num::I(v) => v as f64,
            Num::F(v) => v,
        }
    }
    fn as_i128(self) -> i128 {
        match self {
            Num::U(v) => v as i128,
            Num::I(v) => v,
            Num::F(v) => v as i128,
        }
    }
}

/// A valid metric name: `[a-zA-Z_][a-zA-Z0-9_]*` (colons are for recording rules, so an
/// exporter does not use them) in snake_case as promtool wants it (`rxBytes` ->
/// `rx_bytes`); anything else becomes `_`, runs of `_` are kept short.
pub fn metric_name(raw: &str) -> String {
    let mut name = String::with_capacity(raw.len() + 4);
    let mut prev_lower = false;
    for c in raw.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            name.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '_'
        };
        if !(c == '_' && name.ends_with("__")) {
            name.push(c);
        }
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) || name.is_empty() {
        name.insert(0, '_');
    }
    name
}

/// A valid label name: as a metric name, and not starting with `__` (reserved).
pub fn label_name(raw: &str) -> String {
    let name = metric_name(raw);
    let trimmed = name.trim_start_matches('_');
    if trimmed.is_empty() {
        "_".to_owned()
    } else if trimmed.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{trimmed}")
    } else {
        trimmed.to_owned()
    }
}

/// A label value as the format wants it between quotes: `\`, `"` and newline escaped.
pub fn escape_label_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Help text: `\` and newline escaped.
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// The kinds of metric family the exposition declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Label pairs, names already valid; values raw (escaped when written).
pub type Labels<'a> = [(&'a str, &'a str)];

/// Writes families and samples, counting series against an optional limit.
pub struct Exposition<W: Write> {
    w: W,
    series: usize,
    max_series: Option<usize>,
    /// Set when a sample was refused for the limit.
    pub truncated: bool,
    line: String,
}

impl<W: Write> Exposition<W> {
    pub fn new(w: W, max_series: Option<usize>) -> Self {
        Exposition {
            w,
            series: 0,
            max_series,
            truncated: false,
            line: String::with_capacity(256),
        }
    }

    #[cfg(test)]
    pub fn series(&self) -> usize {
        self.series
    }

    pub fn into_inner(self) -> W {
        self.w
    }

    /// Whether `n` more series fit under the limit (marks the exposition truncated if not).
    pub fn room_for(&mut self, n: usize) -> bool {
        let fits = self.max_series.is_none_or(|max| self.series + n <= max);
        if !fits {
            self.truncated = true;
        }
        fits
    }

    /// `# HELP` and `# TYPE` of a family; its samples follow.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> io::Result<()> {
        writeln!(self.w, "# HELP {name} {}", escape_help(help))?;
        writeln!(self.w, "# TYPE {name} {}", kind.word())
    }

    /// One sample line. Returns false (and writes nothing) once the series limit is
    /// reached.
    pub fn sample(&mut self, name: &str, labels: &Labels<'_>, value: Num) -> io::Result<bool> {
        if !self.room_for(1) {
            return Ok(false);
        }
        self.series += 1;
        self.write_sample(name, labels, None, value)?;
        Ok(true)
    }

    /// One histogram: cumulative `_bucket` lines for each upper bound, `+Inf`, `_sum` and
    /// `_count`. Counted as one series per line. Returns false when it does not fit.
    pub fn histogram(
        &mut self,
        name: &str,
        labels: &Labels<'_>,
        buckets: &[(f64, u128)],
        sum: f64,
    ) -> io::Result<bool> {
        if !self.room_for(buckets.len() + 3) {
            return Ok(false);
        }
        self.series += buckets.len() + 3;
        let bucket = format!("{name}_bucket");
        let mut total = 0u128;
        for &(le, count) in buckets {
            total = total.wrapping_add(count);
            self.write_sample(
                &bucket,
                labels,
                Some(&Num::F(le).to_string()),
                Num::U(total),
            )?;
        }
        self.write_sample(&bucket, labels, Some("+Inf"), Num::U(total))?;
        self.write_sample(&format!("{name}_sum"), labels, None, Num::F(sum))?;
        self.write_sample(&format!("{name}_count"), labels, None, Num::U(total))
            .map(|()| true)
    }

    fn write_sample(
        &mut self,
        name: &str,
        labels: &Labels<'_>,
        le: Option<&str>,
        value: Num,
    ) -> io::Result<()> {
        let line = &mut self.line;
        line.clear();
        line.push_str(name);
        let pairs = labels.iter().copied().chain(le.map(|le| ("le", le)));
        for (i, (k, v)) in pairs.enumerate() {
            line.push(if i == 0 { '{' } else { ',' });
            line.push_str(k);
            line.push_str("=\"");
            escape_label_value(v, line);
            line.push('"');
        }
        if !labels.is_empty() || le.is_some() {
            line.push('}');
        }
        use std::fmt::Write as _;
        let _ = writeln!(line, " {value}");
        self.w.write_all(line.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Exposition<Vec<u8>>)) -> String {
        let mut e = Exposition::new(Vec::new(), Some(8));
        f(&mut e);
        String::from_utf8(e.into_inner()).unwrap_or_default()
    }

    #[test]
    fn names_follow_prometheus_rules() {
        assert_eq!(metric_name("rbt_map_my-map.bss"), "rbt_map_my_map_bss");
        assert_eq!(metric_name("9lives"), "_9lives");
        assert_eq!(metric_name("a:b"), "a_b");
        assert_eq!(metric_name("x___y"), "x__y");
        assert_eq!(metric_name("rxBytes"), "rx_bytes");
        assert_eq!(metric_name("TCPStats"), "tcpstats");
        assert_eq!(label_name("__reserved"), "reserved");
        assert_eq!(label_name("0x"), "_0x");
        assert_eq!(label_name("src ip"), "src_ip");
        assert_eq!(label_name("___"), "_");
    }

    #[test]
    fn label_values_are_escaped() {
        let out = text(|e| {
            let _ = e.family("m", Kind::Gauge, "a \\ help\nline");
            let _ = e.sample("m", &[("k", "say \"hi\"\nback\\slash")], Num::U(3));
        });
        assert_eq!(
            out,
            "# HELP m a \\\\ help\\nline\n# TYPE m gauge\nm{k=\"say \\\"hi\\\"\\nback\\\\slash\"} 3\n"
        );
    }

    #[test]
    fn values_print_exactly() {
        assert_eq!(
            Num::U(u64::MAX as u128 * 4).to_string(),
            "73786976294838206460"
        );
        assert_eq!(Num::I(-5).to_string(), "-5");
        assert_eq!(Num::F(0.5).to_string(), "0.5");
        assert_eq!(Num::F(f64::INFINITY).to_string(), "+Inf");
        assert_eq!(Num::U(2) + Num::U(3), Num::U(5));
        assert_eq!(Num::U(2) + Num::I(-3), Num::I(-1));
        assert_eq!(Num::U(1) + Num::F(0.5), Num::F(1.5));
    }

    #[test]
    fn histograms_are_cumulative() {
        let out = text(|e| {
            let _ = e.histogram("h", &[("key", "0")], &[(1.0, 2), (2.0, 0), (4.0, 5)], 24.0);
        });
        assert_eq!(
            out,
            "h_bucket{key=\"0\",le=\"1\"} 2\nh_bucket{key=\"0\",le=\"2\"} 2\n\
h_bucket{key=\"0\",le=\"4\"} 7\nh_bucket{key=\"0\",le=\"+Inf\"} 7\nh_sum{key=\"0\"} 24\n\
h_count{key=\"0\"} 7\n"
        );
    }

    #[test]
    fn the_series_limit_stops_samples() {
        let mut e = Exposition::new(Vec::new(), Some(2));
        assert!(e.sample("m", &[], Num::U(1)).unwrap_or(false));
        assert!(e.sample("m", &[], Num::U(2)).unwrap_or(false));
        assert!(!e.sample("m", &[], Num::U(3)).unwrap_or(true));
        assert!(e.truncated);
        assert_eq!(e.series(), 2);
    }
}
