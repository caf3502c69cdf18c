//! Writing to stdout and stderr without panicking.
//!
//! `println!` and `eprintln!` panic when the stream is a pipe whose reader went away
//! (`wfc check --explain WF101 | head -1`). `wfc` and `wfr` write through these
//! functions instead: a closed pipe ends the output quietly, as in ripgrep (the
//! command still ends with the exit status of what it did), and any other failure
//! to write a report is an error, never a panic.

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::sync::OnceLock;

/// Where the reports go when stdout was set aside for them ([`report_to`]).
static REPORTS: OnceLock<File> = OnceLock::new();

/// From now on, what [`stdout_with`] writes goes to `file` (a copy of the
/// process's stdout made before something else took file descriptor 1): wfr does
/// this before an embedded Python runs stages, whose C code and child processes
/// write to descriptor 1 behind its back, so that `--output json` stays JSON.
/// Only the first call counts.
pub fn report_to(file: File) {
    let _ = REPORTS.set(file);
}

/// Writes to stdout through `write`, then flushes. A reader that went away is not
/// an error; any other failure is returned.
pub fn stdout_with(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let mut out: io::BufWriter<Box<dyn Write>> = io::BufWriter::new(match REPORTS.get() {
        Some(file) => Box::new(file),
        None => Box::new(io::stdout().lock()),
    });
    let written = write(&mut out).and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            // What is still buffered cannot go anywhere; do not try again on drop.
            let _ = out.into_parts();
            Ok(())
        }
        other => other,
    }
}

/// Writes `text` to stdout (see [`stdout_with`]).
pub fn stdout(text: &str) -> io::Result<()> {
    stdout_with(|out| out.write_all(text.as_bytes()))
}

/// Writes one line to stderr; a failure to write it is ignored (there is nowhere
/// left to report it).
pub fn stderr_line(args: fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "{args}");
}

/// `eprintln!` that never panics: see [`stderr_line`].
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::stderr_line(format_args!($($arg)*))
    };
}
