//! `cargo bench --bench check`: time the phases of `wfc check` on a generated folder
//! of workflows (bench/gen_workflows.py; 1,000 files of 20 stages by default, or the
//! folder in `WFC_BENCH_DIR`). Prints the best of several rounds per phase.

// Byte and file counts are far below 2^52: converting them to f64 for rates is exact.
#![allow(clippy::cast_precision_loss)]

use std::path::PathBuf;
use std::time::Duration;

use wfc_compiler::check;
use wfc_compiler::project::Project;
use wfc_compiler::source::SourceFile;
use wfc_compiler::span::FileId;
use wfc_compiler::syntax::{build, discover, yaml};

mod common;

const ROUNDS: usize = 7;

fn corpus() -> PathBuf {
    std::env::var_os("WFC_BENCH_DIR").map_or_else(|| common::generated(1000, 20), PathBuf::from)
}

fn main() {
    let dir = corpus();
    let files = discover::discover(std::slice::from_ref(&dir))
        .expect("corpus")
        .files;
    let texts: Vec<(PathBuf, String)> = files
        .iter()
        .map(|p| (p.clone(), std::fs::read_to_string(p).expect("read")))
        .collect();
    let bytes: usize = texts.iter().map(|(_, t)| t.len()).sum();
    let sources: Vec<SourceFile> = texts
        .iter()
        .map(|(p, t)| SourceFile::new(p.clone(), t.clone()))
        .collect();

    if std::env::var("WFC_BENCH_ONLY").as_deref() == Ok("build") {
        let nodes: Vec<_> = sources
            .iter()
            .enumerate()
            .map(|(i, s)| yaml::parse(FileId(u32::try_from(i).unwrap_or(0)), s).expect("parses"))
            .collect();
        for _ in 0..20 {
            for (i, (s, n)) in sources.iter().zip(&nodes).enumerate() {
                let _ = build::build_file(FileId(u32::try_from(i).unwrap_or(0)), s, n);
            }
        }
        return;
    }
    let parse = common::best(ROUNDS, || {
        for (i, s) in sources.iter().enumerate() {
            let _ = yaml::parse(FileId(u32::try_from(i).unwrap_or(0)), s);
        }
    });
    let nodes: Vec<_> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| yaml::parse(FileId(u32::try_from(i).unwrap_or(0)), s).expect("parses"))
        .collect();
    let build_time = common::best(ROUNDS, || {
        for (i, (s, n)) in sources.iter().zip(&nodes).enumerate() {
            let _ = build::build_file(FileId(u32::try_from(i).unwrap_or(0)), s, n);
        }
    });
    let loaded = Project::from_sources(texts.clone());
    let options = check::Options::default();
    let checks = common::best(ROUNDS, || {
        let _ = check::run(&loaded.project, &options);
    });
    let load_parallel = common::best(ROUNDS, || {
        let _ = Project::from_sources(texts.clone());
    });
    let whole = common::best(ROUNDS, || {
        let loaded = Project::load(std::slice::from_ref(&dir)).expect("load");
        let _ = check::run(&loaded.project, &options);
    });
    let mb = |d: Duration| bytes as f64 / 1e6 / d.as_secs_f64();
    println!(
        "corpus: {} files, {:.2} MB ({})",
        files.len(),
        bytes as f64 / 1e6,
        dir.display()
    );
    println!(
        "yaml parse, 1 thread:       {:>8.1} ms  {:>6.1} MB/s",
        parse.as_secs_f64() * 1e3,
        mb(parse)
    );
    println!(
        "model build, 1 thread:      {:>8.1} ms",
        build_time.as_secs_f64() * 1e3
    );
    println!(
        "checks (parallel):          {:>8.1} ms",
        checks.as_secs_f64() * 1e3
    );
    println!(
        "parse+build (parallel):     {:>8.1} ms",
        load_parallel.as_secs_f64() * 1e3
    );
    println!(
        "whole check, files on disk: {:>8.1} ms  {:>6.0} files/s",
        whole.as_secs_f64() * 1e3,
        files.len() as f64 / whole.as_secs_f64()
    );
}
