//! Gives the compiler a build id: a hash of its own sources and grammar. Caches
//! and plan files record it, so a rebuilt compiler never trusts results of another.
//! And the git commit `wfc --version` says (`WFC_BUILD_COMMIT`).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

include!("../plan/build/commit.rs");

fn main() {
    commit();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    for dir in [root.join("src"), root.join("../plan")] {
        println!("cargo:rerun-if-changed={}", dir.display());
        files(&dir, &mut all);
    }
    all.push(root.join("Cargo.toml"));
    all.sort();
    let mut hasher = DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    for path in &all {
        path.strip_prefix(root).unwrap_or(path).hash(&mut hasher);
        std::fs::read(path).unwrap_or_default().hash(&mut hasher);
    }
    println!("cargo:rustc-env=WFC_BUILD_ID={:016x}", hasher.finish());
}
