//! `wfr`: the runtime VM's command line.

use std::process::ExitCode;

fn main() -> ExitCode {
    wfc_runtime::cli::main()
}
