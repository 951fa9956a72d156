// The word cursor: walks a verb's words against its table entry (bpftool's NEXT_ARG /
// REQ_ARGS / BAD_ARG in one place), either to parse them or, for TAB completion, to say what
// may come next.

use std::path::PathBuf;

use anyhow::Result;

use super::{handle_forms, handle_keywords, number, words::Word, Occurs, Slot, Syntax, Value};
use crate::bpf::Kind;
use crate::error::usage;
use crate::handle::{self, Handle};

/// One slot as given on the command line: the words of each of its values.
#[derive(Debug, Clone)]
pub struct Occurrence {
    pub slot: &'static Slot,
    pub values: Vec<Vec<String>>,
}

impl Occurrence {
    /// The first word of value `i` (`dev eth0` -> `eth0`).
    pub fn word(&self, i: usize) -> &str {
        self.values
            .get(i)
            .and_then(|v| v.first())
            .map_or("", String::as_str)
    }

    /// Every word of value `i` (a byte list).
    pub fn words(&self, i: usize) -> &[String] {
        self.values.get(i).map_or(&[], Vec::as_slice)
    }

    /// Value `i` as a handle (checked by the cursor, so this fails only on a bad table).
    pub fn handle(&self, i: usize) -> Result<Handle> {
        let kind = match self.slot.values.get(i) {
            Some(Value::Handle(kind)) => *kind,
            _ => anyhow::bail!("internal: `{}` value {i} is not a handle", self.slot.name),
        };
        handle::parse_all(kind, self.words(i))
    }

    /// Value `i` as a number of type T, range-checked.
    pub fn number<T: TryFrom<i128>>(&self, i: usize) -> Result<T> {
        let word = self.word(i);
        let n = number::parse(word).ok_or_else(|| {
            usage(format!(
                "`{}`: expected a number, found `{word}`",
                self.slot.name
            ))
        })?;
        T::try_from(n).map_err(|_| {
            usage(format!(
                "`{} {word}`: out of range (expected {})",
                self.slot.form(),
                number::range_of::<T>()
            ))
        })
    }
}

/// The words of one command line, matched to the slots of its verb.
#[derive(Debug)]
pub struct Matches {
    found: Vec<Occurrence>,
}

impl Matches {
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Occurrence> + 'a {
        self.found.iter().filter(move |o| o.slot.name == name)
    }

    pub fn get(&self, name: &str) -> Option<&Occurrence> {
        self.found.iter().find(|o| o.slot.name == name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The first word of the slot's first value.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(|o| o.word(0))
    }

    /// The first value of every occurrence (`dev a dev b` -> `[a, b]`).
    pub fn texts(&self, name: &str) -> Vec<String> {
        self.all(name).map(|o| o.word(0).to_owned()).collect()
    }

    pub fn path(&self, name: &str) -> Option<PathBuf> {
        self.text(name).map(PathBuf::from)
    }

    /// The handle a slot holds (its first handle value).
    pub fn handle(&self, name: &str) -> Result<Option<Handle>> {
        let Some(o) = self.get(name) else {
            return Ok(None);
        };
        let i = o
            .slot
            .values
            .iter()
            .position(|v| matches!(v, Value::Handle(_)))
            .unwrap_or(0);
        o.handle(i).map(Some)
    }

    pub fn number<T: TryFrom<i128>>(&self, name: &str) -> Result<Option<T>> {
        self.get(name).map(|o| o.number(0)).transpose()
    }

    /// A closed-list word as its enum.
    pub fn choice<T: Word>(&self, name: &str) -> Result<Option<T>> {
        self.text(name)
            .map(|w| T::from_word(w).ok_or_else(|| usage(format!("unknown {name} `{w}`"))))
            .transpose()
    }

    /// The words of a byte-list slot (`key 1 0 0 0`).
    pub fn words(&self, name: &str) -> Option<&[String]> {
        self.get(name).map(|o| o.words(0))
    }

    /// The slot given of a group (`HOOK`), if any.
    pub fn which(&self, group: &str) -> Option<&Occurrence> {
        self.found.iter().find(|o| o.slot.group == Some(group))
    }
}

/// What may come at the end of the words typed so far (for TAB completion).
#[derive(Debug, Clone)]
pub enum Expected {
    /// Between slots: one of these keywords, or a value of a positional slot.
    Next {
        keywords: Vec<&'static str>,
        value: Option<Value>,
    },
    /// Inside a slot: a value of this kind.
    Value(Value),
    /// The word after a handle keyword: `id` -> an id of `kind`.
    HandleValue(Kind, &'static str),
    /// Nothing can follow, or the words so far do not parse.
    End,
}

enum Stop {
    Usage(String),
    End(Expected),
}

type Step<T> = std::result::Result<T, Stop>;

struct Cursor<'w> {
    syntax: &'static Syntax,
    words: &'w [String],
    at: usize,
    found: Vec<Occurrence>,
    completing: bool,
}

/// Parse `words` (the positional words after `rbt OBJECT VERB`) with `syntax`.
pub fn parse_words(syntax: &'static Syntax, words: &[String]) -> Result<Matches> {
    let mut c = Cursor {
        syntax,
        words,
        at: 0,
        found: Vec::new(),
        completing: false,
    };
    match c.run() {
        Ok(()) => Ok(Matches { found: c.found }),
        Err(Stop::Usage(msg)) => Err(usage(msg)),
        Err(Stop::End(expected)) => Err(usage(format!(
            "expected {}, found the end of the line",
            describe(&expected)
        ))),
    }
}

/// What may follow `words` (complete words typed before the one being completed).
pub fn expect(syntax: &'static Syntax, words: &[String]) -> Expected {
    let mut c = Cursor {
        syntax,
        words,
        at: 0,
        found: Vec::new(),
        completing: true,
    };
    match c.run() {
        Err(Stop::End(expected)) => expected,
        Ok(()) | Err(Stop::Usage(_)) => Expected::End,
    }
}

impl<'w> Cursor<'w> {
    fn peek(&self) -> Option<&'w str> {
        self.words.get(self.at).map(String::as_str)
    }

    /// The next word; at the end of the line, stop with what was expected.
    fn take(&mut self, expected: Expected) -> Step<&'w str> {
        let word = self.peek().ok_or(Stop::End(expected))?;
        self.at += 1;
        Ok(word)
    }

    fn run(&mut self) -> Step<()> {
        let syntax = self.syntax;
        for slot in syntax.slots.iter().filter(|s| s.is_positional()) {
            match slot.occurs {
                Occurs::Once => self.slot(slot)?,
                Occurs::Optional => {
                    if self.fits(slot) {
                        self.slot(slot)?;
                    }
                }
                Occurs::Many => {
                    self.slot(slot)?;
                    while self.fits(slot) {
                        self.slot(slot)?;
                    }
                }
                Occurs::AnyNumber => {
                    while self.fits(slot) {
                        self.slot(slot)?;
                    }
                }
            }
        }
        while let Some(word) = self.peek() {
            if let Some(slot) = syntax.slots.iter().find(|s| s.keywords.contains(&word)) {
                self.check_allowed(slot, word)?;
                self.at += 1;
                self.slot(slot)?;
            } else if let Some(slot) = self.floating(word) {
                self.slot(slot)?;
            } else if let Some(group) = self.missing_group() {
                let words: Vec<&str> = syntax.group_slots(group).map(|s| s.keywords[0]).collect();
                return Err(Stop::Usage(format!(
                    "expected {group} ({}), found `{word}`",
                    words.join(" | ")
                )));
            } else {
                return Err(Stop::Usage(format!(
                    "expected {}, found `{word}`",
                    describe(&self.next_expected())
                )));
            }
        }
        if self.completing {
            return Err(Stop::End(self.next_expected()));
        }
        self.check_complete()
    }

    /// An optional positional handle not given yet, which bpftool also takes later in the
    /// line (`net detach tc_ingress dev eth0 id 7`).
    fn floating(&self, word: &str) -> Option<&'static Slot> {
        self.syntax.slots.iter().find(|s| {
            s.is_positional()
                && s.occurs == Occurs::Optional
                && matches!(s.values.first(), Some(Value::Handle(_)))
                && !self.used(s)
                && self.value_fits(s.values[0], word)
        })
    }

    fn used(&self, slot: &Slot) -> bool {
        self.found.iter().any(|o| std::ptr::eq(o.slot, slot))
    }

    fn check_allowed(&self, slot: &'static Slot, word: &str) -> Step<()> {
        if self.used(slot) && !slot.repeats() {
            return Err(Stop::Usage(format!("`{word}` is given twice")));
        }
        if let Some(group) = slot.group {
            if let Some(other) = self.found.iter().find(|o| o.slot.group == Some(group)) {
                return Err(Stop::Usage(format!(
                    "`{}` and `{word}` cannot both be given: one {group} only",
                    other.slot.name
                )));
            }
        }
        Ok(())
    }

    /// A required group none of whose keywords was given yet.
    fn missing_group(&self) -> Option<&'static str> {
        self.syntax
            .groups
            .iter()
            .find(|g| g.required && !self.found.iter().any(|o| o.slot.group == Some(g.name)))
            .map(|g| g.name)
    }

    /// Required keywords and groups that were not given.
    fn check_complete(&self) -> Step<()> {
        let syntax = self.syntax;
        if let Some(slot) = syntax
            .keyword_slots()
            .find(|s| s.is_required() && s.group.is_none() && !self.used(s))
        {
            return Err(Stop::Usage(format!("expected `{}`", slot.form())));
        }
        for group in syntax.groups.iter().filter(|g| g.required) {
            if !self.found.iter().any(|o| o.slot.group == Some(group.name)) {
                let forms: Vec<String> = syntax.group_slots(group.name).map(|s| s.form()).collect();
                return Err(Stop::Usage(format!(
                    "expected {}: {}",
                    group.name,
                    forms.join(" | ")
                )));
            }
        }
        Ok(())
    }

    /// Whether the next word can start an optional positional slot.
    fn fits(&self, slot: &Slot) -> bool {
        let Some(word) = self.peek() else {
            return false;
        };
        self.syntax.slot_of_keyword(word).is_none()
            && slot
                .values
                .first()
                .is_some_and(|v| self.value_fits(*v, word))
    }

    fn value_fits(&self, value: Value, word: &str) -> bool {
        match value {
            Value::Handle(kind) => word.starts_with('/') || handle_keywords(kind).contains(&word),
            Value::Number(_) => number::parse(word).is_some(),
            Value::Choice(_, words) => words.contains(&word),
            Value::Select(options) => options.iter().any(|(w, _)| *w == word),
            Value::Text(..) | Value::Bytes(_) => true,
        }
    }

    fn slot(&mut self, slot: &'static Slot) -> Step<()> {
        let mut values = Vec::with_capacity(slot.values.len());
        for value in slot.values {
            values.push(self.value(*value, slot)?);
        }
        self.found.push(Occurrence { slot, values });
        Ok(())
    }

    fn value(&mut self, value: Value, slot: &Slot) -> Step<Vec<String>> {
        let expected = Expected::Value(value);
        match value {
            Value::Handle(kind) => {
                let word = self.take(expected)?;
                if word.starts_with('/') {
                    return Ok(vec![word.to_owned()]);
                }
                let Some(keyword) = handle_keywords(kind).iter().find(|k| **k == word) else {
                    return Err(self.found_instead(&Expected::Value(value), word));
                };
                let v = self.take(Expected::HandleValue(kind, keyword))?;
                let words = vec![word.to_owned(), v.to_owned()];
                handle::parse_all(kind, &words).map_err(|e| Stop::Usage(e.to_string()))?;
                Ok(words)
            }
            Value::Number(p) => {
                let word = self.take(expected)?;
                if number::parse(word).is_none() {
                    return Err(Stop::Usage(format!(
                        "`{}`: expected {p} (a number), found `{word}`",
                        slot.name
                    )));
                }
                Ok(vec![word.to_owned()])
            }
            Value::Text(..) => Ok(vec![self.take(expected)?.to_owned()]),
            Value::Choice(_, words) => {
                let word = self.take(expected)?;
                if !words.contains(&word) {
                    return Err(self.found_instead(&Expected::Value(value), word));
                }
                Ok(vec![word.to_owned()])
            }
            Value::Bytes(_) => {
                let first = self.take(expected)?;
                let mut out = vec![first.to_owned()];
                while let Some(word) = self.peek() {
                    if self.syntax.slot_of_keyword(word).is_some() {
                        break;
                    }
                    out.push(word.to_owned());
                    self.at += 1;
                }
                Ok(out)
            }
            Value::Select(options) => {
                let word = self.take(expected)?;
                let Some((tag, inner)) = options.iter().find(|(w, _)| *w == word) else {
                    return Err(self.found_instead(&Expected::Value(value), word));
                };
                let mut out = vec![(*tag).to_owned()];
                out.extend(self.value(*inner, slot)?);
                Ok(out)
            }
        }
    }

    fn found_instead(&self, expected: &Expected, word: &str) -> Stop {
        Stop::Usage(format!("expected {}, found `{word}`", describe(expected)))
    }

    /// The keywords that may still come, and an optional positional not given yet.
    fn next_expected(&self) -> Expected {
        let used_groups: Vec<&str> = self.found.iter().filter_map(|o| o.slot.group).collect();
        let keywords = self
            .syntax
            .keyword_slots()
            .filter(|s| !s.hidden)
            .filter(|s| s.repeats() || !self.used(s))
            .filter(|s| s.group.is_none_or(|g| !used_groups.contains(&g)))
            .map(|s| s.keywords[0])
            .collect();
        let value = self
            .syntax
            .slots
            .iter()
            .find(|s| {
                s.is_positional()
                    && !self.used(s)
                    && s.occurs == Occurs::Optional
                    && (self.at == self.positional_end() || matches!(s.values[0], Value::Handle(_)))
            })
            .and_then(|s| s.values.first().copied());
        Expected::Next { keywords, value }
    }

    /// Where the positional words end (the first keyword), for deciding whether an optional
    /// positional can still come.
    fn positional_end(&self) -> usize {
        self.words
            .iter()
            .position(|w| self.syntax.slot_of_keyword(w).is_some())
            .unwrap_or(self.words.len())
    }
}

/// The words an error message uses for what was expected.
fn describe(expected: &Expected) -> String {
    match expected {
        Expected::Value(value) => describe_value(value),
        Expected::HandleValue(kind, keyword) => {
            let form = handle_forms(*kind)
                .iter()
                .find(|f| f.split(' ').next() == Some(*keyword))
                .copied()
                .unwrap_or(keyword);
            format!("`{form}`")
        }
        Expected::Next { keywords, value } => {
            let mut forms: Vec<String> = value.iter().map(describe_value).collect();
            // keyword forms with their values, from the table
            forms.extend(keywords.iter().map(|k| format!("`{k}`")));
            if forms.is_empty() {
                return "the end of the line".to_owned();
            }
            join_or(&forms)
        }
        Expected::End => "the end of the line".to_owned(),
    }
}

fn describe_value(value: &Value) -> String {
    match value {
        Value::Handle(kind) => format!(
            "{} ({})",
            value.placeholder(),
            handle_forms(*kind).join(" | ")
        ),
        Value::Number(p) => format!("{p} (a number)"),
        Value::Choice(p, words) => format!("{p} ({})", words.join(" | ")),
        Value::Select(options) => {
            let forms: Vec<String> = options
                .iter()
                .map(|(w, v)| format!("`{w} {}`", v.placeholder()))
                .collect();
            join_or(&forms)
        }
        Value::Text(p, _) | Value::Bytes(p) => (*p).to_owned(),
    }
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::syntax;
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    fn parse(object: &str, verb: &str, line: &str) -> Result<Matches> {
        parse_words(syntax(object, verb).expect("syntax"), &words(line))
    }

    fn error(object: &str, verb: &str, line: &str) -> String {
        match parse(object, verb, line) {
            Ok(m) => panic!("`{line}` parsed: {m:?}"),
            Err(e) => {
                assert_eq!(crate::error::exit_code(&e), 2, "{e:#}");
                e.to_string()
            }
        }
    }

    #[test]
    fn net_attach_words() {
        let m = parse("net", "attach", "xdp id 7 dev a dev b overwrite").expect("parses");
        assert_eq!(m.text("ATTACH_TYPE"), Some("xdp"));
        assert_eq!(m.handle("PROG").ok().flatten(), Some(Handle::Id(7)));
        assert_eq!(m.texts("dev"), ["a", "b"]);
        assert!(m.has("overwrite"));
        let m = parse("net", "attach", "tc_ingress dev a pinned /x prio 0x10").expect("parses");
        assert_eq!(
            m.handle("PROG").ok().flatten(),
            Some(Handle::Pinned("/x".into()))
        );
        assert_eq!(m.number::<u32>("prio").ok().flatten(), Some(16));
    }

    #[test]
    fn errors_name_the_word_and_what_was_expected() {
        let e = error("net", "attach", "xdp id 7 xyz");
        assert!(e.contains("found `xyz`") && e.contains("`dev`"), "{e}");
        let e = error("net", "attach", "xdp id 7");
        assert!(e.contains("expected `dev IF`"), "{e}");
        let e = error("net", "attach", "xdq dev a");
        assert!(
            e.contains("ATTACH_TYPE (xdp |") && e.contains("found `xdq`"),
            "{e}"
        );
        let e = error("prog", "show", "id 1 id 2");
        assert!(e.contains("found `id`"), "{e}");
        let e = error("prog", "show", "id x");
        assert!(e.contains("`x`"), "{e}");
        let e = error("prog", "pin", "id 7");
        assert!(e.contains("FILE") && e.contains("end of the line"), "{e}");
        let e = error("net", "attach", "xdp dev a prio 1 prio 2");
        assert!(e.contains("`prio` is given twice"), "{e}");
        let e = error("net", "attach", "xdp dev a prio x");
        assert!(e.contains("expected P (a number), found `x`"), "{e}");
        let e = error("prog", "attach", "id 1 kprobe f uprobe /b:s");
        assert!(e.contains("one HOOK"), "{e}");
        let e = error("prog", "attach", "id 1 bogus x");
        assert!(
            e.contains("expected HOOK (tracepoint | raw_tracepoint |")
                && e.contains("found `bogus`"),
            "{e}"
        );
        let e = error("prog", "attach", "id 1");
        assert!(e.contains("expected HOOK: tracepoint CAT:NAME"), "{e}");
    }

    #[test]
    fn selects_and_byte_lists() {
        let m = parse(
            "prog",
            "load",
            "x.o /sys/fs/bpf/x map idx 0 id 5 map name cnt pinned /p autoattach",
        )
        .expect("parses");
        assert_eq!(m.path("OBJ"), Some("x.o".into()));
        assert_eq!(m.path("PATH"), Some("/sys/fs/bpf/x".into()));
        let maps: Vec<&Occurrence> = m.all("map").collect();
        assert_eq!(maps.len(), 2);
        assert_eq!(maps[0].words(0), ["idx", "0"]);
        assert_eq!(maps[1].handle(1).ok(), Some(Handle::Pinned("/p".into())));
        let m = parse("map", "update", "id 1 key 1 0 0 0 value hex 0a 0b exist").expect("parses");
        assert_eq!(m.words("key").map(<[String]>::len), Some(4));
        assert_eq!(m.words("value").map(<[String]>::len), Some(3));
        assert!(m.has("exist"));
        let e = error("map", "update", "id 1 key 1 value 2 any exist");
        assert!(e.contains("one UPDATE_FLAGS"), "{e}");
    }

    #[test]
    fn completion_says_what_comes_next() {
        let next = |o, v, line| expect(syntax(o, v).expect("syntax"), &words(line));
        match next("prog", "load", "x.o") {
            Expected::Next { keywords, value } => {
                assert_eq!(keywords, ["type", "map", "pinmaps", "autoattach"]);
                assert!(matches!(value, Some(Value::Text("PATH", _))));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            next("prog", "load", "x.o map name cnt id"),
            Expected::HandleValue(Kind::Map, "id")
        ));
        assert!(matches!(
            next("prog", "load", "x.o map"),
            Expected::Value(Value::Select(_))
        ));
        assert!(matches!(
            next("net", "attach", "xdp dev"),
            Expected::Value(Value::Text("IF", _))
        ));
        match next("prog", "show", "") {
            Expected::Next { keywords, value } => {
                assert!(keywords.is_empty());
                assert!(matches!(value, Some(Value::Handle(Kind::Prog))));
            }
            other => panic!("{other:?}"),
        }
        match next("prog", "attach", "id 1 kprobe f") {
            Expected::Next { keywords, .. } => assert_eq!(keywords, ["pid"]),
            other => panic!("{other:?}"),
        }
    }
}
