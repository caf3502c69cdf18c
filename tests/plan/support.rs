//! Helpers shared by the plan tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "../common.rs"]
mod common;
pub use common::{Tmpfs, damaged_plans, stderr, stdout, write};

use wfc_compiler::check;
use wfc_compiler::plan::{self, Plan};
use wfc_compiler::project::Project;

pub fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests")
}

/// Every workflow of the ok fixtures, lowered.
pub fn fixture_plans() -> Vec<Plan> {
    let root = tests_dir().join("fixtures/ok");
    let loaded = Project::load(&[root]).expect("fixtures load");
    assert!(loaded.diagnostics.is_empty());
    assert!(check::run(&loaded.project, &check::Options::default()).is_empty());
    loaded
        .project
        .files
        .iter()
        .flat_map(|f| {
            let source = loaded.project.sources.get(f.file);
            let name = source
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            f.workflows.iter().map(move |w| plan::lower(w, &name))
        })
        .collect()
}

pub fn wfc(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(args)
        .current_dir(cwd)
        .env_remove("WORKFLOW_CORE_CONF_PATH")
        .env_remove("WFC_CACHE_DIR")
        .env("NO_COLOR", "1")
        .output()
        .expect("run wfc")
}
