//! Parsing of templates and conditions: pest pairs lowered to the typed AST.

pub mod ast;
mod grammar;

use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;

use ast::{
    BinaryOp, CompareOp, EnvRef, Expr, ExprKind, Filter, Interp, Key, Literal, Part, Path,
    Pipeline, Segment, Template, TextRange, UnaryOp,
};
use grammar::{ExpressionParser, Rule};

/// A template or condition that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    /// Where, inside the parsed string.
    pub range: TextRange,
}

/// Parses a string value that may hold `${{ }}` templates.
pub fn parse_template(text: &str) -> Result<Template, SyntaxError> {
    // Only `${{`, `${NAME}` and `$$` are special: anything else is literal text, and
    // long scripts full of `$VAR` need not go through the parser.
    if !text.contains("${") && !text.contains("$$") {
        return Ok(Template::literal(text));
    }
    let mut pairs = ExpressionParser::parse(Rule::template, text)
        .map_err(|e| syntax_error(text, &e, "template"))?;
    let Some(root) = pairs.next() else {
        return Ok(Template::default());
    };
    Ok(lower_template_parts(root.into_inner()))
}

/// Parses an `if` / `until` condition.
pub fn parse_condition(text: &str) -> Result<Expr, SyntaxError> {
    let mut pairs = ExpressionParser::parse(Rule::condition, text)
        .map_err(|e| syntax_error(text, &e, "condition"))?;
    let root = pairs.next().ok_or_else(|| SyntaxError {
        message: "empty condition".into(),
        range: TextRange::new(0, text.len()),
    })?;
    let expr = root
        .into_inner()
        .find(|p| p.as_rule() == Rule::expr)
        .ok_or_else(|| SyntaxError {
            message: "empty condition".into(),
            range: TextRange::new(0, text.len()),
        })?;
    Ok(lower_expr(expr))
}

fn range_of(pair: &Pair<'_, Rule>) -> TextRange {
    let span = pair.as_span();
    TextRange::new(span.start(), span.end())
}

fn lower_template_parts<'a>(pairs: impl Iterator<Item = Pair<'a, Rule>>) -> Template {
    let mut parts: Vec<Part> = Vec::new();
    let push_text = |parts: &mut Vec<Part>, s: &str| {
        if let Some(Part::Text(t)) = parts.last_mut() {
            t.push_str(s);
        } else {
            parts.push(Part::Text(s.to_string()));
        }
    };
    for pair in pairs {
        match pair.as_rule() {
            Rule::text | Rule::single_text | Rule::double_text => {
                push_text(&mut parts, pair.as_str());
            }
            Rule::escaped_dollar => push_text(&mut parts, "$"),
            Rule::escape => push_text(&mut parts, &unescape(pair.as_str())),
            Rule::env_ref => parts.push(Part::Env(lower_env(pair))),
            Rule::interpolation => parts.push(Part::Interp(lower_interp(pair))),
            _ => {}
        }
    }
    Template { parts }
}

fn lower_env(pair: Pair<'_, Rule>) -> EnvRef {
    let mut name = String::new();
    let mut default = None;
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::env_name => name = p.as_str().to_string(),
            Rule::env_default => default = Some(p.as_str().to_string()),
            _ => {}
        }
    }
    EnvRef { name, default }
}

fn lower_interp(pair: Pair<'_, Rule>) -> Interp {
    let range = range_of(&pair);
    let pipeline = pair
        .into_inner()
        .find(|p| p.as_rule() == Rule::pipeline)
        .map_or_else(empty_pipeline, lower_pipeline);
    Interp { pipeline, range }
}

fn empty_pipeline() -> Pipeline {
    Pipeline {
        path: Path {
            segments: Vec::new(),
            range: TextRange::default(),
        },
        filters: Vec::new(),
    }
}

fn lower_pipeline(pair: Pair<'_, Rule>) -> Pipeline {
    let mut path = None;
    let mut filters = Vec::new();
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::path => path = Some(lower_path(p)),
            Rule::filter => filters.push(lower_filter(p)),
            _ => {}
        }
    }
    Pipeline {
        path: path.unwrap_or_else(|| empty_pipeline().path),
        filters,
    }
}

fn lower_path(pair: Pair<'_, Rule>) -> Path {
    let range = range_of(&pair);
    let mut segments = Vec::new();
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::segment => segments.push(lower_segment(p)),
            Rule::index => segments.push(lower_index(p)),
            // The head of a condition path: its name and `?` come as siblings.
            Rule::expr_name => segments.push(Segment {
                key: Key::Name(p.as_str().to_string()),
                optional: false,
                range: range_of(&p),
            }),
            Rule::optional => {
                if let Some(last) = segments.last_mut() {
                    last.optional = true;
                    last.range.end = range_of(&p).end;
                }
            }
            _ => {}
        }
    }
    Path { segments, range }
}

fn lower_segment(pair: Pair<'_, Rule>) -> Segment {
    let range = range_of(&pair);
    let mut name = String::new();
    let mut optional = false;
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::name => name = p.as_str().to_string(),
            Rule::optional => optional = true,
            _ => {}
        }
    }
    Segment {
        key: Key::Name(name),
        optional,
        range,
    }
}

fn lower_index(pair: Pair<'_, Rule>) -> Segment {
    let range = range_of(&pair);
    let mut key = Key::Index(0);
    let mut optional = false;
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::string => key = Key::Name(lower_string(p)),
            Rule::integer => key = Key::Index(p.as_str().parse().unwrap_or(i64::MAX)),
            Rule::optional => optional = true,
            _ => {}
        }
    }
    Segment {
        key,
        optional,
        range,
    }
}

fn lower_filter(pair: Pair<'_, Rule>) -> Filter {
    let range = range_of(&pair);
    let mut name = String::new();
    let mut name_range = range;
    let mut args = Vec::new();
    let mut kwargs = Vec::new();
    let mut called = false;
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::filter_name => {
                name = p.as_str().to_string();
                name_range = range_of(&p);
            }
            Rule::filter_call => {
                called = true;
                for arg in p.into_inner().filter(|a| a.as_rule() == Rule::filter_arg) {
                    let mut keyword = None;
                    let mut value = Literal::Null;
                    for a in arg.into_inner() {
                        match a.as_rule() {
                            Rule::keyword => keyword = Some(a.as_str().to_string()),
                            Rule::literal => value = lower_literal(a),
                            _ => {}
                        }
                    }
                    match keyword {
                        Some(k) => kwargs.push((k, value)),
                        None => args.push(value),
                    }
                }
            }
            _ => {}
        }
    }
    Filter {
        name,
        args,
        kwargs,
        // Without a call the rule's span runs on over trailing whitespace.
        range: if called { range } else { name_range },
        name_range,
    }
}

fn lower_literal(pair: Pair<'_, Rule>) -> Literal {
    let inner = if pair.as_rule() == Rule::literal {
        match pair.into_inner().next() {
            Some(p) => p,
            None => return Literal::Null,
        }
    } else {
        pair
    };
    match inner.as_rule() {
        Rule::constant => lower_constant(inner.as_str()),
        Rule::number => lower_number(inner.as_str()),
        Rule::string => Literal::Str(lower_string(inner)),
        Rule::literal_list => Literal::List(inner.into_inner().map(lower_literal).collect()),
        _ => Literal::Null,
    }
}

fn lower_constant(text: &str) -> Literal {
    match text {
        "True" | "true" => Literal::Bool(true),
        "False" | "false" => Literal::Bool(false),
        _ => Literal::Null,
    }
}

fn lower_number(text: &str) -> Literal {
    if text.contains(['.', 'e', 'E']) {
        Literal::Float(text.parse().unwrap_or(f64::NAN))
    } else {
        text.parse().map_or_else(
            |_| Literal::Float(text.parse().unwrap_or(f64::NAN)),
            Literal::Int,
        )
    }
}

fn lower_string(pair: Pair<'_, Rule>) -> String {
    pair.into_inner()
        .next()
        .map(|inner| unescape(inner.as_str()))
        .unwrap_or_default()
}

/// Python-style backslash escapes; an unknown escape keeps its backslash.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some(c @ ('\\' | '\'' | '"')) => out.push(c),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn lower_expr(pair: Pair<'_, Rule>) -> Expr {
    let range = range_of(&pair);
    match pair.as_rule() {
        Rule::expr => fold_binary(pair, |op| match op {
            "or" => Some(BinaryOp::Or),
            _ => None,
        }),
        Rule::conjunction => fold_binary(pair, |op| match op {
            "and" => Some(BinaryOp::And),
            _ => None,
        }),
        Rule::sum => fold_binary(pair, |op| match op {
            "+" => Some(BinaryOp::Add),
            "-" => Some(BinaryOp::Sub),
            _ => None,
        }),
        Rule::term => fold_binary(pair, |op| match op {
            "*" => Some(BinaryOp::Mul),
            "/" => Some(BinaryOp::Div),
            "//" => Some(BinaryOp::FloorDiv),
            "%" => Some(BinaryOp::Mod),
            _ => None,
        }),
        Rule::inversion | Rule::factor => {
            let mut inner = pair.into_inner();
            match (inner.next(), inner.next()) {
                (Some(op), Some(operand)) => {
                    let op = if op.as_rule() == Rule::not_op {
                        UnaryOp::Not
                    } else {
                        UnaryOp::Neg
                    };
                    Expr {
                        kind: ExprKind::Unary(op, Box::new(lower_expr(operand))),
                        range,
                    }
                }
                (Some(only), None) => lower_expr(only),
                _ => null_expr(range),
            }
        }
        Rule::comparison => {
            let mut inner = pair.into_inner();
            let Some(first) = inner.next() else {
                return null_expr(range);
            };
            let first = lower_expr(first);
            let mut rest = Vec::new();
            while let (Some(op), Some(operand)) = (inner.next(), inner.next()) {
                rest.push((compare_op(op.as_str()), lower_expr(operand)));
            }
            if rest.is_empty() {
                first
            } else {
                Expr {
                    kind: ExprKind::Compare(Box::new(first), rest),
                    range,
                }
            }
        }
        Rule::filtered => {
            let mut inner = pair.into_inner();
            let Some(primary) = inner.next() else {
                return null_expr(range);
            };
            let mut expr = lower_expr(primary);
            for filter in inner.filter(|p| p.as_rule() == Rule::filter) {
                let filter = lower_filter(filter);
                let range = TextRange {
                    start: expr.range.start,
                    end: filter.range.end,
                };
                expr = Expr {
                    kind: ExprKind::Filter(Box::new(expr), filter),
                    range,
                };
            }
            expr
        }
        Rule::interpolation => Expr {
            kind: ExprKind::Interp(lower_interp(pair).pipeline),
            range,
        },
        Rule::env_ref => Expr {
            kind: ExprKind::Text(Template {
                parts: vec![Part::Env(lower_env(pair))],
            }),
            range,
        },
        Rule::quoted => Expr {
            kind: ExprKind::Text(lower_template_parts(pair.into_inner())),
            range,
        },
        Rule::list => Expr {
            kind: ExprKind::List(pair.into_inner().map(lower_expr).collect()),
            range,
        },
        Rule::constant => Expr {
            kind: ExprKind::Literal(lower_constant(pair.as_str())),
            range,
        },
        Rule::number => Expr {
            kind: ExprKind::Literal(lower_number(pair.as_str())),
            range,
        },
        Rule::expr_path => Expr {
            kind: ExprKind::Path(lower_path(pair)),
            range,
        },
        _ => null_expr(range),
    }
}

fn null_expr(range: TextRange) -> Expr {
    Expr {
        kind: ExprKind::Literal(Literal::Null),
        range,
    }
}

/// Left-folds `operand (op operand)*` into binary nodes.
fn fold_binary(pair: Pair<'_, Rule>, op_of: impl Fn(&str) -> Option<BinaryOp>) -> Expr {
    let range = range_of(&pair);
    let mut inner = pair.into_inner();
    let Some(first) = inner.next() else {
        return null_expr(range);
    };
    let mut acc = lower_expr(first);
    while let (Some(op), Some(rhs)) = (inner.next(), inner.next()) {
        let rhs = lower_expr(rhs);
        let op = op_of(op.as_str()).unwrap_or(BinaryOp::Or);
        let range = TextRange {
            start: acc.range.start,
            end: rhs.range.end,
        };
        acc = Expr {
            kind: ExprKind::Binary(op, Box::new(acc), Box::new(rhs)),
            range,
        };
    }
    acc
}

fn compare_op(text: &str) -> CompareOp {
    match text.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["=="] => CompareOp::Eq,
        ["!="] => CompareOp::Ne,
        ["<"] => CompareOp::Lt,
        ["<="] => CompareOp::Le,
        [">"] => CompareOp::Gt,
        [">="] => CompareOp::Ge,
        ["in"] => CompareOp::In,
        _ => CompareOp::NotIn,
    }
}

/// Words for grammar rules in "expected ..." messages.
fn rule_name(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::path | Rule::segment | Rule::name | Rule::expr_path | Rule::expr_name => "a path",
        Rule::pipeline => "a path",
        Rule::filter | Rule::filter_name => "a filter name",
        Rule::filter_call => "`(`",
        Rule::filter_arg | Rule::literal => "a literal value",
        Rule::index => "`[`",
        Rule::optional => "`?`",
        Rule::interpolation => "`${{`",
        Rule::string | Rule::quoted => "a string",
        Rule::number | Rule::integer => "a number",
        Rule::constant => "True, False or None",
        Rule::expr
        | Rule::conjunction
        | Rule::inversion
        | Rule::comparison
        | Rule::sum
        | Rule::term
        | Rule::factor
        | Rule::filtered
        | Rule::list => "a value",
        Rule::or_op => "`or`",
        Rule::and_op => "`and`",
        Rule::not_op => "`not`",
        Rule::compare_op | Rule::in_op | Rule::not_in => "a comparison",
        Rule::add_op => "`+` or `-`",
        Rule::mul_op => "`*`, `/`, `//` or `%`",
        Rule::neg_op => "`-`",
        Rule::EOI => "the end",
        Rule::pipe => "`|`",
        Rule::interp_close => "`}}`",
        _ => return None,
    })
}

fn syntax_error(text: &str, error: &pest::error::Error<Rule>, what: &str) -> SyntaxError {
    let (mut start, end) = match error.location {
        InputLocation::Pos(p) => (p, p),
        InputLocation::Span((s, e)) => (s, e),
    };
    // pest stops before whitespace; the culprit is the next token.
    if end == start {
        let skipped = text[start.min(text.len())..]
            .chars()
            .take_while(|c| c.is_whitespace())
            .map(char::len_utf8)
            .sum::<usize>();
        start += skipped;
    }
    let end = end.max(start);
    // Point at the first character (or the end) rather than at nothing.
    let end = if end > start {
        end
    } else {
        text[start.min(text.len())..]
            .chars()
            .next()
            .map_or(start, |c| start + c.len_utf8())
    };
    let found = text
        .get(start..)
        .and_then(|rest| rest.chars().next())
        .map_or_else(|| "the end".to_string(), |c| format!("`{c}`"));
    let message = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut words: Vec<&str> = positives.iter().filter_map(|r| rule_name(*r)).collect();
            words.sort_unstable();
            words.dedup();
            if in_unclosed_interp(text, start) {
                format!("{what} does not parse: `${{{{` is never closed with `}}}}`")
            } else if found == "`=`" && !text[start..].starts_with("==") {
                format!("{what} does not parse: `=` assigns; compare with `==`")
            } else if found == "`(`"
                && text[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_')
            {
                format!(
                    "{what} does not parse: function calls are not part of the condition language"
                )
            } else if words.is_empty() {
                format!("{what} does not parse: unexpected {found}")
            } else {
                format!(
                    "{what} does not parse: expected {}, found {found}",
                    join_or(&words)
                )
            }
        }
        ErrorVariant::CustomError { message } => format!("{what} does not parse: {message}"),
    };
    SyntaxError {
        message,
        range: TextRange::new(start, end),
    }
}

/// True when `offset` lies after a `${{` that has no `}}` before it.
fn in_unclosed_interp(text: &str, offset: usize) -> bool {
    let before = &text[..offset.min(text.len())];
    match before.rfind("${{") {
        Some(open) => !before[open..].contains("}}") && !text[open..].contains("}}"),
        None => false,
    }
}

fn join_or(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interp_paths(t: &Template) -> Vec<String> {
        t.interps()
            .map(|i| {
                i.pipeline
                    .path
                    .segments
                    .iter()
                    .map(|s| match &s.key {
                        Key::Name(n) => format!("{n}{}", if s.optional { "?" } else { "" }),
                        Key::Index(i) => format!("[{i}]"),
                    })
                    .collect::<Vec<_>>()
                    .join(".")
            })
            .collect()
    }

    #[test]
    fn template_parts() {
        let t =
            parse_template("a ${{ params.run-date | fmt('%Y') }} $${{ x }} ${HOME:/tmp} ${arr[@]}")
                .unwrap();
        assert_eq!(interp_paths(&t), vec!["params.run-date"]);
        let i = t.interps().next().unwrap();
        assert_eq!(i.pipeline.filters[0].name, "fmt");
        assert_eq!(i.pipeline.filters[0].args, vec![Literal::Str("%Y".into())]);
        assert_eq!(i.range, TextRange::new(2, 36));
        assert!(matches!(&t.parts[2], Part::Text(s) if s == " ${{ x }} "));
        assert!(
            matches!(&t.parts[3], Part::Env(EnvRef { name, default: Some(d) }) if name == "HOME" && d == "/tmp")
        );
        assert!(matches!(&t.parts[4], Part::Text(s) if s == " ${arr[@]}"));
    }

    #[test]
    fn optional_and_numeric_segments() {
        let t =
            parse_template("${{ jobs.a.strategies.3941390096.stages.s.errors?.message }}").unwrap();
        assert_eq!(
            interp_paths(&t),
            vec!["jobs.a.strategies.3941390096.stages.s.errors?.message"]
        );
        assert!(t.sole_interp().is_some());
    }

    #[test]
    fn template_errors_have_ranges() {
        let e = parse_template("x ${{ params.a b }}").unwrap_err();
        assert_eq!(e.range.start, 15);
        let e = parse_template("x ${{ params.a").unwrap_err();
        assert!(e.message.contains("never closed"), "{}", e.message);
    }

    #[test]
    fn condition_precedence() {
        let e =
            parse_condition("not a.b == 1 and ${{ c }} in [1, 2] or 'x' != \"${{ d }}\"").unwrap();
        let ExprKind::Binary(BinaryOp::Or, lhs, rhs) = &e.kind else {
            panic!("{e:?}")
        };
        assert!(matches!(&lhs.kind, ExprKind::Binary(BinaryOp::And, _, _)));
        assert!(matches!(&rhs.kind, ExprKind::Compare(_, ops) if ops[0].0 == CompareOp::Ne));
    }

    #[test]
    fn condition_idioms() {
        for text in [
            "\"${{ params.name }}\" == \"x\"",
            "${{ branch | rstr }} == 'b1'",
            "params['n'] == 3 and stages['py']['outputs']['y'] == 6",
            "${{ item }} >= 3",
            "params.run-date != None",
            "x not in ['a', 'b']",
            "0 < loop <= 9",
            "True",
        ] {
            parse_condition(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        }
        assert!(parse_condition("True").unwrap().is_constant());
        assert!(!parse_condition("loop > 1").unwrap().is_constant());
    }

    #[test]
    fn hyphen_needs_letter_to_join_names() {
        let e = parse_condition("loop-1").unwrap();
        assert!(matches!(e.kind, ExprKind::Binary(BinaryOp::Sub, _, _)));
        let e = parse_condition("run-date").unwrap();
        assert!(matches!(e.kind, ExprKind::Path(_)));
    }
}
