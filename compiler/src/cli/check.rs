//! `wfc check`: load, check, render.

use super::args::CheckArgs;
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::check;
use crate::diagnostic::Code;

pub(super) fn run(args: &CheckArgs) -> u8 {
    if let Some(code) = &args.explain {
        return explain(code);
    }
    let cache = args.input.cache_file();
    let checked =
        match check::check_paths(&args.input.paths(), &args.input.options(), cache.as_deref()) {
            Ok(checked) => checked,
            Err(error) => {
                eprintln!("wfc: error: {error}");
                return EXIT_USAGE;
            }
        };
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
        eprintln!("wfc: error: unknown code `{code}`; codes are:");
        for c in Code::ALL {
            eprintln!("  {} {:<24} {}", c.id(), c.name(), c.summary());
        }
        return EXIT_USAGE;
    };
    println!(
        "{} {} ({})",
        code.id(),
        code.name(),
        code.severity().as_str()
    );
    println!();
    println!("{}", code.summary());
    println!();
    println!("{}", code.explanation());
    EXIT_OK
}
