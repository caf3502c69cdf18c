//! Matrix `include` / `exclude` entries may only use the matrix's keys (and a
//! static matrix whose combinations are all excluded takes no `include`), and a
//! static matrix may make at most `limits::MAX_MATRIX_COMBINATIONS` strategies.

use crate::diagnostic::{Code, Diagnostic};
use crate::plan::matrix::MatrixError;
use crate::syntax::model::Workflow;

pub(super) fn check(workflow: &Workflow, out: &mut Vec<Diagnostic>) {
    for job in &workflow.jobs {
        let Some(strategy) = &job.strategy else {
            continue;
        };
        match crate::plan::matrix::static_size(strategy) {
            Some(Err(MatrixError::IncludeWithNothingLeft)) => {
                let span = strategy
                    .include
                    .first()
                    .map_or(strategy.matrix_span, |r| r.span);
                out.push(
                    Diagnostic::new(
                        Code::MatrixKey,
                        span,
                        format!(
                            "every combination of the matrix of job `{}` is excluded, so this `include` has no combination to share its keys with",
                            job.id.value
                        ),
                    )
                    .label("nothing left to include into")
                    .help("exclude fewer combinations, or put the included values in the matrix")
                    .note("ddeutil-workflow fails the job: \"Include should have the keys that equal to all final matrix.\""),
                );
            }
            Some(Err(too_many)) => out.push(
                Diagnostic::new(
                    Code::OutOfBounds,
                    strategy.matrix_span,
                    format!(
                        "the matrix of job `{}` {}",
                        job.id.value,
                        too_many.message()
                    ),
                )
                .label("too many combinations")
                .help("split the job, or narrow the matrix with fewer values or `exclude`"),
            ),
            _ => {}
        }
        let keys: Vec<&str> = strategy
            .matrix
            .iter()
            .map(|a| a.key.name.as_str())
            .collect();
        for (rows, what) in [
            (&strategy.include, "include"),
            (&strategy.exclude, "exclude"),
        ] {
            for row in rows {
                for (key, _) in &row.entries {
                    if keys.contains(&key.name.as_str()) {
                        continue;
                    }
                    let why = if what == "include" {
                        "ddeutil-workflow fails the job when an include entry adds a new key"
                    } else {
                        "an exclude entry with another key never matches anything"
                    };
                    let otherwise = || {
                        Some(if keys.is_empty() {
                            "the job has no matrix keys; add the key under `strategy.matrix`"
                                .to_string()
                        } else {
                            format!(
                                "matrix keys are: {}",
                                crate::diagnostic::name_list(keys.iter().copied())
                            )
                        })
                    };
                    out.push(
                        Diagnostic::new(
                            Code::MatrixKey,
                            key.span,
                            format!(
                                "`{what}` uses `{}`, which is not a key of the matrix of job `{}`",
                                key.name, job.id.value
                            ),
                        )
                        .label("not a matrix key")
                        .did_you_mean_or(&key.name, keys.iter().copied(), otherwise)
                        .note(why),
                    );
                }
            }
        }
    }
}
