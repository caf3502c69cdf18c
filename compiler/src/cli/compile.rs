//! `wfc compile`: check, then write the plans that are not up to date.

use std::fmt::Write as _;

use super::args::CompileArgs;
use super::{Done, Error};
use crate::compile;

pub(super) fn run(args: &CompileArgs) -> Result<Done, Error> {
    let session = super::check::Session::of(&args.input, &args.lint, None, false)?;
    if args.lint.show_config {
        super::print(&session.config.show())?;
        return Ok(Done::Clean);
    }
    let compiled = compile::compile_paths_with(
        &session.paths,
        &args.out,
        &session.options,
        session.cache.as_deref(),
        args.input.no_cache,
        session.policy(),
    )?;
    super::report_with(
        &args.report,
        &compiled.checked.sources,
        &compiled.shown,
        super::Reporting {
            help_uri: session.config.help_uri.0.as_deref(),
            ..super::Reporting::default()
        },
    )?;
    for d in &compiled.hidden_errors {
        let source = compiled.checked.sources.get(d.span.file);
        let (line, column) = source.line_col(d.span.start);
        crate::errln!(
            "wfc: {}:{line}:{column}: {} {} is hidden by the configuration or a comment, but it is an error: {} (its workflow gets no plan; `wfc check --no-suppress --isolated` shows it)",
            crate::render::shown_path(&source.path),
            d.code.id(),
            d.code.name(),
            d.message
        );
    }
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
            .shown
            .iter()
            .any(crate::diagnostic::Diagnostic::is_error)
    {
        Done::Clean
    } else {
        Done::Findings
    })
}
