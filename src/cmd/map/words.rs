// Word parsers of the `map` verbs: a verb's words -> a typed struct; no verb indexes words.

use std::path::PathBuf;

use anyhow::Result;

use crate::bpf::map::{self as kmap, UpdateFlag};
use crate::bpf::Kind;
use crate::error::usage;
use crate::handle::{self, Handle};

/// A MAP handle that is all of `words` (dump, freeze).
pub(super) fn map_handle(words: &[String]) -> Result<Handle> {
    handle::parse_all(Kind::Map, words)
}

/// A MAP handle and the words after it.
fn map_then(words: &[String]) -> Result<(Handle, &[String])> {
    let (h, used) = handle::parse(Kind::Map, words)?;
    Ok((h, &words[used..]))
}

/// A MAP handle and nothing after it; `shape` is the usage message otherwise.
fn map_only(words: &[String], shape: &str) -> Result<Handle> {
    let (h, rest) = map_then(words)?;
    if !rest.is_empty() {
        return Err(usage(shape.to_owned()));
    }
    Ok(h)
}

/// `key DATA.. value VALUE.. [any|exist|noexist]`, split into its parts.
#[derive(Debug)]
pub(super) struct ElemArgs<'a> {
    pub key: Option<&'a [String]>,
    pub value: Option<&'a [String]>,
    pub flag: Option<UpdateFlag>,
}

fn update_flag(word: &str) -> Option<UpdateFlag> {
    UpdateFlag::WORDS
        .iter()
        .find(|(w, _)| *w == word)
        .map(|(_, f)| *f)
}

pub(super) fn split_elem_args<'a>(words: &'a [String], verb: &str) -> Result<ElemArgs<'a>> {
    let mut rest = words;
    let mut flag = None;
    if let Some(last) = rest.last() {
        if let Some(f) = update_flag(last).filter(|_| rest.len() > 2) {
            flag = Some(f);
            rest = &rest[..rest.len() - 1];
        }
    }
    let mut key = None;
    let mut value = None;
    match rest.first().map(String::as_str) {
        None => {}
        Some("key") => {
            let body = &rest[1..];
            match body.iter().position(|w| w == "value") {
                Some(p) => {
                    key = Some(&body[..p]);
                    value = Some(&body[p + 1..]);
                }
                None => key = Some(body),
            }
        }
        Some("value") => value = Some(&rest[1..]),
        Some(other) => {
            return Err(usage(format!(
                "map {verb}: expected `key` or `value`, got `{other}`"
            )))
        }
    }
    Ok(ElemArgs { key, value, flag })
}

/// `map lookup MAP key DATA`.
pub(super) struct LookupWords<'a> {
    pub map: Handle,
    pub key: &'a [String],
}

pub(super) fn lookup(words: &[String]) -> Result<LookupWords<'_>> {
    let (map, rest) = map_then(words)?;
    let a = split_elem_args(rest, "lookup")?;
    let (Some(key), None, None) = (a.key, a.value, a.flag) else {
        return Err(usage("map lookup: expected MAP key DATA"));
    };
    Ok(LookupWords { map, key })
}

/// `map update MAP key DATA value VALUE [any|exist|noexist]`.
pub(super) struct UpdateWords<'a> {
    pub map: Handle,
    pub key: &'a [String],
    pub value: &'a [String],
    pub flag: UpdateFlag,
}

pub(super) fn update(words: &[String]) -> Result<UpdateWords<'_>> {
    let (map, rest) = map_then(words)?;
    let a = split_elem_args(rest, "update")?;
    let (Some(key), Some(value)) = (a.key, a.value) else {
        return Err(usage(
            "map update: expected MAP key DATA value VALUE [any|exist|noexist] (or MAP --from FILE)",
        ));
    };
    Ok(UpdateWords {
        map,
        key,
        value,
        flag: a.flag.unwrap_or_default(),
    })
}

/// `map update MAP --from FILE`: only MAP.
pub(super) fn update_from(words: &[String]) -> Result<Handle> {
    map_only(words, "map update --from: expected only MAP")
}

/// `map delete MAP key DATA`, or `map delete MAP --all` (no key).
pub(super) struct DeleteWords<'a> {
    pub map: Handle,
    pub key: Option<&'a [String]>,
}

pub(super) fn delete(words: &[String], all: bool) -> Result<DeleteWords<'_>> {
    if all {
        let map = map_only(words, "map delete --all: expected only MAP")?;
        return Ok(DeleteWords { map, key: None });
    }
    let (map, rest) = map_then(words)?;
    let a = split_elem_args(rest, "delete")?;
    let (Some(key), None, None) = (a.key, a.value, a.flag) else {
        return Err(usage("map delete: expected MAP key DATA (or MAP --all)"));
    };
    Ok(DeleteWords {
        map,
        key: Some(key),
    })
}

/// `map getnext MAP [key DATA]`.
pub(super) struct GetnextWords<'a> {
    pub map: Handle,
    pub key: Option<&'a [String]>,
}

pub(super) fn getnext(words: &[String]) -> Result<GetnextWords<'_>> {
    let (map, rest) = map_then(words)?;
    let a = split_elem_args(rest, "getnext")?;
    if a.value.is_some() || a.flag.is_some() {
        return Err(usage("map getnext: expected MAP [key DATA]"));
    }
    Ok(GetnextWords { map, key: a.key })
}

/// `map peek MAP`, or `map peek MAP value VALUE` on a bloom filter: which of the two the
/// map's type decides, so both parts are kept.
pub(super) struct PeekWords<'a> {
    pub map: Handle,
    pub key: Option<&'a [String]>,
    pub value: Option<&'a [String]>,
}

pub(super) fn peek(words: &[String]) -> Result<PeekWords<'_>> {
    let (map, rest) = map_then(words)?;
    let a = split_elem_args(rest, "peek")?;
    Ok(PeekWords {
        map,
        key: a.key,
        value: a.value,
    })
}

/// `map push MAP value VALUE [any|exist|noexist]`.
pub(super) struct PushWords<'a> {
    pub map: Handle,
    pub value: &'a [String],
    pub flag: UpdateFlag,
}

pub(super) fn push(words: &[String]) -> Result<PushWords<'_>> {
    let (map, rest) = map_then(words)?;
    let a = split_elem_args(rest, "push")?;
    let (None, Some(value)) = (a.key, a.value) else {
        return Err(usage("map push: expected MAP value VALUE [exist]"));
    };
    Ok(PushWords {
        map,
        value,
        flag: a.flag.unwrap_or_default(),
    })
}

/// `map pop MAP`: only MAP.
pub(super) fn pop(words: &[String]) -> Result<Handle> {
    map_only(words, "map pop: expected only MAP")
}

/// `map create FILE type TYPE key N value N entries N name NAME [flags F] [inner_map MAP]`.
#[derive(Debug)]
pub(super) struct CreateWords {
    pub file: PathBuf,
    pub spec: kmap::CreateSpec,
    pub inner: Option<Handle>,
}

pub(super) fn create(args: &[String]) -> Result<CreateWords> {
    let Some(file) = args.first() else {
        return Err(usage(
            "map create: expected FILE type TYPE key N value N entries N name NAME",
        ));
    };
    let file = PathBuf::from(file);
    let mut spec = kmap::CreateSpec::default();
    let (mut has_type, mut has_key, mut has_value, mut has_entries, mut has_name) =
        (false, false, false, false, false);
    let mut inner: Option<handle::Handle> = None;
    let mut i = 1;
    let num = |i: usize, what: &str| -> Result<u64> {
        let v = args
            .get(i)
            .ok_or_else(|| usage(format!("`{what}` needs a value")))?;
        let n = match v.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).ok(),
            None => v.parse().ok(),
        };
        n.ok_or_else(|| usage(format!("`{what} {v}`: expected a number")))
    };
    let small = |v: u64, what: &str| -> Result<u32> {
        u32::try_from(v).map_err(|_| usage(format!("`{what} {v}` is too large")))
    };
    while i < args.len() {
        let word = args[i].as_str();
        match word {
            "type" => {
                let t = args
                    .get(i + 1)
                    .ok_or_else(|| usage("`type` needs a value"))?;
                let names = kmap::type_names();
                spec.map_type = names.iter().position(|n| n == t).ok_or_else(|| {
                    usage(format!(
                        "unknown map type `{t}`; known types: {}",
                        names[1..].join(", ")
                    ))
                })? as u32;
                has_type = true;
                i += 2;
            }
            "key" | "value" | "entries" => {
                let n = small(num(i + 1, word)?, word)?;
                let (size, has) = match word {
                    "key" => (&mut spec.key_size, &mut has_key),
                    "value" => (&mut spec.value_size, &mut has_value),
                    _ => (&mut spec.max_entries, &mut has_entries),
                };
                *size = n;
                *has = true;
                i += 2;
            }
            "name" => {
                let n = args
                    .get(i + 1)
                    .ok_or_else(|| usage("`name` needs a value"))?;
                if n.len() > 15 {
                    return Err(usage(format!("map name `{n}` is longer than 15 characters")));
                }
                spec.name = n.clone();
                has_name = true;
                i += 2;
            }
            "flags" => {
                let f = args
                    .get(i + 1)
                    .ok_or_else(|| usage("`flags` needs a value"))?;
                spec.flags = parse_flags(f)?;
                i += 2;
            }
            "inner_map" => {
                let (h, used) = handle::parse(Kind::Map, &args[i + 1..])?;
                inner = Some(h);
                i += 1 + used;
            }
            other => {
                return Err(usage(format!(
                    "map create: unknown keyword `{other}`; expected type, key, value, entries, name, flags, inner_map"
                )))
            }
        }
    }
    let missing: Vec<&str> = [
        (has_type, "type"),
        (has_key, "key"),
        (has_value, "value"),
        (has_entries, "entries"),
        (has_name, "name"),
    ]
    .into_iter()
    .filter(|(has, _)| !has)
    .map(|(_, n)| n)
    .collect();
    if !missing.is_empty() {
        return Err(usage(format!("map create: missing {}", missing.join(", "))));
    }
    Ok(CreateWords { file, spec, inner })
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
        let num = match part.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16).ok(),
            None => part.parse().ok(),
        };
        match num {
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
    fn elem_args_split() {
        let w = words("key 1 0 0 0 value 2 0 0 0 noexist");
        let a = split_elem_args(&w, "update").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.key.map(|k| k.len()), Some(4));
        assert_eq!(a.value.map(|k| k.len()), Some(4));
        assert_eq!(a.flag, Some(UpdateFlag::NoExist));
        assert!(split_elem_args(&words("bogus 1"), "update").is_err());
    }

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
        assert!(lookup(&words("/sys/fs/bpf/m")).is_err());
        assert!(lookup(&words("/sys/fs/bpf/m key 1 any")).is_err());
        assert!(pop(&words("/sys/fs/bpf/q extra")).is_err());
        assert!(delete(&words("id 3 key 1"), true).is_err());
        assert_eq!(
            delete(&words("id 3"), true).ok().map(|d| d.map),
            Some(Handle::Id(3))
        );
        assert!(push(&words("id 3 key 1 value 2")).is_err());
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
        assert!(
            format!("{e}").contains("missing key, value, entries, name"),
            "{e}"
        );
        assert!(create(&words("/sys/fs/bpf/x bogus 1")).is_err());
    }
}
