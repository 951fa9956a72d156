// The one writer of stdout: renders records as a table, compact or pretty JSON, or JSON
// lines, and reports errors (stderr, plus `{"error": ..}` on stdout in JSON mode).

use std::io::{self, BufWriter, IsTerminal, Stdout, Write};

use comfy_table::{presets, Attribute, Cell, ContentArrangement, Table};
use serde::Serialize;

use crate::cli::{ColorChoice, Globals};
use crate::error::{exit_code, hint_of, is_broken_pipe};

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

pub struct Output {
    format: Format,
    color: bool,
    out: BufWriter<Stdout>,
}

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
            out: BufWriter::with_capacity(1 << 16, io::stdout()),
        }
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
            value.serialize(&mut ser).map_err(io::Error::other)?;
        } else {
            serde_json::to_writer(&mut self.out, value).map_err(io::Error::other)?;
        }
        self.out.write_all(b"\n")
    }

    /// One line of a stream: a JSON object per line in JSON modes, `text` in table mode;
    /// flushed at once so `| jq -c` and `| head` see it while rbt runs.
    #[allow(dead_code)] // the first user is the streaming verbs (perf tracelog, events)
    pub fn stream_line<T: Serialize + ?Sized>(&mut self, value: &T, text: &str) -> io::Result<()> {
        if self.is_json() {
            serde_json::to_writer(&mut self.out, value).map_err(io::Error::other)?;
            self.out.write_all(b"\n")?;
        } else {
            writeln!(self.out, "{text}")?;
        }
        self.out.flush()
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
            table.add_row(row);
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
        if self.is_json() {
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
    fn color_follows_choice_and_terminal() {
        assert!(use_color(ColorChoice::Always, false));
        assert!(!use_color(ColorChoice::Never, true));
        assert!(!use_color(ColorChoice::Auto, false));
    }
}
