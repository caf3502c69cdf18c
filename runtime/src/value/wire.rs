//! Values as they cross a process or machine boundary (a worker's results, a
//! container's Python stage outputs): JSON that keeps what plain JSON loses,
//! the types Python tells apart (tuples and lists, big integers, dates and
//! datetimes, decimals, floats that JSON cannot write).
//!
//! `{"t": tag, "v": value}`: `n` None, `b` bool, `i` int (i64), `I` big int
//! (its digits), `f` float (its text, `inf`, `nan` included), `s` str, `l` list,
//! `u` tuple, `m` map (a list of `[key, value]` pairs, in order), `d` date
//! (`YYYY-MM-DD`), `D` datetime (RFC 3339, UTC), `c` decimal (its text), `r` a
//! live object that cannot cross (its `str()`, arriving as a str).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{BigInt, Map, Str, Value};

/// A value on the wire.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "t", content = "v")]
pub enum Wire {
    #[serde(rename = "n")]
    Null,
    #[serde(rename = "b")]
    Bool(bool),
    #[serde(rename = "i")]
    Int(i64),
    #[serde(rename = "I")]
    BigInt(String),
    #[serde(rename = "f")]
    Float(String),
    #[serde(rename = "s")]
    Str(String),
    #[serde(rename = "l")]
    List(Vec<Wire>),
    #[serde(rename = "u")]
    Tuple(Vec<Wire>),
    #[serde(rename = "m")]
    Map(Vec<(String, Wire)>),
    #[serde(rename = "d")]
    Date(String),
    #[serde(rename = "D")]
    DateTime(String),
    #[serde(rename = "c")]
    Decimal(String),
    #[serde(rename = "r")]
    Repr(String),
}

/// A wire value that does not make a value.
#[derive(Debug, thiserror::Error)]
#[error("a value on the wire is not valid: {0}")]
pub struct WireError(String);

impl Wire {
    #[must_use]
    pub fn of(value: &Value) -> Wire {
        match value {
            Value::Null => Wire::Null,
            Value::Bool(b) => Wire::Bool(*b),
            Value::Int(n) => Wire::Int(*n),
            Value::BigInt(n) => Wire::BigInt(n.to_string()),
            Value::Float(x) => Wire::Float(x.to_string()),
            Value::Str(s) => Wire::Str(s.to_string()),
            Value::List(items) => Wire::List(items.iter().map(Wire::of).collect()),
            Value::Tuple(items) => Wire::Tuple(items.iter().map(Wire::of).collect()),
            Value::Map(map) => Wire::Map(map_of(map)),
            Value::Date(d) => Wire::Date(d.to_string()),
            Value::DateTime(t) => Wire::DateTime(t.to_string()),
            Value::Decimal(s) => Wire::Decimal(s.to_string()),
            Value::Foreign(_) => Wire::Repr(value.py_str()),
        }
    }

    pub fn into_value(self) -> Result<Value, WireError> {
        Ok(match self {
            Wire::Null => Value::Null,
            Wire::Bool(b) => Value::Bool(b),
            Wire::Int(n) => Value::Int(n),
            Wire::BigInt(digits) => Value::int(
                BigInt::from_str(&digits).map_err(|_| WireError(format!("big int {digits:?}")))?,
            ),
            Wire::Float(text) => Value::Float(parse_float(&text)?),
            Wire::Str(s) | Wire::Repr(s) => Value::str(s),
            Wire::List(items) => Value::List(values(items)?),
            Wire::Tuple(items) => Value::Tuple(values(items)?),
            Wire::Map(entries) => Value::from(map(entries)?),
            Wire::Date(text) => Value::Date(
                text.parse()
                    .map_err(|_| WireError(format!("date {text:?}")))?,
            ),
            Wire::DateTime(text) => Value::DateTime(
                text.parse()
                    .map_err(|_| WireError(format!("datetime {text:?}")))?,
            ),
            Wire::Decimal(text) => Value::Decimal(Str::from(text)),
        })
    }
}

/// A map's entries on the wire, in order.
#[must_use]
pub fn map_of(map: &Map) -> Vec<(String, Wire)> {
    map.iter()
        .map(|(k, v)| (k.to_string(), Wire::of(v)))
        .collect()
}

/// A map from its entries on the wire.
pub fn map(entries: Vec<(String, Wire)>) -> Result<Map, WireError> {
    entries
        .into_iter()
        .map(|(k, v)| Ok((Str::from(k), v.into_value()?)))
        .collect()
}

fn values(items: Vec<Wire>) -> Result<Vec<Value>, WireError> {
    items.into_iter().map(Wire::into_value).collect()
}

/// Rust's and Python's texts of a float (`inf`, `-inf`, `nan`, `1e+16`).
fn parse_float(text: &str) -> Result<f64, WireError> {
    text.parse::<f64>()
        .or_else(|_| text.replace("e+", "e").parse())
        .map_err(|_| WireError(format!("float {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(value: &Value) -> Value {
        let text = serde_json::to_string(&Wire::of(value)).unwrap();
        serde_json::from_str::<Wire>(&text)
            .unwrap()
            .into_value()
            .unwrap()
    }

    #[test]
    fn every_kind_of_value_crosses_as_it_is() {
        let mut inner = Map::default();
        inner.insert("z".into(), Value::Int(1));
        inner.insert("a".into(), Value::Tuple(vec![Value::Int(1)]));
        let values = [
            Value::Null,
            Value::Bool(true),
            Value::Int(-7),
            Value::int(BigInt::from(10).pow(30)),
            Value::Float(0.1),
            Value::Float(f64::INFINITY),
            Value::str("é\n\"x\""),
            Value::List(vec![Value::Int(1), Value::str("a")]),
            Value::Tuple(vec![]),
            Value::from(inner),
            Value::Date(jiff::civil::date(2024, 2, 29)),
            Value::DateTime("2024-01-01T10:00:00.5Z".parse().unwrap()),
            Value::Decimal("1.50".into()),
        ];
        for value in &values {
            let back = round_trip(value);
            assert!(back.same(value), "{value:?} came back as {back:?}");
        }
        assert!(matches!(round_trip(&Value::Float(f64::NAN)), Value::Float(x) if x.is_nan()));
    }

    #[test]
    fn python_float_texts_parse() {
        for (text, x) in [("1e+16", 1e16), ("-inf", f64::NEG_INFINITY), ("2.5", 2.5)] {
            assert_eq!(parse_float(text).unwrap().to_bits(), x.to_bits());
        }
    }

    #[test]
    fn a_bad_value_is_an_error() {
        let bad: Wire = serde_json::from_str(r#"{"t":"d","v":"2024-13-01"}"#).unwrap();
        assert!(bad.into_value().is_err());
    }
}
