//! `cargo bench --bench plan`: loading a compiled plan against compiling its YAML,
//! for one generated workflow of 1,000 stages (bench/gen_workflows.py). Prints the
//! best of several rounds of each and their ratio.

// Counts are far below 2^52: converting them to f64 for rates is exact.
#![allow(clippy::cast_precision_loss)]

use std::path::PathBuf;

use wfc_compiler::check;
use wfc_compiler::compile;
use wfc_compiler::plan;
use wfc_compiler::project::Project;

mod common;

const ROUNDS: usize = 21;

fn main() {
    let dir = common::generated(1, 1000);
    let yaml: PathBuf = dir.join("wf_00000.yml");
    let options = check::Options::default();

    let compile_once = || {
        let loaded = Project::load(std::slice::from_ref(&yaml)).expect("load");
        assert!(
            check::run(&loaded.project, &options)
                .iter()
                .all(|d| !d.is_error())
        );
        let (_, workflow) = loaded.project.workflows().next().expect("one workflow");
        plan::lower(workflow, "wf_00000.yml")
    };
    let compiled = compile_once();
    let stages = compiled.stage_count();
    let plan_file = dir.join("wf-00000.wfp");
    plan::write(
        &plan_file,
        &compile::header(&compiled, "bench".into()),
        &compiled,
    )
    .expect("write");
    let size = std::fs::metadata(&plan_file).map_or(0, |m| m.len());

    let compiling = common::best(ROUNDS, || {
        let _ = compile_once();
    });
    let loading = common::best(ROUNDS, || {
        let (_, plan) = plan::read(&plan_file).expect("read");
        assert_eq!(plan.name, compiled.name);
    });
    println!(
        "workflow: {stages} stages, YAML {} KB, plan {} KB",
        std::fs::metadata(&yaml).map_or(0, |m| m.len()) / 1024,
        size / 1024
    );
    println!(
        "compile its YAML (parse, check, lower): {:>8.2} ms",
        compiling.as_secs_f64() * 1e3
    );
    println!(
        "load its plan (read, verify, decode):   {:>8.2} ms",
        loading.as_secs_f64() * 1e3
    );
    println!(
        "loading is {:.1}x faster than compiling",
        compiling.as_secs_f64() / loading.as_secs_f64()
    );
}
