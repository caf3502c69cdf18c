//! Static matrix expansion, exactly as upstream's `make()`: the cartesian product in
//! key order, minus every combination an `exclude` entry matches (partially), plus
//! the `include` entries that are not there already. Each combination gets
//! upstream's id: the hash of Python's `str()` of it, `EMPTY` for the empty one.

use super::{Combination, PValue};
use crate::ids::hash_id;
use crate::limits::MAX_MATRIX_COMBINATIONS;
use crate::pytext::{Scalar, repr_dict};
use crate::syntax::model::{AxisValues, MatrixRow, Strategy, Value, ValueKind};

/// A matrix value as upstream compares it: strings and integers never equal each
/// other (booleans were read as integers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Cell {
    Str(String),
    Int(i64),
    /// Beyond 64 bits: its decimal digits.
    BigInt(String),
}

impl Cell {
    pub(super) fn to_value(&self) -> PValue {
        match self {
            Cell::Str(s) => PValue::Str(crate::syntax::expr::ast::Template::literal(s)),
            Cell::Int(n) => PValue::Int(*n),
            Cell::BigInt(digits) => PValue::BigInt(digits.clone()),
        }
    }
}

type Row = Vec<(String, Cell)>;

/// A matrix that cannot be expanded: too large (what it would make, for the
/// message), or upstream's refusal of an `include` when `exclude` left nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatrixError {
    /// Its keys alone make this many combinations (saturating), more than
    /// [`MAX_MATRIX_PRODUCT`]: not even counted through `exclude`.
    Product(u128),
    /// At least this many strategies remain after `exclude` and `include`.
    Strategies(usize),
    /// `exclude` removed every combination and there is an `include`: upstream's
    /// `make()` wants a remaining combination with each include's keys, and
    /// fails the job ("Include should have the keys that equal to all final
    /// matrix.").
    IncludeWithNothingLeft,
}

/// The id of the strategy of an empty combination (no matrix, or every
/// combination excluded), as upstream names it.
pub const EMPTY_ID: &str = "EMPTY";

/// Most combinations of a matrix's keys that are looked at (one by one, none kept)
/// to apply `exclude`; a matrix whose keys make more is refused without that.
pub const MAX_MATRIX_PRODUCT: u128 = 65_536;

impl MatrixError {
    /// What is wrong, for a finding or a run error: it follows "the matrix of
    /// job `x`".
    #[must_use]
    pub fn message(self) -> String {
        let max = MAX_MATRIX_COMBINATIONS;
        match self {
            MatrixError::Product(n) if n == u128::MAX => format!(
                "makes more than 10^38 combinations of its keys; a matrix may make at most {max}"
            ),
            MatrixError::Product(n) => format!(
                "makes {n} combinations of its keys; a matrix may make at most {max} \
                 (and its keys at most {MAX_MATRIX_PRODUCT} before `exclude`)"
            ),
            MatrixError::Strategies(n) => format!(
                "makes at least {n} combinations after `exclude` and `include`; a matrix may make at most {max}"
            ),
            MatrixError::IncludeWithNothingLeft => "has every combination excluded, and then \
                 an `include` entry is refused: it must share its keys with a combination \
                 that is left (ddeutil-workflow: \"Include should have the keys that equal \
                 to all final matrix.\")"
                .to_string(),
        }
    }
}

/// Upstream's `make()` over any kind of value (the runtime expands templated
/// matrices with it): the cartesian product of `axes` in key order, minus every row
/// that an `exclude` entry matches (on the keys it has), plus each `include` entry
/// that is not already there; one empty row when nothing is left.
///
/// The size is bounded before anything is made: the product of the keys' lengths
/// first, then the rows that `exclude` leaves are counted one by one and kept only
/// up to the bound.
pub fn make<V: Clone>(
    axes: &[(String, Vec<V>)],
    include: &[Vec<(String, V)>],
    exclude: &[Vec<(String, V)>],
    same: impl Fn(&V, &V) -> bool,
) -> Result<Vec<Vec<(String, V)>>, MatrixError> {
    if axes.is_empty() {
        return Ok(vec![Vec::new()]);
    }
    let product = axes
        .iter()
        .try_fold(1u128, |n, (_, values)| n.checked_mul(values.len() as u128))
        .unwrap_or(u128::MAX);
    if product > MAX_MATRIX_PRODUCT {
        return Err(MatrixError::Product(product));
    }
    let max = usize::try_from(MAX_MATRIX_COMBINATIONS).unwrap_or(usize::MAX);
    // An exclude entry as (axis, value) pairs; one with a key that is not an axis
    // never matches (WF504 reports it).
    let exclude: Vec<Vec<(usize, &V)>> = exclude
        .iter()
        .filter_map(|entry| {
            entry
                .iter()
                .map(|(k, v)| axes.iter().position(|(key, _)| key == k).map(|i| (i, v)))
                .collect()
        })
        .collect();
    let mut rows: Vec<Vec<(String, V)>> = Vec::new();
    let mut kept = 0usize;
    if product > 0 {
        // Every combination in key order, the last key turning fastest.
        let mut at = vec![0usize; axes.len()];
        loop {
            let excluded = exclude.iter().any(|entry| {
                entry
                    .iter()
                    .all(|(axis, v)| same(&axes[*axis].1[at[*axis]], v))
            });
            if !excluded {
                kept += 1;
                if kept <= max {
                    rows.push(
                        axes.iter()
                            .zip(&at)
                            .map(|((key, values), i)| (key.clone(), values[*i].clone()))
                            .collect(),
                    );
                }
            }
            let mut key = axes.len();
            while key > 0 {
                key -= 1;
                at[key] += 1;
                if at[key] < axes[key].1.len() {
                    break;
                }
                at[key] = 0;
            }
            if at.iter().all(|i| *i == 0) {
                break;
            }
        }
    }
    if kept > max {
        return Err(MatrixError::Strategies(kept));
    }
    if rows.is_empty() {
        return if include.is_empty() {
            Ok(vec![Vec::new()])
        } else {
            Err(MatrixError::IncludeWithNothingLeft)
        };
    }
    let get = |row: &[(String, V)], key: &str| -> Option<V> {
        row.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    };
    let matches = |row: &[(String, V)], entry: &[(String, V)]| {
        entry
            .iter()
            .all(|(k, v)| get(row, k).is_some_and(|x| same(&x, v)))
    };
    let mut added: Vec<Vec<(String, V)>> = Vec::new();
    for inc in include {
        let present = rows.iter().chain(&added).any(|row| matches(inc, row));
        if !present {
            if rows.len() + added.len() >= max {
                return Err(MatrixError::Strategies(rows.len() + added.len() + 1));
            }
            added.push(inc.clone());
        }
    }
    rows.extend(added);
    Ok(rows)
}

/// A matrix's axes, include and exclude rows, when every value is a literal.
pub(super) type StaticParts = (Vec<(String, Vec<Cell>)>, Vec<Row>, Vec<Row>);

/// The literal parts of a matrix that is static (no templated axis or value).
pub(super) fn static_parts(strategy: &Strategy) -> Option<StaticParts> {
    let rows = |rows: &[MatrixRow]| -> Option<Vec<Row>> {
        rows.iter()
            .map(|r| {
                r.entries
                    .iter()
                    .map(|(k, v)| Some((k.name.clone(), cell(v)?)))
                    .collect()
            })
            .collect()
    };
    let axes = strategy
        .matrix
        .iter()
        .map(|axis| match &axis.values {
            AxisValues::List(values) => Some((
                axis.key.name.clone(),
                values.iter().map(cell).collect::<Option<_>>()?,
            )),
            AxisValues::Template(_) => None,
        })
        .collect::<Option<_>>()?;
    Some((axes, rows(&strategy.include)?, rows(&strategy.exclude)?))
}

/// How many strategies a static matrix makes, or why it makes too many; `None`
/// for a templated matrix (bounded when it is expanded at run time).
pub(crate) fn static_size(strategy: &Strategy) -> Option<Result<usize, MatrixError>> {
    let (axes, include, exclude) = static_parts(strategy)?;
    Some(make(&axes, &include, &exclude, |a, b| a == b).map(|rows| rows.len()))
}

/// A literal matrix value (booleans count as 1 and 0, as upstream reads them).
fn cell(value: &Value) -> Option<Cell> {
    match &value.kind {
        ValueKind::Text(t) if t.template.is_literal() => Some(Cell::Str(t.raw.clone())),
        ValueKind::Int(n) => Some(Cell::Int(*n)),
        ValueKind::BigInt(digits) => Some(Cell::BigInt(digits.clone())),
        ValueKind::Bool(b) => Some(Cell::Int(i64::from(*b))),
        _ => None,
    }
}

pub(super) fn expand(
    axes: &[(String, Vec<Cell>)],
    include: &[Row],
    exclude: &[Row],
) -> Result<Vec<Combination>, MatrixError> {
    Ok(make(axes, include, exclude, |a, b| a == b)?
        .iter()
        .map(combination)
        .collect())
}

fn combination(row: &Row) -> Combination {
    let entries: Vec<(&str, Scalar<'_>)> = row
        .iter()
        .map(|(k, v)| {
            let scalar = match v {
                Cell::Str(s) => Scalar::Str(s),
                Cell::Int(n) => Scalar::Int(*n),
                Cell::BigInt(digits) => Scalar::BigInt(digits),
            };
            (k.as_str(), scalar)
        })
        .collect();
    Combination {
        id: if entries.is_empty() {
            EMPTY_ID.to_string()
        } else {
            hash_id(&repr_dict(&entries))
        },
        values: super::PMap(row.iter().map(|(k, v)| (k.clone(), v.to_value())).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Cell {
        Cell::Str(x.into())
    }

    fn ids(combos: &[Combination]) -> Vec<&str> {
        combos.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn upstream_matrix_example() {
        // reference §1.5: the expected strategy ids of `wf-run-matrix`.
        let axes = vec![
            ("table".to_string(), vec![s("customer"), s("sales")]),
            ("system".to_string(), vec![s("csv")]),
            (
                "partition".to_string(),
                vec![Cell::Int(1), Cell::Int(2), Cell::Int(3)],
            ),
        ];
        let exclude = vec![
            vec![
                ("table".into(), s("customer")),
                ("system".into(), s("csv")),
                ("partition".into(), Cell::Int(1)),
            ],
            vec![
                ("table".into(), s("sales")),
                ("partition".into(), Cell::Int(3)),
            ],
        ];
        let include = vec![vec![
            ("table".into(), s("customer")),
            ("system".into(), s("csv")),
            ("partition".into(), Cell::Int(4)),
        ]];
        let combos = expand(&axes, &include, &exclude).unwrap();
        assert_eq!(
            ids(&combos),
            vec![
                "9696245497",
                "8141249744",
                "3590257855",
                "3698996074",
                "4390593385"
            ]
        );
    }

    fn ints(key: &str, n: i64) -> (String, Vec<Cell>) {
        (key.to_string(), (0..n).map(Cell::Int).collect())
    }

    #[test]
    fn size_is_bounded_before_anything_is_made() {
        // 8 keys of 10 values: refused from the product alone.
        let axes: Vec<_> = (0..8).map(|i| ints(&format!("k{i}"), 10)).collect();
        assert_eq!(
            expand(&axes, &[], &[]).unwrap_err(),
            MatrixError::Product(100_000_000)
        );
        // Beyond any integer: saturated, and said so.
        let axes: Vec<_> = (0..40).map(|i| ints(&format!("k{i}"), 10)).collect();
        let error = expand(&axes, &[], &[]).unwrap_err();
        assert_eq!(error, MatrixError::Product(u128::MAX));
        assert!(error.message().contains("more than 10^38"));
        // 300 strategies: too many; 100 of them excluded: fine.
        let axes = vec![ints("a", 10), ints("b", 10), ints("c", 3)];
        assert_eq!(
            expand(&axes, &[], &[]).unwrap_err(),
            MatrixError::Strategies(300)
        );
        let exclude = vec![vec![("c".to_string(), Cell::Int(2))]];
        assert_eq!(expand(&axes, &[], &exclude).unwrap().len(), 200);
        // Exactly the bound, then one include more.
        let axes = vec![ints("a", 16), ints("b", 16)];
        assert_eq!(expand(&axes, &[], &[]).unwrap().len(), 256);
        let include = vec![vec![
            ("a".to_string(), Cell::Int(99)),
            ("b".to_string(), Cell::Int(0)),
        ]];
        assert_eq!(
            expand(&axes, &include, &[]).unwrap_err(),
            MatrixError::Strategies(257)
        );
        // A product under the scan limit, nearly all excluded: counted, not refused.
        let axes = vec![ints("a", 256), ints("b", 256)];
        let exclude: Vec<_> = (1..256)
            .map(|i| vec![("a".to_string(), Cell::Int(i))])
            .collect();
        assert_eq!(expand(&axes, &[], &exclude).unwrap().len(), 256);
    }

    #[test]
    fn single_key_id() {
        let combos = expand(&[("sleep".to_string(), vec![s("1")])], &[], &[]).unwrap();
        assert_eq!(ids(&combos), vec!["2150810470"]);
    }

    #[test]
    fn include_already_present_is_skipped() {
        let axes = vec![("a".to_string(), vec![Cell::Int(1), Cell::Int(2)])];
        let combos = expand(&axes, &[vec![("a".into(), Cell::Int(2))]], &[]).unwrap();
        assert_eq!(combos.len(), 2);
        let all_excluded = expand(
            &axes,
            &[],
            &[
                vec![("a".into(), Cell::Int(1))],
                vec![("a".into(), Cell::Int(2))],
            ],
        )
        .unwrap();
        assert_eq!(all_excluded.len(), 1);
        assert!(all_excluded[0].values.is_empty());
        // Upstream's id of the empty strategy.
        assert_eq!(ids(&all_excluded), vec!["EMPTY"]);
        // An include on top of nothing: refused, as upstream.
        let include = vec![vec![("a".into(), Cell::Int(3))]];
        let exclude = vec![
            vec![("a".into(), Cell::Int(1))],
            vec![("a".into(), Cell::Int(2))],
        ];
        assert_eq!(
            expand(&axes, &include, &exclude).unwrap_err(),
            MatrixError::IncludeWithNothingLeft
        );
    }
}
