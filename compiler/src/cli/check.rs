//! `wfc check`: load, check, render.

use super::args::CheckArgs;
use super::{Done, Error};
use crate::check;
use crate::diagnostic::Code;
use crate::registry;

pub(super) fn run(args: &CheckArgs) -> Result<Done, Error> {
    if let Some(code) = &args.explain {
        return explain(code);
    }
    let cache = args.input.cache_file();
    let paths = args.input.paths();
    let mut options = args.input.options();
    let mut checked = check::check_paths(&paths, &options, cache.as_deref())?;
    if args.resolve_calls {
        let found = registry::query(&checked, &args.input.paths)?;
        if let Some(error) = found.filter_error() {
            crate::errln!("wfc: warning: cannot load the filter modules: {error}");
        }
        // Filters registered in Python are known now: check again (the cache
        // makes this cheap) if a template uses one.
        let unknown_filter = checked
            .diagnostics
            .iter()
            .any(|d| d.code == Code::UnknownFilter);
        if unknown_filter && !found.filters().is_empty() {
            options
                .extra_filters
                .extend(found.filters().iter().cloned());
            checked = check::check_paths(&paths, &options, cache.as_deref())?;
        }
        let mut all = crate::diagnostic::Diagnostics::default();
        all.extend(std::mem::take(&mut checked.diagnostics));
        all.extend(registry::check_calls(&checked, &found));
        checked.diagnostics = all.into_sorted();
    }
    super::report(&args.report, &checked.sources, &checked.diagnostics)?;
    let failing = checked
        .diagnostics
        .iter()
        .any(|d| d.is_error() || args.deny_warnings);
    Ok(if failing { Done::Findings } else { Done::Clean })
}

fn explain(code: &str) -> Result<Done, Error> {
    let Some(code) = Code::lookup(code) else {
        return Err(Error::UnknownCode(code.to_string()));
    };
    let text = format!(
        "{} {} ({})\n\n{}\n\n{}\n",
        code.id(),
        code.name(),
        code.severity().as_str(),
        code.summary(),
        code.explanation()
    );
    super::print(&text)?;
    Ok(Done::Clean)
}
