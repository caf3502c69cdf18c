//! The typed AST of templates and conditions.
//!
//! Ranges are byte offsets inside the string that was parsed (the YAML scalar's
//! content); `source::map_content_range` turns them into file spans.

use serde::{Deserialize, Serialize};

use crate::filters::BuiltinFilter;

/// A byte range inside the parsed string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TextRange {
    pub start: u32,
    pub end: u32,
}

impl TextRange {
    #[must_use]
    pub fn new(start: usize, end: usize) -> Self {
        Self {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }

    #[must_use]
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A string value: text, interpolations and env references.
///
/// Serialized as its structure in binary formats (plans), and as its source text
/// in human-readable ones (`wfc plan show`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Template {
    pub parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Part {
    Text(String),
    Interp(Interp),
    Env(EnvRef),
}

/// `${{ pipeline }}` and where it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interp {
    pub pipeline: Pipeline,
    pub range: TextRange,
}

/// `${NAME}` / `${NAME:default}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvRef {
    pub name: String,
    pub default: Option<String>,
}

/// A path and the filters applied to its value, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    pub path: Path,
    pub filters: Vec<Filter>,
}

/// A path into the run context: `params.x`, `stages.a.outputs.b?`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Path {
    pub segments: Vec<Segment>,
    pub range: TextRange,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub key: Accessor,
    /// `?`: a missing key gives null instead of an error.
    pub optional: bool,
    pub range: TextRange,
}

/// How a path segment reaches into a value: by name (`.name`, `['name']`) or by
/// index (`[0]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Accessor {
    Name(String),
    Index(i64),
}

/// `name` or `name(args)`.
///
/// Stored in plans without `builtin`, which is found again from the name on loading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "FilterOwned")]
pub struct Filter {
    pub name: String,
    /// The built-in filter `name` calls; `None` for a filter registered in Python.
    #[serde(skip)]
    pub builtin: Option<BuiltinFilter>,
    pub args: Vec<Literal>,
    pub kwargs: Vec<(String, Literal)>,
    pub range: TextRange,
    pub name_range: TextRange,
}

/// A [`Filter`] as stored.
#[derive(Deserialize)]
struct FilterOwned {
    name: String,
    args: Vec<Literal>,
    kwargs: Vec<(String, Literal)>,
    range: TextRange,
    name_range: TextRange,
}

impl From<FilterOwned> for Filter {
    fn from(f: FilterOwned) -> Self {
        Filter {
            builtin: BuiltinFilter::from_name(&f.name),
            name: f.name,
            args: f.args,
            kwargs: f.kwargs,
            range: f.range,
            name_range: f.name_range,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(#[serde(deserialize_with = "crate::limits::nested")] Vec<Literal>),
    /// An integer beyond 64 bits (Python's ints are unbounded): its decimal
    /// digits, after a `-` when negative, without leading zeros.
    BigInt(String),
}

/// A condition expression. Serialized like [`Template`]: structure in binary
/// formats, source text in human-readable ones.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub range: TextRange,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ExprKind {
    Literal(Literal),
    /// A path written without `${{ }}`.
    Path(Path),
    /// A `${{ }}` template used as a value (its type is kept).
    Interp(Pipeline),
    /// A quoted string that may hold interpolations, evaluated to text.
    Text(Template),
    List(Vec<Expr>),
    Unary(UnaryOp, Box<Expr>),
    /// `a and b and c` or `a or b or c`: two or more operands, evaluated from the
    /// left until one decides, which is the value (Python's `and` / `or`). Chains
    /// are flat, so a long one is not a deep tree.
    Bool(BoolOp, Vec<Expr>),
    /// `a + b - c` or `a * b // c`: the first operand, then each operator with its
    /// right operand, applied from the left.
    Arith(Box<Expr>, Vec<(BinaryOp, Expr)>),
    /// `a < b <= c`: each comparison joined with `and`, as in Python.
    Compare(Box<Expr>, Vec<(CompareOp, Expr)>),
    /// A value through one filter after another: `x | f | g(1)`.
    Filter(Box<Expr>, Vec<Filter>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BoolOp {
    And,
    Or,
}

/// An arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
}

impl BinaryOp {
    /// The operator as written.
    #[must_use]
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::FloorDiv => "//",
            BinaryOp::Mod => "%",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
}

impl Template {
    /// A template of plain text.
    #[must_use]
    pub fn literal(text: &str) -> Self {
        if text.is_empty() {
            Self::default()
        } else {
            Self {
                parts: vec![Part::Text(text.to_string())],
            }
        }
    }

    /// Every interpolation, in order.
    pub fn interps(&self) -> impl Iterator<Item = &Interp> {
        self.parts.iter().filter_map(|p| match p {
            Part::Interp(i) => Some(i),
            _ => None,
        })
    }

    /// True when the template has no interpolations and no env references.
    #[must_use]
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// The single interpolation when the string is exactly one `${{ }}` (surrounding
    /// whitespace allowed): such a template keeps the value's type.
    #[must_use]
    pub fn sole_interp(&self) -> Option<&Interp> {
        let mut found = None;
        for part in &self.parts {
            match part {
                Part::Text(t) if t.trim().is_empty() => {}
                Part::Interp(i) if found.is_none() => found = Some(i),
                _ => return None,
            }
        }
        found
    }
}

impl Path {
    /// The first segment's name (`params` in `params.x`).
    #[must_use]
    pub fn root(&self) -> Option<&str> {
        match &self.segments.first()?.key {
            Accessor::Name(n) => Some(n),
            Accessor::Index(_) => None,
        }
    }

    /// The name of segment `i`, if it is a name.
    #[must_use]
    pub fn name_at(&self, i: usize) -> Option<&str> {
        match &self.segments.get(i)?.key {
            Accessor::Name(n) => Some(n),
            Accessor::Index(_) => None,
        }
    }
}

impl Expr {
    /// Visits every path, interpolation and filter, depth first.
    pub fn walk<'a>(&'a self, visit: &mut impl FnMut(ExprItem<'a>)) {
        match &self.kind {
            ExprKind::Literal(_) => {}
            ExprKind::Path(p) => visit(ExprItem::Path(p)),
            ExprKind::Interp(p) => {
                visit(ExprItem::Path(&p.path));
                for f in &p.filters {
                    visit(ExprItem::Filter(f));
                }
            }
            ExprKind::Text(t) => {
                for i in t.interps() {
                    visit(ExprItem::Path(&i.pipeline.path));
                    for f in &i.pipeline.filters {
                        visit(ExprItem::Filter(f));
                    }
                }
                if t.parts.iter().any(|p| matches!(p, Part::Env(_))) {
                    visit(ExprItem::Env);
                }
            }
            ExprKind::List(items) => items.iter().for_each(|e| e.walk(visit)),
            ExprKind::Unary(_, e) => e.walk(visit),
            ExprKind::Bool(_, operands) => operands.iter().for_each(|e| e.walk(visit)),
            ExprKind::Arith(first, rest) => {
                first.walk(visit);
                for (_, e) in rest {
                    e.walk(visit);
                }
            }
            ExprKind::Compare(first, rest) => {
                first.walk(visit);
                for (_, e) in rest {
                    e.walk(visit);
                }
            }
            ExprKind::Filter(e, filters) => {
                e.walk(visit);
                for f in filters {
                    visit(ExprItem::Filter(f));
                }
            }
        }
    }

    /// True when nothing in the expression depends on the run (no paths, templates
    /// or env references): its value is the same every time.
    #[must_use]
    pub fn is_constant(&self) -> bool {
        let mut constant = true;
        self.walk(&mut |item| {
            if matches!(item, ExprItem::Path(_) | ExprItem::Env) {
                constant = false;
            }
        });
        constant
    }
}

/// What [`Expr::walk`] visits.
#[derive(Clone, Copy, Debug)]
pub enum ExprItem<'a> {
    Path(&'a Path),
    Filter(&'a Filter),
    /// An env reference inside a quoted string.
    Env,
}

impl std::fmt::Display for Literal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Literal::Null => f.write_str("None"),
            Literal::Bool(true) => f.write_str("True"),
            Literal::Bool(false) => f.write_str("False"),
            Literal::Int(n) => write!(f, "{n}"),
            Literal::BigInt(digits) => f.write_str(digits),
            Literal::Float(x) => write!(f, "{x:?}"),
            Literal::Str(s) => f.write_str(&crate::pytext::repr_str(s)),
            Literal::List(items) => {
                f.write_str("[")?;
                comma_separated(items, f)?;
                f.write_str("]")
            }
        }
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, segment) in self.segments.iter().enumerate() {
            match &segment.key {
                Accessor::Name(n) if i == 0 => f.write_str(n)?,
                Accessor::Name(n)
                    if n.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
                {
                    write!(f, ".{n}")?;
                }
                Accessor::Name(n) => write!(f, "[{}]", crate::pytext::repr_str(n))?,
                Accessor::Index(i) => write!(f, "[{i}]")?,
            }
            if segment.optional {
                f.write_str("?")?;
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if self.args.is_empty() && self.kwargs.is_empty() {
            return Ok(());
        }
        f.write_str("(")?;
        let mut first = true;
        for arg in &self.args {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{arg}")?;
        }
        for (key, value) in &self.kwargs {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{key}={value}")?;
        }
        f.write_str(")")
    }
}

impl std::fmt::Display for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path)?;
        for filter in &self.filters {
            write!(f, " | {filter}")?;
        }
        Ok(())
    }
}

/// The template written back as source text (`$` escaped as `$$` where needed).
impl std::fmt::Display for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(t) => f.write_str(&escape_dollars(t))?,
                Part::Interp(i) => write!(f, "${{{{ {} }}}}", i.pipeline)?,
                Part::Env(e) => match &e.default {
                    Some(d) => write!(f, "${{{}:{d}}}", e.name)?,
                    None => write!(f, "${{{}}}", e.name)?,
                },
            }
        }
        Ok(())
    }
}

/// Literal text as template source: a `$` that would start `${`, `$$` or end next to
/// another `$` is doubled.
fn escape_dollars(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '$' && matches!(chars.peek(), Some('{' | '$')) {
            out.push('$');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::expr::parse_template;

    #[test]
    fn condition_display_round_trips() {
        use crate::expr::parse_condition;
        for text in [
            "params.x == 'a' and not (loop > 1 or ${{ item | int }} in [1, 2])",
            "'${{ params.name }} it\\'s' != \"x\"",
            "0 < loop <= 9 and -params.n % 2 == 0",
            "a - (b - c) == (a - b) - c",
            "not (a or b) and (c or d)",
            "params['with space'] | upper not in ['A']",
        ] {
            let first = parse_condition(text).expect(text);
            let shown = first.to_string();
            let again =
                parse_condition(&shown).unwrap_or_else(|e| panic!("{text} -> {shown}: {e:?}"));
            assert_eq!(shown, again.to_string(), "{text}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "plain",
            "a ${{ params.x | getitem('k', default=None) }} b",
            "${{ stages.a.errors?.message }}",
            "${{ params['with space'] }} ${{ item[0] }}",
            "cost $$5 ${HOME} ${USER:nobody} $${{ not a template }}",
        ] {
            let first = parse_template(text).expect(text);
            let shown = first.to_string();
            let again = parse_template(&shown).expect(&shown);
            let strip = |t: &crate::expr::ast::Template| format!("{t}");
            assert_eq!(strip(&first), strip(&again), "{text} -> {shown}");
        }
    }
}

/// `Template` as stored in binary formats.
#[derive(Serialize)]
struct TemplateRef<'a> {
    parts: &'a [Part],
}

#[derive(Deserialize)]
struct TemplateOwned {
    parts: Vec<Part>,
}

impl Serialize for Template {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            TemplateRef { parts: &self.parts }.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            crate::expr::parse_template(&text).map_err(|e| serde::de::Error::custom(e.message))
        } else {
            TemplateOwned::deserialize(deserializer).map(|r| Template { parts: r.parts })
        }
    }
}

/// `Expr` as stored in binary formats.
#[derive(Serialize)]
struct ExprRef<'a> {
    kind: &'a ExprKind,
    range: TextRange,
}

#[derive(Deserialize)]
struct ExprOwned {
    kind: ExprKind,
    range: TextRange,
}

impl Serialize for Expr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            ExprRef {
                kind: &self.kind,
                range: self.range,
            }
            .serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            crate::expr::parse_condition(&text).map_err(|e| serde::de::Error::custom(e.message))
        } else {
            let _depth = crate::limits::DecodeDepth::enter::<D::Error>()?;
            ExprOwned::deserialize(deserializer).map(|e| Expr {
                kind: e.kind,
                range: e.range,
            })
        }
    }
}

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        /// Binding strength, as in the grammar: `or` binds loosest.
        fn prec(e: &Expr) -> u8 {
            match &e.kind {
                ExprKind::Bool(BoolOp::Or, _) => 1,
                ExprKind::Bool(BoolOp::And, _) => 2,
                ExprKind::Unary(UnaryOp::Not, _) => 3,
                ExprKind::Compare(..) => 4,
                ExprKind::Arith(_, rest)
                    if rest
                        .first()
                        .is_some_and(|(op, _)| matches!(op, BinaryOp::Add | BinaryOp::Sub)) =>
                {
                    5
                }
                ExprKind::Arith(..) => 6,
                ExprKind::Unary(UnaryOp::Neg, _) => 7,
                ExprKind::Filter(..) => 8,
                _ => 9,
            }
        }
        /// An operand, in parentheses when it binds looser than `min`.
        fn operand(e: &Expr, min: u8, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            if prec(e) < min {
                write!(f, "({e})")
            } else {
                write!(f, "{e}")
            }
        }
        match &self.kind {
            ExprKind::Literal(l) => write!(f, "{l}"),
            ExprKind::Path(p) => write!(f, "{p}"),
            ExprKind::Interp(p) => write!(f, "${{{{ {p} }}}}"),
            ExprKind::Text(t) => {
                f.write_str("'")?;
                for part in &t.parts {
                    match part {
                        Part::Text(text) => {
                            f.write_str(
                                &escape_dollars(text)
                                    .replace('\\', "\\\\")
                                    .replace('\'', "\\'")
                                    .replace('\n', "\\n"),
                            )?;
                        }
                        Part::Interp(i) => write!(f, "${{{{ {} }}}}", i.pipeline)?,
                        Part::Env(e) => match &e.default {
                            Some(d) => write!(f, "${{{}:{d}}}", e.name)?,
                            None => write!(f, "${{{}}}", e.name)?,
                        },
                    }
                }
                f.write_str("'")
            }
            ExprKind::List(items) => {
                f.write_str("[")?;
                comma_separated(items, f)?;
                f.write_str("]")
            }
            ExprKind::Unary(UnaryOp::Not, e) => {
                f.write_str("not ")?;
                operand(e, 3, f)
            }
            ExprKind::Unary(UnaryOp::Neg, e) => {
                f.write_str("-")?;
                operand(e, 7, f)
            }
            ExprKind::Bool(op, operands) => {
                let p = prec(self);
                let word = match op {
                    BoolOp::And => " and ",
                    BoolOp::Or => " or ",
                };
                for (i, e) in operands.iter().enumerate() {
                    if i > 0 {
                        f.write_str(word)?;
                    }
                    // Left-associative: a later operand of equal strength needs parentheses.
                    operand(e, if i == 0 { p } else { p + 1 }, f)?;
                }
                Ok(())
            }
            ExprKind::Arith(first, rest) => {
                let p = prec(self);
                operand(first, p, f)?;
                for (op, e) in rest {
                    write!(f, " {} ", op.symbol())?;
                    operand(e, p + 1, f)?;
                }
                Ok(())
            }
            ExprKind::Compare(first, rest) => {
                operand(first, 5, f)?;
                for (op, e) in rest {
                    let op = match op {
                        CompareOp::Eq => "==",
                        CompareOp::Ne => "!=",
                        CompareOp::Lt => "<",
                        CompareOp::Le => "<=",
                        CompareOp::Gt => ">",
                        CompareOp::Ge => ">=",
                        CompareOp::In => "in",
                        CompareOp::NotIn => "not in",
                    };
                    write!(f, " {op} ")?;
                    operand(e, 5, f)?;
                }
                Ok(())
            }
            ExprKind::Filter(e, filters) => {
                operand(e, 8, f)?;
                for filter in filters {
                    write!(f, " | {filter}")?;
                }
                Ok(())
            }
        }
    }
}

/// `a, b, c`.
fn comma_separated<T: std::fmt::Display>(
    items: &[T],
    f: &mut std::fmt::Formatter<'_>,
) -> std::fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}
