//! Params: the values a run is given, coerced to the declared types with
//! ddeutil-workflow's rules, and the declared defaults applied (upstream applies a
//! default only when `null` is passed explicitly; wfc applies it to an absent param).

use wfc_compiler::api;
use wfc_plan::ParamSpec;
use wfc_plan::limits::shorten;
use wfc_plan::vocab::ParamType;

use crate::value::{Map, Str, Value};

/// Significant digits of Python's default decimal context: a decimal param whose
/// quantized value needs more is refused, as `Decimal.quantize` refuses it.
const DECIMAL_DIGITS: usize = 28;

/// Deepest nesting of a `map` param written as a Python literal (JSON is held to
/// the same depth by serde_json).
const MAX_LITERAL_DEPTH: usize = wfc_plan::limits::MAX_VALUE_DEPTH;

/// A given value, as shown in a message (a long one is cut).
fn shown(text: &str) -> String {
    shorten(text, 40)
}

/// A param that cannot be used, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// Given, but not declared (`hint`: a "did you mean", or the declared ones).
    #[error("unknown param `{name}`: {hint}")]
    Unknown { name: String, hint: String },
    /// Declared required, not given, without a default.
    #[error("param `{name}` is required: pass it with `-p {name}=VALUE`")]
    Required { name: String },
    /// Given a value that does not fit its type (`why` says how).
    #[error("param `{name}`: {why}")]
    Refused { name: String, why: String },
}

/// Why a params file (`--params-file`) gives no params.
#[derive(Debug, thiserror::Error)]
pub enum ParamsFileError {
    #[error(transparent)]
    Read(#[from] wfc_plan::input::ReadError),
    #[error(transparent)]
    Yaml(#[from] api::YamlError),
    #[error("a params file must hold a mapping of names to values")]
    NotAMapping,
}

/// Builds a run's params from what was given (strings from `-p`, typed values from
/// a params file) and what the plan declares.
pub fn resolve(specs: &[ParamSpec], given: &Map) -> Result<Map, ParamError> {
    for name in given.keys() {
        if !specs.iter().any(|s| s.name == name) {
            let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
            let hint = api::suggestion(name, names.iter().copied()).unwrap_or_else(|| {
                format!(
                    "declared params: {}",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                )
            });
            return Err(ParamError::Unknown {
                name: name.to_string(),
                hint,
            });
        }
    }
    let mut out = Map::default();
    for spec in specs {
        let value = match given.get(spec.name.as_str()) {
            Some(Value::Null) | None => match &spec.default {
                Some(default) => Some(Value::from_plan(default, false)),
                None if spec.ty == ParamType::Choice && !spec.required => {
                    spec.options.first().map(|v| Value::from_plan(v, false))
                }
                None if given.contains_key(spec.name.as_str()) && spec.ty == ParamType::Choice => {
                    spec.options.first().map(|v| Value::from_plan(v, false))
                }
                // Passed as None (a trigger's `null`): upstream's `receive(None)` gives
                // the type's own default, and the param is there.
                None if given.contains_key(spec.name.as_str()) && !spec.required => {
                    out.insert(Str::from(spec.name.as_str()), none_default(spec.ty));
                    continue;
                }
                None if spec.required => {
                    return Err(ParamError::Required {
                        name: spec.name.clone(),
                    });
                }
                None => None,
            },
            Some(value) => Some(value.clone()),
        };
        if let Some(value) = value {
            let coerced = coerce(spec, value).map_err(|why| ParamError::Refused {
                name: spec.name.clone(),
                why,
            })?;
            out.insert(Str::from(spec.name.as_str()), coerced);
        }
    }
    Ok(out)
}

/// What upstream's params give for a value passed as None without a declared default:
/// `None`, but `{}` and `[]` for maps and arrays, and today / now (UTC) for dates.
fn none_default(ty: ParamType) -> Value {
    let now = jiff::Timestamp::now();
    match ty {
        ParamType::Map => Value::from(Map::default()),
        ParamType::Array => Value::List(Vec::new()),
        ParamType::Date => Value::Date(now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date()),
        ParamType::Datetime => Value::DateTime(now),
        ParamType::Str
        | ParamType::Int
        | ParamType::Float
        | ParamType::Decimal
        | ParamType::Choice => Value::Null,
    }
}

fn coerce(spec: &ParamSpec, value: Value) -> Result<Value, String> {
    let precision = spec.precision.unwrap_or(6);
    match spec.ty {
        ParamType::Str => Ok(match value {
            Value::Str(s) => Value::Str(s),
            other => Value::Str(Str::from(other.py_str())),
        }),
        ParamType::Int => match value {
            Value::Int(_) | Value::BigInt(_) | Value::Bool(_) => Ok(value),
            other => {
                let text = other.py_str();
                let digits = text.trim();
                match crate::value::parse_int(digits) {
                    Some(Ok(n)) => Ok(n),
                    Some(Err(why)) => Err(format!("`{}`: {why}", shown(digits))),
                    None => Err(format!("`{}` is not an integer", shown(&text))),
                }
            }
        },
        ParamType::Float => {
            let x = match &value {
                Value::Float(x) => *x,
                #[allow(clippy::cast_precision_loss)]
                Value::Int(n) => *n as f64,
                // Infinite beyond every float: refused below.
                Value::BigInt(n) => crate::value::bigint_to_f64(n),
                Value::Str(s) => s
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| format!("`{}` is not a number", shown(s)))?,
                other => return Err(format!("a {} is not a number", other.type_name())),
            };
            if !x.is_finite() {
                return Err(format!(
                    "`{}` is not a finite number: a float param holds up to about 1.8e308",
                    shown(&value.py_str())
                ));
            }
            Ok(Value::Float(round(x, precision)))
        }
        ParamType::Decimal => {
            let text = match &value {
                Value::Str(s) => s.trim().to_string(),
                Value::Int(_) | Value::BigInt(_) => value.py_str(),
                Value::Float(x) => format!("{x}"),
                Value::Decimal(d) => d.to_string(),
                other => return Err(format!("a {} is not a decimal", other.type_name())),
            };
            quantize(&text, precision).map(|d| Value::Decimal(d.into()))
        }
        ParamType::Date => match value {
            Value::Date(d) => Ok(Value::Date(d)),
            Value::DateTime(t) => Ok(Value::Date(
                t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date(),
            )),
            Value::Str(s) => parse_date(&s).map(Value::Date).ok_or_else(|| {
                format!(
                    "`{}` is not an ISO date (YYYY-MM-DD, years 1 to 9999)",
                    shown(&s)
                )
            }),
            other => Err(format!("a {} is not a date", other.type_name())),
        },
        ParamType::Datetime => match value {
            Value::DateTime(t) => Ok(Value::DateTime(t)),
            Value::Date(d) => midnight(d)
                .map(Value::DateTime)
                .ok_or_else(|| "the date is out of range".to_string()),
            Value::Str(s) => parse_datetime(&s).map(Value::DateTime).ok_or_else(|| {
                format!(
                    "`{}` is not an ISO datetime (YYYY-MM-DDTHH:MM:SS, years 1 to 9999)",
                    shown(&s)
                )
            }),
            other => Err(format!("a {} is not a datetime", other.type_name())),
        },
        ParamType::Choice => {
            let options: Vec<Value> = spec
                .options
                .iter()
                .map(|v| Value::from_plan(v, false))
                .collect();
            if let Some(found) = options.iter().find(|o| o.py_eq(&value)) {
                return Ok(found.clone());
            }
            // `-p` gives text: `1` picks the integer option 1.
            let text = value.py_str();
            options
                .iter()
                .find(|o| matches!(o, Value::Int(_) | Value::BigInt(_)) && o.py_str() == text)
                .cloned()
                .ok_or_else(|| {
                    let shown: Vec<String> = options.iter().map(Value::py_repr).collect();
                    format!(
                        "`{}` is not one of the options [{}]",
                        self::shown(&text),
                        shown.join(", ")
                    )
                })
        }
        ParamType::Map => match value {
            Value::Map(m) => Ok(Value::Map(m)),
            Value::Str(s) => match literal_value(&s) {
                Some(Value::Map(m)) => Ok(Value::Map(m)),
                _ => Err(format!(
                    "`{}` is not a mapping (write JSON or a Python dict literal)",
                    shown(&s)
                )),
            },
            other => Err(format!("a {} is not a mapping", other.type_name())),
        },
        ParamType::Array => match value {
            // Upstream's `receive`: a tuple becomes a list.
            Value::List(items) | Value::Tuple(items) => Ok(Value::List(items)),
            Value::Str(s) => match crate::json::parse(&s) {
                Ok(Value::List(items)) => Ok(Value::List(items)),
                Ok(_) => Err(format!("`{}` is not a JSON list", shown(&s))),
                Err(e) => Err(format!("`{}` is not a JSON list ({e})", shown(&s))),
            },
            other => Err(format!("a {} is not a list", other.type_name())),
        },
    }
}

/// Python's `round(x, n)` (half to even on the binary value).
fn round(x: f64, digits: u32) -> f64 {
    let text = format!("{x:.prec$}", prec = digits as usize);
    text.parse().unwrap_or(x)
}

/// `Decimal(text).quantize(Decimal(10) ** -precision)` in Python's default decimal
/// context: half-even rounding, and a result of at most 28 significant digits (a
/// longer one is Python's `InvalidOperation`, refused here before any digit of it
/// is made).
fn quantize(text: &str, precision: u32) -> Result<String, String> {
    let not_decimal = || format!("`{}` is not a decimal", shown(text));
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (
            &body[..i],
            exponent(&body[i + 1..]).ok_or_else(not_decimal)?,
        ),
        None => (body, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(not_decimal());
    }
    let precision = precision as usize;
    let too_long = || {
        format!(
            "`{}` is too large for a decimal of precision {precision}: Python's decimal \
             context keeps {DECIMAL_DIGITS} significant digits, so at most {} before the point",
            shown(text),
            DECIMAL_DIGITS.saturating_sub(precision)
        )
    };
    // All digits, and where the point is after applying the exponent.
    let digits: Vec<u8> = whole
        .bytes()
        .chain(fraction.bytes())
        .map(|b| b - b'0')
        .collect();
    let point = i128::try_from(whole.len()).map_err(|_| not_decimal())? + exponent;
    // Digits before the point, counted from the first that is not zero: too many,
    // and the value is refused before its digits are laid out.
    let Some(first) = digits.iter().position(|d| *d != 0) else {
        // Zero, whatever its exponent.
        return Ok(if precision == 0 {
            "0".to_string()
        } else {
            format!("0.{}", "0".repeat(precision))
        });
    };
    let before_point = point - i128::try_from(first).map_err(|_| not_decimal())?;
    if before_point + i128::try_from(precision).unwrap_or(i128::MAX)
        > i128::try_from(DECIMAL_DIGITS).unwrap_or(0)
    {
        return Err(too_long());
    }
    // Kept digits: up to `precision` after the point. The check above bounds them
    // by the digits written (leading zeros) and the 28 significant ones.
    let keep = point + i128::try_from(precision).unwrap_or(0);
    // Below zero, every digit is dropped and the first dropped is a leading zero.
    let (mut kept, first_dropped, rest_nonzero) = match usize::try_from(keep) {
        Ok(keep) => (
            (0..keep)
                .map(|i| digits.get(i).copied().unwrap_or(0))
                .collect::<Vec<u8>>(),
            digits.get(keep).copied().unwrap_or(0),
            digits.iter().skip(keep + 1).any(|d| *d != 0),
        ),
        Err(_) => (Vec::new(), 0, true),
    };
    let round_up = first_dropped > 5
        || first_dropped == 5 && (rest_nonzero || kept.last().is_some_and(|d| d % 2 == 1));
    if round_up {
        let mut i = kept.len();
        loop {
            if i == 0 {
                kept.insert(0, 1);
                break;
            }
            i -= 1;
            if kept[i] == 9 {
                kept[i] = 0;
            } else {
                kept[i] += 1;
                break;
            }
        }
    }
    while kept.len() < precision + 1 {
        kept.insert(0, 0);
    }
    let split = kept.len() - precision;
    let int_part: String = kept[..split].iter().map(|d| char::from(b'0' + d)).collect();
    let int_part = int_part.trim_start_matches('0');
    // Rounding up may have made one digit more (9.9999995 to 10.000000).
    if int_part.len() + precision > DECIMAL_DIGITS {
        return Err(too_long());
    }
    let int_part = if int_part.is_empty() { "0" } else { int_part };
    let frac_part: String = kept[split..].iter().map(|d| char::from(b'0' + d)).collect();
    let sign = if negative && kept.iter().any(|d| *d != 0) {
        "-"
    } else {
        ""
    };
    Ok(if precision == 0 {
        format!("{sign}{int_part}")
    } else {
        format!("{sign}{int_part}.{frac_part}")
    })
}

/// A decimal's exponent; one too large for any decimal is kept as a very large
/// number (the value is then refused for its size, not its syntax).
fn exponent(text: &str) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.parse::<i128>().unwrap_or(i128::from(i64::MAX));
    let magnitude = magnitude.min(i128::from(i64::MAX));
    Some(if negative { -magnitude } else { magnitude })
}

/// Years Python's `date` and `datetime` hold (`MINYEAR`, `MAXYEAR`).
fn python_year(year: i16) -> bool {
    (1..=9999).contains(&year)
}

fn parse_date(text: &str) -> Option<jiff::civil::Date> {
    let text = text.trim();
    (text.len() == 10)
        .then(|| text.parse::<jiff::civil::Date>().ok())
        .flatten()
        .filter(|d| python_year(d.year()))
}

fn midnight(date: jiff::civil::Date) -> Option<jiff::Timestamp> {
    date.to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// Python's `datetime.fromisoformat`, then the offset replaced by UTC (upstream keeps
/// the wall-clock time and discards the offset of a string).
fn parse_datetime(text: &str) -> Option<jiff::Timestamp> {
    let text = text.trim();
    if text.len() == 10 {
        return midnight(parse_date(text)?);
    }
    // Drop a trailing offset (`Z`, `+07:00`, `-0500`).
    let wall = text
        .strip_suffix('Z')
        .or_else(|| {
            let cut = text.rfind(['+', '-']).filter(|&i| i > 10)?;
            Some(&text[..cut])
        })
        .unwrap_or(text);
    let civil: jiff::civil::DateTime = wall.replacen(' ', "T", 1).parse().ok()?;
    if !python_year(civil.year()) {
        return None;
    }
    civil
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// A JSON or Python literal (`{'a': 1, 'b': [True, None]}`).
fn literal_value(text: &str) -> Option<Value> {
    if let Ok(value) = crate::json::parse(text) {
        return Some(value);
    }
    let mut parser = PyLiteral {
        text: text.as_bytes(),
        at: 0,
        depth: 0,
    };
    let value = parser.value()?;
    parser.space();
    (parser.at == parser.text.len()).then_some(value)
}

/// A reader of Python literals, for `map` params written the way upstream reads them
/// (`ast.literal_eval`).
struct PyLiteral<'a> {
    text: &'a [u8],
    at: usize,
    /// Open brackets around the current value.
    depth: usize,
}

impl PyLiteral<'_> {
    fn space(&mut self) {
        while self.text.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.space();
        if self.text.get(self.at) == Some(&byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.space();
        let open = matches!(self.text.get(self.at)?, b'{' | b'[' | b'(');
        if open {
            if self.depth >= MAX_LITERAL_DEPTH {
                return None;
            }
            self.depth += 1;
        }
        let value = self.value_at();
        if open {
            self.depth -= 1;
        }
        value
    }

    fn value_at(&mut self) -> Option<Value> {
        match *self.text.get(self.at)? {
            b'{' => {
                self.at += 1;
                let mut map = Map::default();
                if self.eat(b'}') {
                    return Some(Value::from(map));
                }
                loop {
                    let key = self.value()?.py_str();
                    if !self.eat(b':') {
                        return None;
                    }
                    map.insert(Str::from(key), self.value()?);
                    if self.eat(b'}') {
                        return Some(Value::from(map));
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                    if self.eat(b'}') {
                        return Some(Value::from(map));
                    }
                }
            }
            open @ (b'[' | b'(') => {
                self.at += 1;
                let tuple = open == b'(';
                let close = if tuple { b')' } else { b']' };
                let made = |items| {
                    if tuple {
                        Value::Tuple(items)
                    } else {
                        Value::List(items)
                    }
                };
                let mut items = Vec::new();
                if self.eat(close) {
                    return Some(made(items));
                }
                loop {
                    items.push(self.value()?);
                    if self.eat(close) {
                        // `(x)` is `x` in parentheses; `(x,)` is a tuple.
                        if tuple && items.len() == 1 {
                            return items.pop();
                        }
                        return Some(made(items));
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                    if self.eat(close) {
                        return Some(made(items));
                    }
                }
            }
            quote @ (b'\'' | b'"') => {
                self.at += 1;
                let mut out = String::new();
                let rest = std::str::from_utf8(&self.text[self.at..]).ok()?;
                let mut chars = rest.char_indices();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            let (_, next) = chars.next()?;
                            out.push(match next {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            });
                        }
                        c if c as u32 == u32::from(quote) => {
                            self.at += i + 1;
                            return Some(Value::Str(Str::from(out)));
                        }
                        c => out.push(c),
                    }
                }
                None
            }
            _ => {
                let start = self.at;
                while self.text.get(self.at).is_some_and(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'_')
                }) {
                    self.at += 1;
                }
                let word = std::str::from_utf8(&self.text[start..self.at]).ok()?;
                match word {
                    "True" => Some(Value::Bool(true)),
                    "False" => Some(Value::Bool(false)),
                    "None" => Some(Value::Null),
                    _ => match crate::value::parse_int(word) {
                        Some(n) => n.ok(),
                        None => word.parse::<f64>().map(Value::Float).ok(),
                    },
                }
            }
        }
    }
}

/// A `-p key=value` value: always text; the param's type decides what it becomes.
#[must_use]
pub fn from_cli(text: &str) -> Value {
    Value::Str(Str::from(text))
}

/// The values of the params file at `path` (read up to
/// [`wfc_plan::input::MAX_PARAMS_FILE`]): see [`from_file`].
pub fn read_file(path: &std::path::Path) -> Result<Map, ParamsFileError> {
    from_file(&wfc_plan::input::read_text(
        path,
        wfc_plan::input::MAX_PARAMS_FILE,
    )?)
}

/// Values from a params file (JSON or YAML): keep their types.
pub fn from_file(text: &str) -> Result<Map, ParamsFileError> {
    if let Ok(value) = crate::json::parse(text) {
        return match value {
            Value::Map(map) => Ok(std::sync::Arc::unwrap_or_clone(map)),
            _ => Err(ParamsFileError::NotAMapping),
        };
    }
    let node = api::parse_yaml("params", text)?;
    match yaml_value(&node) {
        Value::Map(map) => Ok(std::sync::Arc::unwrap_or_clone(map)),
        Value::Null => Ok(Map::default()),
        _ => Err(ParamsFileError::NotAMapping),
    }
}

fn yaml_value(node: &api::YamlNode) -> Value {
    use api::YamlKind as NodeKind;
    match &node.kind {
        NodeKind::Null => Value::Null,
        NodeKind::Bool(b) => Value::Bool(*b),
        NodeKind::Int(n) => Value::Int(*n),
        NodeKind::BigInt(digits) => Value::int(digits.parse().unwrap_or_default()),
        NodeKind::Float(x) => Value::Float(*x),
        NodeKind::Str(s) => Value::Str(Str::from(s.as_str())),
        NodeKind::Seq(items) => Value::List(items.iter().map(yaml_value).collect()),
        NodeKind::Map(entries) => Value::from(
            entries
                .iter()
                .map(|e| (Str::from(e.key.name.as_str()), yaml_value(&e.value)))
                .collect::<Map>(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfc_plan::PlanValue;
    use wfc_plan::expr::ast::Template;

    fn spec(name: &str, ty: ParamType) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            ty,
            desc: None,
            required: ty == ParamType::Choice,
            default: None,
            options: Vec::new(),
            precision: None,
        }
    }

    fn given(pairs: &[(&str, &str)]) -> Map {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), from_cli(v)))
            .collect()
    }

    fn one(ty: ParamType, text: &str) -> Result<Value, ParamError> {
        resolve(&[spec("x", ty)], &given(&[("x", text)])).map(|m| m["x"].clone())
    }

    #[test]
    fn coercion_like_upstream() {
        assert_eq!(one(ParamType::Int, "5"), Ok(Value::Int(5)));
        assert!(one(ParamType::Int, "5.0").is_err());
        assert_eq!(
            one(ParamType::Float, "0.3333333333"),
            Ok(Value::Float(0.333_333))
        );
        assert_eq!(
            one(ParamType::Decimal, "1.5"),
            Ok(Value::Decimal("1.500000".into()))
        );
        assert_eq!(
            one(ParamType::Decimal, "2.0000005"),
            Ok(Value::Decimal("2.000000".into()))
        );
        assert_eq!(
            one(ParamType::Decimal, "2.0000015"),
            Ok(Value::Decimal("2.000002".into()))
        );
        assert_eq!(
            one(ParamType::Datetime, "2024-01-02T03:04:05+07:00").map(|v| v.py_str()),
            Ok("2024-01-02 03:04:05+00:00".to_string())
        );
        assert_eq!(
            one(ParamType::Date, "2024-01-31").map(|v| v.py_str()),
            Ok("2024-01-31".into())
        );
        assert_eq!(
            one(ParamType::Map, "{'k': [1, True, None]}").map(|v| v.py_str()),
            Ok("{'k': [1, True, None]}".into())
        );
        // `ast.literal_eval`: tuples stay tuples, `(1)` is 1 in parentheses.
        assert_eq!(
            one(
                ParamType::Map,
                "{'a': (1, 2), 'b': (1), 'c': (), 'd': [('x',)]}"
            )
            .map(|v| v.py_str()),
            Ok("{'a': (1, 2), 'b': 1, 'c': (), 'd': [('x',)]}".into())
        );
        assert!(one(ParamType::Map, "{'a': (1 2)}").is_err());
        assert_eq!(
            one(ParamType::Array, "[1, \"x\"]").map(|v| v.py_str()),
            Ok("[1, 'x']".into())
        );
        assert!(one(ParamType::Array, "nope").is_err());
    }

    #[test]
    fn int_params_are_unbounded_like_pythons() {
        let big = |text: &str| Value::int(text.parse().unwrap());
        for (text, expected) in [
            ("100000000000000000000", big("100000000000000000000")),
            (
                " -1000000000000000000000000000000 ",
                big("-1000000000000000000000000000000"),
            ),
            ("+9223372036854775808", big("9223372036854775808")),
            ("-9223372036854775808", Value::Int(i64::MIN)),
            ("0009", Value::Int(9)),
        ] {
            assert_eq!(one(ParamType::Int, text), Ok(expected), "{text}");
        }
        // Python's limit of digits, leading zeros included.
        assert!(one(ParamType::Int, &"9".repeat(4300)).is_ok());
        assert!(one(ParamType::Int, &format!("0{}", "9".repeat(4300))).is_err());
        assert!(one(ParamType::Int, "1e20").is_err());
        // Typed values (a params file, a trigger's params) pass as they are.
        let given: Map = [("x".into(), big("-100000000000000000000"))]
            .into_iter()
            .collect();
        assert_eq!(
            resolve(&[spec("x", ParamType::Int)], &given).map(|m| m["x"].clone()),
            Ok(big("-100000000000000000000"))
        );
        // The other types read big integers too.
        assert_eq!(
            one(ParamType::Array, "[100000000000000000000, 1]").map(|v| v.py_str()),
            Ok("[100000000000000000000, 1]".into())
        );
        assert_eq!(
            one(ParamType::Map, "{'b': -100000000000000000000, 'a': 1}").map(|v| v.py_str()),
            Ok("{'b': -100000000000000000000, 'a': 1}".into())
        );
        assert_eq!(
            one(ParamType::Map, r#"{"b": 100000000000000000000, "a": 1}"#).map(|v| v.py_str()),
            Ok("{'b': 100000000000000000000, 'a': 1}".into())
        );
        assert_eq!(
            one(ParamType::Str, "100000000000000000000"),
            Ok(Value::str("100000000000000000000"))
        );
        let mut float = spec("x", ParamType::Float);
        float.precision = Some(1);
        let given: Map = [("x".into(), big("100000000000000000000"))]
            .into_iter()
            .collect();
        assert_eq!(
            resolve(&[float], &given).map(|m| m["x"].clone()),
            Ok(Value::Float(1e20))
        );
        let given: Map = [("x".into(), big(&format!("1{}", "0".repeat(400))))]
            .into_iter()
            .collect();
        assert!(resolve(&[spec("x", ParamType::Float)], &given).is_err());
        let given: Map = [("x".into(), big("100000000000000000000"))]
            .into_iter()
            .collect();
        assert_eq!(
            resolve(&[spec("x", ParamType::Decimal)], &given).map(|m| m["x"].clone()),
            Ok(Value::Decimal("100000000000000000000.000000".into()))
        );
    }

    #[test]
    fn decimals_are_held_to_pythons_default_context() {
        // Expected values from Python 3: `str(Decimal(s).quantize(Decimal(10) ** -p))`.
        let cases: &[(&str, u32, Option<&str>)] = &[
            ("1e999999999", 6, None),
            ("1.5", 6, Some("1.500000")),
            ("12345678901234567890123.5", 6, None),
            (
                "1234567890123456789012.5",
                6,
                Some("1234567890123456789012.500000"),
            ),
            ("9999999999999999999999.9999995", 6, None),
            (
                "9999999999999999999999.9999994",
                6,
                Some("9999999999999999999999.999999"),
            ),
            ("1e21", 6, Some("1000000000000000000000.000000")),
            ("1e22", 6, None),
            ("0e999999999", 6, Some("0.000000")),
            ("1e-999999999", 6, Some("0.000000")),
            ("0.0000005", 6, Some("0.000000")),
            ("0.0000015", 6, Some("0.000002")),
            ("1e27", 0, Some("1000000000000000000000000000")),
            ("1e28", 0, None),
            ("123.456", 28, None),
            ("0.5", 28, Some("0.5000000000000000000000000000")),
            ("1", 27, Some("1.000000000000000000000000000")),
            ("10", 27, None),
            ("2.5", 0, Some("2")),
            ("3.5", 0, Some("4")),
            ("00000000000000000000000000000001.5", 6, Some("1.500000")),
        ];
        for (text, precision, expected) in cases {
            let got = quantize(text, *precision);
            if let Some(e) = expected {
                assert_eq!(got.as_deref(), Ok(*e), "{text} at {precision}");
            } else {
                let error = got.expect_err(text);
                assert!(error.contains("too large"), "{text}: {error}");
            }
        }
        // An exponent beyond any integer is a size problem too, not a syntax one.
        assert!(
            quantize("1e99999999999999999999999", 6)
                .unwrap_err()
                .contains("too large")
        );
        assert!(quantize("1e", 6).unwrap_err().contains("not a decimal"));
    }

    #[test]
    fn every_coercion_is_bounded() {
        let long = "9".repeat(100_000);
        let error = one(ParamType::Int, &long).unwrap_err().to_string();
        assert!(
            error.contains("100000 digits is beyond Python's limit of 4300") && error.len() < 200,
            "{error}"
        );
        let error = one(ParamType::Str, "x")
            .and_then(|_| one(ParamType::Int, &format!("x{long}")))
            .unwrap_err()
            .to_string();
        assert!(error.len() < 200, "{error}");
        for text in ["1e999", "inf", "-inf", "nan"] {
            assert!(one(ParamType::Float, text).is_err(), "{text}");
        }
        assert!(one(ParamType::Float, "1e308").is_ok());
        for text in ["0000-01-01", "-0001-01-01", "99999-01-01"] {
            assert!(one(ParamType::Date, text).is_err(), "{text}");
            assert!(one(ParamType::Datetime, text).is_err(), "{text}");
        }
        assert!(one(ParamType::Date, "0001-01-01").is_ok());
        assert!(one(ParamType::Datetime, "9999-12-30T00:00:00").is_ok());
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(one(ParamType::Array, &deep).is_err());
        let deep_map = format!("{{'a': {}1{}}}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(one(ParamType::Map, &deep_map).is_err());
        let fine = format!("{{'a': {}1{}}}", "[".repeat(100), "]".repeat(100));
        assert!(one(ParamType::Map, &fine).is_ok());
    }

    #[test]
    fn defaults_required_and_unknown() {
        let mut with_default = spec("d", ParamType::Int);
        with_default.default = Some(PlanValue::Int(3));
        let mut choice = spec("c", ParamType::Choice);
        choice.options = vec![PlanValue::Str(Template::literal("a")), PlanValue::Int(2)];
        let specs = vec![with_default, choice];
        let error = resolve(&specs, &Map::default()).unwrap_err();
        assert!(error.to_string().contains("`c` is required"), "{error}");
        let got = resolve(&specs, &given(&[("c", "2")])).unwrap();
        assert_eq!(got["d"], Value::Int(3));
        assert_eq!(got["c"], Value::Int(2));
        assert!(resolve(&specs, &given(&[("c", "b")])).is_err());
        let error = resolve(&specs, &given(&[("c", "a"), ("dd", "1")])).unwrap_err();
        assert!(error.to_string().contains("did you mean `d`?"), "{error}");
    }
}
