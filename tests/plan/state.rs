//! `wfc compile` and damaged or unwritable state: plans that do not load are
//! rewritten, a full disk is said as such and leaves nothing half-written, and a
//! closed stdout ends `plan show` and `graph` quietly.

use std::process::{Command, Stdio};

use crate::support::{Tmpfs, damaged_plans, stderr, wfc, write};

const HELLO: &str =
    "hello:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: a, echo: hi}\n";
const OTHER: &str =
    "other:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: b, echo: ho}\n";

#[test]
fn a_plan_that_does_not_load_is_rewritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "conf/hello.yml", HELLO);
    write(d, "conf/other.yml", OTHER);
    let out = wfc(&["compile", "conf"], d);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan = d.join(".wfc/plans/hello.wfp");
    let good = std::fs::read(&plan).expect("plan");
    let damage = damaged_plans(&good);
    for (what, bytes) in damage {
        std::fs::write(&plan, &bytes).expect("damage");
        let out = wfc(&["compile", "conf"], d);
        assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("1 plan written, 1 up to date"),
            "{what}: {}",
            stderr(&out)
        );
        assert_eq!(std::fs::read(&plan).expect("plan"), good, "{what}");
        wfc_compiler::plan::read(&plan).expect("the plan loads again");
    }
    // A plan that is a folder cannot be replaced: said as such.
    std::fs::remove_file(&plan).expect("rm");
    std::fs::create_dir(&plan).expect("mkdir");
    let out = wfc(&["compile", "conf"], d);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("wfc: error: cannot write plan .wfc/plans/hello.wfp: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn no_cache_rewrites_every_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "conf/hello.yml", HELLO);
    write(d, "conf/other.yml", OTHER);
    assert_eq!(wfc(&["compile", "conf"], d).status.code(), Some(0));
    let out = wfc(&["compile", "conf"], d);
    assert!(
        stderr(&out).contains("0 plans written, 2 up to date"),
        "{}",
        stderr(&out)
    );
    let out = wfc(&["compile", "--no-cache", "conf"], d);
    assert!(
        stderr(&out).contains("2 plans written, 0 up to date"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_full_disk_is_said_as_such_and_leaves_no_half_written_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "conf/hello.yml", HELLO);
    let disk = Tmpfs::mount(&d.join("full"), "64k");
    disk.fill();
    let out = wfc(&["compile", "conf", "-o", "full/plans"], d);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "wfc: error: cannot write plan full/plans/hello.wfp: No space left on device (os error 28)\n"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(disk.files(), [disk.path.join("filler")]);

    // An older plan is kept whole when its replacement cannot be written.
    std::fs::remove_file(disk.path.join("filler")).expect("rm");
    let out = wfc(&["compile", "conf", "-o", "full/plans"], d);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let old = std::fs::read(disk.path.join("plans/hello.wfp")).expect("plan");
    let filler = vec![b'x'; 4096];
    let mut file = std::fs::File::create(disk.path.join("filler")).expect("filler");
    while std::io::Write::write_all(&mut file, &filler).is_ok() {}
    drop(file);
    write(
        d,
        "conf/hello.yml",
        &HELLO.replace("echo: hi", "echo: a longer greeting than before"),
    );
    let out = wfc(&["compile", "conf", "-o", "full/plans"], d);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(disk.path.join("plans/hello.wfp")).expect("plan"),
        old
    );
    let mut files = disk.files();
    files.sort();
    assert_eq!(
        files,
        [disk.path.join("filler"), disk.path.join("plans/hello.wfp")]
    );

    // The check cache on a full disk: a warning with the place and the reason.
    let out = Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(["check", "conf"])
        .current_dir(d)
        .env("WFC_CACHE_DIR", disk.path.join("cache"))
        .output()
        .expect("wfc");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "wfc: warning: cannot write the check cache {}: No space left on device",
            disk.path.join("cache/check.bin").display()
        )),
        "{}",
        stderr(&out)
    );
    drop(disk);
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "conf/hello.yml", HELLO);
    write(
        d,
        "conf/broken.yml",
        "broken:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: a, ecoh: hi}\n",
    );
    assert_eq!(wfc(&["compile", "conf"], d).status.code(), Some(1));
    let cases: &[(&[&str], i32)] = &[
        (&["check", "--explain", "WF101"], 0),
        (&["check", "conf"], 1),
        (&["check", "--format", "json", "conf"], 1),
        (&["check", "--format", "sarif", "conf"], 1),
        (&["check", "--format", "github", "conf"], 1),
        (&["plan", "show", ".wfc/plans/hello.wfp"], 0),
        (&["graph", "hello", "conf"], 0),
        (&["graph", "hello", "--format", "mermaid", "conf"], 0),
        (&["compile", "conf"], 1),
        (&["--help"], 0),
    ];
    for (args, status) in cases {
        // The pipe's reader is gone before wfc writes anything.
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_wfc"))
            .args(*args)
            .current_dir(d)
            .env("NO_COLOR", "1")
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .expect("wfc");
        assert_eq!(
            out.status.code(),
            Some(*status),
            "{args:?}: {}",
            stderr(&out)
        );
        let said = stderr(&out);
        assert!(
            !said.contains("panicked") && !said.contains("Broken pipe") && !said.contains("error:"),
            "{args:?}: {said}"
        );
    }
}
