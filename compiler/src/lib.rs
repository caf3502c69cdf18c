//! wfc-compiler: loads ddeutil-workflow YAML, checks it and reports diagnostics.
//!
//! The pipeline: `syntax` (files → YAML nodes → typed model), `check` (semantic
//! passes over the model), `render` (diagnostics for people and tools).

pub mod api;
pub mod check;
pub mod cli;
pub mod compile;
pub mod config;
pub mod diagnostic;
pub mod fix;
pub mod lsp;
pub mod project;
pub mod registry;
pub mod render;
pub mod schema;
pub mod source;
pub mod span;
pub mod suppress;
pub mod syntax;

// What the runtime shares, kept in `wfc_plan`, under the paths the compiler uses.
pub use wfc_plan::{errln, ids, input, kind, limits, output, pytext, state, volume};

/// Identifies this build of the compiler: a hash of its sources. Caches and plans
/// made by another build are not trusted.
pub const BUILD_ID: &str = concat!(env!("CARGO_PKG_VERSION"), "+", env!("WFC_BUILD_ID"));
pub mod plan;
