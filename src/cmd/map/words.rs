// Word parsers of the `map` verbs: a verb's words -> a typed struct; no verb indexes words.

use std::path::PathBuf;

use anyhow::Result;

use crate::bpf::map::{self as kmap, UpdateFlag};
use crate::bpf::Kind;
use crate::error::usage;
use crate::grammar::words::Word;
use crate::grammar::{self, Matches};
use crate::handle::{self, Handle};

/// The words of `map VERB`, parsed with its table entry.
fn parse(verb: &str, words: &[String]) -> Result<Matches> {
    grammar::parse("map", verb, words)
}

/// The MAP a parse holds (the grammar requires it, so this fails only on a bad table).
fn map_of(m: &Matches) -> Result<Handle> {
    m.handle("MAP")?.ok_or_else(|| usage("expected MAP"))
}

/// The words of a byte-list slot (`key 1 0 0 0`).
fn bytes(m: &Matches, name: &str) -> Option<Vec<String>> {
    m.words(name).map(<[String]>::to_vec)
}

/// The update flag given (any|exist|noexist), BPF_ANY when none is.
fn update_flag(m: &Matches) -> UpdateFlag {
    m.which("UPDATE_FLAGS")
        .and_then(|o| UpdateFlag::from_word(o.slot.name))
        .unwrap_or_default()
}

/// A verb whose words are MAP alone (show, dump, pop, dequeue, freeze, event_pipe).
pub(super) fn map_handle(verb: &str, words: &[String]) -> Result<Handle> {
    map_of(&parse(verb, words)?)
}

/// MAP alone, for a verb whose key and value words a dash option replaces
/// (`update --from`, `delete --all`).
fn map_only(words: &[String], shape: &str) -> Result<Handle> {
    handle::parse_all(Kind::Map, words).map_err(|e| usage(format!("{shape}: {e}")))
}

/// `map lookup MAP key DATA`.
pub(super) struct LookupWords {
    pub map: Handle,
    pub key: Vec<String>,
}

pub(super) fn lookup(words: &[String]) -> Result<LookupWords> {
    let m = parse("lookup", words)?;
    Ok(LookupWords {
        map: map_of(&m)?,
        key: bytes(&m, "key").unwrap_or_default(),
    })
}

/// `map update MAP key DATA value VALUE [any|exist|noexist]`.
pub(super) struct UpdateWords {
    pub map: Handle,
    pub key: Vec<String>,
    pub value: Vec<String>,
    pub flag: UpdateFlag,
}

pub(super) fn update(words: &[String]) -> Result<UpdateWords> {
    let m = parse("update", words)?;
    Ok(UpdateWords {
        map: map_of(&m)?,
        key: bytes(&m, "key").unwrap_or_default(),
        value: bytes(&m, "value").unwrap_or_default(),
        flag: update_flag(&m),
    })
}

/// `map update MAP --from FILE`: only MAP.
pub(super) fn update_from(words: &[String]) -> Result<Handle> {
    map_only(words, "map update --from: expected only MAP")
}

/// `map delete MAP key DATA`, or `map delete MAP --all` (no key).
pub(super) struct DeleteWords {
    pub map: Handle,
    pub key: Option<Vec<String>>,
}

pub(super) fn delete(words: &[String], all: bool) -> Result<DeleteWords> {
    if all {
        let map = map_only(words, "map delete --all: expected only MAP")?;
        return Ok(DeleteWords { map, key: None });
    }
    let m = parse("delete", words)?;
    Ok(DeleteWords {
        map: map_of(&m)?,
        key: bytes(&m, "key"),
    })
}

/// `map getnext MAP [key DATA]`.
pub(super) struct GetnextWords {
    pub map: Handle,
    pub key: Option<Vec<String>>,
}

pub(super) fn getnext(words: &[String]) -> Result<GetnextWords> {
    let m = parse("getnext", words)?;
    Ok(GetnextWords {
        map: map_of(&m)?,
        key: bytes(&m, "key"),
    })
}

/// `map peek MAP`, or `map peek MAP value VALUE` on a bloom filter (the map's type says
/// which).
pub(super) struct PeekWords {
    pub map: Handle,
    pub value: Option<Vec<String>>,
}

pub(super) fn peek(words: &[String]) -> Result<PeekWords> {
    let m = parse("peek", words)?;
    Ok(PeekWords {
        map: map_of(&m)?,
        value: bytes(&m, "value"),
    })
}

/// `map push MAP value VALUE [any|exist|noexist]` (and enqueue).
pub(super) struct PushWords {
    pub map: Handle,
    pub value: Vec<String>,
    pub flag: UpdateFlag,
}

pub(super) fn push(verb: &str, words: &[String]) -> Result<PushWords> {
    let m = parse(verb, words)?;
    Ok(PushWords {
        map: map_of(&m)?,
        value: bytes(&m, "value").unwrap_or_default(),
        flag: update_flag(&m),
    })
}

/// `map create FILE type TYPE key N value N entries N name NAME [flags F] [inner_map MAP]`.
#[derive(Debug)]
pub(super) struct CreateWords {
    pub file: PathBuf,
    pub spec: kmap::CreateSpec,
    pub inner: Option<Handle>,
}

pub(super) fn create(words: &[String]) -> Result<CreateWords> {
    let m = parse("create", words)?;
    let t = m.text("type").unwrap_or_default();
    let names = kmap::type_names();
    let map_type = names.iter().position(|n| *n == t).ok_or_else(|| {
        usage(format!(
            "unknown map type `{t}`; known types: {}",
            names[1..].join(", ")
        ))
    })? as u32;
    let name = m.text("name").unwrap_or_default().to_owned();
    if name.len() > 15 {
        return Err(usage(format!(
            "map name `{name}` is longer than 15 characters"
        )));
    }
    let size = |what: &str| -> Result<u32> { Ok(m.number::<u32>(what)?.unwrap_or_default()) };
    let spec = kmap::CreateSpec {
        map_type,
        key_size: size("key")?,
        value_size: size("value")?,
        max_entries: size("entries")?,
        name,
        flags: m.text("flags").map(parse_flags).transpose()?.unwrap_or(0),
        ..Default::default()
    };
    Ok(CreateWords {
        file: m.path("FILE").unwrap_or_default(),
        spec,
        inner: m.handle("inner_map")?,
    })
}

/// `no_prealloc,rdonly_prog`, `no_prealloc|0x80`, `BPF_F_NO_PREALLOC` or a number.
fn parse_flags(text: &str) -> Result<u32> {
    let mut flags = 0u32;
    for part in text
        .split([',', '|'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let lower = part.to_ascii_lowercase();
        let name = lower.strip_prefix("bpf_f_").unwrap_or(&lower);
        if let Some((_, bit)) = kmap::MAP_FLAGS.iter().find(|(n, _)| *n == name) {
            flags |= bit;
            continue;
        }
        match grammar::number::as_type::<u32>(part) {
            Some(n) => flags |= n,
            None => {
                let names: Vec<&str> = kmap::MAP_FLAGS.iter().map(|(n, _)| *n).collect();
                return Err(usage(format!(
                    "unknown map flag `{part}`; known: {}",
                    names.join(", ")
                )));
            }
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cmd::map::words_of as words;

    #[test]
    fn flags_parse_by_name_and_number() {
        assert_eq!(parse_flags("no_prealloc").ok(), Some(1));
        assert_eq!(parse_flags("no_prealloc,rdonly_prog").ok(), Some(129));
        assert_eq!(parse_flags("BPF_F_MMAPABLE|0x1").ok(), Some(1025));
        assert_eq!(parse_flags("4").ok(), Some(4));
        assert!(parse_flags("bogus").is_err());
    }

    #[test]
    fn verbs_take_their_shapes() {
        let w = words("/sys/fs/bpf/m key 1 0 0 0 value 2 0 0 0 exist");
        let u = update(&w).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((u.key.len(), u.value.len()), (4, 4));
        assert_eq!(u.flag, UpdateFlag::Exist);
        let u = update(&words("id 1 key 1 value -1")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((u.value, u.flag), (vec!["-1".to_string()], UpdateFlag::Any));
        assert!(lookup(&words("/sys/fs/bpf/m")).is_err());
        assert!(lookup(&words("/sys/fs/bpf/m key")).is_err());
        assert!(map_handle("pop", &words("/sys/fs/bpf/q extra")).is_err());
        assert!(delete(&words("id 3 key 1"), true).is_err());
        assert_eq!(
            delete(&words("id 3"), true).ok().map(|d| d.map),
            Some(Handle::Id(3))
        );
        assert!(push("push", &words("id 3 key 1 value 2")).is_err());
        assert_eq!(
            getnext(&words("id 3")).ok().map(|g| g.key.is_none()),
            Some(true)
        );
    }

    #[test]
    fn create_words_need_every_size() {
        let c = create(&words(
            "/sys/fs/bpf/m type hash key 4 value 0x8 entries 16 name m flags no_prealloc",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.file, PathBuf::from("/sys/fs/bpf/m"));
        assert_eq!((c.spec.key_size, c.spec.value_size), (4, 8));
        assert_eq!((c.spec.max_entries, c.spec.flags), (16, 1));
        assert!(c.inner.is_none());
        let e = create(&words("/sys/fs/bpf/x type hash")).unwrap_err();
        assert!(format!("{e}").contains("expected `key KEY_SIZE`"), "{e}");
        assert!(create(&words("/sys/fs/bpf/x bogus 1")).is_err());
        assert!(create(&words("/x type hash key 4 value 8 entries -1 name m")).is_err());
    }
}
