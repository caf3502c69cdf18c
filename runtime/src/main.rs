//! `wfr`: the runtime VM's command line. The VM itself is not built yet; until it
//! is, this binary says so instead of pretending to run anything.

use std::process::ExitCode;

fn main() -> ExitCode {
    let first = std::env::args().nth(1);
    if matches!(first.as_deref(), Some("--version" | "-V")) {
        println!("wfr {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "wfr: the runtime is not part of this build yet; use `wfc check` to validate workflows"
    );
    ExitCode::from(2)
}
