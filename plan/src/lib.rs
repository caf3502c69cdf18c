//! wfc-plan: what the compiler and the runtime share, so that neither reaches into
//! the other. The plan (a checked workflow lowered for the runtime, its `.wfp` file,
//! and a visitor to walk it), the stage kinds and their facts, the expression
//! language (its grammar, parser and typed AST: plans hold parsed templates), the
//! words of the workflow format both sides speak, the bounds on inputs, and bounded
//! reads and atomic writes of wfc's files.

pub mod expr;
pub mod file;
pub mod filters;
pub mod ids;
pub mod input;
mod ir;
pub mod kind;
pub mod limits;
pub mod matrix;
pub mod output;
pub mod pytext;
pub mod state;
pub mod visit;
pub mod vocab;
pub mod volume;
mod walk;

pub use file::{
    FORMAT_VERSION, Header, PlanError, decode, encode, file_name, read, read_header, verify, write,
    write_bytes,
};
pub use ir::*;
