//! `wfc`: the workflow compiler's command line.

use std::process::ExitCode;

fn main() -> ExitCode {
    wfc_compiler::cli::main()
}
