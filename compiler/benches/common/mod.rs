//! What the benchmarks share: timing and the generated workflow folders.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The best time of `rounds` runs of `f`.
pub fn best(rounds: usize, mut f: impl FnMut()) -> Duration {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// A folder of `files` generated workflows of `stages` stages each
/// (bench/gen_workflows.py), made once under the temporary folder.
pub fn generated(files: usize, stages: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wfc-bench-{files}x{stages}"));
    let last = dir.join(format!("wf_{:05}.yml", files - 1));
    if !last.exists() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/gen_workflows.py");
        let status = Command::new("python3")
            .arg(script)
            .arg(&dir)
            .args([files.to_string(), stages.to_string()])
            .status()
            .expect("python3 runs the generator");
        assert!(status.success(), "generator failed");
    }
    dir
}
