//! Static matrix expansion, exactly as upstream's `make()`: the cartesian product in
//! key order, minus every combination an `exclude` entry matches (partially), plus
//! the `include` entries that are not there already. Each combination gets
//! upstream's id: the hash of Python's `str()` of it.

use super::{Combination, PValue};
use crate::ids::hash_id;
use crate::pytext::{Scalar, repr_dict};

/// A matrix value as upstream compares it: strings and integers never equal each
/// other (booleans were read as integers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Cell {
    Str(String),
    Int(i64),
}

impl Cell {
    pub(super) fn to_value(&self) -> PValue {
        match self {
            Cell::Str(s) => PValue::Str(crate::syntax::expr::ast::Template::literal(s)),
            Cell::Int(n) => PValue::Int(*n),
        }
    }
}

type Row = Vec<(String, Cell)>;

/// Upstream's `make()` over any kind of value (the runtime expands templated
/// matrices with it): the cartesian product of `axes` in key order, minus every row
/// that an `exclude` entry matches (on the keys it has), plus each `include` entry
/// that is not already there; one empty row when nothing is left.
pub fn make<V: Clone>(
    axes: &[(String, Vec<V>)],
    include: &[Vec<(String, V)>],
    exclude: &[Vec<(String, V)>],
    same: impl Fn(&V, &V) -> bool,
) -> Vec<Vec<(String, V)>> {
    if axes.is_empty() {
        return vec![Vec::new()];
    }
    let get = |row: &[(String, V)], key: &str| -> Option<V> {
        row.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    };
    let mut product: Vec<Vec<(String, V)>> = vec![Vec::new()];
    for (key, values) in axes {
        product = product
            .into_iter()
            .flat_map(|row| {
                values.iter().map(move |v| {
                    let mut next = row.clone();
                    next.push((key.clone(), v.clone()));
                    next
                })
            })
            .collect();
    }
    let matches = |row: &[(String, V)], entry: &[(String, V)]| {
        entry
            .iter()
            .all(|(k, v)| get(row, k).is_some_and(|x| same(&x, v)))
    };
    let mut rows: Vec<Vec<(String, V)>> = product
        .into_iter()
        .filter(|row| !exclude.iter().any(|ex| matches(row, ex)))
        .collect();
    if rows.is_empty() && include.is_empty() {
        return vec![Vec::new()];
    }
    let mut added: Vec<Vec<(String, V)>> = Vec::new();
    for inc in include {
        let present = rows.iter().chain(&added).any(|row| matches(inc, row));
        if !present {
            added.push(inc.clone());
        }
    }
    rows.extend(added);
    rows
}

pub(super) fn expand(
    axes: &[(String, Vec<Cell>)],
    include: &[Row],
    exclude: &[Row],
) -> Vec<Combination> {
    make(axes, include, exclude, |a, b| a == b)
        .iter()
        .map(combination)
        .collect()
}

fn combination(row: &Row) -> Combination {
    let entries: Vec<(&str, Scalar<'_>)> = row
        .iter()
        .map(|(k, v)| {
            let scalar = match v {
                Cell::Str(s) => Scalar::Str(s),
                Cell::Int(n) => Scalar::Int(*n),
            };
            (k.as_str(), scalar)
        })
        .collect();
    Combination {
        id: hash_id(&repr_dict(&entries)),
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
        let combos = expand(&axes, &include, &exclude);
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

    #[test]
    fn single_key_id() {
        let combos = expand(&[("sleep".to_string(), vec![s("1")])], &[], &[]);
        assert_eq!(ids(&combos), vec!["2150810470"]);
    }

    #[test]
    fn include_already_present_is_skipped() {
        let axes = vec![("a".to_string(), vec![Cell::Int(1), Cell::Int(2)])];
        let combos = expand(&axes, &[vec![("a".into(), Cell::Int(2))]], &[]);
        assert_eq!(combos.len(), 2);
        let all_excluded = expand(
            &axes,
            &[],
            &[
                vec![("a".into(), Cell::Int(1))],
                vec![("a".into(), Cell::Int(2))],
            ],
        );
        assert_eq!(all_excluded.len(), 1);
        assert!(all_excluded[0].values.is_empty());
    }
}
