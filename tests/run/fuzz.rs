//! The differential fuzzer's fixed-seed batch (tests/fuzz): random workflows run on `wfr`
//! and on the reference engine, each disagreement sorted into a named class. The classes
//! of each case are checked in (tests/fuzz/expected.json), so a new class, a wfr defect
//! coming back or an upstream difference no longer found fails here.

use std::path::PathBuf;
use std::process::Command;

use crate::support::tests_dir;

/// The reference engine's venv, installed by scripts/setup-tests.
fn oracle_python() -> PathBuf {
    let state = std::env::var_os("WFC_TEST_STATE").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/wfc-test"),
        PathBuf::from,
    );
    state.join("oracle/bin/python")
}

#[test]
fn fixed_seed_batch_has_its_checked_in_classes() {
    let python = oracle_python();
    assert!(
        python.exists(),
        "the reference engine is not installed at {}: run scripts/setup-tests",
        python.display()
    );
    let out = Command::new(&python)
        .arg(tests_dir().join("fuzz/fuzz.py"))
        .arg("check")
        .env("WFR", crate::WFR)
        .env_remove("WORKFLOW_CORE_CONF_PATH")
        .output()
        .expect("run tests/fuzz/fuzz.py");
    assert!(
        out.status.success(),
        "fuzz.py check failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
