//! wfc-compiler: loads ddeutil-workflow YAML, checks it and reports diagnostics.
//!
//! The pipeline: `syntax` (files → YAML nodes → typed model), `check` (semantic
//! passes over the model), `render` (diagnostics for people and tools).

pub mod check;
pub mod cli;
pub mod diagnostic;
pub mod ids;
pub mod project;
pub mod render;
pub mod source;
pub mod span;
pub mod syntax;
