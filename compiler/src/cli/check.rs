//! `wfc check`: load, check, render.

use super::args::CheckArgs;
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::check;
use crate::diagnostic::Code;
use crate::registry;

pub(super) fn run(args: &CheckArgs) -> u8 {
    if let Some(code) = &args.explain {
        return explain(code);
    }
    let cache = args.input.cache_file();
    let paths = args.input.paths();
    let mut options = args.input.options();
    let mut checked = match check::check_paths(&paths, &options, cache.as_deref()) {
        Ok(checked) => checked,
        Err(error) => {
            crate::errln!("wfc: error: {error}");
            return EXIT_USAGE;
        }
    };
    if args.resolve_calls {
        let found = match registry::query(&checked, &args.input.paths) {
            Ok(found) => found,
            Err(error) => {
                crate::errln!("wfc: error: {error}");
                return EXIT_USAGE;
            }
        };
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
            checked = match check::check_paths(&paths, &options, cache.as_deref()) {
                Ok(checked) => checked,
                Err(error) => {
                    crate::errln!("wfc: error: {error}");
                    return EXIT_USAGE;
                }
            };
        }
        let mut all = crate::diagnostic::Diagnostics::default();
        all.extend(std::mem::take(&mut checked.diagnostics));
        all.extend(registry::check_calls(&checked, &found));
        checked.diagnostics = all.into_sorted();
    }
    if let Err(code) = super::report(&args.report, &checked.sources, &checked.diagnostics) {
        return code;
    }
    let failing = checked
        .diagnostics
        .iter()
        .any(|d| d.is_error() || args.deny_warnings);
    if failing { EXIT_FINDINGS } else { EXIT_OK }
}

fn explain(code: &str) -> u8 {
    let Some(code) = Code::lookup(code) else {
        crate::errln!("wfc: error: unknown code `{code}`; codes are:");
        for c in Code::ALL {
            crate::errln!("  {} {:<24} {}", c.id(), c.name(), c.summary());
        }
        return EXIT_USAGE;
    };
    let text = format!(
        "{} {} ({})\n\n{}\n\n{}\n",
        code.id(),
        code.name(),
        code.severity().as_str(),
        code.summary(),
        code.explanation()
    );
    if let Err(status) = super::print(&text) {
        return status;
    }
    EXIT_OK
}
