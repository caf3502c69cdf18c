//! What installs `wfc`: `wfc completions`, `wfc man` and `wfc --version`.

use std::process::{Command, Output};

use crate::support::{assert_version_line, installed, stdout, syntax_ok};

fn wfc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(args)
        .output()
        .expect("run wfc")
}

/// The script `wfc completions SHELL` prints (it must succeed).
fn completions(shell: &str) -> String {
    let out = wfc(&["completions", shell]);
    assert_eq!(out.status.code(), Some(0), "{shell}: {out:?}");
    stdout(&out)
}

#[test]
fn completions_of_every_shell_offer_subcommands_and_their_flags() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = completions(shell);
        for word in ["check", "compile", "graph", "completions"] {
            assert!(script.contains(word), "{shell}: no `{word}`");
        }
        // fish names long flags as `-l format`.
        let flag = if shell == "fish" {
            "-l format"
        } else {
            "--format"
        };
        assert!(script.contains(flag), "{shell}: no `{flag}`");
        // elvish and PowerShell's scripts complete no values.
        if ["bash", "zsh", "fish"].contains(&shell) {
            assert!(script.contains("sarif"), "{shell}: no values of --format");
        }
    }
}

#[test]
fn completion_scripts_are_valid_shell() {
    syntax_ok("bash", &completions("bash"));
    for shell in ["zsh", "fish"] {
        if installed(shell) {
            syntax_ok(shell, &completions(shell));
        }
    }
}

#[test]
fn completions_of_an_unknown_shell_are_a_usage_error() {
    let out = wfc(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
}

#[test]
fn the_man_page_is_roff_and_names_the_subcommands() {
    let out = wfc(&["man"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let page = stdout(&out);
    // clap_mangen starts with two lines that define `\*(Aq`, then the title.
    let first_macro = page
        .lines()
        .find(|l| !l.starts_with(".ie") && !l.starts_with(".el"))
        .expect("a line");
    assert!(first_macro.starts_with(".TH wfc 1 "), "{page}");
    for sub in [
        "check",
        "compile",
        "plan",
        "graph",
        "schema",
        "lsp",
        "completions",
        "man",
    ] {
        assert!(
            page.contains(&format!("wfc\\-{sub}(1)")),
            "no {sub}: {page}"
        );
    }
    assert!(!page.contains("wfc\\-help"), "no `help` page: {page}");
}

#[test]
fn man_out_writes_a_page_per_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("man/man1");
    let out = wfc(&["man", "--out", out_dir.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout(&out), "");
    let mut written: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("the folder is made")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            "wfc-check.1",
            "wfc-compile.1",
            "wfc-completions.1",
            "wfc-graph.1",
            "wfc-lsp.1",
            "wfc-man.1",
            "wfc-plan-show.1",
            "wfc-plan.1",
            "wfc-schema.1",
            "wfc.1",
        ]
    );
    let check = std::fs::read_to_string(out_dir.join("wfc-check.1")).expect("read");
    assert!(check.contains("\n.TH wfc-check 1 "), "{check}");
    assert!(check.contains("\\-\\-format"), "{check}");
}

#[test]
fn man_out_into_a_file_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("file");
    std::fs::write(&file, "").expect("write");
    let out = wfc(&["man", "--out", file.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("wfc: error: cannot write the man pages into "),
        "{err}"
    );
}

#[test]
fn version_says_the_commit_and_the_plan_format() {
    let format = wfc_compiler::plan::FORMAT_VERSION;
    for flag in ["--version", "-V"] {
        let out = wfc(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert_version_line(&stdout(&out), "wfc", format);
    }
    // Subcommands say the same (`propagate_version`), under their own name.
    let out = wfc(&["check", "--version"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_version_line(&stdout(&out), "wfc-check", format);
}
