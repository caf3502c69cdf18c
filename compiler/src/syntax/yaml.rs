//! YAML text to a spanned node tree.
//!
//! saphyr-parser's events are assembled by hand into nodes that all carry a start
//! and an end. Mappings keep every entry in order, duplicates included, so that the
//! model builder can report each duplicate key instead of stopping at the first.
//! Anchors, aliases and `<<` merges are expanded here.

use std::collections::HashMap;
use std::fmt::Write as _;

use saphyr_parser::{Event, Parser, ScalarStyle, StrInput, Tag};

use crate::diagnostic::{Code, Diagnostic};
use crate::source::SourceFile;
use crate::span::{FileId, Span};

/// One YAML node and its place: the parser's output, before the typed model
/// (`model::WrittenValue` for free-form values) is built from it.
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
    /// An integer beyond 64 bits (PyYAML reads Python's unbounded ints): its
    /// decimal digits, after a `-` when negative, without leading zeros.
    BigInt(String),
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
            NodeKind::Int(_) | NodeKind::BigInt(_) => "an integer",
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

/// Deepest nesting accepted; deeper input is refused rather than risking the stack.
const MAX_DEPTH: usize = crate::limits::MAX_YAML_DEPTH;
/// Most nodes a file may expand to through aliases (a guard against alias bombs).
const MAX_NODES: usize = 2_000_000;

/// Parses one file. An empty document is `Null`.
pub fn parse(file: FileId, source: &SourceFile) -> Result<Node, Box<Diagnostic>> {
    let text = source.text.as_str();
    let mut reader = Reader {
        file,
        text,
        chars: CharIndex::new(text),
        events: Parser::new_from_str(text),
        anchors: HashMap::new(),
        nodes: 0,
    };
    reader
        .document()
        .map_err(|error| Box::new(error.into_diagnostic(file, source)))
}

/// A problem found while reading: where (byte offset) and what.
struct ReadError {
    offset: usize,
    message: String,
}

impl ReadError {
    fn into_diagnostic(self, file: FileId, source: &SourceFile) -> Diagnostic {
        let text = &source.text;
        // The scanner reports a stray tab at the start of the scalar it was reading;
        // point at the tab itself.
        let offset = if mentions_tab(&self.message) {
            text[self.offset.min(text.len())..]
                .find('\t')
                .map_or(self.offset, |i| self.offset + i)
        } else {
            self.offset
        };
        let offset = offset.min(text.len());
        let end = text[offset..]
            .chars()
            .next()
            .map_or(offset, |c| offset + c.len_utf8());
        let help = syntax_help(&self.message);
        Diagnostic::new(
            Code::YamlSyntax,
            Span::new(file, offset, end),
            format!("invalid YAML: {}", self.message),
        )
        .label("the parser stopped here")
        .maybe_help(help)
    }
}

/// Is the parser's message about a tab (`tab`, `tabs`, not `unprintable`)?
fn mentions_tab(message: &str) -> bool {
    message
        .split(|c: char| !c.is_ascii_alphabetic())
        .any(|word| word.eq_ignore_ascii_case("tab") || word.eq_ignore_ascii_case("tabs"))
}

fn syntax_help(message: &str) -> Option<String> {
    let m = message.to_ascii_lowercase();
    let help = if m.contains("unprintable") {
        "YAML text may not hold control characters such as NUL; a file full of NUL bytes is UTF-16 or binary: save it as UTF-8 text"
    } else if mentions_tab(message) {
        "YAML indentation must use spaces, not tabs"
    } else if m.contains("mapping values are not allowed") {
        "a value containing `: ` must be quoted, e.g. `echo: \"a: b\"`"
    } else if m.contains("quote") {
        "close the quoted string on this line or the next ones"
    } else if m.contains("did not find expected key") || m.contains("indentation") {
        "check the indentation: keys of one mapping must start in the same column"
    } else if m.contains("anchor") {
        "define the anchor (`&name`) before using it as an alias (`*name`)"
    } else if m.contains("document") {
        "keep one YAML document per file"
    } else {
        return None;
    };
    Some(help.to_string())
}

/// Character index (what the parser reports) to byte offset.
enum CharIndex {
    Ascii,
    Table(Vec<u32>),
}

impl CharIndex {
    fn new(text: &str) -> Self {
        if text.is_ascii() {
            return CharIndex::Ascii;
        }
        let mut table: Vec<u32> = text
            .char_indices()
            .map(|(i, _)| u32::try_from(i).unwrap_or(u32::MAX))
            .collect();
        table.push(u32::try_from(text.len()).unwrap_or(u32::MAX));
        CharIndex::Table(table)
    }

    fn byte(&self, index: usize) -> usize {
        match self {
            CharIndex::Ascii => index,
            CharIndex::Table(t) => t.get(index).or(t.last()).map_or(0, |&b| b as usize),
        }
    }
}

struct Reader<'t> {
    file: FileId,
    text: &'t str,
    chars: CharIndex,
    events: Parser<'t, StrInput<'t>>,
    /// Anchored nodes and their sizes in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes made so far, aliases expanded.
    nodes: usize,
}

impl<'t> Reader<'t> {
    fn span(&self, span: saphyr_parser::Span) -> Span {
        Span::new(
            self.file,
            self.chars.byte(span.start.index()),
            self.chars.byte(span.end.index()),
        )
    }

    fn next(&mut self) -> Result<(Event<'t>, saphyr_parser::Span), ReadError> {
        match self.events.next_event() {
            Some(Ok(event)) => Ok(event),
            Some(Err(error)) => Err(ReadError {
                offset: self.chars.byte(error.marker().index()),
                message: error.info().to_string(),
            }),
            None => Err(ReadError {
                offset: self.text.len(),
                message: "unexpected end of the file".into(),
            }),
        }
    }

    /// The stream: at most one document.
    fn document(&mut self) -> Result<Node, ReadError> {
        let mut root = None;
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => break,
                Event::DocumentStart(_) if root.is_some() => {
                    return Err(ReadError {
                        offset: self.span(span).start as usize,
                        message: "a second YAML document in the same file".into(),
                    });
                }
                Event::DocumentStart(_) => {
                    let (first, first_span) = self.next()?;
                    root = Some(self.node(first, first_span, 0)?);
                }
                other => root = Some(self.node(other, span, 0)?),
            }
        }
        Ok(root.unwrap_or(Node {
            span: Span::point(self.file, 0),
            kind: NodeKind::Null,
        }))
    }

    fn count(&mut self, n: usize, at: Span) -> Result<(), ReadError> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(ReadError {
                offset: at.start as usize,
                message: format!(
                    "the file expands to more than {MAX_NODES} values through aliases"
                ),
            });
        }
        Ok(())
    }

    fn node(
        &mut self,
        event: Event<'t>,
        span: saphyr_parser::Span,
        depth: usize,
    ) -> Result<Node, ReadError> {
        let at = self.event_span(&event, span);
        if depth > MAX_DEPTH {
            return Err(ReadError {
                offset: at.start as usize,
                message: format!("values are nested more than {MAX_DEPTH} levels deep"),
            });
        }
        self.count(1, at)?;
        let (node, anchor) = match event {
            Event::Scalar(value, style, anchor, tag) => {
                let kind = scalar(&value, style, tag.as_deref()).map_err(|message| ReadError {
                    offset: at.start as usize,
                    message,
                })?;
                (Node { span: at, kind }, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items: Vec<Node> = Vec::new();
                let mut end = at;
                loop {
                    let (event, span) = self.next()?;
                    if let Event::SequenceEnd = event {
                        end = end.cover(self.span(span));
                        break;
                    }
                    let item = self.node(event, span, depth + 1)?;
                    end = end.cover(item.span);
                    items.push(item);
                }
                let last = items.last().map(|n| n.span);
                (
                    Node {
                        span: self.close(at, end, last),
                        kind: NodeKind::Seq(items),
                    },
                    anchor,
                )
            }
            Event::MappingStart(anchor, _) => {
                let node = self.mapping(at, depth)?;
                (node, anchor)
            }
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id).cloned() else {
                    return Err(ReadError {
                        offset: at.start as usize,
                        message: "an alias refers to an unknown anchor".into(),
                    });
                };
                self.count(size, at)?;
                return Ok(node);
            }
            other => {
                return Err(ReadError {
                    offset: at.start as usize,
                    message: format!("unexpected {other:?}"),
                });
            }
        };
        if anchor > 0 {
            let size = node_count(&node);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        Ok(node)
    }

    /// Where `event` is: a quoted scalar ends at its closing quote.
    fn event_span(&self, event: &Event<'t>, span: saphyr_parser::Span) -> Span {
        let at = self.span(span);
        match event {
            Event::Scalar(_, ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted, _, _) => {
                quoted_span(self.text, at)
            }
            _ => at,
        }
    }

    fn mapping(&mut self, at: Span, depth: usize) -> Result<Node, ReadError> {
        let mut entries: Vec<Entry> = Vec::new();
        let mut merged: Vec<Entry> = Vec::new();
        let mut end = at;
        let mut last: Option<Span> = None;
        loop {
            let (event, span) = self.next()?;
            let key_span = self.event_span(&event, span);
            let key = match event {
                Event::MappingEnd => {
                    end = end.cover(key_span);
                    break;
                }
                Event::Scalar(value, style, _, _) => {
                    let merge = style == ScalarStyle::Plain && value == "<<";
                    (value.into_owned(), merge)
                }
                Event::Alias(id) => match self.anchors.get(&id).map(|(n, _)| &n.kind) {
                    Some(NodeKind::Str(s)) => (s.clone(), false),
                    _ => {
                        return Err(ReadError {
                            offset: key_span.start as usize,
                            message: "a mapping key must be a string".into(),
                        });
                    }
                },
                _ => {
                    return Err(ReadError {
                        offset: key_span.start as usize,
                        message:
                            "complex mapping keys (lists or mappings as keys) are not supported"
                                .into(),
                    });
                }
            };
            let (event, span) = self.next()?;
            let value = self.node(event, span, depth + 1)?;
            end = end.cover(key_span).cover(value.span);
            last = Some(value.span.cover(key_span));
            match key {
                (_, true) => merged.extend(merge_entries(value).map_err(|offset| ReadError {
                    offset,
                    message: "`<<` merges a mapping or a list of mappings".into(),
                })?),
                (name, false) => entries.push(Entry {
                    key: Key {
                        name,
                        span: key_span,
                    },
                    value,
                }),
            }
        }
        // Keys written in the mapping win over merged ones; earlier merges win over later.
        for entry in merged {
            if !entries.iter().any(|e| e.key.name == entry.key.name) {
                entries.push(entry);
            }
        }
        Ok(Node {
            span: self.close(at, end, last),
            kind: NodeKind::Map(entries),
        })
    }

    /// The span of a collection from its start to `end`, where `end` covers its
    /// children and its closing event. A flow collection ends with its bracket; a
    /// block one ends with its last child (its closing event sits at the next token,
    /// possibly lines later), without trailing blanks.
    fn close(&self, start: Span, end: Span, last_child: Option<Span>) -> Span {
        match self.text.as_bytes().get(start.start as usize) {
            Some(b'[' | b'{') => start.cover(end),
            _ => match last_child {
                Some(child) => {
                    let stop =
                        last_content(self.text, child.end as usize).max(child.start as usize);
                    Span::new(
                        self.file,
                        start.start as usize,
                        stop.max(start.end as usize),
                    )
                }
                None => start,
            },
        }
    }
}

/// The offset just after the last non-blank character before `end`.
fn last_content(text: &str, end: usize) -> usize {
    let end = end.min(text.len());
    text[..end].trim_end().len()
}

fn node_count(node: &Node) -> usize {
    1 + match &node.kind {
        NodeKind::Seq(items) => items.iter().map(node_count).sum(),
        NodeKind::Map(entries) => entries.iter().map(|e| node_count(&e.value)).sum(),
        _ => 0,
    }
}

fn merge_entries(value: Node) -> Result<Vec<Entry>, usize> {
    match value.kind {
        NodeKind::Map(entries) => Ok(entries),
        NodeKind::Seq(items) => {
            let mut out: Vec<Entry> = Vec::new();
            for item in items {
                let NodeKind::Map(entries) = item.kind else {
                    return Err(item.span.start as usize);
                };
                for entry in entries {
                    if !out.iter().any(|e| e.key.name == entry.key.name) {
                        out.push(entry);
                    }
                }
            }
            Ok(out)
        }
        _ => Err(value.span.start as usize),
    }
}

/// A quoted scalar's span, ending at its closing quote: the parser's end runs on
/// over what follows on the line (blanks and a comment), which a finding's span
/// and a fix's edit must not cover.
fn quoted_span(text: &str, span: Span) -> Span {
    let (start, end) = (span.start as usize, span.end as usize);
    let Some(body) = text.get(start..end.max(start)) else {
        return span;
    };
    let mut chars = body.char_indices();
    let close = match chars.next() {
        Some((_, '"')) => {
            let mut escaped = false;
            chars.find(|&(_, c)| {
                let closes = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                closes
            })
        }
        Some((_, '\'')) => {
            // `''` is a quote inside the scalar.
            let mut rest = chars.peekable();
            let mut found = None;
            while let Some((i, c)) = rest.next() {
                if c == '\'' {
                    if rest.peek().is_some_and(|&(_, n)| n == '\'') {
                        rest.next();
                    } else {
                        found = Some((i, c));
                        break;
                    }
                }
            }
            found
        }
        _ => None,
    };
    close.map_or(span, |(i, _)| Span::new(span.file, start, start + i + 1))
}

/// Resolves a scalar the way ddeutil-workflow's loader does: PyYAML's YAML 1.1
/// SafeLoader rules without the `yes/no/on/off` booleans. Dates stay strings.
fn scalar(value: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<NodeKind, String> {
    if let Some(tag) = tag {
        if tag.handle == "!!" || tag.handle == "tag:yaml.org,2002:" {
            let parsed = match tag.suffix.as_str() {
                "str" => Some(NodeKind::Str(value.to_string())),
                "null" => Some(NodeKind::Null),
                "bool" => resolve_bool(value).map(NodeKind::Bool),
                "int" => resolve_int(value),
                "float" => resolve_float(value)
                    .or_else(|| {
                        value
                            .parse::<f64>()
                            .ok()
                            .filter(|_| resolve_int(value).is_some())
                    })
                    .map(NodeKind::Float),
                other => return Err(format!("the tag `!!{other}` is not supported")),
            };
            return parsed.ok_or_else(|| format!("`{value}` is not a valid `!!{}`", tag.suffix));
        }
        return Err(format!(
            "the tag `{}{}` is not supported",
            tag.handle, tag.suffix
        ));
    }
    if style != ScalarStyle::Plain {
        return Ok(NodeKind::Str(value.to_string()));
    }
    Ok(match value {
        "" | "~" | "null" | "Null" | "NULL" => NodeKind::Null,
        _ => {
            if let Some(b) = resolve_bool(value) {
                NodeKind::Bool(b)
            } else if let Some(int) = resolve_int(value) {
                int
            } else if let Some(f) = resolve_float(value) {
                NodeKind::Float(f)
            } else {
                NodeKind::Str(value.to_string())
            }
        }
    })
}

fn resolve_bool(value: &str) -> Option<bool> {
    match value {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// YAML 1.1 integers: decimal, `0b` binary, `0x` hex, leading-zero octal, `_`
/// separators; of any size, as PyYAML reads them.
fn resolve_int(value: &str) -> Option<NodeKind> {
    let (negative, digits) = match value.as_bytes().first()? {
        b'-' => (true, &value[1..]),
        b'+' => (false, &value[1..]),
        _ => (false, value),
    };
    if digits.is_empty() || digits.starts_with('_') {
        return None;
    }
    let (radix, body) = if let Some(rest) = digits.strip_prefix("0b") {
        (2, rest)
    } else if let Some(rest) = digits.strip_prefix("0x") {
        (16, rest)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() || !clean.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    // Through i128, so that -2**63 fits.
    if let Some(n) = i128::from_str_radix(&clean, radix)
        .ok()
        .and_then(|magnitude| i64::try_from(if negative { -magnitude } else { magnitude }).ok())
    {
        return Some(NodeKind::Int(n));
    }
    let digits = decimal_digits(&clean, radix);
    Some(NodeKind::BigInt(if negative {
        format!("-{digits}")
    } else {
        digits
    }))
}

/// The decimal digits of `digits` (valid in `radix`), without leading zeros.
fn decimal_digits(digits: &str, radix: u32) -> String {
    // Little-endian limbs of nine decimal digits.
    const LIMB: u64 = 1_000_000_000;
    let mut limbs: Vec<u64> = vec![0];
    for c in digits.chars() {
        let mut carry = u64::from(c.to_digit(radix).unwrap_or(0));
        for limb in &mut limbs {
            let v = *limb * u64::from(radix) + carry;
            *limb = v % LIMB;
            carry = v / LIMB;
        }
        if carry > 0 {
            limbs.push(carry);
        }
    }
    let mut out = String::new();
    for (i, limb) in limbs.iter().rev().enumerate() {
        let _ = if i == 0 {
            write!(out, "{limb}")
        } else {
            write!(out, "{limb:09}")
        };
    }
    out
}

/// YAML 1.1 floats: a `.` is required, an exponent needs its sign; `.inf`, `.nan`.
fn resolve_float(value: &str) -> Option<f64> {
    match value {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    let body = value.strip_prefix(['-', '+']).unwrap_or(value);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (whole, fraction) = mantissa.split_once('.')?;
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit() || c == '_');
    let whole_ok = whole.is_empty() && !fraction.is_empty()
        || whole.starts_with(|c: char| c.is_ascii_digit()) && digits(whole);
    if !whole_ok || !digits(fraction) {
        return None;
    }
    if let Some(exp) = exponent {
        let rest = exp.strip_prefix(['-', '+'])?;
        if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    value.replace('_', "").parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Node, Box<Diagnostic>> {
        let source = SourceFile::new("t.yml".into(), text.to_string());
        parse(FileId(0), &source)
    }

    #[test]
    fn integers_of_any_size_as_pyyaml_reads_them() {
        let big = |d: &str| Some(NodeKind::BigInt(d.into()));
        assert_eq!(
            resolve_int("-9223372036854775808"),
            Some(NodeKind::Int(i64::MIN))
        );
        assert_eq!(
            resolve_int("9223372036854775808"),
            big("9223372036854775808")
        );
        assert_eq!(
            resolve_int("-100_000_000_000_000_000_000"),
            big("-100000000000000000000")
        );
        // Python: int('1FFFFFFFFFFFFFFFFFFFF', 16), int('0b' + '1' * 70, 2), int('7' * 30, 8).
        assert_eq!(
            resolve_int("0x1FFFFFFFFFFFFFFFFFFFF"),
            big("2417851639229258349412351")
        );
        assert_eq!(
            resolve_int(&format!("0b{}", "1".repeat(70))),
            big("1180591620717411303423")
        );
        assert_eq!(
            resolve_int(&format!("0{}", "7".repeat(30))),
            big("1237940039285380274899124223")
        );
        assert_eq!(resolve_int("1e30"), None);
        let node = parse_str("n: 100000000000000000000\ns: '100000000000000000000'\n").unwrap();
        let map = node.as_map().unwrap();
        assert_eq!(
            map[0].value.kind,
            NodeKind::BigInt("100000000000000000000".into())
        );
        assert_eq!(map[0].value.type_name(), "an integer");
        assert_eq!(
            map[1].value.kind,
            NodeKind::Str("100000000000000000000".into())
        );
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
