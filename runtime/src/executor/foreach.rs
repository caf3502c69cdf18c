//! ForEach stage: the nested stages once per item, up to `concurrent` items at a
//! time, stopping the other items at the first failure (as upstream).

use std::sync::Arc;

use wfc_plan::{Items, StagePlan};

use super::nested::{self, Unit, Units};
use super::{Context, ExecError, Outcome, Step};
use crate::eval::{self, Bindings};
use crate::status::ErrorName;
use crate::value::{Map, Str, Value};

/// The items to run, and whether they came as a tuple (upstream keeps the tuple
/// as the stage's `items` output).
fn items(cx: &impl Context, local: &Map, items: &Items) -> Result<(Vec<Value>, bool), ExecError> {
    let scope = cx.scope(local, None);
    let value = match items {
        Items::List(values) => {
            // Exactly as many as there are (a collect through `Result` would grow it).
            let mut items = Vec::with_capacity(values.len());
            for v in values {
                items.push(eval::value(&scope, v)?);
            }
            Value::List(items)
        }
        Items::Template(t) => eval::render(&scope, t)?,
    };
    match value {
        Value::List(items) => Ok((items, false)),
        Value::Tuple(items) => Ok((items, true)),
        // Upstream's `str2list`: empty text is no items; otherwise the text must
        // be a JSON list from its first character to its last.
        Value::Str(text) if text.is_empty() => Ok((Vec::new(), false)),
        Value::Str(text) => match (text.starts_with('[') && text.ends_with(']'))
            .then(|| crate::json::parse(&text))
        {
            Some(Ok(Value::List(items))) => Ok((items, false)),
            _ => Err(ExecError::failed(
                ErrorName::TypeError,
                format!(
                    "Does not support string foreach: {} that can not convert to list.",
                    Value::Str(text).py_repr()
                ),
            )),
        },
        Value::Map(map) => Err(ExecError::failed(
            ErrorName::TypeError,
            format!(
                "Does not support dict foreach: {} (<class 'dict'>) yet.",
                Value::Map(map).py_repr()
            ),
        )),
        other => Err(ExecError::failed(
            ErrorName::TypeError,
            format!(
                "Does not support {} foreach: {}",
                other.type_name(),
                other.py_repr()
            ),
        )),
    }
}

/// What makes two items the same, as Python's `set` sees them: `1`, `1.0` and
/// `True` are one item; `'1'` is another.
#[derive(PartialEq, Eq, Hash)]
enum Identity<'a> {
    Number(i64),
    /// An integer beyond 64 bits, or a whole float beyond them.
    Big(std::borrow::Cow<'a, num_bigint::BigInt>),
    Text(&'a str),
    /// A tuple: equal when its items are (`(1, 'a')` and `(1.0, 'a')` are one).
    Tuple(Vec<Identity<'a>>),
    Repr(String),
}

fn identity(item: &Value) -> Identity<'_> {
    use std::borrow::Cow;
    match item {
        Value::Bool(b) => Identity::Number(i64::from(*b)),
        Value::Int(n) => Identity::Number(*n),
        Value::BigInt(n) => Identity::Big(Cow::Borrowed(n)),
        Value::Float(x) if x.is_finite() && x.fract() == 0.0 => {
            match crate::value::int_of_float(*x) {
                Value::Int(n) => Identity::Number(n),
                Value::BigInt(n) => Identity::Big(Cow::Owned(Arc::unwrap_or_clone(n))),
                _ => Identity::Repr(item.py_repr()),
            }
        }
        Value::Str(s) => Identity::Text(s),
        Value::Tuple(items) => Identity::Tuple(items.iter().map(identity).collect()),
        other => Identity::Repr(other.py_repr()),
    }
}

/// Whether two items are the same (see [`Identity`]). Only the identities'
/// hashes are kept (8 bytes an item, not a table of identities); two equal
/// hashes send the items to an exact comparison.
fn has_duplicates(items: &[Value]) -> bool {
    use std::hash::BuildHasher as _;
    let state = foldhash::fast::FixedState::default();
    let mut hashes = std::collections::HashSet::with_capacity_and_hasher(
        items.len(),
        foldhash::fast::FixedState::default(),
    );
    if items
        .iter()
        .all(|item| hashes.insert(state.hash_one(identity(item))))
    {
        return false;
    }
    let mut seen = std::collections::HashSet::with_capacity_and_hasher(
        items.len(),
        foldhash::fast::RandomState::default(),
    );
    !items.iter().all(|item| seen.insert(identity(item)))
}

/// An item's key in the output: its `str()`, inline when short.
fn key_text(key: &Value) -> Str {
    let mut text = Str::default();
    key.push_str_to(&mut text);
    text
}

pub(super) fn run(
    cx: &impl Context,
    local: &Map,
    source: &Items,
    stages: &[StagePlan],
    concurrent: u32,
    by_index: bool,
) -> Outcome {
    let (items, tuple) = match items(cx, local, source) {
        Ok(found) => found,
        Err(error) => return error.into(),
    };
    // Items are the keys of the output: each must be unique unless keyed by index.
    if !by_index && has_duplicates(&items) {
        return Outcome::failed(
            ErrorName::ValueError,
            "Foreach item should not duplicate. If this stage must to pass duplicate item, it should set `use_index_as_key: true`.",
        );
    }
    if cx.cancel().is_cancelled() {
        return Outcome::cancelled("Cancel before start foreach process.");
    }
    // Unique items can still share a key (`1` and `'1'` are both `"1"`), except
    // when all are numbers, all are text, or keys are indexes.
    let unique_keys = by_index
        || items
            .iter()
            .all(|item| matches!(item, Value::Int(_) | Value::BigInt(_)))
        || items.iter().all(|item| matches!(item, Value::Str(_)));
    let stages = Arc::new(stages.to_vec());
    let items = Arc::new(items);
    // The units are the items' positions.
    let units = std::iter::repeat_n((), items.len()).collect();
    let nested = Arc::new(Units::new(&nested::ITEM, local, true));
    let all = Arc::clone(&items);
    let each = Arc::clone(&nested);
    let key_of = move |items: &[Value], index: usize| {
        if by_index {
            Value::Int(i64::try_from(index).unwrap_or(i64::MAX))
        } else {
            items[index].clone()
        }
    };
    let results = cx.fan_out(units, concurrent as usize, true, move |cx, index, ()| {
        let item = all[index].clone();
        let key = key_of(&all, index);
        let bindings = Bindings {
            item: Some(item.clone()),
            loop_index: Some(Value::Int(i64::try_from(index).unwrap_or(i64::MAX))),
            ..Bindings::default()
        };
        let unit = Unit {
            label: &key,
            bindings,
            step: Step::Item(&key),
        };
        each.run_placed(
            cx,
            &stages,
            unit,
            (index, key_text(&key)),
            [(const { Str::const_new("item") }, item)],
        )
    });
    let folded = nested.fold(results, unique_keys);
    let mut outputs = Map::default();
    let items = Arc::unwrap_or_clone(items);
    outputs.insert(
        "items".into(),
        if tuple {
            Value::Tuple(items)
        } else {
            Value::List(items)
        },
    );
    outputs.insert("foreach".into(), Value::from(folded.entries));
    Outcome {
        status: folded.status,
        outputs,
        errors: folded.errors,
        retried: None,
        dry_run: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_the_items_python_sees_as_one() {
        let ints = |n: i64| (0..n).map(Value::Int).collect::<Vec<_>>();
        assert!(!has_duplicates(&ints(5000)));
        let mut last_again = ints(5000);
        last_again.push(Value::Float(4999.0));
        assert!(has_duplicates(&last_again));
        assert!(has_duplicates(&[Value::Bool(true), Value::Int(1)]));
        assert!(!has_duplicates(&[Value::str("1"), Value::Int(1)]));
        assert!(!has_duplicates(&[Value::Float(0.5), Value::Int(0)]));
        let list = |n| Value::List(vec![Value::Int(n)]);
        assert!(has_duplicates(&[list(1), list(2), list(1)]));
        assert!(!has_duplicates(&[list(1), list(2)]));
        // Tuples are one item when their items are.
        let pair = |a: Value| Value::Tuple(vec![a, Value::str("a")]);
        assert!(has_duplicates(&[
            pair(Value::Int(1)),
            pair(Value::Float(1.0))
        ]));
        assert!(!has_duplicates(&[
            pair(Value::Int(1)),
            pair(Value::str("1"))
        ]));
        // Beyond 64 bits: by value, whole floats included.
        let big = |t: &str| Value::int(t.parse().unwrap());
        assert!(has_duplicates(&[
            big("100000000000000000000"),
            Value::Float(1e20)
        ]));
        assert!(has_duplicates(&[
            Value::Float(1e16),
            Value::Int(10_000_000_000_000_000)
        ]));
        assert!(has_duplicates(&[
            big("-100000000000000000000"),
            Value::Int(1),
            big("-100000000000000000000")
        ]));
        assert!(!has_duplicates(&[
            big("100000000000000000000"),
            big("100000000000000000001"),
            Value::str("100000000000000000000"),
            Value::Float(1e30),
        ]));
    }
}
