//! VirtualPy stages: a PEP 723 script run by `uv run --no-project`, with its
//! dependencies from a local wheel (never the package index), an installed
//! interpreter picked by `version`, and failures.

use std::path::Path;
use std::process::Command;

use crate::support::{stderr, wfr_with, write};

/// Builds `wfc_demo_dep-0.1.0-py3-none-any.whl` in `dir` with Python's zipfile.
fn local_wheel(dir: &Path) {
    let script = r#"
import base64, hashlib, sys, zipfile
name, ver = "wfc_demo_dep", "0.1.0"
files = {
    f"{name}/__init__.py": "GREETING = 'hello from a local wheel'\n",
    f"{name}-{ver}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n",
    f"{name}-{ver}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: wfc-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
with zipfile.ZipFile(f"{sys.argv[1]}/{name}-{ver}-py3-none-any.whl", "w") as z:
    for path, text in files.items():
        z.writestr(path, text)
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text)}")
    record.append(f"{name}-{ver}.dist-info/RECORD,,")
    z.writestr(f"{name}-{ver}.dist-info/RECORD", "\n".join(record) + "\n")
"#;
    std::fs::create_dir_all(dir).expect("wheels folder");
    let out = Command::new("python3")
        .args(["-c", script, dir.to_str().expect("utf-8")])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The version (`3.11`) of the default `python3`.
fn default_version() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn run(dir: &Path, flow: &str) -> serde_json::Value {
    write(dir, "conf/v.yml", flow);
    let wheels = dir.join("wheels");
    let cache = dir.join("uv-cache");
    let out = wfr_with(
        &["run", "v", "--output", "json"],
        dir,
        None,
        &[
            ("UV_NO_INDEX", "1"),
            ("UV_FIND_LINKS", wheels.to_str().expect("utf-8")),
            ("UV_CACHE_DIR", cache.to_str().expect("utf-8")),
        ],
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}):\n{}", stderr(&out)))
}

#[test]
fn a_script_with_dependencies_vars_and_a_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    local_wheel(&dir.path().join("wheels"));
    let version = default_version();
    let flow = format!(
        "v:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: Venv\n          id: venv\n          vars: {{who: ann, n: 2, tags: [a, b], none: null}}\n          deps: [wfc_demo_dep==0.1.0]\n          version: '{version}'\n          run: |\n            import sys, wfc_demo_dep\n            print(wfc_demo_dep.GREETING, who, n * 2, tags, none)\n            print('%d.%d' % sys.version_info[:2])\n            print('to stderr', file=sys.stderr)\n"
    );
    let ctx = run(dir.path(), &flow);
    let venv = &ctx["jobs"]["j"]["stages"]["venv"];
    assert_eq!(venv["status"], "SUCCESS", "{ctx:#}");
    assert_eq!(venv["outputs"]["return_code"], 0);
    assert_eq!(
        venv["outputs"]["stdout"],
        format!("hello from a local wheel ann 4 ['a', 'b'] None\n{version}")
    );
    assert_eq!(venv["outputs"]["stderr"], "to stderr");
    // Its lines are logged as they come, as a Bash stage's.
    let runs: Vec<_> = std::fs::read_dir(dir.path().join(".wfc/runs"))
        .expect("runs")
        .flatten()
        .collect();
    let log = std::fs::read_to_string(runs[0].path().join("run.log")).expect("run.log");
    let lines: Vec<(String, String)> = crate::support::json_lines(&log)
        .into_iter()
        .filter(|l| l["target"] == "wfr::virtualpy")
        .map(|l| (l["stream"].to_string(), l["message"].to_string()))
        .collect();
    assert!(
        lines.contains(&("\"stderr\"".into(), "\"to stderr\"".into()))
            && lines.contains(&("\"stdout\"".into(), format!("\"{version}\""))),
        "{lines:?}"
    );
}

#[test]
fn failures_say_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    local_wheel(&dir.path().join("wheels"));
    let ctx = run(
        dir.path(),
        "v:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: Exit\n          id: exit\n          deps: []\n          run: |\n            import sys\n            sys.exit('it went wrong')\n",
    );
    let errors = &ctx["jobs"]["j"]["stages"]["exit"]["errors"];
    assert_eq!(errors["name"], "StageError");
    let message = errors["message"].as_str().expect("message");
    assert!(
        message.starts_with("Subprocess: it went wrong"),
        "{message}"
    );
    assert!(message.contains("```python"), "{message}");

    let ctx = run(
        dir.path(),
        "v:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: Old\n          id: old\n          deps: []\n          version: '3.99'\n          run: print(1)\n",
    );
    let message = ctx["jobs"]["j"]["stages"]["old"]["errors"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(message.contains("no Python 3.99 is installed"), "{message}");

    let ctx = run(
        dir.path(),
        "v:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: Missing\n          id: missing\n          deps: [no_such_package_anywhere==1.0]\n          run: print(1)\n",
    );
    let message = ctx["jobs"]["j"]["stages"]["missing"]["errors"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(
        message.contains("no-such-package-anywhere was not found"),
        "uv's reason is in the message: {message}"
    );
}
