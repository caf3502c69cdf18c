//! Integration tests of `wfr-python`, the runtime with embedded CPython: Py stages
//! and Call stages. (`wfr` hands it such runs: `tests/run/handoff.rs`.)

mod call;
mod processes;
mod python;
#[path = "../run/support.rs"]
mod support;

/// The binary under test.
pub const WFR: &str = env!("CARGO_BIN_EXE_wfr-python");
/// The `tests/` folder.
pub const TESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests");
