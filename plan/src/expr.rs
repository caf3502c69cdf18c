//! Parsing of templates and conditions: pest pairs lowered to the typed AST.

pub mod ast;
mod grammar;

use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;

use ast::{
    Accessor, BinaryOp, BoolOp, CompareOp, EnvRef, Expr, ExprKind, Filter, Interp, Literal, Part,
    Path, Pipeline, Segment, Template, TextRange, UnaryOp,
};
use grammar::{ExpressionParser, Rule};

use crate::filters::BuiltinFilter;
use crate::limits::MAX_EXPR_DEPTH;

/// A template or condition that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    /// Where, inside the parsed string.
    pub range: TextRange,
    /// What to do, when the error has its own advice.
    pub help: Option<&'static str>,
}

/// Parses a string value that may hold `${{ }}` templates.
pub fn parse_template(text: &str) -> Result<Template, SyntaxError> {
    // Only `${{`, `${NAME}` and `$$` are special: anything else is literal text, and
    // long scripts full of `$VAR` need not go through the parser.
    if !text.contains("${") && !text.contains("$$") {
        return Ok(Template::literal(text));
    }
    if let Some(at) = too_deep_brackets(text, false) {
        return Err(too_deep("template", at));
    }
    let mut pairs = ExpressionParser::parse(Rule::template, text)
        .map_err(|e| syntax_error(text, &e, "template"))?;
    let Some(root) = pairs.next() else {
        return Ok(Template::default());
    };
    lower_template_parts(root.into_inner(), 0).map_err(|TooDeep(at)| too_deep("template", at))
}

/// Parses an `if` / `until` condition.
pub fn parse_condition(text: &str) -> Result<Expr, SyntaxError> {
    if let Some(at) = too_deep_brackets(text, true) {
        return Err(too_deep("condition", at));
    }
    let mut pairs = ExpressionParser::parse(Rule::condition, text)
        .map_err(|e| syntax_error(text, &e, "condition"))?;
    let root = pairs.next().ok_or_else(|| SyntaxError {
        message: "empty condition".into(),
        range: TextRange::new(0, text.len()),
        help: None,
    })?;
    let expr = root
        .into_inner()
        .find(|p| p.as_rule() == Rule::expr)
        .ok_or_else(|| SyntaxError {
            message: "empty condition".into(),
            range: TextRange::new(0, text.len()),
            help: None,
        })?;
    lower_expr(expr, 1).map_err(|TooDeep(at)| too_deep("condition", at))
}

/// A template or condition nested deeper than [`MAX_EXPR_DEPTH`], and where.
struct TooDeep(usize);

fn too_deep(what: &str, at: usize) -> SyntaxError {
    SyntaxError {
        message: format!(
            "{what} nests more than {MAX_EXPR_DEPTH} levels deep (parentheses, lists, \
             `not` and `-` each count one)"
        ),
        range: TextRange::new(at, at + 1),
        help: Some(
            "chains such as `a and b and c` or `x | f | g` do not nest; \
             unnest the rest, or compute part of it in an earlier stage",
        ),
    }
}

/// One level deeper than `depth`, or where the limit is passed.
fn deeper(depth: usize, pair: &Pair<'_, Rule>) -> Result<usize, TooDeep> {
    if depth >= MAX_EXPR_DEPTH {
        Err(TooDeep(pair.as_span().start()))
    } else {
        Ok(depth + 1)
    }
}

/// Where brackets first nest deeper than [`MAX_EXPR_DEPTH`], found before the
/// parser, whose recursion follows them, sees the text. In a template only the
/// inside of `${{ }}` counts. Quoted strings are skipped, but not the `${{ }}` in
/// them.
fn too_deep_brackets(text: &str, condition: bool) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut at = 0;
    // Inside `${{ }}`, and the quote of a string being read there or outside.
    let mut interp = false;
    let mut inner_quote: Option<u8> = None;
    let mut quote: Option<u8> = None;
    while at < bytes.len() {
        let byte = bytes[at];
        if interp {
            if let Some(q) = inner_quote {
                if byte == b'\\' {
                    at += 1;
                } else if byte == q {
                    inner_quote = None;
                }
                at += 1;
                continue;
            }
            if bytes[at..].starts_with(b"}}") {
                interp = false;
                at += 2;
                continue;
            }
        } else {
            if bytes[at..].starts_with(b"$$") {
                at += 2;
                continue;
            }
            if bytes[at..].starts_with(b"${{") {
                interp = true;
                at += 3;
                continue;
            }
            if !condition {
                at += 1;
                continue;
            }
            if let Some(q) = quote {
                if byte == b'\\' {
                    at += 1;
                } else if byte == q {
                    quote = None;
                }
                at += 1;
                continue;
            }
        }
        match byte {
            b'\'' | b'"' if interp => inner_quote = Some(byte),
            b'\'' | b'"' => quote = Some(byte),
            b'(' | b'[' => {
                depth += 1;
                if depth > MAX_EXPR_DEPTH {
                    return Some(at);
                }
            }
            b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        at += 1;
    }
    None
}

fn range_of(pair: &Pair<'_, Rule>) -> TextRange {
    let span = pair.as_span();
    TextRange::new(span.start(), span.end())
}

fn lower_template_parts<'a>(
    pairs: impl Iterator<Item = Pair<'a, Rule>>,
    depth: usize,
) -> Result<Template, TooDeep> {
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
            Rule::interpolation => parts.push(Part::Interp(lower_interp(pair, depth)?)),
            _ => {}
        }
    }
    Ok(Template { parts })
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

fn lower_interp(pair: Pair<'_, Rule>, depth: usize) -> Result<Interp, TooDeep> {
    let range = range_of(&pair);
    let pipeline = match pair.into_inner().find(|p| p.as_rule() == Rule::pipeline) {
        Some(p) => lower_pipeline(p, depth)?,
        None => empty_pipeline(),
    };
    Ok(Interp { pipeline, range })
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

fn lower_pipeline(pair: Pair<'_, Rule>, depth: usize) -> Result<Pipeline, TooDeep> {
    let mut path = None;
    let mut filters = Vec::new();
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::path => path = Some(lower_path(p)),
            Rule::filter => filters.push(lower_filter(p, depth)?),
            _ => {}
        }
    }
    Ok(Pipeline {
        path: path.unwrap_or_else(|| empty_pipeline().path),
        filters,
    })
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
                key: Accessor::Name(p.as_str().to_string()),
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
        key: Accessor::Name(name),
        optional,
        range,
    }
}

fn lower_index(pair: Pair<'_, Rule>) -> Segment {
    let range = range_of(&pair);
    let mut key = Accessor::Index(0);
    let mut optional = false;
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::string => key = Accessor::Name(lower_string(p)),
            Rule::integer => key = Accessor::Index(p.as_str().parse().unwrap_or(i64::MAX)),
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

/// A filter; its literal arguments sit one level below `depth`.
fn lower_filter(pair: Pair<'_, Rule>, depth: usize) -> Result<Filter, TooDeep> {
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
                            Rule::literal => {
                                let depth = deeper(depth, &a)?;
                                value = lower_literal(a, depth)?;
                            }
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
    Ok(Filter {
        builtin: BuiltinFilter::from_name(&name),
        name,
        args,
        kwargs,
        // Without a call the rule's span runs on over trailing whitespace.
        range: if called { range } else { name_range },
        name_range,
    })
}

/// A literal at `depth`; the items of a list sit one level below it.
fn lower_literal(pair: Pair<'_, Rule>, depth: usize) -> Result<Literal, TooDeep> {
    let inner = if pair.as_rule() == Rule::literal {
        match pair.into_inner().next() {
            Some(p) => p,
            None => return Ok(Literal::Null),
        }
    } else {
        pair
    };
    Ok(match inner.as_rule() {
        Rule::constant => lower_constant(inner.as_str()),
        Rule::number => lower_number(inner.as_str()),
        Rule::string => Literal::Str(lower_string(inner)),
        Rule::literal_list => Literal::List(
            inner
                .into_inner()
                .map(|item| lower_literal(item.clone(), deeper(depth, &item)?))
                .collect::<Result<_, _>>()?,
        ),
        _ => Literal::Null,
    })
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
            // Only digits (the grammar's): an integer beyond 64 bits.
            |_| {
                let (sign, digits) = match text.strip_prefix('-') {
                    Some(digits) => ("-", digits),
                    None => ("", text),
                };
                Literal::BigInt(format!("{sign}{}", digits.trim_start_matches('0')))
            },
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

/// The expression of `pair`, whose node sits at `depth` (the root at 1). A rule
/// with one operand is that operand, at the same depth; a node's operands sit one
/// level below it.
fn lower_expr(pair: Pair<'_, Rule>, depth: usize) -> Result<Expr, TooDeep> {
    let range = range_of(&pair);
    Ok(match pair.as_rule() {
        Rule::expr => chain_bool(pair, BoolOp::Or, depth)?,
        Rule::conjunction => chain_bool(pair, BoolOp::And, depth)?,
        Rule::sum | Rule::term => chain_arith(pair, depth)?,
        Rule::inversion | Rule::factor => {
            let inner: Vec<Pair<'_, Rule>> = pair.into_inner().collect();
            let Some((operand, ops)) = inner.split_last() else {
                return Ok(null_expr(range));
            };
            // `not not x`: one node per operator, the operand below the last.
            let mut below = depth;
            for op in ops {
                below = deeper(below, op)?;
            }
            let mut expr = lower_expr(operand.clone(), below)?;
            for op in ops.iter().rev() {
                let op_kind = if op.as_rule() == Rule::not_op {
                    UnaryOp::Not
                } else {
                    UnaryOp::Neg
                };
                expr = Expr {
                    range: TextRange {
                        start: range_of(op).start,
                        end: expr.range.end,
                    },
                    kind: ExprKind::Unary(op_kind, Box::new(expr)),
                };
            }
            expr
        }
        Rule::comparison => chain(pair, depth, compare_op, ExprKind::Compare)?,
        Rule::filtered => {
            let mut inner = pair.into_inner();
            let Some(primary) = inner.next() else {
                return Ok(null_expr(range));
            };
            let filters: Vec<Pair<'_, Rule>> =
                inner.filter(|p| p.as_rule() == Rule::filter).collect();
            if filters.is_empty() {
                return lower_expr(primary, depth);
            }
            let below = deeper(depth, &primary)?;
            let operand = lower_expr(primary, below)?;
            let filters = filters
                .into_iter()
                .map(|f| lower_filter(f, depth))
                .collect::<Result<Vec<_>, _>>()?;
            let end = filters.last().map_or(operand.range.end, |f| f.range.end);
            Expr {
                range: TextRange {
                    start: operand.range.start,
                    end,
                },
                kind: ExprKind::Filter(Box::new(operand), filters),
            }
        }
        Rule::interpolation => Expr {
            kind: ExprKind::Interp(lower_interp(pair, depth)?.pipeline),
            range,
        },
        Rule::env_ref => Expr {
            kind: ExprKind::Text(Template {
                parts: vec![Part::Env(lower_env(pair))],
            }),
            range,
        },
        Rule::quoted => Expr {
            kind: ExprKind::Text(lower_template_parts(pair.into_inner(), depth)?),
            range,
        },
        Rule::list => Expr {
            kind: ExprKind::List(
                pair.into_inner()
                    .map(|item| {
                        let below = deeper(depth, &item)?;
                        lower_expr(item, below)
                    })
                    .collect::<Result<_, _>>()?,
            ),
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
    })
}

fn null_expr(range: TextRange) -> Expr {
    Expr {
        kind: ExprKind::Literal(Literal::Null),
        range,
    }
}

/// `operand (and operand)*` or `(or …)*` as one flat node (or the operand alone).
fn chain_bool(pair: Pair<'_, Rule>, op: BoolOp, depth: usize) -> Result<Expr, TooDeep> {
    let range = range_of(&pair);
    let inner: Vec<Pair<'_, Rule>> = pair
        .into_inner()
        .filter(|p| !matches!(p.as_rule(), Rule::and_op | Rule::or_op))
        .collect();
    match inner.len() {
        0 => Ok(null_expr(range)),
        1 => lower_expr(inner[0].clone(), depth),
        _ => {
            let below = deeper(depth, &inner[0])?;
            let operands = inner
                .into_iter()
                .map(|p| lower_expr(p, below))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Expr {
                kind: ExprKind::Bool(op, operands),
                range,
            })
        }
    }
}

/// `operand (op operand)*` of `+ -` or `* / // %` as one flat node, applied from
/// the left (or the operand alone).
fn chain_arith(pair: Pair<'_, Rule>, depth: usize) -> Result<Expr, TooDeep> {
    chain(
        pair,
        depth,
        |text| match text {
            "+" => BinaryOp::Add,
            "-" => BinaryOp::Sub,
            "*" => BinaryOp::Mul,
            "/" => BinaryOp::Div,
            "//" => BinaryOp::FloorDiv,
            _ => BinaryOp::Mod,
        },
        ExprKind::Arith,
    )
}

/// `operand (op operand)*` as one flat node `make(first, [(op, operand)...])`
/// (or the operand alone), its operands one level below it.
fn chain<Op>(
    pair: Pair<'_, Rule>,
    depth: usize,
    op: fn(&str) -> Op,
    make: fn(Box<Expr>, Vec<(Op, Expr)>) -> ExprKind,
) -> Result<Expr, TooDeep> {
    let range = range_of(&pair);
    let mut inner = pair.into_inner();
    let Some(first) = inner.next() else {
        return Ok(null_expr(range));
    };
    if inner.peek().is_none() {
        return lower_expr(first, depth);
    }
    let below = deeper(depth, &first)?;
    let first = lower_expr(first, below)?;
    let mut rest = Vec::new();
    while let (Some(operator), Some(operand)) = (inner.next(), inner.next()) {
        rest.push((op(operator.as_str()), lower_expr(operand, below)?));
    }
    Ok(Expr {
        kind: make(Box::new(first), rest),
        range,
    })
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
        help: None,
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
                        Accessor::Name(n) => format!("{n}{}", if s.optional { "?" } else { "" }),
                        Accessor::Index(i) => format!("[{i}]"),
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
        let ExprKind::Bool(BoolOp::Or, operands) = &e.kind else {
            panic!("{e:?}")
        };
        assert!(matches!(&operands[0].kind, ExprKind::Bool(BoolOp::And, _)));
        assert!(
            matches!(&operands[1].kind, ExprKind::Compare(_, ops) if ops[0].0 == CompareOp::Ne)
        );
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
    fn integers_beyond_64_bits_stay_integers() {
        let literal = |text: &str| match parse_condition(text).unwrap().kind {
            ExprKind::Literal(l) => l,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(
            literal("100000000000000000000"),
            Literal::BigInt("100000000000000000000".into())
        );
        // In a filter's arguments, a sign belongs to the number.
        assert_eq!(
            lower_number("-000100000000000000000000"),
            Literal::BigInt("-100000000000000000000".into())
        );
        assert_eq!(lower_number("-9223372036854775808"), Literal::Int(i64::MIN));
        assert_eq!(literal("1e20"), Literal::Float(1e20));
        assert_eq!(
            literal("100000000000000000000").to_string(),
            "100000000000000000000"
        );
    }

    /// The deepest node of an expression (the root at 1).
    fn depth(e: &Expr) -> usize {
        1 + match &e.kind {
            ExprKind::List(items) | ExprKind::Bool(_, items) => {
                items.iter().map(depth).max().unwrap_or(0)
            }
            ExprKind::Unary(_, e) | ExprKind::Filter(e, _) => depth(e),
            ExprKind::Arith(first, rest) => rest
                .iter()
                .map(|(_, e)| depth(e))
                .max()
                .unwrap_or(0)
                .max(depth(first)),
            ExprKind::Compare(first, rest) => rest
                .iter()
                .map(|(_, e)| depth(e))
                .max()
                .unwrap_or(0)
                .max(depth(first)),
            _ => 0,
        }
    }

    #[test]
    fn chains_are_flat_however_long() {
        let and = vec!["x"; 20_000].join(" and ");
        let e = parse_condition(&and).unwrap();
        assert!(matches!(&e.kind, ExprKind::Bool(BoolOp::And, items) if items.len() == 20_000));
        assert_eq!(depth(&e), 2);
        let sum = vec!["1"; 5_000].join(" + ");
        assert_eq!(depth(&parse_condition(&sum).unwrap()), 2);
        let filters = format!("params.x{}", " | upper".repeat(5_000));
        let e = parse_condition(&filters).unwrap();
        assert!(matches!(&e.kind, ExprKind::Filter(_, f) if f.len() == 5_000));
        let template = format!("${{{{ params.x{} }}}}", " | upper".repeat(5_000));
        assert!(parse_template(&template).is_ok());
    }

    #[test]
    fn nesting_beyond_the_limit_is_a_syntax_error_at_its_place() {
        let limit = MAX_EXPR_DEPTH;
        for (what, make) in [
            (
                "not",
                (|n: usize| format!("{}True", "not ".repeat(n))) as fn(usize) -> String,
            ),
            ("neg", |n| format!("{}1 == 1", "-".repeat(n))),
            ("parens", |n| {
                format!("{}True{}", "(".repeat(n), ")".repeat(n))
            }),
            ("lists", |n| {
                format!("{}1{} == 1", "[".repeat(n), "]".repeat(n))
            }),
            ("mixed", |n| {
                let n = n / 2 + 1;
                format!("{}True{} == 1", "[not ".repeat(n), "]".repeat(n))
            }),
            ("filter args", |n| {
                format!("${{{{ x | f({}1{}) }}}} == 1", "[".repeat(n), "]".repeat(n))
            }),
        ] {
            let deep = make(limit + 1);
            let error = parse_condition(&deep).expect_err(what);
            assert!(
                error.message.contains("nests more than 32"),
                "{what}: {error:?}"
            );
            assert!((error.range.start as usize) < deep.len(), "{what}");
            // Far beyond: the same error, found without recursing that deep.
            let far = make(20_000);
            let error = parse_condition(&far).expect_err(what);
            assert!(
                error.message.contains("nests more than 32"),
                "{what}: {error:?}"
            );
        }
        // Up to the limit it parses.
        let ok = format!("{}True", "not ".repeat(limit - 1));
        assert_eq!(depth(&parse_condition(&ok).unwrap()), limit);
        let ok = format!("{}True{}", "(".repeat(limit), ")".repeat(limit));
        assert!(parse_condition(&ok).is_ok());
        // Templates: only what is inside `${{ }}` counts.
        let text = format!("echo {}", "(".repeat(1000));
        assert!(parse_template(&text).is_ok());
        let deep = format!("${{{{ x | f({}1{}) }}}}", "[".repeat(100), "]".repeat(100));
        assert!(
            parse_template(&deep)
                .unwrap_err()
                .message
                .contains("nests more than 32")
        );
        // Brackets in quoted strings do not count.
        let quoted = format!("'{}' == params.x", "(".repeat(100));
        assert!(parse_condition(&quoted).is_ok());
    }

    #[test]
    fn hyphen_needs_letter_to_join_names() {
        let e = parse_condition("loop-1").unwrap();
        assert!(matches!(&e.kind, ExprKind::Arith(_, rest) if rest[0].0 == BinaryOp::Sub));
        let e = parse_condition("run-date").unwrap();
        assert!(matches!(e.kind, ExprKind::Path(_)));
    }
}
