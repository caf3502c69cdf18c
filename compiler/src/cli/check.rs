//! `wfc check`: load, check, render.

use std::io::{IsTerminal, Write};

use super::args::{CheckArgs, ColorArg, FormatArg};
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::check;
use crate::diagnostic::Code;
use crate::render::{self, Color, Format};
use crate::syntax::discover;

pub(super) fn run(args: &CheckArgs) -> u8 {
    if let Some(code) = &args.explain {
        return explain(code);
    }
    let paths = if args.paths.is_empty() {
        discover::default_paths()
    } else {
        args.paths.clone()
    };
    let options = check::Options {
        extra_filters: args.filters.clone(),
    };
    let cache = (!args.no_cache).then(cache_file);
    let checked = match check::check_paths(&paths, &options, cache.as_deref()) {
        Ok(checked) => checked,
        Err(error) => {
            eprintln!("wfc: error: {error}");
            return EXIT_USAGE;
        }
    };
    let diagnostics = checked.diagnostics;

    let format = match args.format {
        FormatArg::Human => Format::Human,
        FormatArg::Json => Format::Json,
        FormatArg::Github => Format::Github,
        FormatArg::Sarif => Format::Sarif,
    };
    let color = match args.color {
        ColorArg::Always => Color::Always,
        ColorArg::Never => Color::Never,
        ColorArg::Auto
            if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() =>
        {
            Color::Always
        }
        ColorArg::Auto => Color::Never,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = render::write(&mut out, format, &checked.sources, &diagnostics, color)
        .and_then(|()| out.flush());
    if let Err(error) = written {
        // A closed pipe (`wfc check | head`) is not worth a message.
        if error.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("wfc: error: cannot write the report: {error}");
            return EXIT_USAGE;
        }
    }
    let failing = diagnostics
        .iter()
        .any(|d| d.is_error() || args.deny_warnings);
    if failing { EXIT_FINDINGS } else { EXIT_OK }
}

/// Where the check cache lives: `$WFC_CACHE_DIR/check.bin`, else `.wfc/cache/check.bin`.
fn cache_file() -> std::path::PathBuf {
    let dir = std::env::var_os("WFC_CACHE_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(
            || std::path::PathBuf::from(".wfc/cache"),
            std::path::PathBuf::from,
        );
    dir.join("check.bin")
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
