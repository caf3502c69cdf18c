//! Integration tests of the runtime: the conformance suite against the reference
//! engine's goldens, and the `wfr` command line.

#[cfg(feature = "python")]
mod call;
mod cli;
mod conformance;
#[cfg(feature = "docker")]
mod docker;
mod logs;
#[cfg(feature = "python")]
mod python;
mod support;
mod virtualpy;
