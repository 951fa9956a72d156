//! `batch file FILE|-`: bpftool's batch syntax, every line checked before any runs, then run in order in this one process.

use std::borrow::Cow;
use std::ffi::OsString;
use std::io::Read;
use std::io::Write;
use std::ops::Range;
use std::path::Path;

use anyhow::{Context, Result};
use clap::parser::ValueSource;
use clap::CommandFactory;
use serde_json::Value;

use crate::bpf::map::UpdateFlag;
use crate::bpf::Kind;
use crate::cli::{BatchFileArgs, BatchVerb, Cli, Globals, Object};
use crate::cmd::map::{byte_list, Flushed, Updater};
use crate::error::{hint_of, hinted};
use crate::grammar;
use crate::grammar::words::Word;
use crate::handle;
use crate::output::{status_line, Output};

/// bpftool's limits: a command (with its continuation lines) and its number of words.
const LINE_MAX: usize = 65535;
const WORDS_MAX: usize = 4095;
/// The largest batch file read (it is read whole, so that it can be checked first).
const FILE_MAX: u64 = 256 << 20;

pub fn run(verb: BatchVerb, g: &Globals, out: &mut Output) -> Result<()> {
    match verb {
        BatchVerb::File(args) => file(&args, g, out),
    }
}

/// The commands of a batch file: the file's text, and where each command is in it. Words
/// are found again when needed (`tokens`), so that no memory is held per word.
#[derive(Debug, Default)]
pub struct Script {
    arena: String,
    pub commands: Vec<Cmd>,
}

/// One command: the line it starts on (1-based) and its text (a range of the arena).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub line: usize,
    region: (u32, u32),
}

impl Script {
    /// The words of `cmd`, or why they cannot be split (an unterminated quote, too many).
    fn checked_tokens(&self, cmd: &Cmd) -> Result<Words<'_>, String> {
        let mut spans = Vec::new();
        let region = cmd.region.0 as usize..cmd.region.1 as usize;
        add_words(&self.arena, region, &mut spans)?;
        Ok(Words {
            arena: &self.arena,
            spans,
        })
    }

    /// The words of `cmd` (checked by `plan`).
    fn tokens(&self, cmd: &Cmd) -> Words<'_> {
        self.checked_tokens(cmd).unwrap_or(Words {
            arena: &self.arena,
            spans: Vec::new(),
        })
    }

    fn owned(&self, cmd: &Cmd) -> Vec<String> {
        let w = self.tokens(cmd);
        w.range(0..w.len()).map(str::to_owned).collect()
    }

    fn text(&self, span: (u32, u32)) -> &str {
        self.arena
            .get(span.0 as usize..span.1 as usize)
            .unwrap_or_default()
    }
}

/// The words of one command, by index.
struct Words<'a> {
    arena: &'a str,
    spans: Vec<(u32, u32)>,
}

impl<'a> Words<'a> {
    fn len(&self) -> usize {
        self.spans.len()
    }

    fn get(&self, i: usize) -> Option<&'a str> {
        let &(a, b) = self.spans.get(i)?;
        self.arena.get(a as usize..b as usize)
    }

    fn range(&self, r: Range<usize>) -> impl Iterator<Item = &'a str> + Clone + '_ {
        r.filter_map(|i| self.get(i))
    }
}

/// An error of the file's syntax, on a line.
#[derive(Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// Split a batch file into commands as bpftool does: `#` starts a comment anywhere on a
/// line; a line ending in `\` goes on with the next one; words are separated by blanks;
/// a word starting with `'` or `"` runs to the next same quote (no escapes); empty lines
/// are skipped.
pub fn split_script(text: Vec<u8>) -> Result<Script, SyntaxError> {
    let err = |line: usize, message: String| SyntaxError { line, message };
    // The words of a line are spans of the text itself; a command continued over several
    // lines is joined at the end of the arena and its words are spans there.
    let mut arena = String::from_utf8(text).map_err(|e| {
        let bytes = e.as_bytes();
        let valid = e.utf8_error().valid_up_to();
        let line = bytes[..valid].iter().filter(|&&b| b == b'\n').count() + 1;
        err(line, "not valid UTF-8".into())
    })?;
    let body = arena.len();
    let mut commands = Vec::with_capacity(body / 64);
    let mut joined = String::new();
    // The physical line at `pos`: its range, newline included.
    let line_at = |arena: &str, pos: usize| {
        let end = arena.as_bytes()[pos..body]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body, |i| pos + i + 1);
        pos..end
    };
    let (mut pos, mut lineno) = (0, 0);
    while pos < body {
        lineno += 1;
        let start = lineno;
        let first = line_at(&arena, pos);
        pos = first.end;
        if first.len() > LINE_MAX {
            return Err(err(start, format!("longer than {LINE_MAX} bytes")));
        }
        let mut region = first.start..first.start + uncommented(&arena[first]).len();
        if arena[region.clone()].ends_with("\\\n") {
            joined.clear();
            joined.push_str(&arena[region.clone()]);
            while joined.ends_with("\\\n") {
                if pos >= body {
                    return Err(err(
                        start,
                        "ends with `\\` but no line follows to continue it".into(),
                    ));
                }
                lineno += 1;
                let next = line_at(&arena, pos);
                pos = next.end;
                joined.truncate(joined.len() - 2);
                joined.push_str(uncommented(&arena[next]));
                if joined.len() > LINE_MAX {
                    return Err(err(
                        start,
                        format!("the command is longer than {LINE_MAX} bytes"),
                    ));
                }
            }
            let from = arena.len();
            arena.push_str(&joined);
            region = from..arena.len();
        }
        if u32::try_from(region.end).is_err() {
            return Err(err(start, "the batch file is too large".into()));
        }
        // Words are split (and quotes checked) by `plan`; here only blank lines are skipped.
        let blank = arena.as_bytes()[region.clone()]
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
        if !blank {
            commands.push(Cmd {
                line: start,
                region: (region.start as u32, region.end as u32),
            });
        }
    }
    Ok(Script { arena, commands })
}

/// A line up to its first `#`.
fn uncommented(line: &str) -> &str {
    match line.as_bytes().iter().position(|&b| b == b'#') {
        Some(i) => &line[..i],
        None => line,
    }
}

/// bpftool's `make_args`: the words of one command (`region` of `arena`), as spans.
fn add_words(arena: &str, region: Range<usize>, spans: &mut Vec<(u32, u32)>) -> Result<(), String> {
    let bytes = arena.as_bytes();
    let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let first = spans.len();
    let end = region.end;
    let mut i = region.start;
    while i < end {
        while i < end && is_ws(bytes[i]) {
            i += 1;
        }
        if i == end {
            break;
        }
        if spans.len() - first >= WORDS_MAX {
            return Err(format!("more than {WORDS_MAX} words"));
        }
        let (from, to) = if bytes[i] == b'\'' || bytes[i] == b'"' {
            let quote = bytes[i];
            let from = i + 1;
            let len = bytes[from..end]
                .iter()
                .position(|&b| b == quote)
                .ok_or_else(|| {
                    format!("unterminated quoted string (opened by {})", quote as char)
                })?;
            // The closing quote ends the word; the byte after it starts the next one.
            i = from + len + 1;
            (from, from + len)
        } else {
            let from = i;
            while i < end && !is_ws(bytes[i]) {
                i += 1;
            }
            let to = i;
            i += 1;
            (from, to)
        };
        // `split` checked that the arena's offsets fit in u32.
        spans.push((from as u32, to as u32));
    }
    Ok(())
}

/// What a command line does, decided before anything runs.
enum Step {
    /// `map update MAP key DATA value VALUE [FLAG]`: applied with the other lines of its
    /// run on the same map. MAP is one or two words of the text; key and value are ranges
    /// of the command's words, and, when they are byte lists, their bytes in `Plan::data`.
    Update {
        map: [(u32, u32); 2],
        flag: UpdateFlag,
        key: Range<u16>,
        value: Range<u16>,
        bytes: Option<(Range<u32>, Range<u32>)>,
    },
    /// Any other command, parsed by clap; taken when it runs.
    Run(Option<Box<Cli>>),
}

struct Planned {
    cmd: Cmd,
    step: Step,
}

/// The fast form of a `map update` line: (map, flag, key, value) as ranges of its words,
/// or None when the words take another form (the general parser then checks them).
/// MAP, flag, key and value of a `map update` line (ranges of its words).
type UpdateShape = (Range<usize>, UpdateFlag, Range<usize>, Range<usize>);

fn update_shape(w: &Words<'_>) -> Option<UpdateShape> {
    let n = w.len();
    if n < 7 || w.get(0)? != "map" || w.get(1)? != "update" {
        return None;
    }
    // MAP: `id N`, `pinned FILE`, `name NAME`, or a bare /path.
    let map = match w.get(2)? {
        p if p.starts_with('/') => 2..3,
        "id" if w.get(3)?.parse::<u32>().is_ok() => 2..4,
        "pinned" | "name" => 2..4,
        _ => return None,
    };
    if w.get(map.end)? != "key" {
        return None;
    }
    let key_from = map.end + 1;
    let value_at = (key_from..n).find(|&i| w.get(i) == Some("value"))?;
    let (flag, value_end) = match w.get(n - 1).and_then(UpdateFlag::from_word) {
        Some(f) => (f, n - 1),
        None => (UpdateFlag::Any, n),
    };
    let key = key_from..value_at;
    let value = value_at + 1..value_end;
    if key.is_empty() || value.is_empty() {
        return None;
    }
    // Data words: no keyword among them (the grammar would read it as one), no dash option.
    let plain = |s: &str| {
        !s.starts_with("--") && !matches!(s, "key" | "value") && UpdateFlag::from_word(s).is_none()
    };
    if !w.range(key.clone()).all(plain) || !w.range(value.clone()).all(plain) {
        return None;
    }
    if w.get(map.end - 1).is_some_and(|m| m.starts_with("--")) {
        return None;
    }
    Some((map, flag, key, value))
}

/// Check every line and decide how it runs; the first bad line is an error and nothing runs.
/// Returns the steps and the bytes of the byte-list keys and values.
fn plan(script: &Script) -> Result<(Vec<Planned>, Vec<u8>)> {
    let mut root: Option<clap::Command> = None;
    let mut planned = Vec::with_capacity(script.commands.len());
    let mut data = Vec::new();
    let nothing_ran = "nothing ran (every line is checked before the first runs)";
    for cmd in &script.commands {
        let w = script
            .checked_tokens(cmd)
            .map_err(|m| anyhow::anyhow!("line {}: {m}; {nothing_ran}", cmd.line))?;
        if let Some((map, flag, key, value)) = update_shape(&w) {
            let span = |i: usize| w.spans.get(i).copied().unwrap_or((0, 0));
            let map = [span(map.start), span(map.end - 1)];
            let k0 = data.len();
            let bytes = if byte_list(w.range(key.clone()), &mut data) {
                let k1 = data.len();
                byte_list(w.range(value.clone()), &mut data)
                    .then_some((k0 as u32..k1 as u32, k1 as u32..data.len() as u32))
            } else {
                None
            };
            if bytes.is_none() {
                data.truncate(k0);
            }
            planned.push(Planned {
                cmd: cmd.clone(),
                step: Step::Update {
                    map,
                    flag,
                    key: key.start as u16..key.end as u16,
                    value: value.start as u16..value.end as u16,
                    bytes,
                },
            });
            continue;
        }
        let root = root.get_or_insert_with(|| Cli::command().version(env!("CARGO_PKG_VERSION")));
        let words: Vec<String> = w.range(0..w.len()).map(str::to_owned).collect();
        let cli = check_line(root, &words)
            .map_err(|e| anyhow::anyhow!("line {}: {e:#}; {nothing_ran}", cmd.line))?;
        planned.push(Planned {
            cmd: cmd.clone(),
            step: Step::Run(Some(Box::new(cli))),
        });
    }
    Ok((planned, data))
}

/// Parse one command line with clap and its verb's grammar.
fn check_line(root: &mut clap::Command, words: &[String]) -> Result<Cli> {
    let args: Vec<OsString> = std::iter::once(OsString::from("rbt"))
        .chain(words.iter().map(OsString::from))
        .collect();
    let (cli, matches) = crate::cli::parse_line(root, args).map_err(|e| {
        let text = e.render().to_string();
        let first = text.lines().next().unwrap_or_default();
        anyhow::anyhow!("{}", first.trim_start_matches("error: "))
    })?;
    if matches!(cli.object, Object::Batch { .. }) {
        anyhow::bail!("`batch` cannot run inside a batch file");
    }
    let Some((object, m)) = matches.subcommand() else {
        return Ok(cli);
    };
    let (verb, m) = m.subcommand().unwrap_or(("", m));
    // Verbs whose dash options change their words (`--from`, `--all`) are checked when run.
    let dashed = m
        .ids()
        .any(|id| id != "words" && m.value_source(id.as_str()) == Some(ValueSource::CommandLine));
    if let (Some(_), false) = (grammar::syntax(object, verb), dashed) {
        let words: Vec<String> = m
            .try_get_many::<String>("words")
            .ok()
            .flatten()
            .map(|w| w.cloned().collect())
            .unwrap_or_default();
        grammar::parse(object, verb, &words)?;
    }
    Ok(cli)
}

fn read_input(file: &Path) -> Result<Vec<u8>> {
    let mut text = Vec::new();
    let what = || format!("reading batch file {}", file.display());
    if file == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(FILE_MAX + 1)
            .read_to_end(&mut text)
            .with_context(what)?;
    } else {
        let f = crate::input::open_regular(file, "batch file")?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0).min(FILE_MAX);
        text.reserve(size as usize + 1);
        f.take(FILE_MAX + 1)
            .read_to_end(&mut text)
            .with_context(what)?;
    }
    if text.len() as u64 > FILE_MAX {
        anyhow::bail!("{}: larger than {} MiB", file.display(), FILE_MAX >> 20);
    }
    Ok(text)
}

fn file(args: &BatchFileArgs, g: &Globals, out: &mut Output) -> Result<()> {
    let m = grammar::parse("batch", "file", &args.words)?;
    let path = m.path("FILE").unwrap_or_default();
    let text = read_input(&path)?;
    let script = split_script(text).map_err(|e| {
        anyhow::anyhow!(
            "line {}: {}; nothing ran (every line is checked before the first runs)",
            e.line,
            e.message
        )
    })?;
    let (mut steps, data) = plan(&script)?;
    let mut runner = Runner {
        script: &script,
        data: &data,
        g,
        keep_going: args.keep_going,
        capture: out.is_json().then(Output::capture),
        pretty: g.pretty,
        doc: Vec::new(),
        ran: 0,
        first_line: None,
        last_ok: None,
        failed: Vec::new(),
    };
    let result = run_steps(&mut steps, &mut runner, out).and_then(|()| runner.finish(out));
    // What the commands printed goes out before the error is reported.
    out.flush()?;
    result
}

fn run_steps(steps: &mut [Planned], runner: &mut Runner<'_>, out: &mut Output) -> Result<()> {
    let mut i = 0;
    while i < steps.len() {
        // A verb that defers SIGINT (prog load, ...) leaves it deferred: stop between lines.
        if let Err(e) = crate::bpf::stream::interrupted() {
            let line = steps[i].cmd.line;
            return Err(e.context(format!("before line {line}; {} commands ran", runner.ran)));
        }
        if let Step::Update { map, flag, .. } = &steps[i].step {
            let script = runner.script;
            let same = |p: &Planned| match &p.step {
                Step::Update {
                    map: m, flag: f, ..
                } => {
                    f == flag
                        && script.text(m[0]) == script.text(map[0])
                        && script.text(m[1]) == script.text(map[1])
                }
                Step::Run(_) => false,
            };
            let end = i + steps[i..].iter().take_while(|p| same(p)).count();
            runner.updates(&steps[i..end], out)?;
            i = end;
        } else {
            let cli = match &mut steps[i].step {
                Step::Run(cli) => cli.take(),
                Step::Update { .. } => None,
            };
            if let Some(cli) = cli {
                runner.command(&steps[i], *cli, out)?;
            }
            i += 1;
        }
    }
    Ok(())
}

/// Runs the planned commands and keeps the account of what ran.
struct Runner<'g> {
    script: &'g Script,
    /// The bytes of byte-list keys and values (`plan`).
    data: &'g [u8],
    g: &'g Globals,
    keep_going: bool,
    /// With -j: where each command's output is caught, to be wrapped in its document.
    capture: Option<Output>,
    pretty: bool,
    /// A reused buffer for one JSON document.
    doc: Vec<u8>,
    ran: usize,
    first_line: Option<usize>,
    last_ok: Option<usize>,
    failed: Vec<usize>,
}

impl Runner<'_> {
    /// One general command, run as `rbt WORDS` would run it.
    fn command(&mut self, p: &Planned, mut cli: Cli, out: &mut Output) -> Result<()> {
        let line_g = &cli.globals;
        cli.globals = Globals {
            bpffs: self.g.bpffs || line_g.bpffs,
            nomount: self.g.nomount || line_g.nomount,
            debug: self.g.debug || line_g.debug,
            mapcompat: self.g.mapcompat || line_g.mapcompat,
            base_btf: line_g.base_btf.clone().or_else(|| self.g.base_btf.clone()),
            ..self.g.clone()
        };
        let result = match self.capture.as_mut() {
            Some(cap) => {
                let r = crate::cmd::run(cli, cap);
                let caught = cap.take_captured()?;
                r.map(|()| caught)
            }
            None => crate::cmd::run(cli, out).map(|()| Vec::new()),
        };
        match result {
            Ok(caught) => self.succeeded(p, &caught, out),
            Err(e) => self.failed(p, e, out),
        }
    }

    /// A run of `map update` lines on one map with one flag: one open, batched updates.
    fn updates(&mut self, run: &[Planned], out: &mut Output) -> Result<()> {
        let Some(Planned {
            step: Step::Update { map, flag, .. },
            ..
        }) = run.first()
        else {
            return Ok(());
        };
        let mut words = vec![self.script.text(map[0]).to_owned()];
        if map[1] != map[0] {
            words.push(self.script.text(map[1]).to_owned());
        }
        let opened = handle::parse_all(Kind::Map, &words).and_then(|h| Updater::open(&h, *flag));
        let mut up = match opened {
            Ok(up) => up,
            Err(e) => {
                // Every line of the run needs this map: each fails the same way.
                let message = format!("{e:#}");
                for p in run {
                    let again = match hint_of(&e) {
                        Some(h) => hinted(message.clone(), h),
                        None => anyhow::anyhow!("{message}"),
                    };
                    self.failed(p, again, out)?;
                }
                return Ok(());
            }
        };
        for (tag, p) in run.iter().enumerate() {
            let Step::Update {
                key, value, bytes, ..
            } = &p.step
            else {
                continue;
            };
            let data = self.data;
            let fast = bytes.as_ref().is_some_and(|(k, v)| {
                let range = |r: &Range<u32>| data.get(r.start as usize..r.end as usize);
                match (range(k), range(v)) {
                    (Some(k), Some(v)) => up.push_bytes(tag, k, v),
                    _ => false,
                }
            });
            let pushed = if fast {
                Ok(())
            } else {
                let w = self.script.tokens(&p.cmd);
                let range = |r: &Range<u16>| r.start as usize..r.end as usize;
                up.push(tag, w.range(range(key)), w.range(range(value)))
            };
            if let Err(e) = pushed {
                let flushed = up.flush(self.keep_going);
                self.applied(run, flushed, out)?;
                self.failed(p, e, out)?;
                continue;
            }
            if up.full() {
                let flushed = up.flush(self.keep_going);
                self.applied(run, flushed, out)?;
            }
        }
        let flushed = up.flush(self.keep_going);
        self.applied(run, flushed, out)
    }

    fn applied(&mut self, run: &[Planned], flushed: Flushed, out: &mut Output) -> Result<()> {
        for (tag, err) in flushed {
            let Some(p) = run.get(tag) else { continue };
            match err {
                None => self.succeeded(p, b"null", out)?,
                Some(e) => self.failed(p, e, out)?,
            }
        }
        Ok(())
    }

    fn succeeded(&mut self, p: &Planned, caught: &[u8], out: &mut Output) -> Result<()> {
        self.ran += 1;
        self.first_line.get_or_insert(p.cmd.line);
        self.last_ok = Some(p.cmd.line);
        if self.capture.is_some() {
            self.document(p, Some(caught), None, out)?;
        }
        Ok(())
    }

    /// A failed command: its document (-j), then either the end of the batch or, with
    /// --keep-going, its error on stderr and the next command.
    fn failed(&mut self, p: &Planned, e: anyhow::Error, out: &mut Output) -> Result<()> {
        let message = format!("{e:#}");
        if self.capture.is_some() {
            self.document(p, None, Some(&message), out)?;
        }
        if self.keep_going {
            self.ran += 1;
            self.first_line.get_or_insert(p.cmd.line);
            self.failed.push(p.cmd.line);
            out.flush()?;
            status_line(&format!("Error: line {}: {message}", p.cmd.line));
            if let Some(h) = hint_of(&e) {
                status_line(&format!("hint: {h}"));
            }
            return Ok(());
        }
        let before = match (self.ran, self.first_line, self.last_ok) {
            (0, _, _) => "no command ran before it".to_string(),
            (1, _, Some(l)) => format!("1 command ran before it (line {l}), none after it"),
            (n, Some(a), Some(b)) => {
                format!("{n} commands ran before it (lines {a}-{b}), none after it")
            }
            (n, _, _) => format!("{n} commands ran before it, none after it"),
        };
        let text = format!("line {}: {message}; {before}", p.cmd.line);
        // Exit 1 (not a usage error's 2): the batch ran and failed; the hint is kept.
        Err(match hint_of(&e) {
            Some(h) => hinted(text, h),
            None => anyhow::anyhow!(text),
        })
    }

    /// `{"line":N,"command":[..],"output":..}` or `..,"error":".."}`, one a line.
    fn document(
        &mut self,
        p: &Planned,
        caught: Option<&[u8]>,
        error: Option<&str>,
        out: &mut Output,
    ) -> Result<()> {
        let output = caught.map(|c| match c {
            b"null" => Cow::Borrowed(&b"null"[..]),
            c => Cow::Owned(normalize(c)),
        });
        if self.pretty {
            let mut doc = serde_json::Map::new();
            doc.insert("line".into(), Value::from(p.cmd.line));
            doc.insert("command".into(), Value::from(self.script.owned(&p.cmd)));
            if let Some(o) = output {
                doc.insert("output".into(), serde_json::from_slice(&o)?);
            }
            if let Some(e) = error {
                doc.insert("error".into(), Value::from(e));
            }
            out.json(&Value::Object(doc))?;
            return Ok(());
        }
        let doc = &mut self.doc;
        doc.clear();
        write!(doc, "{{\"line\":{},\"command\":[", p.cmd.line)?;
        let words = self.script.tokens(&p.cmd);
        for (i, w) in words.range(0..words.len()).enumerate() {
            if i > 0 {
                doc.push(b',');
            }
            serde_json::to_writer(&mut *doc, w)?;
        }
        doc.push(b']');
        if let Some(o) = output {
            doc.extend_from_slice(b",\"output\":");
            doc.extend_from_slice(&o);
        }
        if let Some(e) = error {
            doc.extend_from_slice(b",\"error\":");
            serde_json::to_writer(&mut *doc, e)?;
        }
        doc.extend_from_slice(b"}\n");
        out.raw(doc)?;
        Ok(())
    }

    fn finish(&self, out: &mut Output) -> Result<()> {
        let total = self.ran;
        if self.failed.is_empty() {
            if !out.is_json() {
                out.done(Some(&format!("processed {total} commands")))?;
            }
            return Ok(());
        }
        let lines: Vec<String> = self.failed.iter().map(|l| l.to_string()).collect();
        let n = self.failed.len();
        let which = format!("line{} {}", if n == 1 { "" } else { "s" }, lines.join(", "));
        if !out.is_json() {
            out.done(Some(&format!(
                "processed {total} commands, {n} failed ({which})"
            )))?;
        }
        anyhow::bail!("{n} of {total} commands failed ({which})")
    }
}

/// A command's captured JSON as one compact document: as it is when it is one line,
/// else re-serialized (several documents become an array; text becomes a string).
fn normalize(caught: &[u8]) -> Vec<u8> {
    let trimmed = caught.trim_ascii();
    if trimmed.is_empty() {
        return b"null".to_vec();
    }
    if !trimmed.contains(&b'\n') {
        return trimmed.to_vec();
    }
    let docs: Result<Vec<Value>, _> = serde_json::Deserializer::from_slice(trimmed)
        .into_iter::<Value>()
        .collect();
    let value = match docs {
        Ok(mut d) if d.len() == 1 => d.remove(0),
        Ok(d) => Value::Array(d),
        Err(_) => Value::from(String::from_utf8_lossy(trimmed).into_owned()),
    };
    serde_json::to_vec(&value).unwrap_or_else(|_| b"null".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmds(text: &str) -> Vec<(usize, String)> {
        let script = split_script(text.as_bytes().to_vec()).unwrap_or_else(|e| panic!("{e:?}"));
        script
            .commands
            .iter()
            .map(|c| (c.line, script.owned(c).join("|")))
            .collect()
    }

    #[test]
    fn splits_like_bpftool() {
        let text = "# a comment\n\nmap show   id 3 # trailing\nprog load x.o \\\n  /sys/fs/bpf/x\n  map 'a b' \"c'd\" e'f\n'x'y\n";
        assert_eq!(
            cmds(text),
            vec![
                (3, "map|show|id|3".to_string()),
                (4, "prog|load|x.o|/sys/fs/bpf/x".to_string()),
                (6, "map|a b|c'd|e'f".to_string()),
                (7, "x|y".to_string()),
            ]
        );
        // `#` inside quotes still starts a comment, as in bpftool.
        let script = split_script(b"map show\nmap show 'a#b'\n".to_vec())
            .unwrap_or_else(|e| panic!("{e:?}"));
        let e = plan(&script)
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(e.starts_with("line 2: unterminated"), "{e}");
        // A comment ends the line before its `\`: no continuation.
        assert_eq!(
            cmds("a # b \\\nc\n"),
            vec![(1, "a".to_string()), (2, "c".to_string())]
        );
        let e = split_script(b"a\nb \\\n".to_vec()).unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(cmds("''\n"), vec![(1, String::new())]);
    }

    #[test]
    fn update_lines_take_the_fast_form() {
        let shape = |s: &str| {
            let script = split_script(s.as_bytes().to_vec()).unwrap_or_else(|e| panic!("{e:?}"));
            update_shape(&script.tokens(&script.commands[0]))
        };
        let (map, flag, key, value) =
            shape("map update pinned /sys/fs/bpf/m key 1 0 0 0 value 2 0 0 0 exist")
                .unwrap_or_else(|| panic!("fast form"));
        assert_eq!(
            (map, flag, key, value),
            (2..4, UpdateFlag::Exist, 5..9, 10..14)
        );
        assert_eq!(
            shape("map update /m key 1 value 2").map(|s| s.0),
            Some(2..3)
        );
        assert!(shape("map update id 3 key 1 value 2").is_some());
        assert!(shape("map update id x key 1 value 2").is_none());
        assert!(shape("map update id 3 value 2 key 1").is_none());
        assert!(shape("map update id 3 key value 2").is_none());
        assert!(shape("map update id 3 key 1 value").is_none());
        assert!(shape("map update id 3 key 1 value 2 any exist").is_none());
        assert!(shape("map update id 3 --from x").is_none());
        assert!(shape("map lookup id 3 key 1").is_none());
    }

    #[test]
    fn every_line_is_checked_first() {
        let script =
            split_script(b"map show\nmap update id 1 key 1 value 2\nmap frobnicate\n".to_vec())
                .unwrap_or_else(|e| panic!("{e:?}"));
        let e = plan(&script)
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(e.starts_with("line 3: "), "{e}");
        assert!(e.contains("nothing ran"), "{e}");
        let script = split_script(b"map update id 1 key 1 valu 2\n".to_vec())
            .unwrap_or_else(|e| panic!("{e:?}"));
        let e = plan(&script)
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(e.starts_with("line 1: "), "{e}");
        let script = split_script(b"batch file x\n".to_vec()).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(plan(&script).is_err());
    }

    #[test]
    fn captured_output_becomes_one_document() {
        assert_eq!(normalize(b"null\n"), b"null");
        assert_eq!(normalize(b""), b"null");
        assert_eq!(normalize(b"[1,\n2]\n"), b"[1,2]");
        assert_eq!(
            normalize(b"{\"a\":1}\n{\"a\":2}\n"),
            b"[{\"a\":1},{\"a\":2}]"
        );
    }
}
