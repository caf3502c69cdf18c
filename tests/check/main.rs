//! Integration tests of the compiler's checks and of the `wfc` command line.

mod bar;
mod calls;
mod cli;
mod corpus;
mod dist;
mod fixes;
mod fixtures;
mod formats;
mod fuzz;
mod input;
mod lint;
mod lsp;
mod project;
mod scale;
mod schema;
mod spans;
mod support;
