//! Static matrix expansion, exactly as upstream's `make()`: the cartesian product in
//! key order, minus every combination an `exclude` entry matches (partially), plus
//! the `include` entries that are not there already. Each combination gets
//! upstream's id: the hash of Python's `str()` of it, `EMPTY` for the empty one.

use super::{Combination, PlanValue};
use crate::ids::hash_id;
use crate::pytext::{Scalar, repr_dict};
use crate::syntax::model::{AxisValues, MatrixRow, Strategy, ValueKind, WrittenValue};
pub use wfc_plan::matrix::{EMPTY_ID, MAX_MATRIX_PRODUCT, MatrixError, make};

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
    pub(super) fn to_value(&self) -> PlanValue {
        match self {
            Cell::Str(s) => PlanValue::Str(crate::syntax::expr::ast::Template::literal(s)),
            Cell::Int(n) => PlanValue::Int(*n),
            Cell::BigInt(digits) => PlanValue::BigInt(digits.clone()),
        }
    }
}

type Row = Vec<(String, Cell)>;

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
fn cell(value: &WrittenValue) -> Option<Cell> {
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
        values: super::PlanMap(row.iter().map(|(k, v)| (k.clone(), v.to_value())).collect()),
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
