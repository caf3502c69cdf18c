//! Integration tests of plans: lowering, the plan file, `wfc compile` as a cache,
//! `wfc plan show` and `wfc graph`.

mod cli;
mod file;
mod graph;
mod limits;
mod lowering;
mod state;
mod support;
