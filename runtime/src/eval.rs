//! Evaluation of the plan's templates and conditions against what a run knows at
//! one point. Nothing is parsed here: the plan holds the typed AST.
//!
//! Text follows ddeutil-workflow: a string that is exactly one `${{ }}` keeps the
//! value's type; otherwise each value is spliced in as Python's `str()`; the whole
//! text `None` becomes null, and so does `null` where upstream applies `pass_env`
//! (see [`Scope::pass_env`]); whitespace around the template's own text is stripped
//! before it renders (not around what it renders to).

mod filters;

use std::borrow::Cow;
use std::sync::Arc;

use wfc_plan::expr::ast::{
    Accessor, BinaryOp, BoolOp, CompareOp, EnvRef, Expr, ExprKind, Literal, Part, Path, Pipeline,
    Template, UnaryOp,
};
use wfc_plan::filters::BuiltinFilter;
use wfc_plan::{CondPlan, PlanMap, PlanValue};

use crate::status::ErrorName;
use crate::value::{Map, Str, Value};

/// An evaluation failure: the exception name upstream reports and its message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct EvalError {
    pub name: ErrorName,
    pub message: String,
}

impl EvalError {
    fn util(message: impl Into<String>) -> Self {
        Self {
            name: ErrorName::UtilError,
            message: message.into(),
        }
    }

    fn type_error(message: impl Into<String>) -> Self {
        Self {
            name: ErrorName::TypeError,
            message: message.into(),
        }
    }
}

/// Names bound by an enclosing stage: a foreach item, a parallel branch...
#[derive(Clone, Debug, Default)]
pub struct Bindings {
    pub item: Option<Value>,
    pub loop_index: Option<Value>,
    pub branch: Option<Value>,
    pub case: Option<Value>,
}

/// One level of nesting: the stage results visible from outside the current list
/// (frozen while the nested list runs) and the names the level binds.
#[derive(Debug, Default)]
pub struct Frame {
    pub parent: Option<Arc<Frame>>,
    pub stages: Arc<Map>,
    pub bindings: Bindings,
}

impl Frame {
    /// A nested level under `parent`, seeing `stages` (the parent list's results so far).
    #[must_use]
    pub fn nested(parent: &Arc<Frame>, stages: Arc<Map>, bindings: Bindings) -> Arc<Frame> {
        Arc::new(Frame {
            parent: Some(Arc::clone(parent)),
            stages,
            bindings,
        })
    }

    fn binding(&self, pick: fn(&Bindings) -> Option<&Value>) -> Option<&Value> {
        let mut frame = Some(self);
        while let Some(f) = frame {
            if let Some(v) = pick(&f.bindings) {
                return Some(v);
            }
            frame = f.parent.as_deref();
        }
        None
    }

    fn stage(&self, id: &str) -> Option<&Value> {
        let mut frame = Some(self);
        while let Some(f) = frame {
            if let Some(v) = f.stages.get(id) {
                return Some(v);
            }
            frame = f.parent.as_deref();
        }
        None
    }

    fn all_stages(&self, into: &mut Map) {
        if let Some(parent) = &self.parent {
            parent.all_stages(into);
        }
        for (k, v) in self.stages.iter() {
            into.insert(k.clone(), v.clone());
        }
    }
}

/// Everything a template can read at one point of a run.
pub struct Scope<'a> {
    pub params: &'a Map,
    pub jobs: &'a Map,
    pub matrix: &'a Map,
    /// Results of the earlier stages of the current list.
    pub local: &'a Map,
    pub frame: &'a Frame,
    /// The attempt number, in stages that retry.
    pub retry: Option<i64>,
    /// Extra bindings of the current evaluation (until's next item and loop).
    pub overlay: Option<&'a Bindings>,
    /// Environment lookup (`${VAR}`); the process environment by default.
    pub env: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// A rendered `null` is null: upstream's `pass_env`, which most stage fields
    /// go through (its `pass_template`). Off for the fields upstream renders with
    /// `param2template` alone (see [`Scope::plain`]).
    pub pass_env: bool,
    /// `release`: the logical time, execution time and run id of a release, which
    /// the `-p` values of `wfr release` may read (`${{ release.logical_date }}`).
    pub release: Option<&'a Value>,
}

/// The process environment.
#[must_use]
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Scope<'_> {
    /// This scope for the fields upstream renders without `pass_env` (a Py
    /// stage's `vars`, a trigger's `params`, a Bash stage's script and `env`, a
    /// stage's name and id...): `null` stays text; only `None` is null.
    #[must_use]
    pub fn plain(self) -> Self {
        Scope {
            pass_env: false,
            ..self
        }
    }

    fn root(&self, name: &str) -> Option<Cow<'_, Value>> {
        let bound = |pick: fn(&Bindings) -> Option<&Value>| {
            self.overlay
                .and_then(pick)
                .or_else(|| self.frame.binding(pick))
                .map(Cow::Borrowed)
        };
        match name {
            "params" => Some(Cow::Owned(Value::from(self.params.clone()))),
            "jobs" => Some(Cow::Owned(Value::from(self.jobs.clone()))),
            "matrix" => Some(Cow::Owned(Value::from(self.matrix.clone()))),
            "stages" => {
                let mut all = Map::default();
                self.frame.all_stages(&mut all);
                for (k, v) in self.local {
                    all.insert(k.clone(), v.clone());
                }
                Some(Cow::Owned(Value::from(all)))
            }
            "item" => bound(|b| b.item.as_ref()),
            "loop" => bound(|b| b.loop_index.as_ref()),
            "branch" => bound(|b| b.branch.as_ref()),
            "case" => bound(|b| b.case.as_ref()),
            "retry" => self.retry.map(|r| Cow::Owned(Value::Int(r))),
            "release" => self.release.map(Cow::Borrowed),
            _ => None,
        }
    }

    /// Whether `pipeline` is a name bound where it is evaluated (`${{ item }}` in
    /// a loop), which cannot fail: what [`check`] need not evaluate.
    fn is_bound(&self, pipeline: &Pipeline) -> bool {
        let [segment] = pipeline.path.segments.as_slice() else {
            return false;
        };
        let Accessor::Name(name) = &segment.key else {
            return false;
        };
        pipeline.filters.is_empty()
            && matches!(name.as_str(), "item" | "loop")
            && self.root(name).is_some()
    }

    /// The value at `path`, without copying more than the result.
    fn resolve(&self, path: &Path) -> Result<Value, EvalError> {
        let missing = || {
            EvalError::util(format!(
                "Parameters does not get dot with caller: '{path}'."
            ))
        };
        let Some((first, rest)) = path.segments.split_first() else {
            return Err(missing());
        };
        let Accessor::Name(root) = &first.key else {
            return Err(missing());
        };
        // The big maps are walked by reference, without building a whole root.
        if let Some((second, tail)) = rest.split_first()
            && let Accessor::Name(key) = &second.key
        {
            let found = match root.as_str() {
                "params" => Some(self.params.get(key.as_str())),
                "jobs" => Some(self.jobs.get(key.as_str())),
                "matrix" => Some(self.matrix.get(key.as_str())),
                "stages" => Some(
                    self.local
                        .get(key.as_str())
                        .or_else(|| self.frame.stage(key)),
                ),
                _ => None,
            };
            if let Some(found) = found {
                return match found {
                    Some(v) => walk(v, tail, &missing),
                    None if second.optional => Ok(Value::Null),
                    None => Err(missing()),
                };
            }
        }
        match self.root(root) {
            Some(v) => walk(&v, rest, &missing),
            None if first.optional => Ok(Value::Null),
            None => Err(missing()),
        }
    }
}

fn walk(
    start: &Value,
    segments: &[wfc_plan::expr::ast::Segment],
    missing: &dyn Fn() -> EvalError,
) -> Result<Value, EvalError> {
    let mut current = start;
    for segment in segments {
        let next = match (&segment.key, current) {
            (Accessor::Name(k), Value::Map(m)) => m.get(k.as_str()),
            (Accessor::Index(i), Value::List(items) | Value::Tuple(items)) => {
                let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                let at = if *i < 0 { len + i } else { *i };
                usize::try_from(at).ok().and_then(|at| items.get(at))
            }
            (Accessor::Index(i), Value::Map(m)) => m.get(i.to_string().as_str()),
            _ => None,
        };
        match next {
            Some(v) => current = v,
            None if segment.optional => return Ok(Value::Null),
            None => return Err(missing()),
        }
    }
    Ok(current.clone())
}

/// Evaluates `${{ path | filters }}`.
pub fn pipeline(scope: &Scope<'_>, pipeline: &Pipeline) -> Result<Value, EvalError> {
    let mut value = scope.resolve(&pipeline.path)?;
    for filter in &pipeline.filters {
        value = filters::apply(filter, value)?;
    }
    Ok(value)
}

fn env_value(scope: &Scope<'_>, env: &EnvRef) -> String {
    (scope.env)(&env.name)
        .filter(|v| !v.is_empty())
        .or_else(|| env.default.clone().filter(|d| !d.is_empty()))
        .unwrap_or_else(|| "null".to_string())
}

/// Python's `str.isspace`: Unicode's White_Space and the ASCII separators
/// U+001C to U+001F.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()`, at once for text that starts and ends with a visible
/// ASCII character (most text: nothing to strip, no character to decode).
fn strip(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        _ => text.trim_matches(py_space),
    }
}

/// Renders a template to a value (see the module doc for the rules).
///
/// As upstream's `str2template`: the template's own text is stripped first (the
/// whitespace at its ends goes, what values bring stays: `"${{ s }} post"` with
/// `s` empty gives `" post"`); a `${{ }}` that is all that is left, once what
/// came before it rendered to nothing, gives its value with its type; the text
/// `None` becomes null (before `${VAR}` are replaced); under `pass_env`, so does
/// the text `null` (after), and a lone `${{ }}`'s value `"null"`.
pub fn render(scope: &Scope<'_>, template: &Template) -> Result<Value, EvalError> {
    let parts = &template.parts;
    // Plain text (most names and ids): no scope to look at.
    if let [Part::Text(t)] = parts.as_slice() {
        return Ok(match strip(t) {
            "None" => Value::Null,
            "null" if scope.pass_env => Value::Null,
            t => Value::Str(Str::from(t)),
        });
    }
    // The text at the ends, stripped: blank text parts go.
    let blank = |p: &Part| matches!(p, Part::Text(t) if strip(t).is_empty());
    let start = parts.iter().position(|p| !blank(p)).unwrap_or(parts.len());
    let end = parts
        .iter()
        .rposition(|p| !blank(p))
        .map_or(start, |at| at + 1);
    let parts = &parts[start..end];
    let mut text = Str::default();
    let mut env = false;
    for (at, part) in parts.iter().enumerate() {
        let last = at + 1 == parts.len();
        match part {
            Part::Text(t) => {
                let t = if at == 0 {
                    t.trim_start_matches(py_space)
                } else {
                    t
                };
                text.push_str(if last {
                    t.trim_end_matches(py_space)
                } else {
                    t
                });
            }
            Part::Interp(interp) => {
                let value = pipeline(scope, &interp.pipeline)?;
                // Upstream asks, at each `${{ }}` in turn, whether the text would
                // be empty without it: true only for the last one, after text
                // that rendered to nothing (a `${VAR}` is still text then).
                if last && text.is_empty() && !env {
                    return Ok(match value {
                        Value::Str(s) if scope.pass_env && s == "null" => Value::Null,
                        other => other,
                    });
                }
                value.push_str_to(&mut text);
            }
            Part::Env(reference) => {
                env = true;
                text.push_str(&env_value(scope, reference));
            }
        }
    }
    Ok(match text.as_str() {
        "None" if !env => Value::Null,
        "null" if scope.pass_env => Value::Null,
        _ => Value::Str(text),
    })
}

/// Evaluates a template's interpolations for their errors only, without making
/// its text (for whom see `events::RunEvents::echo`).
pub fn check(scope: &Scope<'_>, template: &Template) -> Result<(), EvalError> {
    for part in &template.parts {
        if let Part::Interp(interp) = part
            && !scope.is_bound(&interp.pipeline)
        {
            pipeline(scope, &interp.pipeline)?;
        }
    }
    Ok(())
}

/// Renders a template to text (`str()` of its value).
pub fn render_text(scope: &Scope<'_>, template: &Template) -> Result<String, EvalError> {
    render_short(scope, template).map(String::from)
}

/// Renders a template to text kept inline when short (names, ids, echoes).
pub fn render_short(scope: &Scope<'_>, template: &Template) -> Result<Str, EvalError> {
    render(scope, template).map(|v| match v {
        Value::Null => Str::const_new("None"),
        Value::Str(s) => s,
        other => other.py_str().into(),
    })
}

/// A value as text (an `env` entry, a Docker setting): a string renders as text,
/// anything else is rendered and then given as its `str()`.
pub fn value_text(scope: &Scope<'_>, value: &PlanValue) -> Result<String, EvalError> {
    match value {
        PlanValue::Str(t) => render_text(scope, t),
        other => self::value(scope, other).map(|v| v.py_str()),
    }
}

/// Renders every template in a value.
pub fn value(scope: &Scope<'_>, value: &PlanValue) -> Result<Value, EvalError> {
    Ok(match value {
        PlanValue::Null => Value::Null,
        PlanValue::Bool(b) => Value::Bool(*b),
        PlanValue::Int(n) => Value::Int(*n),
        PlanValue::Float(x) => Value::Float(*x),
        PlanValue::BigInt(_) => Value::from_plan(value, false),
        PlanValue::Str(t) => render(scope, t)?,
        PlanValue::List(items) => Value::List(
            items
                .iter()
                .map(|v| self::value(scope, v))
                .collect::<Result<_, _>>()?,
        ),
        PlanValue::Map(map) => Value::from(self::map(scope, map)?),
    })
}

/// Renders every template of a mapping.
pub fn map(scope: &Scope<'_>, map: &PlanMap) -> Result<Map, EvalError> {
    map.iter()
        .map(|(k, v)| Ok((k.as_str().into(), value(scope, v)?)))
        .collect()
}

/// Evaluates a condition; it must give a boolean.
pub fn condition(scope: &Scope<'_>, cond: &CondPlan) -> Result<bool, EvalError> {
    match cond {
        CondPlan::Bool(b) => Ok(*b),
        CondPlan::Expr { expr, .. } => match self::expr(scope, expr)? {
            Value::Bool(b) => Ok(b),
            _ => Err(EvalError::type_error(
                "Return type of condition does not be boolean",
            )),
        },
    }
}

/// Evaluates an expression with Python's semantics for the operators it has.
pub fn expr(scope: &Scope<'_>, expr: &Expr) -> Result<Value, EvalError> {
    match &expr.kind {
        ExprKind::Literal(lit) => Ok(literal(lit)),
        ExprKind::Path(path) => scope.resolve(path),
        ExprKind::Interp(p) => {
            // `${{ x | rstr }}` was a Python literal in upstream's text: its value is the text.
            if p.filters
                .last()
                .is_some_and(|f| f.builtin == Some(BuiltinFilter::Rstr))
            {
                let mut value = scope.resolve(&p.path)?;
                for filter in &p.filters[..p.filters.len() - 1] {
                    value = filters::apply(filter, value)?;
                }
                return Ok(Value::Str(Str::from(value.py_str())));
            }
            pipeline(scope, p)
        }
        ExprKind::Text(template) => {
            let mut text = String::new();
            for part in &template.parts {
                match part {
                    Part::Text(t) => text.push_str(t),
                    Part::Interp(i) => text.push_str(&pipeline(scope, &i.pipeline)?.py_str()),
                    Part::Env(env) => text.push_str(&env_value(scope, env)),
                }
            }
            Ok(Value::Str(Str::from(text)))
        }
        ExprKind::List(items) => Ok(Value::List(
            items
                .iter()
                .map(|e| self::expr(scope, e))
                .collect::<Result<_, _>>()?,
        )),
        ExprKind::Unary(UnaryOp::Not, e) => Ok(Value::Bool(!self::expr(scope, e)?.truthy())),
        ExprKind::Unary(UnaryOp::Neg, e) => match self::expr(scope, e)? {
            Value::Int(n) => Ok(n
                .checked_neg()
                .map_or_else(|| Value::int(-num_bigint::BigInt::from(n)), Value::Int)),
            Value::BigInt(n) => Ok(Value::int(-n.as_ref())),
            Value::Float(x) => Ok(Value::Float(-x)),
            Value::Bool(b) => Ok(Value::Int(-i64::from(b))),
            other => Err(EvalError::type_error(format!(
                "bad operand type for unary -: '{}'",
                other.type_name()
            ))),
        },
        ExprKind::Bool(op, operands) => {
            // Python's `and` / `or`: the first operand that decides, else the last.
            let mut value = Value::Null;
            for (i, operand) in operands.iter().enumerate() {
                value = self::expr(scope, operand)?;
                let decides = match op {
                    BoolOp::And => !value.truthy(),
                    BoolOp::Or => value.truthy(),
                };
                if decides || i + 1 == operands.len() {
                    break;
                }
            }
            Ok(value)
        }
        ExprKind::Arith(first, rest) => {
            let mut value = self::expr(scope, first)?;
            for (op, operand) in rest {
                value = arithmetic(*op, value, self::expr(scope, operand)?)?;
            }
            Ok(value)
        }
        ExprKind::Compare(first, rest) => {
            let mut left = self::expr(scope, first)?;
            for (op, e) in rest {
                let right = self::expr(scope, e)?;
                if !compare(*op, &left, &right)? {
                    return Ok(Value::Bool(false));
                }
                left = right;
            }
            Ok(Value::Bool(true))
        }
        ExprKind::Filter(e, chain) => {
            let mut value = self::expr(scope, e)?;
            for filter in chain {
                value = filters::apply(filter, value)?;
            }
            Ok(value)
        }
    }
}

pub(crate) fn literal(lit: &Literal) -> Value {
    match lit {
        Literal::Null => Value::Null,
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Int(n) => Value::Int(*n),
        // Digits the compiler checked.
        Literal::BigInt(digits) => Value::int(digits.parse().unwrap_or_default()),
        Literal::Float(x) => Value::Float(*x),
        Literal::Str(s) => Value::Str(Str::from(s.as_str())),
        Literal::List(items) => Value::List(items.iter().map(literal).collect()),
    }
}

fn compare(op: CompareOp, a: &Value, b: &Value) -> Result<bool, EvalError> {
    use std::cmp::Ordering::{Greater, Less};
    let order = || {
        a.py_cmp(b).ok_or_else(|| {
            EvalError::type_error(format!(
                "'{}' not supported between instances of '{}' and '{}'",
                match op {
                    CompareOp::Lt => "<",
                    CompareOp::Le => "<=",
                    CompareOp::Gt => ">",
                    _ => ">=",
                },
                a.type_name(),
                b.type_name()
            ))
        })
    };
    Ok(match op {
        CompareOp::Eq => a.py_eq(b),
        CompareOp::Ne => !a.py_eq(b),
        CompareOp::Lt => order()? == Less,
        CompareOp::Le => order()? != Greater,
        CompareOp::Gt => order()? == Greater,
        CompareOp::Ge => order()? != Less,
        CompareOp::In => contains(b, a)?,
        CompareOp::NotIn => !contains(b, a)?,
    })
}

fn contains(container: &Value, item: &Value) -> Result<bool, EvalError> {
    match (container, item) {
        (Value::Str(s), Value::Str(sub)) => Ok(s.contains(sub.as_str())),
        (Value::Str(_), other) => Err(EvalError::type_error(format!(
            "'in <string>' requires string as left operand, not {}",
            other.type_name()
        ))),
        (Value::List(items) | Value::Tuple(items), _) => Ok(items.iter().any(|i| i.py_eq(item))),
        (Value::Map(map), Value::Str(k)) => Ok(map.contains_key(k.as_str())),
        (Value::Map(_), _) => Ok(false),
        (other, _) => Err(EvalError::type_error(format!(
            "argument of type '{}' is not iterable",
            other.type_name()
        ))),
    }
}

/// Longest text `'ab' * n` may make: a condition cannot ask for gigabytes.
const MAX_REPEAT_BYTES: usize = 16 << 20;

fn overflow(message: &str) -> EvalError {
    EvalError {
        name: ErrorName::OverflowError,
        message: message.into(),
    }
}

fn zero_division() -> EvalError {
    EvalError {
        name: ErrorName::ZeroDivisionError,
        message: "division by zero".into(),
    }
}

#[allow(clippy::cast_precision_loss)]
fn arithmetic(op: BinaryOp, a: Value, b: Value) -> Result<Value, EvalError> {
    let unsupported = |a: &Value, b: &Value| {
        let symbol = op.symbol();
        EvalError::type_error(format!(
            "unsupported operand type(s) for {symbol}: '{}' and '{}'",
            a.type_name(),
            b.type_name()
        ))
    };
    let int = |v: &Value| match v {
        Value::Int(n) => Some(*n),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    };
    match (op, &a, &b) {
        (BinaryOp::Add, Value::Str(x), Value::Str(y)) => {
            return Ok(Value::Str(Str::from(format!("{x}{y}"))));
        }
        (BinaryOp::Add, Value::List(x), Value::List(y)) => {
            return Ok(Value::List(x.iter().chain(y).cloned().collect()));
        }
        (BinaryOp::Add, Value::Tuple(x), Value::Tuple(y)) => {
            return Ok(Value::Tuple(x.iter().chain(y).cloned().collect()));
        }
        (BinaryOp::Mul, Value::Str(s), n) | (BinaryOp::Mul, n, Value::Str(s))
            if matches!(n, Value::Int(_) | Value::Bool(_) | Value::BigInt(_)) =>
        {
            return repeat(s, n);
        }
        (BinaryOp::Mod, Value::Str(_), _) => return Err(unsupported(&a, &b)),
        _ => {}
    }
    if let (Some(x), Some(y)) = (int(&a), int(&b)) {
        // 64 bits, unless the result needs more (then exact, below).
        let exact = match op {
            BinaryOp::Add => x.checked_add(y),
            BinaryOp::Sub => x.checked_sub(y),
            BinaryOp::Mul => x.checked_mul(y),
            BinaryOp::Div if y == 0 => return Err(zero_division()),
            BinaryOp::Div => return Ok(Value::Float(x as f64 / y as f64)),
            BinaryOp::FloorDiv | BinaryOp::Mod if y == 0 => return Err(zero_division()),
            BinaryOp::FloorDiv => x.checked_div(y).zip(x.checked_rem(y)).map(|(q, r)| {
                if r != 0 && (r < 0) != (y < 0) {
                    q - 1
                } else {
                    q
                }
            }),
            BinaryOp::Mod => x.checked_rem(y).map(|r| {
                if r != 0 && (r < 0) != (y < 0) {
                    r + y
                } else {
                    r
                }
            }),
        };
        if let Some(n) = exact {
            return Ok(Value::Int(n));
        }
    }
    if let (Some(x), Some(y)) = (a.as_bigint(), b.as_bigint()) {
        return big_arithmetic(op, &x, &y);
    }
    let float = |v: &Value| match v {
        Value::Float(x) => Ok(Some(*x)),
        Value::BigInt(n) => {
            let x = crate::value::bigint_to_f64(n);
            if x.is_finite() {
                Ok(Some(x))
            } else {
                Err(overflow("int too large to convert to float"))
            }
        }
        other => Ok(int(other).map(|n| n as f64)),
    };
    let (Some(x), Some(y)) = (float(&a)?, float(&b)?) else {
        return Err(unsupported(&a, &b));
    };
    match op {
        BinaryOp::Add => Ok(Value::Float(x + y)),
        BinaryOp::Sub => Ok(Value::Float(x - y)),
        BinaryOp::Mul => Ok(Value::Float(x * y)),
        BinaryOp::Div | BinaryOp::FloorDiv | BinaryOp::Mod if y == 0.0 => Err(zero_division()),
        BinaryOp::Div => Ok(Value::Float(x / y)),
        BinaryOp::FloorDiv => Ok(Value::Float((x / y).floor())),
        BinaryOp::Mod => Ok(Value::Float(x - y * (x / y).floor())),
    }
}

/// `s * n`: `n` copies of the text (none for `n` below 1); an `n` beyond 64
/// bits is Python's OverflowError, whatever its sign.
fn repeat(s: &str, n: &Value) -> Result<Value, EvalError> {
    let times = match n {
        Value::Bool(b) => usize::from(*b),
        Value::Int(n) => usize::try_from(*n).unwrap_or(0),
        _ => return Err(overflow("cannot fit 'int' into an index-sized integer")),
    };
    let bytes = s.len().saturating_mul(times);
    if bytes > MAX_REPEAT_BYTES {
        return Err(EvalError {
            name: ErrorName::MemoryError,
            message: format!(
                "repeating a string {times} times would make {bytes} bytes; at most {} MiB",
                MAX_REPEAT_BYTES >> 20
            ),
        });
    }
    Ok(Value::Str(s.repeat(times).into()))
}

/// Integer arithmetic beyond 64 bits, exact as Python's (`/` gives the nearest
/// float, or OverflowError when the quotient is beyond every float).
fn big_arithmetic(
    op: BinaryOp,
    x: &num_bigint::BigInt,
    y: &num_bigint::BigInt,
) -> Result<Value, EvalError> {
    use num_bigint::Sign;
    let divides = || {
        if y.sign() == Sign::NoSign {
            return Err(zero_division());
        }
        // Truncated; then floored as Python's `//` and `%` are.
        let (mut q, mut r) = (x / y, x % y);
        if r.sign() != Sign::NoSign && r.sign() != y.sign() {
            q -= 1;
            r += y;
        }
        Ok((q, r))
    };
    Ok(match op {
        BinaryOp::Add => Value::int(x + y),
        BinaryOp::Sub => Value::int(x - y),
        BinaryOp::Mul => Value::int(x * y),
        BinaryOp::FloorDiv => Value::int(divides()?.0),
        BinaryOp::Mod => Value::int(divides()?.1),
        BinaryOp::Div => {
            if y.sign() == Sign::NoSign {
                return Err(zero_division());
            }
            let whole = x / y;
            let fraction = x - &whole * y;
            let whole = crate::value::bigint_to_f64(&whole);
            if !whole.is_finite() {
                return Err(overflow("integer division result too large for a float"));
            }
            // The remainder over the divisor, both cut to their top 64 bits.
            let shift = y.bits().saturating_sub(64);
            let fraction = crate::value::bigint_to_f64(&(fraction >> shift))
                / crate::value::bigint_to_f64(&(y >> shift));
            Value::Float(whole + fraction)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfc_plan::expr::{parse_condition, parse_template};

    fn with_scope<R>(f: impl FnOnce(&Scope<'_>) -> R) -> R {
        let mut params = Map::default();
        params.insert("name".into(), Value::str("bob"));
        params.insert("n".into(), Value::Int(5));
        params.insert("min".into(), Value::Int(i64::MIN));
        params.insert(
            "big".into(),
            Value::int("100000000000000000000".parse().unwrap()),
        );
        params.insert(
            "huge".into(),
            Value::int(format!("1{}", "0".repeat(400)).parse().unwrap()),
        );
        params.insert("digits".into(), Value::str(" -100000000000000000000 "));
        params.insert("pad".into(), Value::str(" x "));
        params.insert("empty".into(), Value::str(""));
        params.insert(
            "list".into(),
            Value::List(vec![Value::Int(1), Value::str("x")]),
        );
        let mut local = Map::default();
        let mut outputs = Map::default();
        outputs.insert("rows".into(), Value::Int(10));
        let mut result = Map::default();
        result.insert("outputs".into(), Value::from(outputs));
        local.insert("count".into(), Value::from(result));
        let frame = Frame {
            bindings: Bindings {
                item: Some(Value::str("a")),
                loop_index: Some(Value::Int(0)),
                ..Bindings::default()
            },
            ..Frame::default()
        };
        let empty = Map::default();
        let env = |name: &str| (name == "HOME").then(|| "/root".to_string());
        let scope = Scope {
            params: &params,
            jobs: &empty,
            matrix: &empty,
            local: &local,
            frame: &frame,
            retry: None,
            overlay: None,
            env: &env,
            pass_env: true,
            release: None,
        };
        f(&scope)
    }

    fn t(text: &str) -> Value {
        with_scope(|s| render(s, &parse_template(text).unwrap()).unwrap())
    }

    /// Rendered as upstream's `param2template` alone (no `pass_env`).
    fn plain(text: &str) -> Value {
        with_scope(|s| {
            let scope = Scope { ..*s }.plain();
            render(&scope, &parse_template(text).unwrap()).unwrap()
        })
    }

    fn c(text: &str) -> Result<bool, EvalError> {
        with_scope(|s| {
            condition(
                s,
                &CondPlan::Expr {
                    source: text.into(),
                    expr: parse_condition(text).unwrap(),
                },
            )
        })
    }

    #[test]
    fn templates_keep_or_splice_types() {
        assert_eq!(t("${{ params.n }}"), Value::Int(5));
        assert_eq!(t("  ${{ params.n }}  "), Value::Int(5));
        assert_eq!(t("n=${{ params.n }}"), Value::str("n=5"));
        assert_eq!(t("${{ params.list }}!"), Value::str("[1, 'x']!"));
        assert_eq!(t("${{ stages.count.outputs.rows }}"), Value::Int(10));
        assert_eq!(t("${{ item }}-${{ loop }}"), Value::str("a-0"));
        assert_eq!(t("${{ params.missing? }}"), Value::Null);
        assert_eq!(
            t("home ${HOME} ${NOPE:x} ${NOPE}"),
            Value::str("home /root x null")
        );
        assert_eq!(t("${NOPE}"), Value::Null);
        assert_eq!(t("  padded  "), Value::str("padded"));
        assert_eq!(t("None"), Value::Null);
        assert_eq!(t("${{ params.name | upper }}"), Value::str("BOB"));
    }

    #[test]
    fn integers_go_beyond_64_bits_like_pythons() {
        let big = |text: &str| Value::int(text.parse().unwrap());
        // A template alone keeps the integer; spliced into text, its digits.
        assert_eq!(t("${{ params.big }}"), big("100000000000000000000"));
        assert_eq!(
            t("n=${{ params.big }}"),
            Value::str("n=100000000000000000000")
        );
        assert_eq!(
            t("${{ params.big | str }}"),
            Value::str("100000000000000000000")
        );
        assert_eq!(
            t("${{ params.digits | int }}"),
            big("-100000000000000000000")
        );
        assert_eq!(t("${{ params.big | int }}"), big("100000000000000000000"));
        assert_eq!(t("${{ params.min | abs }}"), big("9223372036854775808"));
        for condition in [
            "params.big > 10000000000000000000 and params.big > params.n",
            "params.big == 100000000000000000000 and params.big != 100000000000000000001",
            "params.big in [1, 100000000000000000000]",
            "-params.big < -9223372036854775808",
            // Arithmetic past 64 bits is exact, as Python's.
            "9223372036854775807 + 1 == 9223372036854775808",
            "-9223372036854775808 - 1 == -9223372036854775809",
            "3037000500 * 3037000500 == 9223372037000250000",
            "-9223372036854775808 // -1 == 9223372036854775808",
            "-9223372036854775808 % -1 == 0",
            "params.big * params.big == 10000000000000000000000000000000000000000",
            "params.big * 3 + 1 - params.big == 200000000000000000001",
            "-params.big // 7 == -14285714285714285715 and -params.big % 7 == 5",
            "params.big // -7 == -14285714285714285715 and params.big % -7 == -5",
            "params.big / 4 == 25000000000000000000.0",
            "params.huge / (params.huge // 10) == 10.0",
            "params.big + 0.5 == 1e20",
        ] {
            assert_eq!(c(condition), Ok(true), "{condition}");
        }
        for (condition, name) in [
            ("params.huge + 1.0 > 0", "OverflowError"),
            ("params.huge * params.huge / 3 > 0", "OverflowError"),
            ("params.big // 0 == 0", "ZeroDivisionError"),
            ("params.big / 0 == 0", "ZeroDivisionError"),
            ("'ab' * params.big == ''", "OverflowError"),
            ("-params.big * 'ab' == ''", "OverflowError"),
        ] {
            assert_eq!(c(condition).unwrap_err().name, name, "{condition}");
        }
    }

    #[test]
    fn the_template_text_is_stripped_not_what_it_renders_to() {
        assert_eq!(t("${{ params.empty }} post"), Value::str(" post"));
        assert_eq!(t(" pre ${{ params.pad }}\n"), Value::str("pre  x "));
        assert_eq!(t("  ${{ params.pad }}  "), Value::str(" x "));
        // Python's whitespace: the ASCII separators too.
        assert_eq!(t("\u{1c}a ${{ params.n }}\u{1f}"), Value::str("a 5"));
        // The last `${{ }}` after text that rendered to nothing keeps its type.
        assert_eq!(t("${{ params.empty }}${{ params.n }}"), Value::Int(5));
        assert_eq!(t("${{ params.n }}${{ params.empty }}"), Value::str("5"));
        // `None` is the whole rendered text; `null` too, after `${VAR}`.
        assert_eq!(t("${{ params.empty }}None"), Value::Null);
        assert_eq!(t("${{ params.pad }}None"), Value::str(" x None"));
        assert_eq!(t("${NOPE:None}"), Value::str("None"));
        assert_eq!(t("${{ params.empty }}${NOPE}"), Value::Null);
        // `null` is null through `pass_env` only; `None` always.
        assert_eq!(t("null"), Value::Null);
        assert_eq!(plain("null"), Value::str("null"));
        assert_eq!(plain("${{ params.empty }}null"), Value::str("null"));
        assert_eq!(plain(" None "), Value::Null);
        assert_eq!(plain("${NOPE}"), Value::str("null"));
    }

    #[test]
    fn missing_paths_fail_like_upstream() {
        let error =
            with_scope(|s| render(s, &parse_template("${{ params.nope }}").unwrap())).unwrap_err();
        assert_eq!(error.name, "UtilError");
        assert_eq!(
            error.message,
            "Parameters does not get dot with caller: 'params.nope'."
        );
    }

    #[test]
    fn conditions() {
        assert_eq!(
            c("params.n > 3 and '${{ params.name }}' == 'bob'"),
            Ok(true)
        );
        assert_eq!(c("${{ item | rstr }} == 'a'"), Ok(true));
        assert_eq!(c("params.n in [1, 5] and 'x' in params.list"), Ok(true));
        assert_eq!(c("not (params.n % 2 == 1)"), Ok(false));
        assert_eq!(c("0 < params.n <= 5"), Ok(true));
        assert_eq!(c("params.n // 2 == 2 and params.n / 2 == 2.5"), Ok(true));
        assert_eq!(
            c("params.n").unwrap_err().message,
            "Return type of condition does not be boolean"
        );
        assert!(c("params.n < 'a'").is_err());
    }
}
