//! Upstream's matrix `make()`: the cartesian product in key order, minus every
//! combination an `exclude` entry matches (partially), plus the `include` entries
//! that are not there already. The compiler expands static matrices with it, the
//! runtime templated ones.

use crate::limits::MAX_MATRIX_COMBINATIONS;

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
