//! From files to a typed, spanned model of workflows.

pub mod build;
pub mod discover;
pub mod model;
pub mod visit;
pub mod yaml;

pub use wfc_plan::expr;
