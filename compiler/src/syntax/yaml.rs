//! YAML text to a spanned node tree.
//!
//! serde-saphyr parses; a small `Deserialize` impl collects every node with its
//! place. Maps keep all their entries in order, duplicates included (the
//! `PassThrough` policy), so that the model builder can report every duplicate key
//! instead of stopping at the first.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned as SaphyrSpanned;

use crate::diagnostic::{Code, Diagnostic};
use crate::source::SourceFile;
use crate::span::{FileId, Span};

/// One YAML node and its place.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Span,
    pub kind: NodeKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A mapping entry. Keys are always strings (YAML scalars as written).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: Key,
    pub value: Node,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

impl Node {
    /// A word for the node's YAML type, for messages ("expected a string, found a list").
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The first entry with this key.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|e| e.key.name == key)
            .map(|e| &e.value)
    }
}

/// Parses one file. An empty document is `Null`.
pub fn parse(file: FileId, source: &SourceFile) -> Result<Node, Box<Diagnostic>> {
    let mut options = serde_saphyr::options::Options::default();
    options.duplicate_keys = serde_saphyr::options::DuplicateKeyPolicy::PassThrough;
    // ddeutil-workflow reads YAML with PyYAML's SafeLoader minus the yes/no/on/off
    // booleans: `on:` is a key, `yes` is a string, `010` is octal.
    options.strict_booleans = true;
    options.legacy_octal_numbers = true;
    options.null_as_string = true;
    options.with_snippet = false;
    let text = source.text.as_str();
    // The parser is third-party code; a panic in it must become a diagnostic, not a crash.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        serde_saphyr::from_str_with_options::<Option<RawNode>>(text, options)
    }));
    match parsed {
        Ok(Ok(Some(raw))) => Ok(convert(file, text, raw)),
        Ok(Ok(None)) => Ok(Node {
            span: Span::point(file, 0),
            kind: NodeKind::Null,
        }),
        Ok(Err(error)) => Err(Box::new(syntax_error(file, source, &error))),
        Err(_) => Err(Box::new(
            Diagnostic::new(
                Code::Internal,
                Span::point(file, 0),
                "the YAML parser failed unexpectedly on this file",
            )
            .help("this is a bug in wfc; please report it with this file attached"),
        )),
    }
}

fn syntax_error(file: FileId, source: &SourceFile, error: &serde_saphyr::Error) -> Diagnostic {
    let location = error.location();
    let offset = location.map_or(0, |l| {
        l.span().byte_offset().map_or_else(
            || {
                source.offset_of(
                    usize::try_from(l.line()).unwrap_or(1),
                    usize::try_from(l.column()).unwrap_or(1),
                )
            },
            |b| usize::try_from(b).unwrap_or(0),
        )
    });
    let text = error.without_snippet().to_string();
    // The renderer shows the place; drop the parser's own "at line X, column Y".
    let message = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    // The parser reports a stray tab at the start of the scalar it was reading;
    // point at the tab itself.
    let offset = if message.contains("tab") {
        source.text[offset.min(source.text.len())..]
            .find('\t')
            .map_or(offset, |i| offset + i)
    } else {
        offset
    };
    let help = syntax_help(&message);
    let end = source.text[offset.min(source.text.len())..]
        .chars()
        .next()
        .map_or(offset, |c| offset + c.len_utf8());
    Diagnostic::new(
        Code::YamlSyntax,
        Span::new(file, offset, end),
        format!("invalid YAML: {message}"),
    )
    .label("the parser stopped here")
    .maybe_help(help)
}

fn syntax_help(message: &str) -> Option<String> {
    let m = message.to_ascii_lowercase();
    let help = if m.contains("tab") {
        "YAML indentation must use spaces, not tabs"
    } else if m.contains("mapping values are not allowed") {
        "a value containing `: ` must be quoted, e.g. `echo: \"a: b\"`"
    } else if m.contains("quote") {
        "close the quoted string on this line or the next ones"
    } else if m.contains("did not find expected key") || m.contains("indentation") {
        "check the indentation: keys of one mapping must start in the same column"
    } else if m.contains("anchor") {
        "define the anchor (`&name`) before using it as an alias (`*name`)"
    } else if m.contains("duplicate") {
        "remove or rename one of the keys"
    } else {
        return None;
    };
    Some(help.to_string())
}

/// The tree as the parser hands it over: saphyr locations, no file id yet.
struct RawNode(SaphyrSpanned<RawKind>);

enum RawKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<RawNode>),
    Map(Vec<(SaphyrSpanned<String>, RawNode)>),
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        SaphyrSpanned::<RawKind>::deserialize(deserializer).map(RawNode)
    }
}

impl<'de> Deserialize<'de> for RawKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawKind;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<RawKind, E> {
        Ok(RawKind::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RawKind, E> {
        Ok(RawKind::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawKind, E> {
        i64::try_from(v)
            .map(RawKind::Int)
            .map_err(|_| E::custom(format!("integer {v} is too large")))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<RawKind, E> {
        i64::try_from(v)
            .map(RawKind::Int)
            .map_err(|_| E::custom(format!("integer {v} is too large")))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<RawKind, E> {
        i64::try_from(v)
            .map(RawKind::Int)
            .map_err(|_| E::custom(format!("integer {v} is too large")))
    }
    fn visit_f64<E>(self, v: f64) -> Result<RawKind, E> {
        Ok(RawKind::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<RawKind, E> {
        Ok(RawKind::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<RawKind, E> {
        Ok(RawKind::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<RawKind, E> {
        String::from_utf8(v.to_vec())
            .map(RawKind::Str)
            .map_err(|_| E::custom("binary values are not supported"))
    }
    fn visit_unit<E>(self) -> Result<RawKind, E> {
        Ok(RawKind::Null)
    }
    fn visit_none<E>(self) -> Result<RawKind, E> {
        Ok(RawKind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawKind, D::Error> {
        d.deserialize_any(RawVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawKind, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element::<RawNode>()? {
            items.push(item);
        }
        Ok(RawKind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawKind, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key::<SaphyrSpanned<String>>()? {
            let value = map.next_value::<RawNode>()?;
            entries.push((key, value));
        }
        Ok(RawKind::Map(entries))
    }
}

fn location_span(file: FileId, text_len: usize, location: &serde_saphyr::Location) -> Span {
    let span = location.span();
    let start = span
        .byte_offset()
        .and_then(|o| usize::try_from(o).ok())
        .unwrap_or(0)
        .min(text_len);
    let len = span
        .byte_len()
        .and_then(|o| usize::try_from(o).ok())
        .unwrap_or(0);
    Span::new(file, start, (start + len).min(text_len))
}

fn convert(file: FileId, text: &str, raw: RawNode) -> Node {
    let text_len = text.len();
    let RawNode(spanned) = raw;
    let mut span = location_span(file, text_len, &spanned.referenced);
    let kind = match spanned.value {
        RawKind::Null => NodeKind::Null,
        RawKind::Bool(b) => NodeKind::Bool(b),
        RawKind::Int(i) => NodeKind::Int(i),
        RawKind::Float(f) => NodeKind::Float(f),
        RawKind::Str(s) => NodeKind::Str(s),
        RawKind::Seq(items) => {
            let items: Vec<Node> = items.into_iter().map(|n| convert(file, text, n)).collect();
            if let Some(last) = items.last() {
                span = span.cover(last.span);
            }
            NodeKind::Seq(items)
        }
        RawKind::Map(entries) => {
            let entries: Vec<Entry> = entries
                .into_iter()
                .map(|(k, v)| Entry {
                    key: Key {
                        span: location_span(file, text_len, &k.referenced),
                        name: k.value,
                    },
                    value: convert(file, text, v),
                })
                .collect();
            if let Some(last) = entries.last() {
                span = span.cover(last.key.span).cover(last.value.span);
            }
            NodeKind::Map(entries)
        }
    };
    if matches!(kind, NodeKind::Seq(_) | NodeKind::Map(_)) {
        span = close_flow(text, span);
    }
    Node { span, kind }
}

/// A flow collection (`[a, b]`, `{a: 1}`) ends at its closing bracket, which comes
/// after its last child.
fn close_flow(text: &str, span: Span) -> Span {
    let closer = match text.as_bytes().get(span.start as usize) {
        Some(b'[') => b']',
        Some(b'{') => b'}',
        _ => return span,
    };
    let rest = &text.as_bytes()[span.end as usize..];
    let skipped = rest
        .iter()
        .take_while(|b| b.is_ascii_whitespace() || **b == b',')
        .count();
    match rest.get(skipped) {
        Some(&b) if b == closer => Span::new(
            span.file,
            span.start as usize,
            span.end as usize + skipped + 1,
        ),
        _ => span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Node, Box<Diagnostic>> {
        let source = SourceFile::new("t.yml".into(), text.to_string());
        parse(FileId(0), &source)
    }

    #[test]
    fn keeps_duplicate_keys_and_spans() {
        let text = "a: 1\nb: [x, 'y']\na: 2\n";
        let node = parse_str(text).unwrap();
        let map = node.as_map().unwrap();
        assert_eq!(map.len(), 3);
        assert_eq!(map[2].key.name, "a");
        assert_eq!(&text[map[2].key.span.range()], "a");
        assert_eq!(map[2].key.span.start, 17);
        let NodeKind::Seq(items) = &map[1].value.kind else {
            panic!("not a list")
        };
        assert_eq!(&text[items[1].span.range()], "'y'");
    }

    #[test]
    fn upstream_scalar_resolution() {
        let node = parse_str("a: yes\nb: on\nc: true\nd: 010\ne: 1.5\nf: ~\n").unwrap();
        let kinds: Vec<_> = node
            .as_map()
            .unwrap()
            .iter()
            .map(|e| e.value.kind.clone())
            .collect();
        assert_eq!(
            kinds,
            vec![
                NodeKind::Str("yes".into()),
                NodeKind::Str("on".into()),
                NodeKind::Bool(true),
                NodeKind::Int(8),
                NodeKind::Float(1.5),
                NodeKind::Null,
            ]
        );
    }

    #[test]
    fn syntax_error_has_position() {
        let text = "a:\n  b: 1\n c: 2\n";
        let error = parse_str(text).unwrap_err();
        assert_eq!(error.code, Code::YamlSyntax);
        let source = SourceFile::new("t.yml".into(), text.to_string());
        assert_eq!(source.line_col(error.span.start).0, 3);
        assert!(!error.message.contains("at line"));
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(parse_str("").unwrap().kind, NodeKind::Null);
        assert_eq!(
            parse_str("# only a comment\n").unwrap().kind,
            NodeKind::Null
        );
    }
}
