//! Reading YAML nodes into typed fields, reporting every problem and going on.
//!
//! Serde's derive stops at the first error; a checker must report them all, so the
//! model is read by hand through these helpers. Each helper reports a wrong type,
//! bound or duplicate at its exact span and returns `None`, and the caller carries on.

use super::edits;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{SourceFile, map_content_range};
use crate::span::{Span, Spanned};
use std::collections::HashMap;

use crate::syntax::expr::ast::{Template, TextRange};
use crate::syntax::expr::{self, SyntaxError};
use crate::syntax::model::{Cond, Condition, Count, Text, ValueKind, WrittenValue};
use crate::syntax::yaml::{Entry, Node, NodeKind};

/// The file being read and the diagnostics found so far.
pub(crate) struct Cx<'s> {
    pub source: &'s SourceFile,
    pub diags: Vec<Diagnostic>,
    /// Parsed templates by text: workflows repeat the same templates many times.
    templates: HashMap<String, Result<Template, SyntaxError>>,
}

/// A YAML mapping being read: its entries with later duplicates dropped (and reported).
pub(crate) struct Obj<'n> {
    pub node: &'n Node,
    pub entries: Vec<&'n Entry>,
}

impl<'n> Obj<'n> {
    /// The entry for `key`.
    pub fn entry(&self, key: &str) -> Option<&'n Entry> {
        self.entries.iter().copied().find(|e| e.key.name == key)
    }

    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entry(key).map(|e| &e.value)
    }

    pub fn has(&self, key: &str) -> bool {
        self.entry(key).is_some()
    }

    /// The span of `key` itself, or of the whole mapping when it is absent.
    pub fn key_span(&self, key: &str) -> Span {
        self.entry(key).map_or(self.node.span, |e| e.key.span)
    }

    /// Where to point when something is missing from the mapping: its first key.
    pub fn head_span(&self) -> Span {
        self.entries.first().map_or(self.node.span, |e| e.key.span)
    }
}

impl<'s> Cx<'s> {
    pub fn new(source: &'s SourceFile) -> Self {
        Self {
            source,
            diags: Vec::new(),
            templates: HashMap::new(),
        }
    }

    pub fn report(&mut self, diagnostic: Diagnostic) {
        self.diags.push(diagnostic);
    }

    /// Opens a mapping; a non-mapping is reported as a wrong type.
    pub fn obj<'n>(&mut self, node: &'n Node, what: &str) -> Option<Obj<'n>> {
        let NodeKind::Map(entries) = &node.kind else {
            self.wrong_type(node, &format!("{what} must be a mapping"), "a mapping");
            return None;
        };
        Some(Obj {
            node,
            entries: self.dedup(entries, Code::DuplicateKey, "key"),
        })
    }

    /// The entries of a mapping with later duplicates reported under `code`.
    pub fn dedup<'n>(&mut self, entries: &'n [Entry], code: Code, noun: &str) -> Vec<&'n Entry> {
        let mut kept: Vec<&'n Entry> = Vec::with_capacity(entries.len());
        // Small mappings (most) are scanned; large ones (thousands of jobs) hashed.
        let mut index: Option<HashMap<&'n str, usize>> = (entries.len() > 16).then(HashMap::new);
        for entry in entries {
            let earlier = match &mut index {
                Some(index) => match index.entry(entry.key.name.as_str()) {
                    std::collections::hash_map::Entry::Occupied(at) => Some(kept[*at.get()]),
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(kept.len());
                        None
                    }
                },
                None => kept.iter().find(|k| k.key.name == entry.key.name).copied(),
            };
            match earlier {
                Some(first) => {
                    let mut diagnostic = Diagnostic::new(
                        code,
                        entry.key.span,
                        format!("duplicate {noun} `{}`", entry.key.name),
                    )
                    .label("defined again here")
                    .with_secondary(first.key.span, "first defined here")
                    .help(format!(
                        "remove or rename one of the two; YAML keeps only one {noun}"
                    ));
                    diagnostic.fix =
                        edits::duplicate_entry_fix(&self.source.text, first, entry, noun);
                    self.report(diagnostic);
                }
                None => kept.push(entry),
            }
        }
        kept
    }

    /// Reports every key of `obj` that is not in `allowed`.
    pub fn check_keys(&mut self, obj: &Obj<'_>, what: &str, allowed: &[&str]) {
        for entry in &obj.entries {
            let name = entry.key.name.as_str();
            if !allowed.contains(&name) {
                self.unknown_key(entry, what, allowed);
            }
        }
    }

    pub fn unknown_key(&mut self, entry: &Entry, what: &str, candidates: &[&str]) {
        let name = entry.key.name.as_str();
        self.report(
            Diagnostic::new(
                Code::UnknownKey,
                entry.key.span,
                format!("unknown key `{name}` in {what}"),
            )
            .label("unknown key")
            .did_you_mean_or(name, candidates.iter().copied(), || {
                Some(format!(
                    "{what} keys are: {}",
                    candidates
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }),
        );
    }

    pub fn missing_key(&mut self, obj: &Obj<'_>, key: &str, what: &str, help: &str) {
        self.report(
            Diagnostic::new(
                Code::MissingKey,
                obj.head_span(),
                format!("{what} has no `{key}`"),
            )
            .label(format!("`{key}` is required here"))
            .help(help.to_string()),
        );
    }

    /// Reports a value of the wrong YAML type.
    pub fn wrong_type(&mut self, node: &Node, message: &str, expected: &str) {
        let help = match (&node.kind, expected) {
            (
                NodeKind::Int(_) | NodeKind::BigInt(_) | NodeKind::Float(_) | NodeKind::Bool(_),
                "a string",
            ) => Some("quote the value to make it a string".to_string()),
            (NodeKind::Str(s), "an integer" | "a number") if s.trim().parse::<f64>().is_ok() => {
                Some("remove the quotes to make it a number".to_string())
            }
            (NodeKind::Str(s), "a boolean")
                if matches!(
                    s.as_str(),
                    "yes" | "no" | "on" | "off" | "Yes" | "No" | "On" | "Off"
                ) =>
            {
                Some("write `true` or `false`; `yes`/`no`/`on`/`off` are strings here".to_string())
            }
            (NodeKind::Null, _) => {
                Some("the value is empty; write one or remove the key".to_string())
            }
            _ => None,
        };
        self.report(
            Diagnostic::new(
                Code::WrongType,
                node.span,
                format!("{message}, found {}", node.type_name()),
            )
            .label(format!("expected {expected}"))
            .maybe_help(help),
        );
    }

    /// One of a fixed set of names (`what` says which set in messages, e.g. "trigger
    /// rule"); anything else is reported under `code` with the closest name.
    pub fn one_of<T: Copy>(
        &mut self,
        text: &Spanned<String>,
        all: &[T],
        name: impl Fn(T) -> &'static str,
        code: Code,
        what: &str,
    ) -> Option<Spanned<T>> {
        if let Some(&found) = all.iter().find(|&&t| name(t) == text.value) {
            return Some(Spanned::new(found, text.span));
        }
        let names: Vec<&str> = all.iter().map(|&t| name(t)).collect();
        self.report(
            Diagnostic::new(code, text.span, format!("unknown {what} `{}`", text.value))
                .label(format!("not a {what}"))
                .did_you_mean_or(&text.value, names.iter().copied(), || {
                    Some(format!("{what}s are: {}", names.join(", ")))
                }),
        );
        None
    }

    /// A string field, as written.
    pub fn string(&mut self, obj: &Obj<'_>, key: &str) -> Option<Spanned<String>> {
        let node = obj.get(key)?;
        self.string_node(node, key)
    }

    pub fn string_node(&mut self, node: &Node, key: &str) -> Option<Spanned<String>> {
        if let NodeKind::Str(s) = &node.kind {
            Some(Spanned::new(s.clone(), node.span))
        } else {
            self.wrong_type(node, &format!("`{key}` must be a string"), "a string");
            None
        }
    }

    /// A string field that may hold templates.
    pub fn text(&mut self, obj: &Obj<'_>, key: &str) -> Option<Text> {
        let node = obj.get(key)?;
        self.text_node(node, key)
    }

    pub fn text_node(&mut self, node: &Node, key: &str) -> Option<Text> {
        let s = self.string_node(node, key)?;
        Some(self.template(s.value, s.span))
    }

    /// Parses a string's templates; a syntax error is reported and the string kept literal.
    pub fn template(&mut self, raw: String, span: Span) -> Text {
        let parsed = if let Some(parsed) = self.templates.get(&raw) {
            parsed.clone()
        } else {
            let parsed = expr::parse_template(&raw);
            self.templates.insert(raw.clone(), parsed.clone());
            parsed
        };
        match parsed {
            Ok(template) => Text {
                raw,
                span,
                template,
            },
            Err(error) => {
                let at = self.content_span(span, &raw, error.range);
                self.report(
                    Diagnostic::new(Code::TemplateSyntax, at, error.message)
                        .label("here")
                        .help(error.help.unwrap_or(
                            "a template is `${{ path | filter }}`; write `$${{` for a literal `${{`",
                        )),
                );
                Text {
                    template: expr::ast::Template::literal(&raw),
                    raw,
                    span,
                }
            }
        }
    }

    /// The file span of a range inside a scalar's content.
    pub fn content_span(&self, scalar: Span, content: &str, range: TextRange) -> Span {
        map_content_range(&self.source.text, scalar, content, range.range())
    }

    /// An `if` / `until`: a boolean, or a condition expression.
    pub fn condition(&mut self, node: &Node, key: &str) -> Option<Condition> {
        match &node.kind {
            NodeKind::Bool(b) => Some(Condition::Bool(Spanned::new(*b, node.span))),
            NodeKind::Str(s) => Some(Condition::Expr(self.cond_text(s.clone(), node.span))),
            _ => {
                self.wrong_type(
                    node,
                    &format!("`{key}` must be a condition (a string) or a boolean"),
                    "a string",
                );
                None
            }
        }
    }

    pub fn cond_text(&mut self, raw: String, span: Span) -> Cond {
        match expr::parse_condition(&raw) {
            Ok(expr) => Cond {
                raw,
                span,
                expr: Some(expr),
            },
            Err(error) => {
                let at = self.content_span(span, &raw, error.range);
                self.report(
                    Diagnostic::new(Code::ExpressionSyntax, at, error.message)
                        .label("here")
                        .help(error.help.unwrap_or("conditions use `==`, `!=`, `<`, `in`, `and`, `or`, `not`, paths such as `params.x` and `${{ }}` values; quote strings")),
                );
                Cond {
                    raw,
                    span,
                    expr: None,
                }
            }
        }
    }

    pub fn boolean(&mut self, obj: &Obj<'_>, key: &str) -> Option<Spanned<bool>> {
        let node = obj.get(key)?;
        if let NodeKind::Bool(b) = node.kind {
            Some(Spanned::new(b, node.span))
        } else {
            self.wrong_type(
                node,
                &format!("`{key}` must be `true` or `false`"),
                "a boolean",
            );
            None
        }
    }

    /// An integer in `min..max` (upper bound excluded).
    pub fn int_in(&mut self, obj: &Obj<'_>, key: &str, min: i64, max: i64) -> Option<Spanned<i64>> {
        let node = obj.get(key)?;
        let n = match &node.kind {
            NodeKind::Int(n) => *n,
            NodeKind::BigInt(digits) => {
                self.out_of_bounds(node.span, key, digits, min, max);
                return None;
            }
            _ => {
                self.wrong_type(node, &format!("`{key}` must be an integer"), "an integer");
                return None;
            }
        };
        if (min..max).contains(&n) {
            Some(Spanned::new(n, node.span))
        } else {
            self.out_of_bounds(node.span, key, &n.to_string(), min, max);
            None
        }
    }

    /// An integer in `min..max`, or a template checked at run time.
    pub fn count_in(&mut self, obj: &Obj<'_>, key: &str, min: i64, max: i64) -> Option<Count> {
        let node = obj.get(key)?;
        match &node.kind {
            NodeKind::Str(s) => {
                let text = self.template(s.clone(), node.span);
                if text.template.is_literal() {
                    // A number in quotes: upstream casts it with int(); keep the check static.
                    match s.trim().parse::<i64>() {
                        Ok(n) if (min..max).contains(&n) => {
                            Some(Count::Int(Spanned::new(n, node.span)))
                        }
                        Ok(n) => {
                            self.out_of_bounds(node.span, key, &n.to_string(), min, max);
                            None
                        }
                        Err(_) => {
                            self.wrong_type(
                                node,
                                &format!("`{key}` must be an integer or a template"),
                                "an integer",
                            );
                            None
                        }
                    }
                } else {
                    Some(Count::Template(text))
                }
            }
            _ => self.int_in(obj, key, min, max).map(Count::Int),
        }
    }

    /// A number in `min..max` (upper bound excluded); integers are accepted.
    pub fn number_in(
        &mut self,
        obj: &Obj<'_>,
        key: &str,
        min: f64,
        max: f64,
    ) -> Option<Spanned<f64>> {
        let node = obj.get(key)?;
        #[allow(clippy::cast_precision_loss)]
        let value = match &node.kind {
            NodeKind::Int(n) => *n as f64,
            NodeKind::BigInt(digits) => digits.parse().unwrap_or(f64::INFINITY),
            NodeKind::Float(f) => *f,
            _ => {
                self.wrong_type(node, &format!("`{key}` must be a number"), "a number");
                return None;
            }
        };
        if value >= min && value < max {
            Some(Spanned::new(value, node.span))
        } else {
            let shown = self.source.slice(node.span).to_string();
            let range = if max.is_infinite() {
                format!("greater than {min}")
            } else {
                format!("at least {min} and less than {max}")
            };
            self.report(
                Diagnostic::new(
                    Code::OutOfBounds,
                    node.span,
                    format!("`{key}` must be {range}, found {shown}"),
                )
                .label("out of range"),
            );
            None
        }
    }

    fn out_of_bounds(&mut self, span: Span, key: &str, found: &str, min: i64, max: i64) {
        self.report(
            Diagnostic::new(
                Code::OutOfBounds,
                span,
                format!(
                    "`{key}` must be between {min} and {}, found {found}",
                    max - 1
                ),
            )
            .label("out of range")
            .help(format!("use a value from {min} to {}", max - 1)),
        );
    }

    /// A list of strings.
    pub fn string_list(&mut self, obj: &Obj<'_>, key: &str) -> Vec<Spanned<String>> {
        let Some(node) = obj.get(key) else {
            return Vec::new();
        };
        let NodeKind::Seq(items) = &node.kind else {
            let help = matches!(node.kind, NodeKind::Str(_)).then(|| {
                format!(
                    "write a list, e.g. `{key}: [{}]`",
                    self.source.slice(node.span)
                )
            });
            self.wrong_type(
                node,
                &format!("`{key}` must be a list of strings"),
                "a list",
            );
            if let (Some(help), Some(last)) = (help, self.diags.last_mut()) {
                last.help = Some(help);
            }
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| self.string_node(item, key))
            .collect()
    }

    /// A free-form value; strings become templates, duplicate keys are reported.
    pub fn value(&mut self, node: &Node) -> WrittenValue {
        let kind = match &node.kind {
            NodeKind::Null => ValueKind::Null,
            NodeKind::Bool(b) => ValueKind::Bool(*b),
            NodeKind::Int(i) => ValueKind::Int(*i),
            NodeKind::BigInt(digits) => ValueKind::BigInt(digits.clone()),
            NodeKind::Float(f) => ValueKind::Float(*f),
            NodeKind::Str(s) => ValueKind::Text(self.template(s.clone(), node.span)),
            NodeKind::Seq(items) => ValueKind::Seq(items.iter().map(|n| self.value(n)).collect()),
            NodeKind::Map(entries) => {
                let kept = self.dedup(entries, Code::DuplicateKey, "key");
                ValueKind::Map(
                    kept.into_iter()
                        .map(|e| (e.key.clone(), self.value(&e.value)))
                        .collect(),
                )
            }
        };
        WrittenValue {
            span: node.span,
            kind,
        }
    }

    /// A free-form mapping field.
    pub fn map_value(&mut self, obj: &Obj<'_>, key: &str) -> Option<WrittenValue> {
        let node = obj.get(key)?;
        if matches!(node.kind, NodeKind::Map(_)) {
            Some(self.value(node))
        } else {
            self.wrong_type(node, &format!("`{key}` must be a mapping"), "a mapping");
            None
        }
    }

    /// A description: a string, kept as written.
    pub fn desc(&mut self, obj: &Obj<'_>) -> Option<String> {
        self.string(obj, "desc").map(|s| s.value)
    }

    /// Reports a template in a place that must be literal.
    pub fn literal_only(&mut self, text: &Spanned<String>, what: &str) {
        if let Ok(template) = expr::parse_template(&text.value)
            && let Some(interp) = template.interps().next()
        {
            let at = self.content_span(text.span, &text.value, interp.range);
            self.report(
                Diagnostic::new(
                    Code::TemplateNotAllowed,
                    at,
                    format!("{what} cannot contain templates"),
                )
                .label("template here")
                .help(format!(
                    "{what} is resolved before anything runs; write it out literally"
                )),
            );
        }
    }
}
