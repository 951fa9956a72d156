// The one writer of stdout: renders records as a table, compact or pretty JSON, or JSON
// lines, and reports errors (stderr, plus `{"error": ..}` on stdout in JSON mode).

use std::io::{self, BufWriter, IsTerminal, Stdout, Write};

use comfy_table::{presets, Attribute, Cell, ContentArrangement, Table};
use serde::Serialize;

use crate::cli::{ColorChoice, Globals};
use crate::error::{exit_code, hint_of, is_broken_pipe, is_not_found};

/// How records are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Pretty,
}

/// A record that can be shown as one table row. The JSON shape comes from `Serialize`.
pub trait Tabular {
    /// Column titles, in order.
    fn header() -> &'static [&'static str];
    /// The cells of this record, one per column.
    fn row(&self) -> Vec<String>;
}

/// A record with a text form of its own instead of a table row: one or more lines of a
/// code listing (`prog dump`), written as they are in table mode.
pub trait Listing {
    /// Append this record's lines (each ending in a newline) to `text`.
    fn text(&self, text: &mut String);
}

pub struct Output {
    format: Format,
    color: bool,
    out: BufWriter<Sink>,
    seq: Option<SeqState>,
    /// Groups written so far while a list of groups is open (see `groups_begin`).
    groups: Option<usize>,
}

/// Where an `Output` writes: stdout, or a buffer (`capture`, for `batch file -j`).
enum Sink {
    Stdout(Stdout),
    Buffer(Vec<u8>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Stdout(s) => s.write(buf),
            Sink::Buffer(b) => b.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Stdout(s) => s.write_all(buf),
            Sink::Buffer(b) => b.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Stdout(s) => s.flush(),
            Sink::Buffer(_) => Ok(()),
        }
    }
}

/// A sequence being streamed (see `seq_begin`).
struct SeqState {
    items: usize,
    header: Vec<String>,
    /// Table mode: rows held back until the column widths are known.
    pending: Vec<Vec<String>>,
    widths: Option<Vec<usize>>,
}

/// Table rows buffered to size the columns of a streamed table.
const SEQ_SIZING_ROWS: usize = 256;

impl Output {
    pub fn new(globals: &Globals) -> Self {
        let format = if globals.pretty {
            Format::Pretty
        } else if globals.json {
            Format::Json
        } else {
            Format::Table
        };
        Output {
            format,
            color: use_color(globals.color, io::stdout().is_terminal()),
            out: BufWriter::with_capacity(1 << 16, Sink::Stdout(io::stdout())),
            seq: None,
            groups: None,
        }
    }

    /// An output that renders compact JSON into a buffer instead of stdout (`take_captured`
    /// hands it over): what one command of `batch file -j` printed.
    pub fn capture() -> Self {
        Output {
            format: Format::Json,
            color: false,
            out: BufWriter::with_capacity(1 << 12, Sink::Buffer(Vec::new())),
            seq: None,
            groups: None,
        }
    }

    /// The bytes written to a capturing output since the last call (empty for stdout).
    pub fn take_captured(&mut self) -> io::Result<Vec<u8>> {
        self.out.flush()?;
        self.seq = None;
        self.groups = None;
        Ok(match self.out.get_mut() {
            Sink::Buffer(b) => std::mem::take(b),
            Sink::Stdout(_) => Vec::new(),
        })
    }

    pub fn is_json(&self) -> bool {
        self.format != Format::Table
    }

    /// A list of records: a JSON array, or a table with a header.
    pub fn list<T: Serialize + Tabular>(&mut self, items: &[T]) -> io::Result<()> {
        match self.format {
            Format::Table => {
                let rows: Vec<Vec<String>> = items.iter().map(Tabular::row).collect();
                self.table(T::header(), rows)
            }
            _ => self.json(&items),
        }
    }

    /// One record: a JSON object, or a one-row table.
    pub fn one<T: Serialize + Tabular>(&mut self, item: &T) -> io::Result<()> {
        match self.format {
            Format::Table => self.table(T::header(), vec![item.row()]),
            _ => self.json(item),
        }
    }

    /// A listing, streamed: a JSON array of the records (as `seq_begin`), or each record's
    /// own text.
    pub fn listing<T, I>(&mut self, items: I) -> io::Result<()>
    where
        T: Serialize + Listing,
        I: IntoIterator<Item = T>,
    {
        if self.is_json() {
            self.seq_begin(&[])?;
            for item in items {
                self.seq_item(&item, Vec::new)?;
            }
            return self.seq_end();
        }
        let mut text = String::with_capacity(1 << 16);
        for item in items {
            item.text(&mut text);
            if text.len() >= 1 << 16 {
                self.out.write_all(text.as_bytes())?;
                text.clear();
            }
        }
        self.out.write_all(text.as_bytes())
    }

    /// A verb with nothing to show: `null` in JSON mode (as bpftool), else `message` if any.
    pub fn done(&mut self, message: Option<&str>) -> io::Result<()> {
        match (self.format, message) {
            (Format::Table, Some(m)) => writeln!(self.out, "{m}"),
            (Format::Table, None) => Ok(()),
            _ => self.json(&serde_json::Value::Null),
        }
    }

    /// Exactly one JSON document and one trailing newline.
    pub fn json<T: Serialize + ?Sized>(&mut self, value: &T) -> io::Result<()> {
        if self.format == Format::Pretty {
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut self.out, fmt);
            value.serialize(&mut ser).map_err(io::Error::from)?;
        } else {
            serde_json::to_writer(&mut self.out, value).map_err(io::Error::from)?;
        }
        self.out.write_all(b"\n")
    }

    /// One line of a stream: a JSON object per line in JSON modes, `text` in table mode;
    /// flushed at once so `| jq -c` and `| head` see it while rbt runs.
    pub fn stream_line<T: Serialize + ?Sized>(&mut self, value: &T, text: &str) -> io::Result<()> {
        self.stream_line_deferred(value, text)?;
        self.out.flush()
    }

    /// A line of a stream that the caller flushes (`flush`) after each burst it reads:
    /// the fast path of event streams, which still show every line as soon as the burst
    /// that carried it has been read.
    pub fn stream_line_deferred<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        text: &str,
    ) -> io::Result<()> {
        if self.is_json() {
            serde_json::to_writer(&mut self.out, value).map_err(io::Error::from)?;
            self.out.write_all(
                b"
",
            )
        } else {
            writeln!(self.out, "{text}")
        }
    }

    /// Start a streamed sequence: a JSON array written element by element (compact JSON
    /// puts one element per line, so the document is also line-oriented), or a table whose
    /// columns are sized from the first rows. Memory stays bounded whatever the length.
    pub fn seq_begin(&mut self, header: &[&str]) -> io::Result<()> {
        if self.is_json() {
            self.out.write_all(b"[")?;
        }
        self.seq = Some(SeqState {
            items: 0,
            header: header.iter().map(|h| h.to_string()).collect(),
            pending: Vec::new(),
            widths: None,
        });
        Ok(())
    }

    /// One element of the sequence: `item` in JSON modes, `rows` (one or more table rows,
    /// only built in table mode) otherwise.
    pub fn seq_item<T, F>(&mut self, item: &T, rows: F) -> io::Result<()>
    where
        T: Serialize + ?Sized,
        F: FnOnce() -> Vec<Vec<String>>,
    {
        let Some(seq) = self.seq.as_mut() else {
            return Err(io::Error::other("seq_item outside seq_begin/seq_end"));
        };
        let first = seq.items == 0;
        seq.items += 1;
        match self.format {
            Format::Json => {
                if !first {
                    self.out.write_all(b",\n")?;
                }
                serde_json::to_writer(&mut self.out, item).map_err(io::Error::from)
            }
            Format::Pretty => {
                // Elements sit one level below their `[`: 4 spaces, 12 inside a group.
                let indent: &[u8] = if self.groups.is_some() {
                    b"\n            "
                } else {
                    b"\n    "
                };
                if !first {
                    self.out.write_all(b",")?;
                }
                self.out.write_all(indent)?;
                let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
                let mut buf = Vec::new();
                let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
                item.serialize(&mut ser).map_err(io::Error::from)?;
                for (i, line) in buf.split(|&b| b == b'\n').enumerate() {
                    if i > 0 {
                        self.out.write_all(indent)?;
                    }
                    self.out.write_all(line)?;
                }
                Ok(())
            }
            Format::Table => {
                let new_rows = rows();
                let Some(seq) = self.seq.as_mut() else {
                    return Ok(());
                };
                if seq.widths.is_none() {
                    seq.pending.extend(new_rows);
                    if seq.pending.len() >= SEQ_SIZING_ROWS {
                        self.seq_flush_pending()?;
                    }
                    return Ok(());
                }
                for row in new_rows {
                    self.seq_write_row(&row)?;
                }
                Ok(())
            }
        }
    }

    /// End the sequence: close the JSON array, or print the rows still held back.
    pub fn seq_end(&mut self) -> io::Result<()> {
        match self.format {
            Format::Json => self.out.write_all(b"]\n")?,
            Format::Pretty => {
                let empty = self.seq.as_ref().is_none_or(|s| s.items == 0);
                let end: &[u8] = match (self.groups.is_some(), empty) {
                    (false, true) => b"]\n",
                    (false, false) => b"\n]\n",
                    (true, true) => b"]",
                    (true, false) => b"\n        ]",
                };
                self.out.write_all(end)?
            }
            Format::Table => {
                if self.seq.as_ref().is_some_and(|s| s.widths.is_none()) {
                    self.seq_flush_pending()?;
                }
            }
        }
        self.seq = None;
        Ok(())
    }

    /// Start a list of groups, each a head record with a streamed sequence in it (`map dump`
    /// of several maps): a JSON array of the head objects, each holding its sequence under
    /// a key; in table mode a line of text before each group's table.
    pub fn groups_begin(&mut self) -> io::Result<()> {
        self.groups = Some(0);
        if self.is_json() {
            self.out.write_all(b"[")?;
        }
        Ok(())
    }

    /// Start one group: `head` (a JSON object) gets the sequence that follows
    /// (`seq_begin`..`seq_end`) under `key`; the table shows `text` above it.
    pub fn group_begin<T: Serialize + ?Sized>(
        &mut self,
        head: &T,
        key: &str,
        text: &str,
    ) -> io::Result<()> {
        let n = self.groups.unwrap_or(0);
        self.groups = Some(n + 1);
        let key = serde_json::to_string(key).map_err(io::Error::from)?;
        match self.format {
            Format::Table => {
                if n > 0 {
                    self.out.write_all(b"\n")?;
                }
                writeln!(self.out, "{text}")
            }
            Format::Json => {
                let head = serde_json::to_string(head).map_err(io::Error::from)?;
                let open = head.strip_suffix('}').unwrap_or(&head);
                let sep = if n > 0 { "," } else { "" };
                let comma = if open.len() > 1 { "," } else { "" };
                write!(self.out, "{sep}{open}{comma}{key}:")
            }
            Format::Pretty => {
                let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
                let mut buf = Vec::new();
                let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
                head.serialize(&mut ser).map_err(io::Error::from)?;
                let open = buf
                    .strip_suffix(b"\n}")
                    .or_else(|| buf.strip_suffix(b"}"))
                    .unwrap_or(&buf);
                self.out
                    .write_all(if n > 0 { b",\n    " } else { b"\n    " })?;
                for (i, line) in open.split(|&b| b == b'\n').enumerate() {
                    if i > 0 {
                        self.out.write_all(b"\n    ")?;
                    }
                    self.out.write_all(line)?;
                }
                let comma = if open.len() > 1 { "," } else { "" };
                write!(self.out, "{comma}\n        {key}: ")
            }
        }
    }

    /// End one group (after its `seq_end`).
    pub fn group_end(&mut self) -> io::Result<()> {
        match self.format {
            Format::Table => Ok(()),
            Format::Json => self.out.write_all(b"}"),
            Format::Pretty => self.out.write_all(b"\n    }"),
        }
    }

    /// End the list of groups.
    pub fn groups_end(&mut self) -> io::Result<()> {
        let n = self.groups.take().unwrap_or(0);
        match self.format {
            Format::Table => Ok(()),
            Format::Json => self.out.write_all(b"]\n"),
            Format::Pretty => self.out.write_all(if n == 0 { b"]\n" } else { b"\n]\n" }),
        }
    }

    fn seq_flush_pending(&mut self) -> io::Result<()> {
        let Some(seq) = self.seq.as_mut() else {
            return Ok(());
        };
        let mut widths: Vec<usize> = seq.header.iter().map(|h| h.chars().count()).collect();
        for row in &seq.pending {
            for (i, cell) in row.iter().enumerate() {
                let w = cell.chars().count();
                match widths.get_mut(i) {
                    Some(x) => *x = (*x).max(w),
                    None => widths.push(w),
                }
            }
        }
        seq.widths = Some(widths);
        let header = std::mem::take(&mut seq.header);
        let pending = std::mem::take(&mut seq.pending);
        if !header.is_empty() {
            let line = self.seq_line(&header);
            if self.color {
                writeln!(self.out, "\x1b[1m{line}\x1b[0m")?;
            } else {
                writeln!(self.out, "{line}")?;
            }
        }
        for row in pending {
            self.seq_write_row(&row)?;
        }
        Ok(())
    }

    fn seq_line(&self, row: &[String]) -> String {
        let widths = self.seq.as_ref().and_then(|s| s.widths.as_ref());
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let w = widths.and_then(|w| w.get(i)).copied().unwrap_or(0);
                let pad = w.saturating_sub(cell.chars().count()) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        line.trim_end().to_owned()
    }

    fn seq_write_row(&mut self, row: &[String]) -> io::Result<()> {
        let row: Vec<String> = row
            .iter()
            .map(|c| escape_controls(c).into_owned())
            .collect();
        let line = self.seq_line(&row);
        writeln!(self.out, "{line}")
    }

    /// A warning on stderr (`warning: ..`); stdout stays one clean document.
    pub fn warn(&mut self, message: &str) {
        let _ = writeln!(io::stderr().lock(), "warning: {message}");
    }

    /// A status line for the person at the terminal (a stream's summary), on stderr so
    /// stdout stays pure records.
    pub fn status(&mut self, message: &str) {
        status_line(message);
    }

    /// Bytes written as they are (a generated script).
    pub fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)
    }

    fn table(&mut self, header: &[&str], rows: Vec<Vec<String>>) -> io::Result<()> {
        let mut table = Table::new();
        table
            .load_preset(presets::NOTHING)
            .set_content_arrangement(ContentArrangement::Disabled);
        let color = self.color;
        if color {
            table.enforce_styling();
        }
        table.set_header(header.iter().map(|h| {
            let cell = Cell::new(h);
            if color {
                cell.add_attribute(Attribute::Bold)
            } else {
                cell
            }
        }));
        for row in rows {
            table.add_row(row.iter().map(|cell| escape_controls(cell)));
        }
        for column in table.column_iter_mut() {
            column.set_padding((0, 2));
        }
        for line in table.lines() {
            writeln!(self.out, "{}", line.trim_end())?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Report a failed command: `Error: ..` (and a hint) on stderr; in JSON mode also
    /// `{"error": ".."}` on stdout. Returns the exit code. A closed stdout is not an error.
    pub fn report_error(&mut self, err: &anyhow::Error) -> i32 {
        if is_broken_pipe(err) {
            return 0;
        }
        let message = format!("{err:#}");
        if self.is_json() && is_not_found(err) {
            let _ = self.json(&serde_json::Value::Null);
            let _ = self.flush();
        } else if self.is_json() {
            let _ = self.json(&serde_json::json!({ "error": message }));
            let _ = self.flush();
        }
        let stderr_color = use_color_stderr(self.color);
        let mut stderr = io::stderr().lock();
        let label = if stderr_color {
            "\x1b[1;31mError:\x1b[0m"
        } else {
            "Error:"
        };
        let _ = writeln!(stderr, "{label} {message}");
        if let Some(hint) = hint_of(err) {
            let _ = writeln!(stderr, "hint: {hint}");
        }
        exit_code(err)
    }
}

/// A status line on stderr, for threads that have no `Output` (the metrics server's log).
pub fn status_line(message: &str) {
    let _ = writeln!(io::stderr().lock(), "{message}");
}

/// A table cell with control characters shown as escapes (`\n`, `\x1b`), so a program or
/// map name cannot break the table's lines or send escape sequences to the terminal.
fn escape_controls(cell: &str) -> std::borrow::Cow<'_, str> {
    if !cell.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(cell);
    }
    let mut out = String::with_capacity(cell.len() + 8);
    for c in cell.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn use_color(choice: ColorChoice, is_terminal: bool) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_terminal && !no_color,
    }
}

fn use_color_stderr(stdout_color: bool) -> bool {
    stdout_color && io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_in_cells() {
        assert_eq!(escape_controls("plain"), "plain");
        assert_eq!(escape_controls("a\nb\x1b[31m"), "a\\nb\\x1b[31m");
    }

    #[test]
    fn color_follows_choice_and_terminal() {
        assert!(use_color(ColorChoice::Always, false));
        assert!(!use_color(ColorChoice::Never, true));
        assert!(!use_color(ColorChoice::Auto, false));
    }
}
