//! The filters every template has (upstream's built-ins and its shipped extras), as
//! `wfc_plan::filters` lists them. Other names are looked up among the filters
//! registered in Python (`python.rs`).

use wfc_plan::expr::ast::Filter;
use wfc_plan::filters::{ArgKind, BuiltinFilter, FilterDef};

use super::{EvalError, literal};
use std::borrow::Cow;
use std::sync::Arc;

use crate::status::ErrorName;
use crate::value::{Str, Value};

/// Argument `index` of a call of the built-in filter `def`, given by position or by
/// name, or its default when left out; an error when it is not of the kind the table
/// says.
fn arg(filter: &Filter, def: &FilterDef, index: usize) -> Result<Value, EvalError> {
    let Some(param) = def.params.get(index) else {
        return Err(kind_error(filter, def, index));
    };
    let given = filter.args.get(index).or_else(|| {
        filter
            .kwargs
            .iter()
            .find(|(k, _)| k == param.name)
            .map(|(_, v)| v)
    });
    let lit = given.map_or_else(|| Cow::Owned(param.default_literal()), Cow::Borrowed);
    if param.accepts(&lit) {
        Ok(literal(&lit))
    } else {
        Err(kind_error(filter, def, index))
    }
}

/// The error for argument `index` when it is not of the kind the table says.
fn kind_error(filter: &Filter, def: &FilterDef, index: usize) -> EvalError {
    let Some(param) = def.params.get(index) else {
        return filter_error(
            filter,
            format!("takes at most {} arguments", def.max_args()),
        );
    };
    let kind = match param.kind {
        ArgKind::Str => "a string",
        ArgKind::Int => "an integer",
        ArgKind::Any => "a value",
    };
    filter_error(filter, format!("{} must be {kind}", param.what))
}

fn filter_error(filter: &Filter, message: impl Into<String>) -> EvalError {
    EvalError {
        name: ErrorName::UtilError,
        message: format!("filter `{}`: {}", filter.name, message.into()),
    }
}

/// Applies one filter: a built-in one by its entry in the table, any other through
/// Python.
pub(super) fn apply(filter: &Filter, value: Value) -> Result<Value, EvalError> {
    match filter.builtin {
        Some(builtin) => apply_builtin(builtin, filter, value),
        None => apply_registered(filter, &value),
    }
}

fn apply_builtin(
    builtin: BuiltinFilter,
    filter: &Filter,
    value: Value,
) -> Result<Value, EvalError> {
    let def = builtin.def();
    let wrong = |v: &Value| {
        filter_error(
            filter,
            format!("does not apply to {} values", v.type_name()),
        )
    };
    Ok(match builtin {
        BuiltinFilter::Abs => match value {
            Value::Int(n) => n.checked_abs().map_or_else(
                || Value::int(num_bigint::BigInt::from(n).magnitude().clone().into()),
                Value::Int,
            ),
            Value::BigInt(n) => Value::int(n.magnitude().clone().into()),
            Value::Float(x) => Value::Float(x.abs()),
            Value::Bool(b) => Value::Int(i64::from(b)),
            other => return Err(wrong(&other)),
        },
        BuiltinFilter::Str => Value::Str(Str::from(value.py_str())),
        BuiltinFilter::Rstr => Value::Str(Str::from(wfc_plan::pytext::repr_str(&value.py_str()))),
        BuiltinFilter::Int => match value {
            Value::Int(_) | Value::BigInt(_) => value,
            Value::Bool(b) => Value::Int(i64::from(b)),
            Value::Float(x) if x.is_finite() => crate::value::int_of_float(x),
            Value::Str(s) => match crate::value::parse_int(&s.trim().replace('_', "")) {
                Some(Ok(n)) => n,
                Some(Err(error)) => {
                    return Err(EvalError {
                        name: ErrorName::ValueError,
                        message: error.to_string(),
                    });
                }
                None => {
                    return Err(EvalError {
                        name: ErrorName::ValueError,
                        message: format!(
                            "invalid literal for int() with base 10: {}",
                            wfc_plan::pytext::repr_str(&s)
                        ),
                    });
                }
            },
            other => return Err(wrong(&other)),
        },
        BuiltinFilter::List => match value {
            Value::List(items) | Value::Tuple(items) => Value::List(items),
            Value::Str(s) => Value::List(
                s.chars()
                    .map(|c| Value::Str(Str::from(c.encode_utf8(&mut [0; 4]) as &str)))
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
        BuiltinFilter::Dict => match value {
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
        BuiltinFilter::Title | BuiltinFilter::Upper | BuiltinFilter::Lower => match value {
            Value::Str(s) => Value::Str(match builtin {
                BuiltinFilter::Upper => s.to_uppercase(),
                BuiltinFilter::Lower => s.to_lowercase(),
                _ => title(&s).into(),
            }),
            other => return Err(wrong(&other)),
        },
        BuiltinFilter::Keys | BuiltinFilter::Values => match value {
            Value::Map(m) if builtin == BuiltinFilter::Keys => Value::List(
                Arc::unwrap_or_clone(m)
                    .into_keys()
                    .map(Value::Str)
                    .collect(),
            ),
            Value::Map(m) => Value::List(Arc::unwrap_or_clone(m).into_values().collect()),
            other => return Err(wrong(&other)),
        },
        BuiltinFilter::Fmt => {
            // A string: the table says so.
            let format = arg(filter, def, 0)?.py_str();
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
        BuiltinFilter::Coalesce => match value {
            Value::Null => arg(filter, def, 0)?,
            other => other,
        },
        BuiltinFilter::Getitem => {
            let key = arg(filter, def, 0)?;
            let default = arg(filter, def, 1)?;
            match value {
                Value::Map(m) => m.get(key.py_str().as_str()).cloned().unwrap_or(default),
                other => return Err(wrong(&other)),
            }
        }
        BuiltinFilter::Getindex => {
            let Value::Int(index) = arg(filter, def, 0)? else {
                return Err(kind_error(filter, def, 0));
            };
            match value {
                Value::List(items) => {
                    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                    let at = if index < 0 { len + index } else { index };
                    usize::try_from(at)
                        .ok()
                        .and_then(|at| items.get(at).cloned())
                        .ok_or_else(|| EvalError {
                            name: ErrorName::IndexError,
                            message: "list index out of range".into(),
                        })?
                }
                other => return Err(wrong(&other)),
            }
        }
    })
}

/// Applies a filter registered in Python.
#[cfg(feature = "python")]
fn apply_registered(filter: &Filter, value: &Value) -> Result<Value, EvalError> {
    let args: Vec<Value> = filter.args.iter().map(literal).collect();
    let kwargs: Vec<(String, Value)> = filter
        .kwargs
        .iter()
        .map(|(k, v)| (k.clone(), literal(v)))
        .collect();
    crate::python::apply_filter(&filter.name, value, &args, &kwargs)
        .map_err(|failure| filter_error(filter, failure.to_string()))
}

/// Without Python, a filter that is not built in cannot be applied.
#[cfg(not(feature = "python"))]
fn apply_registered(filter: &Filter, _value: &Value) -> Result<Value, EvalError> {
    Err(filter_error(
        filter,
        format!(
            "`{}` is not a built-in filter; filters registered in Python are not available in this build",
            filter.name
        ),
    ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use wfc_plan::filters::FILTERS;

    /// The one filter of `${{ x | call }}`.
    fn parse(call: &str) -> Filter {
        let template = wfc_plan::expr::parse_template(&format!("${{{{ x | {call} }}}}"))
            .unwrap_or_else(|e| panic!("{call}: {e:?}"));
        let interp = template.interps().next().expect("an interpolation");
        interp.pipeline.filters[0].clone()
    }

    fn samples() -> Vec<Value> {
        let mut map = crate::value::Map::default();
        map.insert("key".into(), Value::Int(1));
        vec![
            Value::Null,
            Value::Int(-3),
            Value::Str("a b".into()),
            Value::List(vec![Value::Int(1), Value::Int(2)]),
            Value::from(map),
            Value::Date(jiff::civil::date(2024, 1, 2)),
        ]
    }

    /// Every filter in the table is evaluated as a built-in (as its usage calls it,
    /// some sample value goes through), and only those are.
    #[test]
    fn every_filter_in_the_table_evaluates() {
        for def in FILTERS {
            let filter = parse(def.usage);
            assert_eq!(filter.builtin, Some(def.filter), "{}", def.name);
            let results: Vec<_> = samples().into_iter().map(|v| apply(&filter, v)).collect();
            assert!(
                results.iter().any(Result::is_ok),
                "`{}` applies to no sample: {results:?}",
                def.usage
            );
            for e in results.iter().filter_map(|r| r.as_ref().err()) {
                assert!(!e.message.contains("not a built-in"), "{}", e.message);
            }
        }
        let other = parse("slugify");
        assert_eq!(other.builtin, None);
        let error = apply(&other, Value::Str("a".into())).expect_err("no such filter here");
        assert!(
            error.message.starts_with("filter `slugify`: "),
            "{}",
            error.message
        );
    }

    #[test]
    fn arguments_of_the_wrong_kind_say_what_they_should_be() {
        let date = || Value::Date(jiff::civil::date(2024, 1, 2));
        let message = |call: &str, v: Value| apply(&parse(call), v).expect_err(call).message;
        assert_eq!(
            message("fmt(1)", date()),
            "filter `fmt`: the format must be a string"
        );
        assert_eq!(
            message("getindex('a')", Value::List(vec![])),
            "filter `getindex`: the index must be an integer"
        );
        let ok = |call: &str, v: Value| apply(&parse(call), v).expect(call);
        assert_eq!(ok("fmt", date()), Value::Str("2024-01-02 00:00:00".into()));
        assert_eq!(ok("fmt(fmt='%Y')", date()), Value::Str("2024".into()));
        assert_eq!(ok("getitem('nope')", samples()[4].clone()), Value::Null);
        assert_eq!(
            ok("getitem(key='nope', default=3)", samples()[4].clone()),
            Value::Int(3)
        );
        assert_eq!(ok("getindex(-1)", samples()[3].clone()), Value::Int(2));
    }
}
