//! `wfc`: the compiler's command line (see `compiler/src/cli.rs`).

use std::process::ExitCode;

fn main() -> ExitCode {
    wfc_compiler::cli::main()
}
