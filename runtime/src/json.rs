//! JSON and values.
//!
//! Writing: contexts as compact JSON, the same text as `serde_json::to_writer`
//! gives for `Value`'s `Serialize`, written faster: a map shared by several
//! places of the context (equal results of loop units share one, see
//! `value::Sharing`) is written once and its text copied for the other places.
//!
//! Reading ([`parse`]): JSON text (params, a foreach's items, a Docker stage's
//! outputs) as Python's `json.loads` reads it, which serde_json's own values
//! cannot hold: integers of any size, objects in their order.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use serde_json::ser::{CompactFormatter, Formatter as _};

use crate::value::{Map, SharedId, Str, Value, shared_id};

/// Deepest nesting of arrays and objects [`parse`] reads (as deep as serde_json reads).
const MAX_DEPTH: usize = wfc_plan::limits::MAX_VALUE_DEPTH;

/// JSON text that [`parse`] cannot read: what is wrong and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line} column {column}")]
pub struct JsonError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// Reads a JSON text into a value, as Python's `json.loads` reads it: integers
/// of any size (up to Python's limit of digits), `NaN`, `Infinity` and
/// `-Infinity`, floats too large as infinities, objects in their order (a key
/// given twice keeps its first place and its last value).
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let mut reader = Reader {
        text: text.as_bytes(),
        at: 0,
        depth: 0,
    };
    let value = reader.value()?;
    reader.space();
    if reader.at < reader.text.len() {
        return Err(reader.error("trailing characters"));
    }
    Ok(value)
}

struct Reader<'a> {
    text: &'a [u8],
    at: usize,
    /// Open arrays and objects around the current value.
    depth: usize,
}

impl Reader<'_> {
    fn error(&self, message: impl Into<String>) -> JsonError {
        let before = &self.text[..self.at.min(self.text.len())];
        let mut lines = before.split(|b| *b == b'\n');
        let line = lines.clone().count();
        let last = lines.next_back().unwrap_or_default();
        JsonError {
            message: message.into(),
            line,
            column: String::from_utf8_lossy(last).chars().count() + 1,
        }
    }

    fn space(&mut self) {
        while matches!(self.text.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Takes `word` if the text goes on with it.
    fn word(&mut self, word: &str) -> bool {
        let found = self.text[self.at..].starts_with(word.as_bytes());
        if found {
            self.at += word.len();
        }
        found
    }

    fn value(&mut self) -> Result<Value, JsonError> {
        self.space();
        let Some(&first) = self.text.get(self.at) else {
            return Err(self.error("EOF while parsing a value"));
        };
        match first {
            b'{' | b'[' => {
                if self.depth >= MAX_DEPTH {
                    return Err(
                        self.error(format!("more than {MAX_DEPTH} nested arrays and objects"))
                    );
                }
                self.depth += 1;
                self.at += 1;
                let value = if first == b'{' {
                    self.object()
                } else {
                    self.array()
                };
                self.depth -= 1;
                value
            }
            b'"' => self.string().map(Value::Str),
            b'-' | b'0'..=b'9' => self.number(),
            _ => {
                let constants = [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                    ("NaN", Value::Float(f64::NAN)),
                    ("Infinity", Value::Float(f64::INFINITY)),
                ];
                for (word, value) in constants {
                    if self.word(word) {
                        return Ok(value);
                    }
                }
                Err(self.error("expected value"))
            }
        }
    }

    /// The entries of an object, after its `{`.
    fn object(&mut self) -> Result<Value, JsonError> {
        let mut map = Map::default();
        self.space();
        if self.text.get(self.at) == Some(&b'}') {
            self.at += 1;
            return Ok(Value::from(map));
        }
        loop {
            self.space();
            if self.text.get(self.at) != Some(&b'"') {
                return Err(self.error("key must be a string"));
            }
            let key = self.string()?;
            self.space();
            if self.text.get(self.at) != Some(&b':') {
                return Err(self.error("expected `:`"));
            }
            self.at += 1;
            let value = self.value()?;
            map.insert(key, value);
            self.space();
            match self.text.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::from(map));
                }
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }

    /// The items of an array, after its `[`.
    fn array(&mut self) -> Result<Value, JsonError> {
        let mut items = Vec::new();
        self.space();
        if self.text.get(self.at) == Some(&b']') {
            self.at += 1;
            return Ok(Value::List(items));
        }
        loop {
            items.push(self.value()?);
            self.space();
            match self.text.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::List(items));
                }
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    /// A string, from its opening quote.
    fn string(&mut self) -> Result<Str, JsonError> {
        self.at += 1;
        let mut out = Str::default();
        loop {
            // The run of bytes that need no decoding, copied at once.
            let start = self.at;
            while let Some(&b) = self.text.get(self.at) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // Cut at ASCII bytes only: still UTF-8.
            out.push_str(&String::from_utf8_lossy(&self.text[start..self.at]));
            match self.text.get(self.at) {
                None => return Err(self.error("EOF while parsing a string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => {
                    return Err(self.error("control character in a string"));
                }
            }
        }
    }

    /// One escape, after its backslash.
    fn escape(&mut self, out: &mut Str) -> Result<(), JsonError> {
        let Some(&code) = self.text.get(self.at) else {
            return Err(self.error("EOF while parsing a string"));
        };
        self.at += 1;
        let c = match code {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                let unit = if (0xD800..0xDC00).contains(&first) {
                    // A surrogate pair: the low half follows as `\uXXXX`.
                    if !self.word("\\u") {
                        return Err(self.error("lone leading surrogate in a \\u escape"));
                    }
                    let second = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&second) {
                        return Err(self.error("invalid low surrogate in a \\u escape"));
                    }
                    0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                } else {
                    first
                };
                char::from_u32(unit)
                    .ok_or_else(|| self.error("lone trailing surrogate in a \\u escape"))?
            }
            _ => {
                self.at -= 1;
                return Err(self.error("invalid escape"));
            }
        };
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        self.at += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.error("invalid \\u escape"))
    }

    /// A number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, or `-Infinity`.
    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.at;
        if self.text[self.at] == b'-' {
            self.at += 1;
            if self.word("Infinity") {
                return Ok(Value::Float(f64::NEG_INFINITY));
            }
        }
        let digits = |reader: &mut Self| {
            let from = reader.at;
            while reader.text.get(reader.at).is_some_and(u8::is_ascii_digit) {
                reader.at += 1;
            }
            reader.at - from
        };
        match self.text.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.error("invalid number")),
        }
        let mut float = false;
        if self.text.get(self.at) == Some(&b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
            float = true;
        }
        if matches!(self.text.get(self.at), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.text.get(self.at), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
            float = true;
        }
        // ASCII only: the slice is UTF-8.
        let text = std::str::from_utf8(&self.text[start..self.at]).unwrap_or_default();
        if float {
            // Too large for a float: an infinity, as Python reads it.
            return text
                .parse()
                .map(Value::Float)
                .map_err(|_| self.error("invalid number"));
        }
        match crate::value::parse_int(text) {
            Some(Ok(value)) => Ok(value),
            Some(Err(error)) => {
                self.at = start;
                Err(self.error(error.to_string()))
            }
            None => Err(self.error("invalid number")),
        }
    }
}

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
    written: HashMap<SharedId, usize, foldhash::fast::RandomState>,
    /// The shared map written last and its text's place: a loop's units usually
    /// share one, so it is looked for before the table.
    last: Option<(SharedId, usize)>,
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
            Value::BigInt(n) => {
                let _ = write!(self.out, "{n}");
            }
            Value::Float(x) if x.is_finite() => {
                let _ = CompactFormatter.write_f64(&mut self.out, *x);
            }
            Value::Float(_) => self.out.extend_from_slice(b"null"),
            Value::Str(s) => self.text(s),
            Value::List(items) | Value::Tuple(items) => {
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
        let Some(key) = shared_id(map) else {
            return self.map(map, flush);
        };
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
    fn big_integers_are_numbers_with_all_their_digits() {
        let big = |t: &str| Value::int(t.parse().unwrap());
        let mut map = Map::default();
        map.insert("n".into(), big("100000000000000000000"));
        map.insert(
            "l".into(),
            Value::List(vec![big("-1000000000000000000000000000000"), Value::Int(1)]),
        );
        let expected = r#"{"n":100000000000000000000,"l":[-1000000000000000000000000000000,1]}"#;
        assert_eq!(text(&map), expected);
        assert_eq!(serde_json::to_string(&map).unwrap(), expected);
        // The pretty form (`--output json`) too.
        assert!(
            serde_json::to_string_pretty(&map)
                .unwrap()
                .contains("\"n\": 100000000000000000000,")
        );
        // And read back as they were written.
        assert_eq!(parse(expected).unwrap(), Value::from(map));
    }

    #[test]
    fn reads_json_as_python_does() {
        let value = parse(
            r#" {"b": 1, "a": [100000000000000000000, -9223372036854775809, 2.5, 1e400,
                 NaN, -Infinity, true, null, "x\u00e9\ud83d\ude00\n\"\\/"], "b": 3} "#,
        )
        .unwrap();
        // Keys in their order, a repeated key in its first place with its last value.
        assert_eq!(
            value.py_repr(),
            "{'b': 3, 'a': [100000000000000000000, -9223372036854775809, 2.5, inf, nan, \
             -inf, True, None, 'xé😀\\n\"\\\\/']}"
        );
        assert_eq!(parse("-0").unwrap(), Value::Int(0));
        assert!(parse("-0.0").unwrap().same(&Value::Float(-0.0)));
        assert_eq!(parse("1E2").unwrap(), Value::Float(100.0));
        assert_eq!(parse("\"\"").unwrap(), Value::str(""));
        assert_eq!(parse("[]").unwrap(), Value::List(vec![]));
    }

    #[test]
    fn bad_json_is_refused_with_its_place() {
        for (text, message) in [
            ("", "EOF while parsing a value at line 1 column 1"),
            ("[1,\n 2", "expected `,` or `]` at line 2 column 3"),
            ("[1,]", "expected value at line 1 column 4"),
            ("{1: 2}", "key must be a string at line 1 column 2"),
            ("{\"a\" 2}", "expected `:` at line 1 column 6"),
            ("01", "trailing characters at line 1 column 2"),
            ("1.", "invalid number at line 1 column 3"),
            ("-", "invalid number at line 1 column 2"),
            (
                "\"a\tb\"",
                "control character in a string at line 1 column 3",
            ),
            ("\"\\x\"", "invalid escape at line 1 column 3"),
            (
                "\"\\ud800\"",
                "lone leading surrogate in a \\u escape at line 1 column 8",
            ),
            ("\"é", "EOF while parsing a string at line 1 column 3"),
            ("nul", "expected value at line 1 column 1"),
        ] {
            assert_eq!(parse(text).unwrap_err().to_string(), message, "{text:?}");
        }
        let long = format!("[{}]", "1".repeat(5000));
        let error = parse(&long).unwrap_err().to_string();
        assert!(
            error.contains("5000 digits") && error.ends_with("at line 1 column 2"),
            "{error}"
        );
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(&deep(128)).is_ok());
        assert!(
            parse(&deep(100_000))
                .unwrap_err()
                .message
                .contains("more than 128 nested")
        );
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
