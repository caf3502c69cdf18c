//! The typed AST of templates and conditions.
//!
//! Ranges are byte offsets inside the string that was parsed (the YAML scalar's
//! content); `source::map_content_range` turns them into file spans.

use serde::{Deserialize, Serialize};

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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
    pub key: Key,
    /// `?`: a missing key gives null instead of an error.
    pub optional: bool,
    pub range: TextRange,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Key {
    Name(String),
    Index(i64),
}

/// `name` or `name(args)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    pub name: String,
    pub args: Vec<Literal>,
    pub kwargs: Vec<(String, Literal)>,
    pub range: TextRange,
    pub name_range: TextRange,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Literal>),
}

/// A condition expression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `a < b <= c`: each comparison joined with `and`, as in Python.
    Compare(Box<Expr>, Vec<(CompareOp, Expr)>),
    Filter(Box<Expr>, Filter),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinaryOp {
    And,
    Or,
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
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
            Key::Name(n) => Some(n),
            Key::Index(_) => None,
        }
    }

    /// The name of segment `i`, if it is a name.
    #[must_use]
    pub fn name_at(&self, i: usize) -> Option<&str> {
        match &self.segments.get(i)?.key {
            Key::Name(n) => Some(n),
            Key::Index(_) => None,
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
            ExprKind::Binary(_, a, b) => {
                a.walk(visit);
                b.walk(visit);
            }
            ExprKind::Compare(first, rest) => {
                first.walk(visit);
                for (_, e) in rest {
                    e.walk(visit);
                }
            }
            ExprKind::Filter(e, f) => {
                e.walk(visit);
                visit(ExprItem::Filter(f));
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
