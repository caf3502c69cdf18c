//! `wfr`: the runtime VM's command line.

use std::process::ExitCode;

// Runs allocate many small, short-lived maps and strings on several threads at
// once; mimalloc's per-thread heaps keep that cheap where glibc's arenas grow and
// shrink with system calls.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    wfc_runtime::cli::main()
}
