// The command-line grammar: one declarative table per verb (its keywords and value kinds)
// that the parser, TAB completion, the usage line in --help, the man page synopsis and the
// "expected X, found Y" errors all read. See ARCHITECTURE.md, "Grammar".

mod cursor;
pub mod number;
mod table;
pub mod words;

use crate::bpf::Kind;

pub use cursor::{expect, parse_words, Expected, Matches};
pub use table::syntax;

/// Where TAB completion finds candidates for a free word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Nothing to offer (a name, a number, an object file given elsewhere).
    Nothing,
    /// Network interfaces (/sys/class/net).
    Ifaces,
    /// libbpf's program type names.
    ProgTypes,
    /// libbpf's map type names.
    MapTypes,
    /// libbpf's attach type names.
    AttachTypes,
    /// Any file on the local file system.
    LocalPath,
    /// A path under a bpffs (directories and pins).
    BpffsPath,
    /// A directory under a bpffs.
    BpffsDir,
    /// Any directory.
    LocalDir,
}

/// The kind of one value in a slot.
#[derive(Debug, Clone, Copy)]
pub enum Value {
    /// `id N | pinned FILE | name NAME | tag HEX` (the keywords the kind allows), or a bare
    /// `/path` meaning pinned.
    Handle(Kind),
    /// A number: decimal or 0x hex.
    Number(&'static str),
    /// One word, with where to complete it from.
    Text(&'static str, Source),
    /// One word of a closed list.
    Choice(&'static str, &'static [&'static str]),
    /// One or more words up to the next keyword (bpftool's byte lists, or one typed word).
    Bytes(&'static str),
    /// A keyword that picks the kind of the value after it: `{idx N | name NAME}`.
    Select(&'static [(&'static str, Value)]),
}

impl Value {
    /// The placeholder the usage line shows for this value.
    pub fn placeholder(&self) -> String {
        match self {
            Value::Handle(kind) => handle_placeholder(*kind).to_owned(),
            Value::Number(p) | Value::Text(p, _) | Value::Choice(p, _) | Value::Bytes(p) => {
                (*p).to_owned()
            }
            Value::Select(options) => {
                let forms: Vec<String> = options
                    .iter()
                    .map(|(word, v)| format!("{word} {}", v.placeholder()))
                    .collect();
                format!("{{{}}}", forms.join(" | "))
            }
        }
    }

    /// What the placeholder means, for the definitions under the usage line
    /// (`PROG := id N | pinned FILE | ...`); None for free words.
    pub fn definition(&self) -> Option<(String, String)> {
        match self {
            Value::Handle(kind) => Some((
                handle_placeholder(*kind).to_owned(),
                format!(
                    "{} (a bare /path means pinned)",
                    handle_forms(*kind).join(" | ")
                ),
            )),
            Value::Choice(p, words) => Some(((*p).to_owned(), words.join(" | "))),
            _ => None,
        }
    }
}

/// The handle keywords of `kind`, with their value words.
pub fn handle_forms(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Prog => &["id N", "pinned FILE", "name NAME", "tag HEX"],
        Kind::Map => &["id N", "pinned FILE", "name NAME"],
        Kind::Link => &["id N", "pinned FILE"],
    }
}

/// The keywords a handle of `kind` starts with.
pub fn handle_keywords(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Prog => &["id", "pinned", "name", "tag"],
        Kind::Map => &["id", "pinned", "name"],
        Kind::Link => &["id", "pinned"],
    }
}

/// The placeholder of a handle in usage lines: PROG, MAP, LINK.
pub fn handle_placeholder(kind: Kind) -> &'static str {
    match kind {
        Kind::Prog => "PROG",
        Kind::Map => "MAP",
        Kind::Link => "LINK",
    }
}

/// How often a slot may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occurs {
    Once,
    Optional,
    /// One or more times.
    Many,
    /// Zero or more times.
    AnyNumber,
}

/// One element of a verb's grammar: a positional value (no keyword) or a keyword followed by
/// its values (`dev IF`, `overwrite`, `map {idx N | name NAME} MAP`).
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// The name the verb reads it by: the keyword, or the placeholder of a positional.
    pub name: &'static str,
    /// The keyword and its aliases (`tracepoint`, `tp`); empty for a positional slot.
    pub keywords: &'static [&'static str],
    pub values: &'static [Value],
    pub occurs: Occurs,
    /// At most one slot of a group is given; `Syntax::groups` says whether one is required.
    pub group: Option<&'static str>,
    /// Parsed but neither shown nor completed (bpftool words rbt answers with an error).
    pub hidden: bool,
}

impl Slot {
    /// A positional value given once.
    pub const fn pos(name: &'static str, values: &'static [Value]) -> Slot {
        Slot {
            name,
            keywords: &[],
            values,
            occurs: Occurs::Once,
            group: None,
            hidden: false,
        }
    }

    /// A keyword given at most once, followed by `values` (none for a flag word).
    pub const fn kw(keywords: &'static [&'static str], values: &'static [Value]) -> Slot {
        Slot {
            name: keywords[0],
            keywords,
            values,
            occurs: Occurs::Optional,
            group: None,
            hidden: false,
        }
    }

    pub const fn required(self) -> Slot {
        Slot {
            occurs: Occurs::Once,
            ..self
        }
    }

    pub const fn optional(self) -> Slot {
        Slot {
            occurs: Occurs::Optional,
            ..self
        }
    }

    pub const fn many(self) -> Slot {
        Slot {
            occurs: Occurs::Many,
            ..self
        }
    }

    pub const fn any_number(self) -> Slot {
        Slot {
            occurs: Occurs::AnyNumber,
            ..self
        }
    }

    pub const fn group(self, group: &'static str) -> Slot {
        Slot {
            group: Some(group),
            ..self
        }
    }

    pub const fn hidden(self) -> Slot {
        Slot {
            hidden: true,
            ..self
        }
    }

    pub fn is_positional(&self) -> bool {
        self.keywords.is_empty()
    }

    pub fn is_required(&self) -> bool {
        matches!(self.occurs, Occurs::Once | Occurs::Many)
    }

    pub fn repeats(&self) -> bool {
        matches!(self.occurs, Occurs::Many | Occurs::AnyNumber)
    }

    /// `dev IF`, `PROG`, `overwrite`.
    pub fn form(&self) -> String {
        let mut parts: Vec<String> = self
            .keywords
            .first()
            .map(|k| k.to_string())
            .into_iter()
            .collect();
        parts.extend(self.values.iter().map(Value::placeholder));
        parts.join(" ")
    }

    /// The form with its brackets: `[dev IF]...`, `dev IF [dev IF]...`, `[PROG]`.
    fn usage(&self) -> String {
        let form = self.form();
        match self.occurs {
            Occurs::Once => form,
            Occurs::Optional => format!("[{form}]"),
            Occurs::Many => format!("{form} [{form}]..."),
            Occurs::AnyNumber => format!("[{form}]..."),
        }
    }
}

/// A group of keyword slots of which at most one (exactly one if required) is given.
#[derive(Debug, Clone, Copy)]
pub struct Group {
    pub name: &'static str,
    pub required: bool,
}

/// One verb's words (or an object's, with `verb` empty): slots, groups and examples.
#[derive(Debug)]
pub struct Syntax {
    pub object: &'static str,
    pub verb: &'static str,
    pub slots: &'static [Slot],
    pub groups: &'static [Group],
    pub examples: &'static [&'static str],
}

impl Syntax {
    /// The usage line: `rbt net attach ATTACH_TYPE [PROG] dev IF [dev IF]... [overwrite]`
    /// (`[OPTIONS]` after the verb when it has dash options).
    pub fn usage(&self, has_options: bool) -> String {
        let mut parts = vec!["rbt".to_owned(), self.object.to_owned()];
        if !self.verb.is_empty() {
            parts.push(self.verb.to_owned());
        }
        if has_options {
            parts.push("[OPTIONS]".to_owned());
        }
        let mut groups_done: Vec<&str> = Vec::new();
        for slot in self.slots.iter().filter(|s| !s.hidden) {
            match slot.group.and_then(|g| self.group(g)) {
                Some(group) if groups_done.contains(&group.name) => {}
                Some(group) => {
                    groups_done.push(group.name);
                    parts.push(if group.required {
                        group.name.to_owned()
                    } else {
                        format!("[{}]", group.name)
                    });
                }
                None => parts.push(slot.usage()),
            }
        }
        parts.join(" ")
    }

    fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The slots of a group, visible ones only.
    pub fn group_slots<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Slot> + 'a {
        self.slots
            .iter()
            .filter(move |s| !s.hidden && s.group == Some(name))
    }

    /// What each placeholder of the usage line stands for, once each:
    /// `("PROG", "id N | pinned FILE | name NAME | tag HEX (a bare /path means pinned)")`.
    pub fn definitions(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut push = |name: String, text: String| {
            if !out.iter().any(|(n, _)| *n == name) {
                out.push((name, text));
            }
        };
        for group in self.groups {
            let forms: Vec<String> = self.group_slots(group.name).map(Slot::form).collect();
            push(group.name.to_owned(), forms.join(" | "));
        }
        for slot in self.slots.iter().filter(|s| !s.hidden) {
            for value in slot.values {
                let mut values = vec![*value];
                if let Value::Select(options) = value {
                    values = options.iter().map(|(_, v)| *v).collect();
                }
                for v in values {
                    if let Some((name, text)) = v.definition() {
                        push(name, text);
                    }
                }
            }
        }
        out
    }

    /// The help text that follows the usage: definitions, the verb's own notes, examples.
    pub fn help_tail(&self, notes: &str) -> String {
        let mut text = String::new();
        let defs = self.definitions();
        if !defs.is_empty() {
            let width = defs.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
            for (name, def) in defs {
                text.push_str(&wrap_alternatives(&format!("{name:width$} := "), &def));
            }
            text.push('\n');
        }
        if !notes.is_empty() {
            text.push_str(notes.trim_end());
            text.push_str("\n\n");
        }
        text.push_str(if self.examples.len() == 1 {
            "Example:\n"
        } else {
            "Examples:\n"
        });
        for example in self.examples {
            text.push_str(&format!("  {example}\n"));
        }
        text.trim_end().to_owned()
    }

    /// The keyword slots, visible or not.
    pub fn keyword_slots(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().filter(|s| !s.is_positional())
    }

    /// The slot a keyword word starts, if any.
    pub fn slot_of_keyword(&self, word: &str) -> Option<usize> {
        self.slots.iter().position(|s| s.keywords.contains(&word))
    }
}

/// `HEAD` followed by `a | b | c`, broken before a `|` where a line would pass 80 columns.
fn wrap_alternatives(head: &str, def: &str) -> String {
    let indent = " ".repeat(head.len().saturating_sub(2));
    let mut text = head.to_owned();
    let mut line_len = head.len();
    for (i, alt) in def.split(" | ").enumerate() {
        if i > 0 {
            if line_len + alt.len() + 3 > 80 {
                text.push_str(&format!("\n{indent}| "));
                line_len = indent.len() + 2;
            } else {
                text.push_str(" | ");
                line_len += 3;
            }
        }
        text.push_str(alt);
        line_len += alt.len();
    }
    text.push('\n');
    text
}

/// Parse the words of `rbt OBJECT VERB` with that verb's table entry.
pub fn parse(object: &str, verb: &str, words: &[String]) -> anyhow::Result<Matches> {
    let syntax = syntax(object, verb)
        .ok_or_else(|| anyhow::anyhow!("internal: no grammar for `{object} {verb}`"))?;
    parse_words(syntax, words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_lines_read_like_bpftool() {
        let s = |o, v| syntax(o, v).map(|s| s.usage(false)).unwrap_or_default();
        assert_eq!(s("prog", "pin"), "rbt prog pin PROG FILE");
        assert_eq!(
            s("net", "attach"),
            "rbt net attach ATTACH_TYPE [PROG] dev IF [dev IF]... [overwrite] [prepend] [prio P] [handle H]"
        );
        assert_eq!(s("prog", "show"), "rbt prog show [PROG]");
        assert_eq!(
            s("map", "update"),
            "rbt map update MAP key DATA value VALUE [UPDATE_FLAGS]"
        );
    }

    #[test]
    fn every_object_and_verb_has_a_syntax_with_examples_and_distinct_placeholders() {
        let root = crate::cli::command();
        for object in root.get_subcommands() {
            let name = object.get_name();
            let syn = syntax(name, "").unwrap_or_else(|| panic!("no grammar for `{name}`"));
            assert!(!syn.examples.is_empty(), "`rbt {name}` has no example");
            for verb in object.get_subcommands() {
                let v = verb.get_name();
                let syn = syntax(name, v).unwrap_or_else(|| panic!("no grammar for `{name} {v}`"));
                assert!(!syn.examples.is_empty(), "`rbt {name} {v}` has no example");
                let positional: Vec<String> = syn
                    .slots
                    .iter()
                    .filter(|s| s.is_positional())
                    .flat_map(|s| s.values.iter().map(Value::placeholder))
                    .collect();
                for (i, p) in positional.iter().enumerate() {
                    assert!(
                        !positional[i + 1..].contains(p),
                        "`rbt {name} {v}`: placeholder {p} repeated in {}",
                        syn.usage(false)
                    );
                }
                let usage = verb.clone().render_usage().to_string();
                assert!(!usage.contains('<'), "clap's usage leaked: {usage}");
                for example in syn.examples {
                    assert!(
                        example.starts_with(&format!("rbt {name} {v}"))
                            || example.starts_with("rbt -")
                            || example.contains(&format!("rbt {name} {v}"))
                            || example.contains(&format!("rbt -j {name} {v}"))
                            || example.contains(&format!("rbt -p {name} {v}"))
                            || example.contains(&format!("rbt -f {name} {v}")),
                        "`rbt {name} {v}` example is for another verb: {example}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_example_parses_with_its_grammar() {
        for syn in table::all() {
            for example in syn.examples {
                // --from and --all stand for the key and value words.
                if example.contains("--from") || example.contains("--all") {
                    continue;
                }
                if syn.verb.is_empty() && syn.slots.is_empty() {
                    continue; // an object's examples are its verbs'
                }
                let Some(words) = example_words(syn, example) else {
                    continue;
                };
                if let Err(e) = parse_words(syn, &words) {
                    panic!("example `{example}` does not parse: {e:#}");
                }
            }
        }
    }

    /// The positional words of an example (after `rbt OBJECT VERB`, dash options and the
    /// option values dropped); None for an example of another command in a pipeline.
    fn example_words(syn: &Syntax, example: &str) -> Option<Vec<String>> {
        let part = example.split(['|', '#', '&', ';', '>']).find(|p| {
            p.contains(&format!(" {} {}", syn.object, syn.verb)) || syn.verb.is_empty()
        })?;
        let words = shell_words(part);
        let at = words.iter().position(|w| w == syn.object)?;
        let mut rest = words[at + 1..].to_vec();
        if !syn.verb.is_empty() {
            if rest.first().map(String::as_str) != Some(syn.verb) {
                return None;
            }
            rest.remove(0);
        }
        let mut out = Vec::new();
        let mut skip = false;
        for w in rest {
            if std::mem::take(&mut skip) {
                continue;
            }
            if w.starts_with("--") && w.len() > 2 {
                skip = !["--link", "--dry-run", "--raw", "--all", "--keep-going"]
                    .contains(&w.as_str())
                    && !w.contains('=');
                continue;
            }
            out.push(w);
        }
        Some(out)
    }

    fn shell_words(line: &str) -> Vec<String> {
        let mut words = Vec::new();
        let mut cur = String::new();
        let mut quote: Option<char> = None;
        let mut any = false;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => cur.push(c),
                (None, '\'' | '"') => {
                    quote = Some(c);
                    any = true;
                }
                (None, c) if c.is_whitespace() => {
                    if any || !cur.is_empty() {
                        words.push(std::mem::take(&mut cur));
                    }
                    any = false;
                }
                (None, c) => cur.push(c),
            }
        }
        if any || !cur.is_empty() {
            words.push(cur);
        }
        words
    }
}
