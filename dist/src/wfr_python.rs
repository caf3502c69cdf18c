//! `wfr-python`: the runtime with embedded CPython, to which `wfr` hands runs that
//! need Python (it is installed beside `wfr`).

use std::process::ExitCode;

fn main() -> ExitCode {
    wfc_runtime_python::cli::main()
}
