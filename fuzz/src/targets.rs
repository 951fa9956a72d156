// One function per fuzz target: untrusted bytes in, every result (Ok or Err) thrown away.
// A panic, an abort, a hang or an allocation over libFuzzer's limit is the failure.

use std::rc::Rc;

use crate::btf::codec::Codec;
use crate::btf::{c_dump, format, parse, raw_dump, Btf};

/// How many types of a fuzzed blob are formatted and encoded (all are parsed and dumped).
const TYPES_TRIED: u32 = 64;
/// The largest type the encoder is asked to fill (a map value is at most this in practice).
const MAX_VALUE: usize = 1 << 16;

/// The BTF reader, then its raw (text and JSON) and C dumpers, and the bytes -> JSON
/// formatter of each type over the input's own bytes.
pub fn btf(data: &[u8]) {
    let Ok(btf) = Btf::from_raw(data) else {
        return;
    };
    let ids = raw_dump::ids(&btf, &[]);
    let _ = raw_dump::text(&btf, &ids);
    let _ = serde_json::to_vec(&raw_dump::RawJson {
        btf: &btf,
        ids: &ids,
    });
    let _ = c_dump::header(&btf, &[]);
    for id in 1..(btf.len() as u32).min(TYPES_TRIED) {
        let _ = btf.type_name(id);
        let _ = c_dump::header(&btf, &[id]);
        let Ok(size) = btf.size_of(id) else {
            continue;
        };
        if let Some(bytes) = data.get(..size) {
            let _ = format::to_json(&btf, id, bytes);
            let _ = serde_json::to_vec(&format::Typed::new(&btf, id, bytes));
        }
    }
}

/// The typed JSON -> bytes encoder: input = u16 BTF length, the BTF blob, then the text of
/// a value; every type of the blob encodes the text, and what encodes formats back.
pub fn btf_encode(data: &[u8]) {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let len = u16::from_le_bytes(*len) as usize;
    let Some((raw, text)) = rest.split_at_checked(len) else {
        return;
    };
    let text = String::from_utf8_lossy(text);
    let Ok(btf) = Btf::from_raw(raw) else {
        return;
    };
    let btf = Rc::new(btf);
    for id in 1..(btf.len() as u32).min(TYPES_TRIED) {
        let Ok(size) = btf.size_of(id) else {
            continue;
        };
        if size > MAX_VALUE {
            continue;
        }
        let _ = parse::from_text(&btf, id, &text);
        let codec = Codec::btf(btf.clone(), id);
        if let Ok(bytes) = codec.encode_text(&text, size) {
            let _ = serde_json::to_vec(&codec.view(&bytes));
            let _ = codec.text(&bytes);
        }
    }
}

/// Simple `--key-type`/`--value-type` names the byte-grammar target picks from.
const SIMPLE: [&str; 8] = ["u32", "i64", "be16", "ipv4", "ipv6", "mac", "str", "hex"];

/// `map update` words: the grammar, then bpftool's byte list (`1 0 0 0`, `hex 0a ..`,
/// octal, 0x) or a typed word. Input = one byte choosing sizes and codec, then the words.
pub fn bytes(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let key_size = 1 + (pick & 7) as usize;
    let value_size = 1 + ((pick >> 3) & 15) as usize;
    let codec = match pick >> 7 {
        0 => Codec::Plain,
        _ => match Codec::simple(SIMPLE[(pick & 7) as usize], value_size, "value") {
            Ok(c) => c,
            Err(_) => Codec::Plain,
        },
    };
    let text = String::from_utf8_lossy(rest);
    let words: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    let _ = crate::cmd::map::fuzz_update_words(&words, &codec, key_size, value_size);
}

/// USDT: an ELF's .note.stapsdt notes and their argument strings; input that is no ELF
/// is taken as an argument string.
pub fn usdt(data: &[u8]) {
    use crate::bpf::usdt;
    let specs = |args: &str| usdt::spec_bytes(args, usdt::SPEC_SIZE + 6);
    if data.starts_with(b"\x7fELF") {
        if let Ok(notes) = usdt::notes_in(data, &"fuzz") {
            for n in notes {
                let _ = specs(&n.args);
            }
        }
    } else {
        let _ = specs(&String::from_utf8_lossy(data));
    }
}
