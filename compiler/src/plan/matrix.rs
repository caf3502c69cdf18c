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

fn get<'a>(row: &'a Row, key: &str) -> Option<&'a Cell> {
    row.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

pub(super) fn expand(
    axes: &[(String, Vec<Cell>)],
    include: &[Row],
    exclude: &[Row],
) -> Vec<Combination> {
    if axes.is_empty() {
        return vec![combination(&Vec::new())];
    }
    let mut product: Vec<Row> = vec![Vec::new()];
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
    let mut rows: Vec<Row> = product
        .into_iter()
        .filter(|row| {
            !exclude
                .iter()
                .any(|ex| ex.iter().all(|(k, v)| get(row, k) == Some(v)))
        })
        .collect();
    if rows.is_empty() && include.is_empty() {
        return vec![combination(&Vec::new())];
    }
    let mut added: Vec<Row> = Vec::new();
    for inc in include {
        let present = rows
            .iter()
            .chain(&added)
            .any(|row| row.iter().all(|(k, v)| get(inc, k) == Some(v)));
        if !present {
            added.push(inc.clone());
        }
    }
    rows.extend(added);
    rows.iter().map(combination).collect()
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
