//! The `wfc` command line: argument parsing and one module per subcommand.

mod args;
mod check;

use std::process::ExitCode;

use clap::Parser as _;

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
    };
    ExitCode::from(code)
}
