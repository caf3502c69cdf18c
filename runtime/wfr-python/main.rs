//! `wfr-python`: `wfr` with embedded CPython, for runs with Py and Call stages or
//! filters registered in Python. `wfr` hands such runs to it, so it is installed
//! beside `wfr`.

use std::process::ExitCode;

fn main() -> ExitCode {
    wfc_runtime_python::cli::main()
}
