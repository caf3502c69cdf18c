//! `wfc compile`: check, then write the plans that are not up to date.

use std::fmt::Write as _;

use super::args::CompileArgs;
use super::{Done, Error};
use crate::compile;

pub(super) fn run(args: &CompileArgs) -> Result<Done, Error> {
    let cache = args.input.cache_file();
    let compiled = compile::compile_paths_with(
        &args.input.paths(),
        &args.out,
        &args.input.options(),
        cache.as_deref(),
        args.input.no_cache,
    )?;
    super::report(
        &args.report,
        &compiled.checked.sources,
        &compiled.checked.diagnostics,
    )?;
    // Each plan that cannot be written is said at once; the others are still
    // written, and the summary follows.
    for (path, error) in &compiled.write_errors {
        crate::errln!("wfc: error: cannot write plan {}: {error}", path.display());
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut summary = format!(
        "wfc: {} plan{} written, {} up to date",
        compiled.written.len(),
        plural(compiled.written.len()),
        compiled.up_to_date
    );
    if !compiled.failed.is_empty() {
        let _ = write!(
            summary,
            ", {} workflow{} not compiled because of errors ({})",
            compiled.failed.len(),
            plural(compiled.failed.len()),
            compiled.failed.join(", ")
        );
    }
    crate::errln!("{summary} in {}", args.out.display());
    Ok(if !compiled.write_errors.is_empty() {
        Done::PlansNotWritten
    } else if compiled.failed.is_empty()
        && !compiled
            .checked
            .diagnostics
            .iter()
            .any(crate::diagnostic::Diagnostic::is_error)
    {
        Done::Clean
    } else {
        Done::Findings
    })
}
