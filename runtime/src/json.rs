//! Contexts as compact JSON, the same text as `serde_json::to_writer` gives for
//! `Value`'s `Serialize`, written faster: a map shared by several places of the
//! context (equal results of loop units share one, see `value::Sharing`) is
//! written once and its text copied for the other places.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use serde_json::ser::{CompactFormatter, Formatter as _};

use crate::value::{Map, Value};

/// Writes `map` as JSON to `out`.
pub fn write_map(map: &Map, out: &mut impl Write) -> std::io::Result<()> {
    let mut writer = Writer {
        out: Vec::with_capacity(CHUNK + CHUNK / 4),
        texts: Vec::new(),
        written: HashMap::default(),
        last: None,
    };
    writer.map(map, &mut |text: &mut Vec<u8>| {
        if text.len() >= CHUNK {
            out.write_all(text)?;
            text.clear();
        }
        Ok(())
    })?;
    out.write_all(&writer.out)
}

/// `text` as a JSON string, escaped as serde_json escapes it.
pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) {
    if text.bytes().any(|b| ESCAPED[usize::from(b)]) {
        let _ = serde_json::to_writer(out, text);
    } else {
        // Most keys and values need no escape: copied as they are.
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// The bytes a JSON string cannot hold as they are: control characters, `"`
/// and `\`.
const ESCAPED: [bool; 256] = {
    let mut escaped = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        escaped[byte] = true;
        byte += 1;
    }
    escaped[b'"' as usize] = true;
    escaped[b'\\' as usize] = true;
    escaped
};

/// Text is handed on in pieces of about this size, so a large context is never
/// held whole in memory.
const CHUNK: usize = 64 * 1024;

type Flush<'a> = dyn FnMut(&mut Vec<u8>) -> std::io::Result<()> + 'a;

struct Writer {
    out: Vec<u8>,
    /// The text of the shared maps already written, and where each map's is.
    texts: Vec<Vec<u8>>,
    written: HashMap<*const Map, usize, foldhash::fast::RandomState>,
    /// The shared map written last and its text's place: a loop's units usually
    /// share one, so it is looked for before the table.
    last: Option<(*const Map, usize)>,
}

impl Writer {
    fn value(&mut self, value: &Value, flush: &mut Flush<'_>) -> std::io::Result<()> {
        match value {
            Value::Null => self.out.extend_from_slice(b"null"),
            Value::Bool(true) => self.out.extend_from_slice(b"true"),
            Value::Bool(false) => self.out.extend_from_slice(b"false"),
            Value::Int(n) => self
                .out
                .extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
            Value::Float(x) if x.is_finite() => {
                let _ = CompactFormatter.write_f64(&mut self.out, *x);
            }
            Value::Float(_) => self.out.extend_from_slice(b"null"),
            Value::Str(s) => self.text(s),
            Value::List(items) => {
                self.out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.value(item, flush)?;
                }
                self.out.push(b']');
            }
            Value::Map(map) => return self.shared(map, flush),
            Value::Date(_) | Value::DateTime(_) | Value::Decimal(_) | Value::Foreign(_) => {
                self.text(&value.py_str());
            }
        }
        Ok(())
    }

    fn shared(&mut self, map: &Arc<Map>, flush: &mut Flush<'_>) -> std::io::Result<()> {
        if Arc::strong_count(map) == 1 {
            return self.map(map, flush);
        }
        let key = Arc::as_ptr(map);
        let at = match self.last {
            Some((last, at)) if last == key => at,
            _ => {
                let at = if let Some(&at) = self.written.get(&key) {
                    at
                } else {
                    // Written apart (and whole) the first time, to be copied the
                    // next times.
                    let outer = std::mem::take(&mut self.out);
                    self.map(map, &mut |_: &mut Vec<u8>| Ok(()))?;
                    self.texts.push(std::mem::replace(&mut self.out, outer));
                    self.written.insert(key, self.texts.len() - 1);
                    self.texts.len() - 1
                };
                self.last = Some((key, at));
                at
            }
        };
        self.out.extend_from_slice(&self.texts[at]);
        self.flush(flush)
    }

    fn map(&mut self, map: &Map, flush: &mut Flush<'_>) -> std::io::Result<()> {
        self.out.push(b'{');
        for (i, (k, v)) in map.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.text(k);
            self.out.push(b':');
            self.value(v, flush)?;
            self.flush(flush)?;
        }
        self.out.push(b'}');
        Ok(())
    }

    /// Hands the text on once there is a piece's worth (the check is here, not
    /// behind the call).
    fn flush(&mut self, flush: &mut Flush<'_>) -> std::io::Result<()> {
        if self.out.len() >= CHUNK {
            flush(&mut self.out)
        } else {
            Ok(())
        }
    }

    fn text(&mut self, text: &str) {
        write_str(&mut self.out, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Sharing;

    fn text(map: &Map) -> String {
        let mut out = Vec::new();
        write_map(map, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn same_text_as_serde() {
        let mut inner = Map::default();
        inner.insert("quote \" and \\ and \n and \u{1}".into(), Value::str("é ✓"));
        inner.insert("float".into(), Value::Float(1.5e-7));
        inner.insert("whole".into(), Value::Float(2.0));
        inner.insert("nan".into(), Value::Float(f64::NAN));
        inner.insert("date".into(), Value::Date(jiff::civil::date(2024, 1, 2)));
        inner.insert("decimal".into(), Value::Decimal("1.50".into()));
        let mut map = Map::default();
        map.insert("null".into(), Value::Null);
        map.insert(
            "list".into(),
            Value::List(vec![Value::Bool(true), Value::Int(-7), Value::List(vec![])]),
        );
        map.insert("inner".into(), Value::from(inner));
        map.insert("empty".into(), Value::from(Map::default()));
        assert_eq!(text(&map), serde_json::to_string(&map).unwrap());
    }

    #[test]
    fn a_context_larger_than_a_chunk_is_written_whole() {
        let sharing = Sharing::default();
        let mut map = Map::default();
        for i in 0..20_000 {
            let mut stages = Map::default();
            stages.insert(
                "echo".into(),
                Value::str(if i % 3 == 0 { "a" } else { "b" }),
            );
            let mut entry = Map::default();
            entry.insert("item".into(), Value::Int(i));
            entry.insert("stages".into(), sharing.share(stages));
            map.insert(i.to_string().into(), Value::from(entry));
        }
        let written = text(&map);
        assert!(written.len() > 4 * CHUNK);
        assert_eq!(written, serde_json::to_string(&map).unwrap());
    }

    #[test]
    fn shared_maps_are_written_in_full_at_every_place() {
        let sharing = Sharing::default();
        let result = || {
            let mut stages = Map::default();
            stages.insert("echo".into(), Value::str("done"));
            stages
        };
        let mut map = Map::default();
        for key in ["a", "b", "c"] {
            map.insert(key.into(), sharing.share(result()));
        }
        assert_eq!(
            text(&map),
            r#"{"a":{"echo":"done"},"b":{"echo":"done"},"c":{"echo":"done"}}"#
        );
        assert_eq!(text(&map), serde_json::to_string(&map).unwrap());
    }
}
