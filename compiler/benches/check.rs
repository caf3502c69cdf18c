//! `cargo bench --bench check`: time the phases of `wfc check` on a generated folder
//! of workflows (bench/gen_workflows.py; 1,000 files of 20 stages by default, or the
//! folder in `WFC_BENCH_DIR`). Prints the best of several rounds per phase.

// Byte and file counts are far below 2^52: converting them to f64 for rates is exact.
#![allow(clippy::cast_precision_loss)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use wfc_compiler::check;
use wfc_compiler::project::Project;
use wfc_compiler::source::SourceFile;
use wfc_compiler::span::FileId;
use wfc_compiler::syntax::{build, discover, yaml};

const ROUNDS: usize = 7;

fn best(mut f: impl FnMut()) -> Duration {
    (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn corpus() -> PathBuf {
    if let Some(dir) = std::env::var_os("WFC_BENCH_DIR") {
        return PathBuf::from(dir);
    }
    let dir = std::env::temp_dir().join("wfc-bench-1000x20");
    if !dir.join("wf_00999.yml").exists() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/gen_workflows.py");
        let status = Command::new("python3")
            .arg(script)
            .arg(&dir)
            .args(["1000", "20"])
            .status()
            .expect("python3 runs the generator");
        assert!(status.success(), "generator failed");
    }
    dir
}

fn main() {
    let dir = corpus();
    let files = discover::discover(std::slice::from_ref(&dir)).expect("corpus");
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
    let parse = best(|| {
        for (i, s) in sources.iter().enumerate() {
            let _ = yaml::parse(FileId(u32::try_from(i).unwrap_or(0)), s);
        }
    });
    let nodes: Vec<_> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| yaml::parse(FileId(u32::try_from(i).unwrap_or(0)), s).expect("parses"))
        .collect();
    let build_time = best(|| {
        for (i, (s, n)) in sources.iter().zip(&nodes).enumerate() {
            let _ = build::build_file(FileId(u32::try_from(i).unwrap_or(0)), s, n);
        }
    });
    let loaded = Project::from_sources(texts.clone());
    let options = check::Options::default();
    let checks = best(|| {
        let _ = check::run(&loaded.project, &options);
    });
    let load_parallel = best(|| {
        let _ = Project::from_sources(texts.clone());
    });
    let whole = best(|| {
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
