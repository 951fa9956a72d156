// The JSON objects of a `map update --from` input, one at a time, whatever its layout: JSON
// lines, `rbt -j map dump` (an array, one element a line), `rbt -p map dump` (pretty) or
// `bpftool -j map dump` (the whole array on one line). Each object is bounded in size.

use std::io::BufRead;

use anyhow::{bail, Result};

/// One object's text and the line it starts on.
pub struct Element {
    pub line: usize,
    pub text: String,
}

/// Scans a reader for top-level JSON objects, skipping the `[`, `,` and `]` of an enclosing
/// array; anything else between objects is an error.
pub struct Elements<R> {
    reader: R,
    line: usize,
    limit: usize,
}

impl<R: BufRead> Elements<R> {
    pub fn new(reader: R, limit: usize) -> Self {
        Elements {
            reader,
            line: 1,
            limit,
        }
    }

    /// The next object, None at the end of the input.
    pub fn next_element(&mut self) -> Result<Option<Element>> {
        let mut text: Vec<u8> = Vec::new();
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        let mut start = self.line;
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                if depth > 0 {
                    bail!("line {start}: the input ends inside an object");
                }
                return Ok(None);
            }
            let mut used = 0;
            let mut done = false;
            for &b in buf {
                used += 1;
                if b == b'\n' {
                    self.line += 1;
                }
                if depth == 0 {
                    match b {
                        b'{' => {
                            depth = 1;
                            start = self.line;
                            text.push(b);
                        }
                        b'[' | b']' | b',' => {}
                        b if b.is_ascii_whitespace() => {}
                        other => bail!(
                            "line {}: expected an object {{\"key\":..,\"value\":..}}, found `{}`",
                            self.line,
                            char::from(other).escape_default()
                        ),
                    }
                    continue;
                }
                text.push(b);
                if text.len() > self.limit {
                    bail!(
                        "line {start}: an object longer than {} MiB",
                        self.limit >> 20
                    );
                }
                if in_string {
                    match (escaped, b) {
                        (true, _) => escaped = false,
                        (false, b'\\') => escaped = true,
                        (false, b'"') => in_string = false,
                        _ => {}
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            done = true;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            self.reader.consume(used);
            if done {
                let text = String::from_utf8(text)
                    .map_err(|_| anyhow::anyhow!("line {start}: not UTF-8 text"))?;
                return Ok(Some(Element { line: start, text }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &str) -> Result<Vec<(usize, String)>> {
        let mut e = Elements::new(std::io::Cursor::new(input), 1 << 20);
        let mut out = Vec::new();
        while let Some(el) = e.next_element()? {
            out.push((el.line, el.text));
        }
        Ok(out)
    }

    #[test]
    fn every_layout_gives_the_objects() {
        let want = vec![
            (1, r#"{"key":1,"value":{"a":"}{"}}"#.to_owned()),
            (1, r#"{"key":2,"value":[1,2]}"#.to_owned()),
        ];
        let one_line = r#"[{"key":1,"value":{"a":"}{"}},{"key":2,"value":[1,2]}]"#;
        assert_eq!(all(one_line).ok(), Some(want.clone()));
        let lines = "{\"key\":1,\"value\":{\"a\":\"}{\"}}\n{\"key\":2,\"value\":[1,2]}\n";
        let got = all(lines).unwrap_or_default();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0, 2);
        let pretty = "[\n    {\n        \"key\": 1,\n        \"value\": \"a\\\"b\"\n    }\n]\n";
        let got = all(pretty).unwrap_or_default();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, 2);
        assert!(serde_json::from_str::<serde_json::Value>(&got[0].1).is_ok());
    }

    #[test]
    fn bad_input_is_an_error_not_a_hang() {
        assert!(all("[1, 2]").is_err());
        assert!(all("{\"key\": 1").is_err());
        let big = format!("{{\"k\":\"{}\"}}", "x".repeat(3 << 20));
        assert!(all(&big).is_err());
        let mut zeros = Elements::new(std::io::BufReader::new(std::io::repeat(0)), 1 << 20);
        assert!(zeros.next_element().is_err());
    }
}
