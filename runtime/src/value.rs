//! Run-time values: what params, outputs and templates hold. They behave like the
//! Python values ddeutil-workflow handles, so that text forms (`str()`), comparisons
//! and the final context match it.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::sync::Arc;

mod map;

pub use map::Map;

/// Text of values and map keys: short text (stage ids, `status`, `SUCCESS`...)
/// lives inline, without an allocation of its own.
pub type Text = compact_str::CompactString;

/// A map key.
pub type Key = Text;

/// A live object of an embedded language (a Python function a Py stage defined),
/// passed as is between the stages of one job. Outside its job, and in every text
/// or JSON form, it is its name.
pub trait Foreign: std::fmt::Debug + Send + Sync {
    fn name(&self) -> &str;
    fn as_any(&self) -> &dyn std::any::Any;
}

#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Text),
    List(Vec<Value>),
    /// Shared: maps are the largest variant, copies of a context are cheap, and
    /// equal results (the same stage outcome for every item of a loop) can share
    /// one map. Changed through `Arc::make_mut`, so a shared map is never altered.
    Map(Arc<Map>),
    Date(jiff::civil::Date),
    /// Always UTC, as upstream's datetime params are.
    DateTime(jiff::Timestamp),
    /// A `decimal` param, kept as its text (already quantized).
    Decimal(Text),
    Foreign(std::sync::Arc<dyn Foreign>),
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
            #[allow(clippy::float_cmp)]
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) | (Value::Decimal(a), Value::Decimal(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            (Value::Date(a), Value::Date(b)) => a == b,
            (Value::DateTime(a), Value::DateTime(b)) => a == b,
            (Value::Foreign(a), Value::Foreign(b)) => std::sync::Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Value {
    /// A constant from a plan (params' defaults, static matrices). `$$` is the
    /// escape of a literal `$`. With `bools_as_ints`, booleans become 0 / 1, as
    /// upstream's static matrices store them.
    #[must_use]
    pub fn from_plan(value: &wfc_compiler::plan::PValue, bools_as_ints: bool) -> Self {
        use wfc_compiler::plan::PValue;
        let each = |v: &PValue| Value::from_plan(v, bools_as_ints);
        match value {
            PValue::Null => Value::Null,
            PValue::Bool(b) if bools_as_ints => Value::Int(i64::from(*b)),
            PValue::Bool(b) => Value::Bool(*b),
            PValue::Int(n) => Value::Int(*n),
            PValue::Float(x) => Value::Float(*x),
            PValue::Str(t) => Value::Str(t.to_string().replace("$$", "$").into()),
            PValue::List(items) => Value::List(items.iter().map(each).collect()),
            PValue::Map(map) => Value::from(
                map.iter()
                    .map(|(k, v)| (Key::from(k.as_str()), each(v)))
                    .collect::<Map>(),
            ),
        }
    }

    #[must_use]
    pub fn str(s: impl Into<Text>) -> Self {
        Value::Str(s.into())
    }

    /// The Python type name, for error messages.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::List(_) => "list",
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
            Value::Float(x) => *x != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
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
            (Value::List(a), Value::List(b)) => {
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
    pub fn push_str_to(&self, out: &mut Text) {
        match self {
            Value::Str(s) => out.push_str(s),
            Value::Int(n) => out.push_str(itoa::Buffer::new().format(*n)),
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
            Value::Float(x) => out.push_str(&float_repr(*x)),
            Value::Str(s) => out.push_str(&wfc_compiler::pytext::repr_str(s)),
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
            Value::Map(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&wfc_compiler::pytext::repr_str(k));
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

    /// The value as JSON, the way the reference prints contexts
    /// (`json.dumps(..., default=str)`).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(n) => J::from(*n),
            Value::Float(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.to_string()),
            Value::List(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(map) => J::Object(
                map.iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
            Value::Date(_) | Value::DateTime(_) | Value::Decimal(_) | Value::Foreign(_) => {
                J::String(self.py_str())
            }
        }
    }

    /// A JSON value as a run-time value.
    #[must_use]
    pub fn from_json(value: &serde_json::Value) -> Self {
        use serde_json::Value as J;
        match value {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => n
                .as_i64()
                .map_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN)), Value::Int),
            J::String(s) => Value::Str(Text::from(s.as_str())),
            J::Array(items) => Value::List(items.iter().map(Value::from_json).collect()),
            J::Object(map) => Value::from(
                map.iter()
                    .map(|(k, v)| (Key::from(k.as_str()), Value::from_json(v)))
                    .collect::<Map>(),
            ),
        }
    }

    /// The value with every foreign object replaced by its name (a job's context
    /// once the job ends, as upstream finalises it).
    #[must_use]
    pub fn without_foreign(self) -> Value {
        match self {
            Value::Foreign(f) => Value::Str(Text::from(f.name())),
            Value::List(items) => {
                Value::List(items.into_iter().map(Value::without_foreign).collect())
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

    /// A number view for arithmetic and ordering (bools count as 0 and 1, as in Python).
    fn number(&self) -> Option<Number> {
        match self {
            Value::Bool(b) => Some(Number::Int(i64::from(*b))),
            Value::Int(n) => Some(Number::Int(*n)),
            Value::Float(x) => Some(Number::Float(*x)),
            Value::Decimal(d) => d.parse().ok().map(Number::Float),
            _ => None,
        }
    }

    /// Python `==`.
    #[must_use]
    pub fn py_eq(&self, other: &Value) -> bool {
        if let (Some(a), Some(b)) = (self.number(), other.number()) {
            return match (a, b) {
                (Number::Int(x), Number::Int(y)) => x == y,
                #[allow(clippy::float_cmp)]
                _ => a.as_f64() == b.as_f64(),
            };
        }
        match (self, other) {
            (Value::List(a), Value::List(b)) => {
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
            return match (a, b) {
                (Number::Int(x), Number::Int(y)) => Some(x.cmp(&y)),
                _ => a.as_f64().partial_cmp(&b.as_f64()),
            };
        }
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => Some(a.cmp(b)),
            (Value::Date(a), Value::Date(b)) => Some(a.cmp(b)),
            (Value::DateTime(a), Value::DateTime(b)) => Some(a.cmp(b)),
            (Value::List(a), Value::List(b)) => {
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
            Value::Float(x) if x.is_finite() => serializer.serialize_f64(*x),
            Value::Float(_) => serializer.serialize_unit(),
            Value::Str(s) => serializer.serialize_str(s),
            Value::List(items) => {
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
enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    #[allow(clippy::cast_precision_loss)]
    fn as_f64(self) -> f64 {
        match self {
            Number::Int(n) => n as f64,
            Number::Float(x) => x,
        }
    }
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
