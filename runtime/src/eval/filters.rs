//! The filters every template has (upstream's built-ins and its shipped extras).
//! Other names are looked up among the filters registered in Python (`python.rs`).

use wfc_plan::expr::ast::{Filter, Literal};

use super::{EvalError, literal};
use std::sync::Arc;

use crate::value::{Text, Value};

fn arg<'a>(filter: &'a Filter, index: usize, name: &str) -> Option<&'a Literal> {
    filter.args.get(index).or_else(|| {
        filter
            .kwargs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    })
}

fn filter_error(filter: &Filter, message: impl Into<String>) -> EvalError {
    EvalError {
        name: "UtilError",
        message: format!("filter `{}`: {}", filter.name, message.into()),
    }
}

/// Applies one filter.
pub(super) fn apply(filter: &Filter, value: Value) -> Result<Value, EvalError> {
    let wrong = |v: &Value| {
        filter_error(
            filter,
            format!("does not apply to {} values", v.type_name()),
        )
    };
    Ok(match filter.name.as_str() {
        "abs" => match value {
            Value::Int(n) => n.checked_abs().map_or_else(
                || Value::int(num_bigint::BigInt::from(n).magnitude().clone().into()),
                Value::Int,
            ),
            Value::BigInt(n) => Value::int(n.magnitude().clone().into()),
            Value::Float(x) => Value::Float(x.abs()),
            Value::Bool(b) => Value::Int(i64::from(b)),
            other => return Err(wrong(&other)),
        },
        "str" => Value::Str(Text::from(value.py_str())),
        "rstr" => Value::Str(Text::from(wfc_plan::pytext::repr_str(&value.py_str()))),
        "int" => match value {
            Value::Int(_) | Value::BigInt(_) => value,
            Value::Bool(b) => Value::Int(i64::from(b)),
            Value::Float(x) if x.is_finite() => crate::value::int_of_float(x),
            Value::Str(s) => match crate::value::parse_int(&s.trim().replace('_', "")) {
                Some(Ok(n)) => n,
                Some(Err(message)) => {
                    return Err(EvalError {
                        name: "ValueError",
                        message,
                    });
                }
                None => {
                    return Err(EvalError {
                        name: "ValueError",
                        message: format!(
                            "invalid literal for int() with base 10: {}",
                            wfc_plan::pytext::repr_str(&s)
                        ),
                    });
                }
            },
            other => return Err(wrong(&other)),
        },
        "list" => match value {
            Value::List(items) | Value::Tuple(items) => Value::List(items),
            Value::Str(s) => Value::List(
                s.chars()
                    .map(|c| Value::Str(Text::from(c.encode_utf8(&mut [0; 4]) as &str)))
                    .collect(),
            ),
            Value::Map(m) => Value::List(
                Arc::unwrap_or_clone(m)
                    .into_keys()
                    .map(Value::Str)
                    .collect(),
            ),
            other => return Err(wrong(&other)),
        },
        "dict" => match value {
            Value::Map(m) => Value::Map(m),
            Value::List(items) | Value::Tuple(items) => {
                let mut map = crate::value::Map::default();
                for item in items {
                    match item {
                        Value::List(pair) | Value::Tuple(pair) if pair.len() == 2 => {
                            map.insert(pair[0].py_str().into(), pair[1].clone());
                        }
                        other => return Err(wrong(&other)),
                    }
                }
                Value::from(map)
            }
            other => return Err(wrong(&other)),
        },
        "title" | "upper" | "lower" => match value {
            Value::Str(s) => Value::Str(match filter.name.as_str() {
                "upper" => s.to_uppercase(),
                "lower" => s.to_lowercase(),
                _ => title(&s).into(),
            }),
            other => return Err(wrong(&other)),
        },
        "keys" | "values" => match value {
            Value::Map(m) if filter.name == "keys" => Value::List(
                Arc::unwrap_or_clone(m)
                    .into_keys()
                    .map(Value::Str)
                    .collect(),
            ),
            Value::Map(m) => Value::List(Arc::unwrap_or_clone(m).into_values().collect()),
            other => return Err(wrong(&other)),
        },
        "fmt" => {
            let format = match arg(filter, 0, "fmt") {
                Some(Literal::Str(f)) => f.clone(),
                None => "%Y-%m-%d %H:%M:%S".to_string(),
                Some(_) => return Err(filter_error(filter, "the format must be a string")),
            };
            let zoned = match &value {
                Value::DateTime(t) => t.to_zoned_datetime(jiff::tz::TimeZone::UTC),
                Value::Date(d) => d
                    .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                    .map_err(|e| filter_error(filter, e.to_string()))?,
                other => return Err(wrong(other)),
            };
            Value::Str(
                jiff::fmt::strtime::format(format.as_str(), &zoned)
                    .map_err(|e| filter_error(filter, e.to_string()))?
                    .into(),
            )
        }
        "coalesce" => match value {
            Value::Null => arg(filter, 0, "default").map_or(Value::Null, literal),
            other => other,
        },
        "getitem" => {
            let key = arg(filter, 0, "key").map_or(Value::Null, literal);
            let default = arg(filter, 1, "default").map_or(Value::Null, literal);
            match value {
                Value::Map(m) => m.get(key.py_str().as_str()).cloned().unwrap_or(default),
                other => return Err(wrong(&other)),
            }
        }
        "getindex" => {
            let index = match arg(filter, 0, "index") {
                Some(Literal::Int(i)) => *i,
                _ => return Err(filter_error(filter, "the index must be an integer")),
            };
            match value {
                Value::List(items) => {
                    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                    let at = if index < 0 { len + index } else { index };
                    usize::try_from(at)
                        .ok()
                        .and_then(|at| items.get(at).cloned())
                        .ok_or_else(|| EvalError {
                            name: "IndexError",
                            message: "list index out of range".into(),
                        })?
                }
                other => return Err(wrong(&other)),
            }
        }
        #[cfg(feature = "python")]
        _ => {
            let args: Vec<Value> = filter.args.iter().map(literal).collect();
            let kwargs: Vec<(String, Value)> = filter
                .kwargs
                .iter()
                .map(|(k, v)| (k.clone(), literal(v)))
                .collect();
            return crate::python::apply_filter(&filter.name, &value, &args, &kwargs)
                .map_err(|message| filter_error(filter, message));
        }
        #[cfg(not(feature = "python"))]
        other => {
            return Err(filter_error(
                filter,
                format!(
                    "`{other}` is not a built-in filter; filters registered in Python are not available in this build"
                ),
            ));
        }
    })
}

/// Python's `str.title()`.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut previous_cased = false;
    for c in s.chars() {
        if previous_cased {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        previous_cased = c.is_alphabetic();
    }
    out
}
