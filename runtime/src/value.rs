//! Run-time values: what params, outputs and templates hold. They behave like the
//! Python values ddeutil-workflow handles, so that text forms (`str()`), comparisons
//! and the final context match it.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::sync::Arc;

mod map;
pub mod wire;

pub use map::Map;
pub use num_bigint::BigInt;

/// The text of string values and of map keys: short text (stage ids, `status`,
/// `SUCCESS`...) lives inline, without an allocation of its own.
pub type Str = compact_str::CompactString;

/// A live object of an embedded language (a Python function a Py stage defined),
/// passed as is between the stages of one job. Outside its job, and in every text
/// or JSON form, it is its name.
pub trait Foreign: std::fmt::Debug + Send + Sync {
    fn name(&self) -> &str;
    fn as_any(&self) -> &dyn std::any::Any;
}

/// A value of a run: params, stage outputs, the context. Plans hold `PlanValue`s
/// (templates not yet rendered); this is what rendering and stages make, with
/// Python's types and text forms.
#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer beyond 64 bits (Python's ints are unbounded). Only integers that
    /// do not fit `Int` are held here (see [`Value::int`]), so the common case
    /// stays on `Int` and an `Int` never equals a `BigInt`. Shared: a value is
    /// never changed in place, and the pointer keeps `Value` small.
    BigInt(Arc<BigInt>),
    Float(f64),
    Str(Str),
    List(Vec<Value>),
    /// A Python tuple (a Py or Call stage's output, a `map` param's literal): kept
    /// apart from a list because Python tells them apart in its text (`(1, 2)`,
    /// `(1,)`) and in `==`; a JSON list in every JSON form.
    Tuple(Vec<Value>),
    /// Shared: maps are the largest variant, copies of a context are cheap, and
    /// equal results (the same stage outcome for every item of a loop) can share
    /// one map. Changed through `Arc::make_mut`, so a shared map is never altered.
    Map(Arc<Map>),
    Date(jiff::civil::Date),
    /// Always UTC, as upstream's datetime params are.
    DateTime(jiff::Timestamp),
    /// A `decimal` param, kept as its text (already quantized).
    Decimal(Str),
    Foreign(Arc<dyn Foreign>),
}

// Contexts hold many values; a variant that grows `Value` grows all of them.
const _: () = assert!(std::mem::size_of::<Value>() == 32);

impl From<Map> for Value {
    fn from(map: Map) -> Self {
        Value::Map(arc_map(map))
    }
}

/// The same entries in the same order, each value of the same type and form: what
/// lets one map stand for another (`==` on maps ignores order, as Python's does,
/// but the order shows in the record).
fn same_map(a: &Map, b: &Map) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|((ka, va), (kb, vb))| ka == kb && va.same(vb))
}

fn arc_map(map: Map) -> Arc<Map> {
    // Stages without outputs are common: their empty maps share one allocation.
    static EMPTY: std::sync::LazyLock<Arc<Map>> = std::sync::LazyLock::new(Arc::default);
    if map.capacity() == 0 {
        Arc::clone(&EMPTY)
    } else {
        Arc::new(map)
    }
}

/// Identifies a map that several places of a context hold (see [`Sharing`]), so
/// a writer can write its text once and copy it to the other places; `None` for
/// a map held in one place only, which is written as it is met. Only this module
/// knows that sharing is an `Arc` held more than once.
pub(crate) fn shared_id(map: &Arc<Map>) -> Option<SharedId> {
    (Arc::strong_count(map) > 1).then_some(SharedId(Arc::as_ptr(map)))
}

/// See [`shared_id`]: equal ids are the same map (for as long as it is held).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SharedId(*const Map);

/// Lets the units of a loop (foreach items, until passes) share their stage
/// results when they are equal to the previous unit's, as they are when the stages
/// give the same outcome every time: a long loop then keeps one copy, not one per
/// unit. Values are never changed in place, so sharing cannot be observed.
#[derive(Default)]
pub struct Sharing {
    state: std::sync::Mutex<SharingState>,
}

#[derive(Default)]
struct SharingState {
    last: Option<Arc<Map>>,
    /// A map that was not kept (equal to the last), emptied for the next unit.
    spare: Option<Map>,
}

impl Sharing {
    /// `map` as a value, shared with the previous one when they are equal.
    pub fn share(&self, mut map: Map) -> Value {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(previous) = state.last.as_ref()
            && same_map(previous, &map)
        {
            let shared = Value::Map(Arc::clone(previous));
            map.clear();
            state.spare = Some(map);
            return shared;
        }
        let shared = arc_map(map);
        state.last = Some(Arc::clone(&shared));
        Value::Map(shared)
    }

    /// An empty map for the next unit's results: the last one not kept, when
    /// there is one (a long loop of equal units then allocates none).
    pub fn empty(&self) -> Map {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .spare
            .take()
            .unwrap_or_default()
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::BigInt(a), Value::BigInt(b)) => a == b,
            #[allow(clippy::float_cmp)]
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) | (Value::Decimal(a), Value::Decimal(b)) => a == b,
            (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            (Value::Date(a), Value::Date(b)) => a == b,
            (Value::DateTime(a), Value::DateTime(b)) => a == b,
            (Value::Foreign(a), Value::Foreign(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Value {
    /// A constant from a plan (params' defaults, static matrices). `$$` is the
    /// escape of a literal `$`. With `bools_as_ints`, booleans become 0 / 1, as
    /// upstream's static matrices store them.
    #[must_use]
    pub fn from_plan(value: &wfc_plan::PlanValue, bools_as_ints: bool) -> Self {
        use wfc_plan::PlanValue;
        let each = |v: &PlanValue| Value::from_plan(v, bools_as_ints);
        match value {
            PlanValue::Null => Value::Null,
            PlanValue::Bool(b) if bools_as_ints => Value::Int(i64::from(*b)),
            PlanValue::Bool(b) => Value::Bool(*b),
            PlanValue::Int(n) => Value::Int(*n),
            // Digits the compiler checked.
            PlanValue::BigInt(digits) => Value::int(digits.parse().unwrap_or_default()),
            PlanValue::Float(x) => Value::Float(*x),
            PlanValue::Str(t) => Value::Str(t.to_string().replace("$$", "$").into()),
            PlanValue::List(items) => Value::List(items.iter().map(each).collect()),
            PlanValue::Map(map) => Value::from(
                map.iter()
                    .map(|(k, v)| (Str::from(k.as_str()), each(v)))
                    .collect::<Map>(),
            ),
        }
    }

    #[must_use]
    pub fn str(s: impl Into<Str>) -> Self {
        Value::Str(s.into())
    }

    /// An integer of any size: `Int` when it fits 64 bits, else `BigInt`.
    #[must_use]
    pub fn int(n: BigInt) -> Self {
        match i64::try_from(&n) {
            Ok(small) => Value::Int(small),
            Err(_) => Value::BigInt(Arc::new(n)),
        }
    }

    /// The integer a value holds, of any size (bools count as 0 and 1, as in
    /// Python): for the rare paths that need more than 64 bits.
    #[must_use]
    pub fn as_bigint(&self) -> Option<BigInt> {
        match self {
            Value::Bool(b) => Some(BigInt::from(i64::from(*b))),
            Value::Int(n) => Some(BigInt::from(*n)),
            Value::BigInt(n) => Some(BigInt::clone(n)),
            _ => None,
        }
    }

    /// The Python type name, for error messages.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Map(_) => "dict",
            Value::Date(_) => "date",
            Value::DateTime(_) => "datetime",
            Value::Decimal(_) => "Decimal",
            Value::Foreign(_) => "function",
        }
    }

    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a list or a tuple (what Python iterates the same way).
    #[must_use]
    pub fn as_items(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) | Value::Tuple(items) => Some(items),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Python truthiness.
    #[must_use]
    pub fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(n) => *n != 0,
            // Never zero: zero fits `Int`.
            Value::BigInt(_) => true,
            Value::Float(x) => *x != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) | Value::Tuple(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Date(_) | Value::DateTime(_) | Value::Foreign(_) => true,
            Value::Decimal(d) => !d.parse::<f64>().is_ok_and(|x| x == 0.0),
        }
    }

    /// Exactly the same value: same variant and contents, maps in the same order.
    #[must_use]
    pub fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Map(a), Value::Map(b)) => Arc::ptr_eq(a, b) || same_map(a, b),
            (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y))
            }
            // Bit for bit: 0.0 and -0.0 print differently.
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (a, b) => a == b,
        }
    }

    /// Python's `str(value)`.
    #[must_use]
    pub fn py_str(&self) -> String {
        match self {
            Value::Str(s) => s.to_string(),
            Value::Date(d) => d.to_string(),
            Value::DateTime(t) => datetime_str(*t),
            Value::Decimal(d) => d.to_string(),
            Value::Foreign(f) => f.name().to_string(),
            other => other.py_repr(),
        }
    }

    /// Appends Python's `str(value)` to `out`.
    pub fn push_str_to(&self, out: &mut Str) {
        match self {
            Value::Str(s) => out.push_str(s),
            Value::Int(n) => out.push_str(itoa::Buffer::new().format(*n)),
            Value::BigInt(n) => {
                let _ = write!(out, "{n}");
            }
            other => out.push_str(&other.py_str()),
        }
    }

    /// Python's `repr(value)`.
    #[must_use]
    pub fn py_repr(&self) -> String {
        let mut out = String::new();
        self.write_repr(&mut out);
        out
    }

    fn write_repr(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("None"),
            Value::Bool(true) => out.push_str("True"),
            Value::Bool(false) => out.push_str("False"),
            Value::Int(n) => out.push_str(itoa::Buffer::new().format(*n)),
            Value::BigInt(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Float(x) => out.push_str(&float_repr(*x)),
            Value::Str(s) => out.push_str(&wfc_plan::pytext::repr_str(s)),
            Value::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_repr(out);
                }
                out.push(']');
            }
            Value::Tuple(items) => {
                out.push('(');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_repr(out);
                }
                // `(1,)`: one item needs its comma.
                if items.len() == 1 {
                    out.push(',');
                }
                out.push(')');
            }
            Value::Map(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&wfc_plan::pytext::repr_str(k));
                    out.push_str(": ");
                    v.write_repr(out);
                }
                out.push('}');
            }
            Value::Date(d) => {
                let _ = write!(
                    out,
                    "datetime.date({}, {}, {})",
                    d.year(),
                    d.month(),
                    d.day()
                );
            }
            Value::DateTime(t) => {
                let dt = t.to_zoned_datetime(jiff::tz::TimeZone::UTC).datetime();
                let _ = write!(
                    out,
                    "datetime.datetime({}, {}, {}, {}, {}",
                    dt.year(),
                    dt.month(),
                    dt.day(),
                    dt.hour(),
                    dt.minute()
                );
                let micros = dt.subsec_nanosecond() / 1000;
                if dt.second() != 0 || micros != 0 {
                    let _ = write!(out, ", {}", dt.second());
                }
                if micros != 0 {
                    let _ = write!(out, ", {micros}");
                }
                out.push_str(", tzinfo=datetime.timezone.utc)");
            }
            Value::Decimal(d) => {
                let _ = write!(out, "Decimal('{d}')");
            }
            Value::Foreign(f) => {
                let _ = write!(out, "<function {}>", f.name());
            }
        }
    }

    /// The value with every foreign object replaced by its name (a job's context
    /// once the job ends, as upstream finalises it).
    #[must_use]
    pub fn without_foreign(self) -> Value {
        match self {
            Value::Foreign(f) => Value::Str(Str::from(f.name())),
            Value::List(items) => {
                Value::List(items.into_iter().map(Value::without_foreign).collect())
            }
            Value::Tuple(items) => {
                Value::Tuple(items.into_iter().map(Value::without_foreign).collect())
            }
            Value::Map(map) => Value::from(
                Arc::unwrap_or_clone(map)
                    .into_iter()
                    .map(|(k, v)| (k, v.without_foreign()))
                    .collect::<Map>(),
            ),
            other => other,
        }
    }

    /// A number view for comparisons (bools count as 0 and 1, as in Python).
    fn number(&self) -> Option<Number<'_>> {
        match self {
            Value::Bool(b) => Some(Number::Int(i64::from(*b))),
            Value::Int(n) => Some(Number::Int(*n)),
            Value::BigInt(n) => Some(Number::Big(n)),
            Value::Float(x) => Some(Number::Float(*x)),
            Value::Decimal(d) => d.parse().ok().map(Number::Float),
            _ => None,
        }
    }

    /// Python `==`.
    #[must_use]
    pub fn py_eq(&self, other: &Value) -> bool {
        if let (Some(a), Some(b)) = (self.number(), other.number()) {
            return a.cmp(b) == Some(Ordering::Equal);
        }
        match (self, other) {
            // A list never equals a tuple.
            (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.py_eq(y))
            }
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| v.py_eq(w)))
            }
            (a, b) => a == b,
        }
    }

    /// Python ordering (`<`); `None` where Python raises TypeError.
    #[must_use]
    pub fn py_cmp(&self, other: &Value) -> Option<Ordering> {
        if let (Some(a), Some(b)) = (self.number(), other.number()) {
            return a.cmp(b);
        }
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => Some(a.cmp(b)),
            (Value::Date(a), Value::Date(b)) => Some(a.cmp(b)),
            (Value::DateTime(a), Value::DateTime(b)) => Some(a.cmp(b)),
            (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => {
                for (x, y) in a.iter().zip(b) {
                    if !x.py_eq(y) {
                        return x.py_cmp(y);
                    }
                }
                Some(a.len().cmp(&b.len()))
            }
            _ => None,
        }
    }
}

/// Serialized as JSON the way the reference prints contexts: dates, datetimes and
/// decimals as their `str()`, maps in insertion order.
impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap as _, SerializeSeq as _};
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(n) => serializer.serialize_i64(*n),
            // A number with all its digits, as Python's `json` writes it (to
            // serde_json's serializers, which take raw JSON text).
            Value::BigInt(n) => serde_json::value::RawValue::from_string(n.to_string())
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer),
            Value::Float(x) if x.is_finite() => serializer.serialize_f64(*x),
            Value::Float(_) => serializer.serialize_unit(),
            Value::Str(s) => serializer.serialize_str(s),
            Value::List(items) | Value::Tuple(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (k, v) in map.iter() {
                    out.serialize_entry(k.as_str(), v)?;
                }
                out.end()
            }
            Value::Date(_) | Value::DateTime(_) | Value::Decimal(_) | Value::Foreign(_) => {
                serializer.serialize_str(&self.py_str())
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Number<'a> {
    Int(i64),
    Big(&'a BigInt),
    Float(f64),
}

impl Number<'_> {
    /// Python's comparison of two numbers: exact between integers and floats
    /// too (`2**53 + 1 != 2.0**53`); `None` with a NaN.
    fn cmp(self, other: Number<'_>) -> Option<Ordering> {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => Some(a.cmp(&b)),
            (Number::Float(a), Number::Float(b)) => a.partial_cmp(&b),
            (Number::Big(a), Number::Big(b)) => Some(a.cmp(b)),
            // A `BigInt` is beyond every `Int`.
            (Number::Big(a), Number::Int(_)) => Some(a.sign_ordering()),
            (Number::Int(_), Number::Big(b)) => Some(b.sign_ordering().reverse()),
            (Number::Int(a), Number::Float(x)) => int_float_cmp(a, x),
            (Number::Float(x), Number::Int(a)) => int_float_cmp(a, x).map(Ordering::reverse),
            (Number::Big(a), Number::Float(x)) => big_float_cmp(a, x),
            (Number::Float(x), Number::Big(a)) => big_float_cmp(a, x).map(Ordering::reverse),
        }
    }
}

/// Where a big integer lies against zero (and so against every `Int`).
trait SignOrdering {
    fn sign_ordering(&self) -> Ordering;
}

impl SignOrdering for BigInt {
    fn sign_ordering(&self) -> Ordering {
        match self.sign() {
            num_bigint::Sign::Minus => Ordering::Less,
            num_bigint::Sign::NoSign => Ordering::Equal,
            num_bigint::Sign::Plus => Ordering::Greater,
        }
    }
}

/// 2**63 as a float: the floats in `[-2**63, 2**63)` convert to `i64` exactly
/// once truncated.
const TWO_63: f64 = 9_223_372_036_854_775_808.0;

/// `a` against `x`, exactly (as Python compares an int with a float).
#[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
fn int_float_cmp(a: i64, x: f64) -> Option<Ordering> {
    if x.is_nan() {
        return None;
    }
    if x >= TWO_63 {
        return Some(Ordering::Less);
    }
    if x < -TWO_63 {
        return Some(Ordering::Greater);
    }
    let whole = x.trunc();
    Some(a.cmp(&(whole as i64)).then_with(|| {
        // Equal whole parts: the fraction decides.
        0.0.partial_cmp(&(x - whole)).unwrap_or(Ordering::Equal)
    }))
}

/// `a` (beyond 64 bits) against `x`, exactly.
fn big_float_cmp(a: &BigInt, x: f64) -> Option<Ordering> {
    if x.is_nan() {
        return None;
    }
    if x.is_infinite() {
        return Some(if x > 0.0 {
            Ordering::Less
        } else {
            Ordering::Greater
        });
    }
    let whole = x.trunc();
    Some(
        a.cmp(&float_to_bigint(whole))
            .then_with(|| 0.0.partial_cmp(&(x - whole)).unwrap_or(Ordering::Equal)),
    )
}

/// The most digits Python reads into an int from text (`int()`, `json.loads`):
/// `sys.int_info.default_max_str_digits`. Beyond it Python raises ValueError.
pub const MAX_INT_DIGITS: usize = 4300;

/// An integer written with more than [`MAX_INT_DIGITS`] digits: Python's
/// complaint.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "an integer of {digits} digits is beyond Python's limit of {MAX_INT_DIGITS} digits \
     for reading an int from text"
)]
pub struct TooManyDigits {
    pub digits: usize,
}

/// A decimal integer (an optional sign, then ASCII digits) as Python's `int()`
/// reads it, of any size: `None` when `text` is not one, an error when it has
/// more than [`MAX_INT_DIGITS`] digits.
#[must_use]
pub fn parse_int(text: &str) -> Option<Result<Value, TooManyDigits>> {
    if let Ok(n) = text.parse::<i64>() {
        return Some(Ok(Value::Int(n)));
    }
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.len() > MAX_INT_DIGITS {
        return Some(Err(TooManyDigits {
            digits: digits.len(),
        }));
    }
    let magnitude: num_bigint::BigUint = digits.parse().ok()?;
    let sign = if negative {
        num_bigint::Sign::Minus
    } else {
        num_bigint::Sign::Plus
    };
    Some(Ok(Value::int(BigInt::from_biguint(sign, magnitude))))
}

/// Python's `int(x)` of a finite float: its integer part, exactly.
#[must_use]
#[allow(clippy::cast_possible_truncation)]
pub fn int_of_float(x: f64) -> Value {
    if (-TWO_63..TWO_63).contains(&x) {
        Value::Int(x.trunc() as i64)
    } else {
        Value::int(float_to_bigint(x))
    }
}

/// The integer part of a finite float, exactly (Python's `int(x)`).
#[must_use]
pub fn float_to_bigint(x: f64) -> BigInt {
    // Formatting with a precision writes the float's exact decimal value.
    format!("{:.0}", x.trunc()).parse().unwrap_or_default()
}

/// A big integer as the nearest float (Python's `float(n)`); infinite when it
/// is beyond every float, where Python raises OverflowError.
#[must_use]
pub fn bigint_to_f64(n: &BigInt) -> f64 {
    // Reading the digits rounds correctly, as Python does.
    n.to_string().parse().unwrap_or(f64::NAN)
}

/// Python's `str(datetime)` for a UTC datetime: `2024-01-02 03:04:05+00:00`, with
/// microseconds only when there are some.
fn datetime_str(t: jiff::Timestamp) -> String {
    let dt = t.to_zoned_datetime(jiff::tz::TimeZone::UTC).datetime();
    let micros = dt.subsec_nanosecond() / 1000;
    let mut out = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    if micros != 0 {
        let _ = write!(out, ".{micros:06}");
    }
    out.push_str("+00:00");
    out
}

/// Python's `repr(float)`: the shortest digits that read back, fixed notation for
/// exponents from -4 to 15, scientific (`1e+16`, `1.5e-05`) otherwise.
#[must_use]
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let sci = format!("{x:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        let (whole, frac) = if point <= 0 {
            (
                "0".to_string(),
                format!(
                    "{}{digits}",
                    "0".repeat(usize::try_from(-point).unwrap_or(0))
                ),
            )
        } else {
            let point = usize::try_from(point).unwrap_or(0);
            if digits.len() <= point {
                (
                    format!("{digits}{}", "0".repeat(point - digits.len())),
                    "0".to_string(),
                )
            } else {
                (digits[..point].to_string(), digits[point..].to_string())
            }
        };
        format!("{sign}{whole}.{frac}")
    } else {
        let rest = &digits[1..];
        let mantissa = if rest.is_empty() {
            digits[..1].to_string()
        } else {
            format!("{}.{rest}", &digits[..1])
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python() {
        for (x, s) in [
            (0.1, "0.1"),
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (100.0, "100.0"),
            (1e16, "1e+16"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123_456_789.0, "123456789.0"),
            (0.333_333, "0.333333"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(float_repr(x), s, "{x}");
        }
    }

    #[test]
    fn text_forms() {
        let mut map = Map::default();
        map.insert("a".into(), Value::Int(1));
        map.insert(
            "b".into(),
            Value::List(vec![Value::Null, Value::Bool(true), Value::str("x")]),
        );
        assert_eq!(
            Value::from(map).py_str(),
            "{'a': 1, 'b': [None, True, 'x']}"
        );
        let t: jiff::Timestamp = "2024-01-02T03:04:05Z".parse().unwrap();
        assert_eq!(Value::DateTime(t).py_str(), "2024-01-02 03:04:05+00:00");
        assert_eq!(Value::Str("x".into()).py_repr(), "'x'");
    }

    #[test]
    fn tuples_print_and_compare_like_python() {
        let pair = Value::Tuple(vec![Value::Int(1), Value::Int(2)]);
        assert_eq!(pair.py_str(), "(1, 2)");
        assert_eq!(Value::Tuple(vec![Value::str("a")]).py_repr(), "('a',)");
        assert_eq!(Value::Tuple(vec![]).py_str(), "()");
        let mut map = Map::default();
        map.insert("k".into(), Value::Tuple(vec![Value::Int(3)]));
        assert_eq!(
            Value::List(vec![pair.clone(), Value::from(map)]).py_str(),
            "[(1, 2), {'k': (3,)}]"
        );
        let mut text = Str::from("x ");
        pair.push_str_to(&mut text);
        assert_eq!(text, "x (1, 2)");
        assert_eq!(pair.type_name(), "tuple");
        assert!(pair.truthy());
        assert!(!Value::Tuple(vec![]).truthy());
        // `(1, 2) == [1, 2]` is False in Python; `(1, 2) == (1.0, 2)` is True.
        let list = Value::List(vec![Value::Int(1), Value::Int(2)]);
        assert!(!pair.py_eq(&list));
        assert_ne!(pair, list);
        assert!(!pair.same(&list));
        assert!(pair.py_eq(&Value::Tuple(vec![Value::Float(1.0), Value::Int(2)])));
        assert_eq!(
            pair.py_cmp(&Value::Tuple(vec![Value::Int(1), Value::Int(3)])),
            Some(Ordering::Less)
        );
        assert_eq!(pair.py_cmp(&list), None);
        // A JSON list.
        assert_eq!(serde_json::to_string(&pair).unwrap(), "[1,2]");
    }

    #[test]
    fn equal_loop_results_share_one_map_and_stay_apart_when_changed() {
        let result = |status: &str| {
            let mut map = Map::default();
            map.insert("status".into(), Value::str(status));
            map
        };
        let sharing = Sharing::default();
        let (Value::Map(first), Value::Map(mut second), Value::Map(third)) = (
            sharing.share(result("SUCCESS")),
            sharing.share(result("SUCCESS")),
            sharing.share(result("FAILED")),
        ) else {
            panic!("maps share as maps");
        };
        assert!(Arc::ptr_eq(&first, &second));
        assert!(!Arc::ptr_eq(&second, &third));
        // Equal for Python, but in another order: not shared, the order shows.
        let ordered = |keys: [&str; 2]| {
            let mut map = Map::default();
            for k in keys {
                map.insert(k.into(), Value::str(k));
            }
            map
        };
        let ab = ordered(["a", "b"]);
        let ba = ordered(["b", "a"]);
        assert!(Value::from(ab.clone()).py_eq(&Value::from(ba.clone())));
        let order = Sharing::default();
        let (Value::Map(x), Value::Map(y)) = (order.share(ba), order.share(ab)) else {
            panic!("maps share as maps");
        };
        assert!(!Arc::ptr_eq(&x, &y));
        // Equal numbers of another form are not the same either.
        assert!(!Value::Float(0.0).same(&Value::Float(-0.0)));
        assert!(!Value::Int(1).same(&Value::Float(1.0)));
        assert!(Value::Float(0.5).same(&Value::Float(0.5)));
        Arc::make_mut(&mut second).insert("extra".into(), Value::Int(1));
        assert_eq!(
            first.len(),
            1,
            "changing one copy leaves the other as it was"
        );
        assert_eq!(second.len(), 2);
        // Empty maps (stages without outputs) share one allocation.
        let (Value::Map(a), Value::Map(b)) =
            (Value::from(Map::default()), Value::from(Map::default()))
        else {
            panic!("maps convert to maps");
        };
        assert!(Arc::ptr_eq(&a, &b));
    }

    fn big(text: &str) -> Value {
        Value::int(text.parse().unwrap())
    }

    #[test]
    fn integers_beyond_64_bits_like_python() {
        // Only what does not fit 64 bits is big.
        assert_eq!(big("-9223372036854775808"), Value::Int(i64::MIN));
        assert!(matches!(big("9223372036854775808"), Value::BigInt(_)));
        let n = big("100000000000000000000");
        assert_eq!(n.py_str(), "100000000000000000000");
        assert_eq!(
            Value::List(vec![big("-100000000000000000000")]).py_repr(),
            "[-100000000000000000000]"
        );
        let mut text = Str::from("n=");
        n.push_str_to(&mut text);
        assert_eq!(text, "n=100000000000000000000");
        assert_eq!(n.type_name(), "int");
        assert!(n.truthy());
        assert!(n.py_eq(&big("100000000000000000000")));
        assert!(!n.py_eq(&big("100000000000000000001")));
        assert_eq!(
            n.py_cmp(&big("10000000000000000000")),
            Some(Ordering::Greater)
        );
        assert_eq!(n.py_cmp(&Value::Int(i64::MAX)), Some(Ordering::Greater));
        assert_eq!(
            big("-100000000000000000000").py_cmp(&Value::Int(i64::MIN)),
            Some(Ordering::Less)
        );
        assert_eq!(Value::Int(0).py_cmp(&n), Some(Ordering::Less));
        // Against floats, exactly (as Python compares them).
        assert!(n.py_eq(&Value::Float(1e20)));
        assert!(!big("100000000000000000001").py_eq(&Value::Float(1e20)));
        assert_eq!(
            big("100000000000000000001").py_cmp(&Value::Float(1e20)),
            Some(Ordering::Greater)
        );
        assert_eq!(n.py_cmp(&Value::Float(f64::INFINITY)), Some(Ordering::Less));
        assert_eq!(n.py_cmp(&Value::Float(f64::NAN)), None);
        assert_eq!(
            Value::Float(-1e300).py_cmp(&big("-100000000000000000000")),
            Some(Ordering::Less)
        );
        // 64-bit integers against floats are exact too: 2**53 + 1 is no float.
        assert!(!Value::Int((1 << 53) + 1).py_eq(&Value::Float(9_007_199_254_740_992.0)));
        assert_eq!(
            Value::Int(i64::MAX).py_cmp(&Value::Float(TWO_63)),
            Some(Ordering::Less)
        );
        assert_eq!(
            Value::Int(-3).py_cmp(&Value::Float(-2.5)),
            Some(Ordering::Less)
        );
        assert_eq!(
            Value::Int(2).py_cmp(&Value::Float(2.0)),
            Some(Ordering::Equal)
        );
        // Sharing tells an `Int` from a `BigInt` and equal big values apart from others.
        assert!(n.same(&big("100000000000000000000")));
        assert!(!n.same(&Value::Float(1e20)));
        // Python's `int(x)` of a float, exactly.
        assert_eq!(int_of_float(1e20), n);
        assert_eq!(int_of_float(-2.9), Value::Int(-2));
        assert_eq!(int_of_float(TWO_63), big("9223372036854775808"));
        assert_eq!(
            bigint_to_f64(&"100000000000000000001".parse().unwrap()).to_bits(),
            1e20_f64.to_bits()
        );
    }

    #[test]
    fn integers_read_from_text_like_python() {
        assert_eq!(parse_int("-12"), Some(Ok(Value::Int(-12))));
        assert_eq!(
            parse_int("+100000000000000000000"),
            Some(Ok(big("100000000000000000000")))
        );
        assert_eq!(parse_int("-0"), Some(Ok(Value::Int(0))));
        for text in ["", "-", "+", "1.5", "1e20", "1_000", " 1", "0x10", "--1"] {
            assert_eq!(parse_int(text), None, "{text}");
        }
        assert!(parse_int(&"7".repeat(MAX_INT_DIGITS)).is_some_and(|r| r.is_ok()));
        let error = parse_int(&format!("-{}", "7".repeat(MAX_INT_DIGITS + 1)))
            .unwrap()
            .unwrap_err();
        assert!(error.to_string().contains("4301 digits"), "{error}");
    }

    #[test]
    fn comparisons_like_python() {
        assert!(Value::Int(1).py_eq(&Value::Float(1.0)));
        assert!(Value::Bool(true).py_eq(&Value::Int(1)));
        assert!(!Value::Int(1).py_eq(&Value::str("1")));
        assert_eq!(
            Value::Int(2).py_cmp(&Value::Float(2.5)),
            Some(Ordering::Less)
        );
        assert_eq!(Value::Int(2).py_cmp(&Value::str("a")), None);
        assert_eq!(
            Value::str("a").py_cmp(&Value::str("b")),
            Some(Ordering::Less)
        );
    }
}
