//! `wfc compile`: check, then write the plans that are not up to date.

use std::fmt::Write as _;

use super::args::CompileArgs;
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::compile;

pub(super) fn run(args: &CompileArgs) -> u8 {
    let cache = args.input.cache_file();
    let compiled = match compile::compile_paths_with(
        &args.input.paths(),
        &args.out,
        &args.input.options(),
        cache.as_deref(),
        args.input.no_cache,
    ) {
        Ok(compiled) => compiled,
        Err(error) => {
            crate::errln!("wfc: error: {error}");
            return EXIT_USAGE;
        }
    };
    if let Err(code) = super::report(
        &args.report,
        &compiled.checked.sources,
        &compiled.checked.diagnostics,
    ) {
        return code;
    }
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
    if !compiled.write_errors.is_empty() {
        EXIT_USAGE
    } else if compiled.failed.is_empty()
        && !compiled
            .checked
            .diagnostics
            .iter()
            .any(crate::diagnostic::Diagnostic::is_error)
    {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    }
}
