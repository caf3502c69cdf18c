//! `wfr`: the runtime's command line, without embedded Python (see `runtime/src/cli.rs`).

use std::process::ExitCode;

fn main() -> ExitCode {
    wfc_runtime::cli::main()
}
