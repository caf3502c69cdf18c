//! What `wfr run` makes of odd input and damaged state: YAML errors shown as `wfc
//! check` shows them, paths that are not workflow files, FIFOs where caches or
//! params are read, damaged plans, a full disk, a closed stdout, and the `.wfc`
//! folder's markers.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{Tmpfs, bounded, damaged_plans, mkfifo, stderr, stdout, wfr, write};

const HELLO: &str =
    "hello:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: a, echo: hi}\n";

/// `wfr` with the conf path cleared, as `support::wfr` runs it.
fn wfr_command(args: &[&str], cwd: &Path) -> Command {
    let mut command = Command::new(crate::WFR);
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("WORKFLOW_CORE_CONF_PATH")
        .env_remove("WORKFLOW_CORE_STAGE_DEFAULT_ID")
        .env_remove("WFR_LOG")
        .env("NO_COLOR", "1");
    command
}

fn symlink(target: &str, link: &Path) {
    std::os::unix::fs::symlink(target, link).expect("symlink");
}

#[test]
fn yaml_errors_are_shown_before_the_run_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    // `hello` is defined in a file that does not parse.
    write(
        dir.path(),
        "conf/hello.yml",
        "hello:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: a, echo: hi\n",
    );
    write(
        dir.path(),
        "conf/other.yml",
        &HELLO.replace("hello:", "other:"),
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "hello"],
            "wfr: error: no workflow is named `hello`",
        ),
        (
            &["run", "conf/hello.yml"],
            "wfr: error: conf/hello.yml has errors; fix them, then run it again",
        ),
    ];
    for (args, error) in cases {
        let out = wfr(args, dir.path(), None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let text = stderr(&out);
        let finding = text
            .find("[WF001 yaml-syntax] Error: invalid YAML")
            .unwrap_or_else(|| panic!("{args:?}: no finding in {text}"));
        assert!(text.contains("conf/hello.yml:6:"), "{args:?}: {text}");
        let refused = text
            .find(error)
            .unwrap_or_else(|| panic!("{args:?}: {text}"));
        assert!(finding < refused, "the findings come first: {text}");
        assert!(!text.contains("holds no workflow"), "{text}");
    }
    // A file that is not UTF-8 is shown too.
    std::fs::write(dir.path().join("conf/hello.yml"), b"hello: \xff\n").expect("write");
    let out = wfr(&["run", "conf/hello.yml"], dir.path(), None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("the file is not valid UTF-8"),
        "{}",
        stderr(&out)
    );
    // The other workflow still runs.
    let out = wfr(&["run", "other"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_workflow_path_that_is_not_a_file_is_said_as_such() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/hello.yml", HELLO);
    std::fs::create_dir(dir.path().join("folder.yml")).expect("mkdir");
    mkfifo(&dir.path().join("fifo.yml"));
    let _socket =
        std::os::unix::net::UnixListener::bind(dir.path().join("sock.yaml")).expect("socket");
    symlink("gone.yml", &dir.path().join("dangling.yml"));
    symlink("/dev/zero", &dir.path().join("zero.yml"));
    let cases = [
        ("folder.yml", "folder.yml: a folder, not a regular file"),
        (
            "fifo.yml",
            "fifo.yml: a FIFO (named pipe), not a regular file",
        ),
        ("sock.yaml", "sock.yaml: a socket, not a regular file"),
        (
            "zero.yml",
            "zero.yml: a character device, not a regular file",
        ),
        (
            "dangling.yml",
            "dangling.yml: a symbolic link to `gone.yml`, which does not exist",
        ),
        ("missing.yml", "missing.yml: no such file or directory"),
    ];
    for (path, message) in cases {
        let out = bounded(
            wfr_command(&["run", path], dir.path()),
            Duration::from_secs(30),
        );
        assert_eq!(out.status.code(), Some(2), "{path}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("wfr: error: {message}")),
            "{path}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn odd_entries_in_the_workflow_folder_do_not_stop_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("conf");
    write(dir.path(), "conf/hello.yml", HELLO);
    symlink("nowhere", &conf.join("README"));
    symlink("root@host.1:17", &conf.join(".#hello.yml"));
    symlink("gone.yml", &conf.join("gone.yml"));
    symlink("/etc", &conf.join("etc"));
    mkfifo(&conf.join("fifo.yml"));
    for target in ["hello", "conf/hello.yml"] {
        let out = bounded(
            wfr_command(&["run", target], dir.path()),
            Duration::from_secs(60),
        );
        assert_eq!(out.status.code(), Some(0), "{target}: {}", stderr(&out));
    }
}

#[test]
fn fifos_and_devices_where_files_are_read_do_not_block_a_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/hello.yml", HELLO);
    std::fs::create_dir_all(dir.path().join(".wfc/cache")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join(".wfc/plans")).expect("mkdir");
    mkfifo(&dir.path().join(".wfc/cache/check.bin"));
    mkfifo(&dir.path().join(".wfc/plans/hello.wfp"));
    let out = bounded(
        wfr_command(&["run", "hello"], dir.path()),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Both were replaced by files.
    for file in [".wfc/cache/check.bin", ".wfc/plans/hello.wfp"] {
        assert!(
            std::fs::symlink_metadata(dir.path().join(file))
                .expect("file")
                .is_file(),
            "{file}"
        );
    }
    // A params file that is a FIFO or a device.
    mkfifo(&dir.path().join("params.json"));
    symlink("/dev/zero", &dir.path().join("zero.json"));
    for (file, what) in [
        ("params.json", "a FIFO (named pipe), not a regular file"),
        ("zero.json", "a character device, not a regular file"),
    ] {
        let out = bounded(
            wfr_command(&["run", "hello", "--params-file", file], dir.path()),
            Duration::from_secs(30),
        );
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("params file {file}: {what}")),
            "{}",
            stderr(&out)
        );
    }
    // A plan file given by path that is a FIFO.
    mkfifo(&dir.path().join("pipe.wfp"));
    let out = bounded(
        wfr_command(&["run", "pipe.wfp"], dir.path()),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("cannot read plan `pipe.wfp`: a FIFO (named pipe), not a regular file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_damaged_plan_is_compiled_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/hello.yml", HELLO);
    let out = wfr(&["run", "hello"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan = dir.path().join(".wfc/plans/hello.wfp");
    let good = std::fs::read(&plan).expect("plan");
    let damage = damaged_plans(&good);
    for (what, bytes) in damage {
        std::fs::write(&plan, &bytes).expect("damage");
        let out = wfr(&["run", "hello"], dir.path(), None);
        assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(&out));
        assert_eq!(
            std::fs::read(&plan).expect("plan"),
            good,
            "{what}: rewritten"
        );
    }
}

#[test]
fn a_plan_that_cannot_be_written_is_said_as_such() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/hello.yml", HELLO);
    let disk = Tmpfs::mount(&dir.path().join("full"), "64k");
    disk.fill();
    let out = wfr(&["run", "hello", "--plans", "full/plans"], dir.path(), None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "wfr: error: cannot write plan full/plans/hello.wfp: No space left on device"
        ),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("no workflow is named"),
        "{}",
        stderr(&out)
    );
    // Nothing half-written is left: no file but the filler (folders may be made).
    assert_eq!(disk.files(), [disk.path.join("filler")]);
    drop(disk);
}

#[test]
fn a_closed_stdout_ends_the_output_quietly() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/hello.yml", HELLO);
    for extra in [&[][..], &["--output", "json"][..]] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let mut command = wfr_command(&[&["run", "hello"][..], extra].concat(), dir.path());
        let out = command
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
        assert!(!stderr(&out).contains("cannot write"), "{}", stderr(&out));
    }
    // A full stdout is an error worth saying.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = wfr_command(&["run", "hello", "--output", "json"], dir.path())
        .stdout(Stdio::from(full))
        .stderr(Stdio::piped())
        .output()
        .expect("run");
    assert!(
        stderr(&out).contains("wfr: cannot write the context to stdout: No space left on device"),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("panicked"));
}

#[test]
fn the_state_folder_is_ignored_by_git_and_tagged_as_a_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/hello.yml", HELLO);
    let out = wfr(&["run", "hello"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let state = dir.path().join(".wfc");
    assert_eq!(
        std::fs::read_to_string(state.join(".gitignore"))
            .expect(".gitignore")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>(),
        ["*"]
    );
    assert!(
        std::fs::read_to_string(state.join("CACHEDIR.TAG"))
            .expect("CACHEDIR.TAG")
            .starts_with("Signature: 8a477f597d28d172789f06886806bc55")
    );
    // A run of a plan file with its records in `.wfc/runs` of another folder.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).expect("mkdir");
    let out = wfr(&["run", "../.wfc/plans/hello.wfp"], &other, None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(other.join(".wfc/runs").is_dir());
    assert!(other.join(".wfc/.gitignore").is_file());
    assert!(other.join(".wfc/CACHEDIR.TAG").is_file());
}
