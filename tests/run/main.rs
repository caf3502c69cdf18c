//! Integration tests of the runtime: the conformance suite against the reference
//! engine's goldens, and the `wfr` command line.

#[cfg(feature = "server")]
mod browser;
mod cli;
mod conformance;
#[cfg(feature = "docker")]
mod container;
#[cfg(feature = "docker")]
mod docker;
mod dry_run;
#[cfg(feature = "nats")]
mod fleet;
mod fuzz;
mod handoff;
mod input;
mod layering;
mod limits;
mod logs;
#[cfg(feature = "nats")]
mod nats_store;
#[cfg(feature = "nats")]
mod nats_support;
mod nesting;
mod numbers;
mod orchestration;
mod processes;
mod rerun;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
mod server_support;
mod support;
mod virtualpy;

/// The binary under test.
pub const WFR: &str = env!("CARGO_BIN_EXE_wfr");
/// The `tests/` folder.
pub const TESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests");
