//! wfc-compiler: loads ddeutil-workflow YAML, checks it and reports diagnostics.
//!
//! The pipeline: `syntax` (files → YAML nodes → typed model), `check` (semantic
//! passes over the model), `render` (diagnostics for people and tools).

pub mod diagnostic;
pub mod source;
pub mod span;
pub mod syntax;
