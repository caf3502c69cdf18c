//! From files to a typed, spanned model of workflows.

pub mod expr;
pub mod yaml;
