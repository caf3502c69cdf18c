//! `wfr`: the runtime VM's command line. The VM itself is not built yet; until it
//! is, this binary says so instead of pretending to run anything.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version" | "-V") => {
            println!("wfr {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "wfr: the runtime is not part of this build yet; use `wfc check` to validate workflows"
            );
            ExitCode::from(2)
        }
    }
}
