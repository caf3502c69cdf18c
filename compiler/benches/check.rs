//! `cargo bench --bench check`: time the phases of `wfc check` on a generated folder
//! of workflows (bench/gen_workflows.py; 1,000 files of 20 stages by default, or the
//! folder in `WFC_BENCH_DIR`). Prints the best of several rounds per phase.
//!
//! `cargo bench --bench check -- scale`: how `wfc check` grows with the size of one
//! workflow (one job of N stages, a chain of N jobs, N mistakes), N from 2,500 to
//! 20,000 (`WFC_BENCH_MAX` for less, `WFC_BENCH_SHAPE` for one shape): time per
//! item and the ratio to half the size, which near-linear checking keeps near 2.

// Byte and file counts are far below 2^52: converting them to f64 for rates is exact.
#![allow(clippy::cast_precision_loss)]

use std::fmt::Write as _;
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
    if std::env::args().any(|a| a == "scale") {
        scale();
        return;
    }
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

/// One workflow of `n` items of a shape, as YAML.
fn shape(name: &str, n: usize) -> String {
    let mut text =
        String::from("wf:\n  type: Workflow\n  params:\n    x: {type: str, default: a}\n  jobs:\n");
    match name {
        // Each stage reads the one before it.
        "stages" => {
            text.push_str("    j:\n      stages:\n");
            for i in 0..n {
                let read = if i == 0 {
                    "${{ params.x }}".to_string()
                } else {
                    format!("${{{{ stages.s{}.outputs }}}}", i - 1)
                };
                let _ = write!(
                    text,
                    "        - name: s{i}\n          id: s{i}\n          echo: \"{read}\"\n"
                );
            }
        }
        // Each job needs the one before it and reads the one before that.
        "chain" => {
            for i in 0..n {
                let _ = writeln!(text, "    j{i}:");
                if i > 0 {
                    let _ = writeln!(text, "      needs: [j{}]", i - 1);
                }
                let read = if i > 1 {
                    format!("${{{{ jobs.j{}.stages }}}}", i - 2)
                } else {
                    "start".to_string()
                };
                let _ = write!(
                    text,
                    "      stages:\n        - name: s\n          echo: \"{read}\"\n"
                );
            }
        }
        // Every job needs a job that does not exist and reads a stage that does not.
        _ => {
            for i in 0..n {
                let _ = write!(
                    text,
                    "    j{i}:\n      needs: [x{i}]\n      stages:\n        - name: s\n          id: s{i}\n          echo: \"${{{{ stages.y{i}.outputs }}}}\"\n"
                );
            }
        }
    }
    text
}

fn scale() {
    let max: usize = std::env::var("WFC_BENCH_MAX")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(20_000);
    let rounds: usize = std::env::var("WFC_BENCH_ROUNDS")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(3);
    let options = check::Options::default();
    println!("shape      items    check ms   us/item  x(half size)");
    let only = std::env::var("WFC_BENCH_SHAPE").ok();
    for name in ["stages", "chain", "mistakes"] {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let mut previous: Option<Duration> = None;
        let mut n = 2_500;
        while n <= max {
            let text = shape(name, n);
            let time = common::best(rounds, || {
                let loaded = Project::from_sources(vec![(PathBuf::from("wf.yml"), text.clone())]);
                let found = check::run(&loaded.project, &options);
                assert_eq!(
                    loaded.diagnostics.is_empty() && found.is_empty(),
                    name != "mistakes",
                    "{name}"
                );
            });
            let ratio = previous.map_or_else(String::new, |p| {
                format!("{:>8.2}", time.as_secs_f64() / p.as_secs_f64())
            });
            println!(
                "{name:<9} {n:>6} {:>11.1} {:>9.1}  {ratio}",
                time.as_secs_f64() * 1e3,
                time.as_secs_f64() * 1e6 / n as f64
            );
            previous = Some(time);
            n *= 2;
        }
    }
}
