//! `wfr` loads no libpython; runs that need Python go to `wfr-python` before
//! anything has run. A `wfr` copied alone to a folder (no `wfr-python` beside it)
//! shows the decision in its error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{context, stderr, wfr, write};

/// Copies `wfr` alone into `dir/bin`, ready to run.
///
/// A copy may not run at once: a child that another test's thread forks while
/// the copy's file is open for writing holds that descriptor until it execs,
/// and running the copy meanwhile fails with "Text file busy". Once one run of
/// it started, no writer is left (ours is closed, and theirs close on exec):
/// so the copy is run (`--version`) until it starts.
pub(crate) fn lone_wfr(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let copy = bin.join("wfr");
    std::fs::copy(env!("CARGO_BIN_EXE_wfr"), &copy).expect("copy wfr");
    let started = std::time::Instant::now();
    loop {
        match Command::new(&copy).arg("--version").output() {
            Ok(_) => return copy,
            Err(e)
                if e.raw_os_error() == Some(nix::libc::ETXTBSY)
                    && started.elapsed() < std::time::Duration::from_secs(10) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("the copy of wfr does not run: {e}"),
        }
    }
}

fn run(binary: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .current_dir(dir)
        .env_remove("WORKFLOW_CORE_CONF_PATH")
        .env("WFR_LOG", "off")
        .output()
        .expect("run wfr")
}

fn libraries(binary: &str) -> String {
    let out = Command::new("ldd").arg(binary).output().expect("ldd");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn wfr_loads_no_libpython_and_wfr_python_does() {
    assert!(
        !libraries(env!("CARGO_BIN_EXE_wfr")).contains("libpython"),
        "{}",
        libraries(env!("CARGO_BIN_EXE_wfr"))
    );
    // Built beside it by `cargo test --workspace` (its own tests need it).
    let python = Path::new(env!("CARGO_BIN_EXE_wfr")).with_file_name("wfr-python");
    assert!(libraries(&python.to_string_lossy()).contains("libpython"));
}

const FLOWS: &str = "
plain:
  type: Workflow
  jobs:
    j:
      stages:
        - {name: Hello, echo: hi}
        - {name: Script, bash: 'touch ran.txt'}
        - name: Fixed
          trigger: plain-child
nested-py:
  type: Workflow
  jobs:
    j:
      stages:
        - {name: First, bash: 'touch ran.txt'}
        - name: Each
          foreach: [1, 2]
          stages:
            - {name: Compute, run: 'x = 1'}
call:
  type: Workflow
  jobs:
    j:
      stages:
        - {name: Add, uses: tasks/add@v1}
parent:
  type: Workflow
  jobs:
    j:
      stages:
        - {name: Go, trigger: nested-py}
dynamic:
  type: Workflow
  params: {to: str}
  jobs:
    j:
      stages:
        - {name: Go, trigger: '${{ params.to }}'}
plain-child:
  type: Workflow
  jobs:
    j:
      stages:
        - {name: Child, echo: child}
";

#[test]
fn runs_that_need_python_are_handed_over_before_anything_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/flows.yml", FLOWS);
    let wfr = lone_wfr(dir.path());

    let out = run(&wfr, dir.path(), &["run", "plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(dir.path().join("ran.txt").exists());
    std::fs::remove_file(dir.path().join("ran.txt")).expect("rm");
    let records = || std::fs::read_dir(dir.path().join(".wfc/runs")).map_or(0, Iterator::count);
    assert_eq!(records(), 1);

    for (name, reason) in [
        (
            "nested-py",
            "stage `Compute` of workflow `nested-py` is a Python stage",
        ),
        (
            "call",
            "stage `Add` of workflow `call` calls a function registered in Python",
        ),
        (
            "parent",
            "stage `Compute` of workflow `nested-py` is a Python stage",
        ),
        (
            "dynamic",
            "stage `Go` of workflow `dynamic` triggers a workflow named at run time",
        ),
    ] {
        let out = run(&wfr, dir.path(), &["run", name, "-p", "to=plain"]);
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {text}");
        assert!(text.contains(reason), "{name}: {text}");
        assert!(
            text.contains("`wfr-python`, which is not beside it"),
            "{name}: {text}"
        );
        // The way to get it names a package that exists.
        assert!(
            text.contains("cargo install --path runtime/wfr-python")
                && Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("wfr-python/Cargo.toml")
                    .is_file(),
            "{name}: {text}"
        );
    }
    // Nothing ran: no stage, no record.
    assert!(!dir.path().join("ran.txt").exists());
    assert_eq!(records(), 1);
}

#[test]
fn plans_using_filters_registered_in_python_are_handed_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "tasks/__init__.py",
        "from ddeutil.workflow import custom_filter\n\n\n@custom_filter('shout')\ndef shout(value):\n    return str(value).upper()\n",
    );
    write(
        dir.path(),
        "conf/c.yml",
        "c:\n  type: Workflow\n  params:\n    name: {type: str, default: hi}\n  jobs:\n    j:\n      stages:\n        - {name: S, id: s, echo: '${{ params.name | shout }}'}\n",
    );
    // Compiling needs the filter's name from Python: the lone `wfr` hands over.
    let lone = lone_wfr(dir.path());
    let out = run(&lone, dir.path(), &["run", "c"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("a template uses a filter that is not built in"),
        "{}",
        stderr(&out)
    );
    // `wfr` beside `wfr-python` runs it (and leaves the plan compiled)...
    let out = wfr(&["run", "c", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(context(&out)["jobs"]["j"]["status"], "SUCCESS");
    // ... and the compiled plan names the filter, so a lone `wfr` hands it over too.
    let out = run(&lone, dir.path(), &["run", ".wfc/plans/c.wfp"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("workflow `c` uses the filter `shout`, registered in Python"),
        "{}",
        stderr(&out)
    );
}
