//! The `wfc` command line: argument parsing and one module per subcommand.

mod args;
mod check;
mod compile;
mod graph;
mod plan;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser as _;

use crate::diagnostic::Diagnostic;
use crate::render::{self, Color, Format};
use crate::source::Sources;
use crate::syntax::discover;

/// Exit status when the input was checked and is clean.
pub const EXIT_OK: u8 = 0;
/// Exit status when the input has errors (or warnings under `--deny-warnings`).
pub const EXIT_FINDINGS: u8 = 1;
/// Exit status for usage and I/O errors.
pub const EXIT_USAGE: u8 = 2;

/// Runs `wfc` with the process arguments.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_OK
            });
        }
    };
    let code = match cli.command {
        args::Command::Check(args) => check::run(&args),
        args::Command::Compile(args) => compile::run(&args),
        args::Command::Plan(command) => plan::run(&command),
        args::Command::Graph(args) => graph::run(&args),
    };
    ExitCode::from(code)
}

impl args::InputArgs {
    /// The paths to load: the given ones, else the defaults.
    fn paths(&self) -> Vec<PathBuf> {
        if self.paths.is_empty() {
            discover::default_paths()
        } else {
            self.paths.clone()
        }
    }

    fn options(&self) -> crate::check::Options {
        crate::check::Options {
            extra_filters: self.filters.clone(),
        }
    }

    /// Where the check cache lives: `$WFC_CACHE_DIR/check.bin`, else
    /// `.wfc/cache/check.bin` in the project's root (see
    /// [`crate::state::project_root`]); `None` with `--no-cache`.
    fn cache_file(&self) -> Option<PathBuf> {
        if self.no_cache {
            return None;
        }
        let dir = std::env::var_os("WFC_CACHE_DIR")
            .filter(|d| !d.is_empty())
            .map_or_else(
                || {
                    crate::state::project_root(&self.paths())
                        .join(crate::state::STATE_DIR)
                        .join("cache")
                },
                PathBuf::from,
            );
        Some(dir.join("check.bin"))
    }
}

/// Prints findings to stdout in the chosen format. `Err` carries an exit status.
fn report(
    args: &args::ReportArgs,
    sources: &Sources,
    diagnostics: &[Diagnostic],
) -> Result<(), u8> {
    let format = match args.format {
        args::FormatArg::Human => Format::Human,
        args::FormatArg::Json => Format::Json,
        args::FormatArg::Github => Format::Github,
        args::FormatArg::Sarif => Format::Sarif,
    };
    let color = match args.color {
        args::ColorArg::Always => Color::Always,
        args::ColorArg::Never => Color::Never,
        args::ColorArg::Auto
            if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() =>
        {
            Color::Always
        }
        args::ColorArg::Auto => Color::Never,
    };
    let written =
        crate::output::stdout_with(|out| render::write(out, format, sources, diagnostics, color));
    written.map_err(|error| {
        crate::errln!("wfc: error: cannot write the report: {error}");
        EXIT_USAGE
    })
}

/// Prints `text` on stdout (a closed pipe ends it quietly); `Err` carries an exit
/// status.
fn print(text: &str) -> Result<(), u8> {
    crate::output::stdout(text).map_err(|error| {
        crate::errln!("wfc: error: cannot write to stdout: {error}");
        EXIT_USAGE
    })
}
