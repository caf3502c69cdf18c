//! Odd input: any bytes render in every format, every line break YAML knows gives
//! the same line and column in every format, and paths that are not workflow files
//! (dangling links, FIFOs, sockets, devices, links out of the folder, huge files)
//! are reported as what they are.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use proptest::prelude::*;
use wfc_compiler::check;
use wfc_compiler::project::Project;
use wfc_compiler::render::{self, Format};

use crate::support::{bounded, mkfifo, stdout, write};

const CLEAN: &str =
    "wf:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: a, echo: hi}\n";
const BROKEN: &str =
    "wf:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: a, ecoh: hi}\n";

fn wfc(args: &[&str], cwd: &Path) -> Output {
    wfc_command(args, cwd).output().expect("run wfc")
}

fn wfc_command(args: &[&str], cwd: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wfc"));
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("WORKFLOW_CORE_CONF_PATH")
        .env_remove("WFC_CACHE_DIR")
        .env("NO_COLOR", "1");
    command
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn symlink(target: &str, link: &Path) {
    std::os::unix::fs::symlink(target, link).expect("symlink");
}

/// Every finding of a JSON report as (file, line, column, code).
fn json_findings(out: &Output) -> Vec<(String, u64, u64, String)> {
    let value: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("json: {e}\n{}", stdout(out)));
    value["findings"]
        .as_array()
        .expect("an array of findings")
        .iter()
        .map(|f| {
            (
                f["file"].as_str().expect("file").to_string(),
                f["line"].as_u64().expect("line"),
                f["column"].as_u64().expect("column"),
                f["code"].as_str().expect("code").to_string(),
            )
        })
        .collect()
}

// ---- any bytes, every format ----

/// Renders `files` (bytes) in every format; returns the outputs.
fn render_all(files: Vec<(PathBuf, Vec<u8>)>) -> Vec<(Format, String)> {
    let loaded = Project::from_bytes(files);
    let mut diagnostics = loaded.diagnostics;
    diagnostics.extend(check::run(&loaded.project, &check::Options::default()));
    diagnostics.sort_by_key(|d| (d.span.file, d.span.start));
    [
        Format::Human,
        Format::Json,
        Format::Github,
        Format::Sarif,
        Format::Junit,
        Format::Gitlab,
    ]
    .into_iter()
    .map(|format| {
        let mut out = Vec::new();
        render::write(
            &mut out,
            format,
            &loaded.project.sources,
            &diagnostics,
            &render::Options::default(),
        )
        .expect("render");
        let text = String::from_utf8(out).expect("UTF-8 output");
        match format {
            Format::Json | Format::Sarif | Format::Gitlab => {
                serde_json::from_str::<serde_json::Value>(&text).expect("JSON");
            }
            Format::Junit => {
                crate::formats::junit(&text);
            }
            Format::Human | Format::Github => {}
        }
        (format, text)
    })
    .collect()
}

/// Bytes that have broken renderers: encodings, marks, controls, line breaks.
const PIECES: &[&[u8]] = &[
    b"\xff",
    b"\xfe",
    b"\xc3",
    b"\xe2\x80",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\0",
    b"\r",
    b"\r\n",
    b"\n",
    b"\t",
    b"\x0b",
    b"\x0c",
    b"\x1b[2J",
    "\u{85}".as_bytes(),
    "\u{2028}".as_bytes(),
    "\u{202e}".as_bytes(),
    "漢字".as_bytes(),
    "😀".as_bytes(),
    b"wf:\n  type: Workflow\n  jobs:\n",
    b"    j:\n      stages:\n        - name: a\n          ecoh: x\n",
    b"'unclosed",
    b"\"",
    b"key: [",
    b"${{ params.",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_render_in_every_format(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        render_all(vec![(PathBuf::from("fuzz.yml"), bytes)]);
    }

    #[test]
    fn odd_pieces_render_in_every_format(pieces in prop::collection::vec(0..PIECES.len(), 0..40)) {
        let bytes: Vec<u8> = pieces.into_iter().flat_map(|p| PIECES[p].iter().copied()).collect();
        render_all(vec![(PathBuf::from("fuzz.yml"), bytes)]);
    }
}

#[test]
fn files_that_are_not_utf8_are_named_and_shown() {
    let cases: &[(&[u8], &str, &str)] = &[
        (
            b"wf:\n  type: Workflow\n  jobs: {}\n\xff\xfe\n",
            "the file is not valid UTF-8 (byte 0xFF at offset 32)",
            "bad.yml:4:1",
        ),
        (
            b"\xff\xfew\0f\0:\0\n\0",
            "the file is UTF-16 (little-endian) text, not UTF-8",
            "bad.yml:1:1",
        ),
        (
            b"\xfe\xff\0w\0f\0:\0\n",
            "the file is UTF-16 (big-endian) text, not UTF-8",
            "bad.yml:1:1",
        ),
        (
            b"\xff\xfe\0\0w\0\0\0",
            "the file is UTF-32 (little-endian) text, not UTF-8",
            "bad.yml:1:1",
        ),
        (b"wf:\xc3", "byte 0xC3 at offset 3", "bad.yml:1:4"),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (bytes, message, place) in cases {
        std::fs::write(dir.path().join("bad.yml"), bytes).expect("write");
        for format in ["human", "json", "github", "sarif", "junit", "gitlab"] {
            let out = wfc(
                &["check", "--no-cache", "--format", format, "bad.yml"],
                dir.path(),
            );
            assert_eq!(out.status.code(), Some(1), "{format}: {}", stderr(&out));
            assert!(stderr(&out).is_empty(), "{format}: {}", stderr(&out));
            assert!(stdout(&out).contains(message), "{format}: {}", stdout(&out));
            if format == "human" {
                assert!(stdout(&out).contains(place), "{}", stdout(&out));
                assert!(stdout(&out).contains("save the file as UTF-8"));
            }
        }
    }
}

// ---- one place, every format ----

/// The places human output names, in order (`╭─[ file:line:col ]`).
fn human_places(text: &str) -> Vec<(u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let inner = l.split("─[ ").nth(1)?.strip_suffix(" ]")?;
            let mut parts = inner.rsplitn(3, ':');
            let column = parts.next()?.parse().ok()?;
            let line = parts.next()?.parse().ok()?;
            Some((line, column))
        })
        .collect()
}

#[test]
fn every_format_gives_the_same_line_and_column() {
    // (text, the line and column of the unknown key `ecoh`)
    let stage = |nl: &str, pad: &str| {
        format!(
            "wf:{nl}  type: Workflow{nl}  jobs:{nl}    j:{nl}      stages:{nl}        - name: {pad}{nl}          ecoh: 1{nl}"
        )
    };
    let cases: Vec<(String, (u64, u64))> = vec![
        (stage("\n", "a"), (7, 11)),
        (stage("\r", "a"), (7, 11)),
        (stage("\r\n", "a"), (7, 11)),
        // Mixed endings.
        (stage("\n", "a").replacen('\n', "\r", 3), (7, 11)),
        // Characters some tools break lines at are text in YAML.
        (stage("\n", "\"a\u{2028}b\u{85}c\""), (7, 11)),
        (stage("\n", "\"a\u{c}b\u{b}c\""), (7, 11)),
        // Wide and multi-byte characters before the key on its line.
        (
            "wf:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: 漢字😀, ecoh: 1}\n".into(),
            (6, 23),
        ),
        (
            "wf:\r  type: Workflow\r  jobs:\r    j:\r      stages:\r        - {name: \"\t漢\", ecoh: 1}\r".into(),
            (6, 24),
        ),
        // A byte-order mark is not a column.
        (format!("\u{feff}{}", stage("\n", "a")), (7, 11)),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (text, (line, column)) in cases {
        std::fs::write(dir.path().join("t.yml"), &text).expect("write");
        let json = wfc(
            &["check", "--no-cache", "--format", "json", "t.yml"],
            dir.path(),
        );
        let found = json_findings(&json);
        let unknown: Vec<_> = found.iter().filter(|f| f.3 == "WF101").collect();
        assert_eq!(unknown.len(), 1, "{text:?}: {found:?}");
        assert_eq!((unknown[0].1, unknown[0].2), (line, column), "{text:?}");

        let human = wfc(&["check", "--no-cache", "t.yml"], dir.path());
        let places = human_places(&stdout(&human));
        let json_places: Vec<(u64, u64)> = found.iter().map(|f| (f.1, f.2)).collect();
        assert_eq!(places, json_places, "{text:?}\n{}", stdout(&human));

        let github = wfc(
            &["check", "--no-cache", "--format", "github", "t.yml"],
            dir.path(),
        );
        assert!(
            stdout(&github).contains(&format!("line={line},col={column},")),
            "{text:?}: {}",
            stdout(&github)
        );
        let sarif = wfc(
            &["check", "--no-cache", "--format", "sarif", "t.yml"],
            dir.path(),
        );
        let sarif: serde_json::Value = serde_json::from_slice(&sarif.stdout).expect("sarif");
        let regions: Vec<(u64, u64)> = sarif["runs"][0]["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| {
                let region = &r["locations"][0]["physicalLocation"]["region"];
                (
                    region["startLine"].as_u64().expect("line"),
                    region["startColumn"].as_u64().expect("column"),
                )
            })
            .collect();
        assert_eq!(regions, json_places, "{text:?}");
    }
}

#[test]
fn terminal_escapes_in_a_file_do_not_reach_the_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "wf:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: a\n          \"e\\e[2J\\x07\": 1\n";
    write(dir.path(), "t.yml", text);
    let out = wfc(&["check", "--no-cache", "t.yml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let shown = stdout(&out);
    assert!(shown.contains("unknown key"), "{shown}");
    assert!(!shown.contains('\u{1b}'), "{shown:?}");
    assert!(!shown.contains('\u{7}'), "{shown:?}");
    assert!(shown.contains("e\u{241b}[2J\u{2407}"), "{shown}");
}

#[test]
fn a_finding_on_a_huge_line_is_told_without_the_line() {
    // One line of 2 MB: a flow mapping with an unknown key at its end.
    let filler: String = (0..40_000).fold(String::new(), |mut s, i| {
        use std::fmt::Write as _;
        let _ = write!(s, "k{i}: v{i}, ");
        s
    });
    let text = format!(
        "{{wf: {{type: Workflow, jobs: {{j: {{stages: [{{name: a, ecoh: 1}}]}}}}, extras: {{{filler}z: 1}}}}, other: {{type: Workflow, jobs: {{j: {{stages: [{{name: b, ecoh: 2}}]}}}}}}}}\n"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "t.yml", &text);
    let json = json_findings(&wfc(
        &["check", "--no-cache", "--format", "json", "t.yml"],
        dir.path(),
    ));
    assert_eq!(json.len(), 2, "{json:?}");
    let out = wfc(&["check", "--no-cache", "t.yml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let shown = stdout(&out);
    assert!(shown.len() < 4_000, "{} bytes of output", shown.len());
    for (_, line, column, _) in &json {
        assert!(
            shown.contains(&format!("t.yml:{line}:{column}: unknown key")),
            "{shown}"
        );
    }
    assert!(shown.contains("too long to show"), "{shown}");
}

#[test]
fn a_finding_at_the_end_of_the_file_renders() {
    let dir = tempfile::tempdir().expect("tempdir");
    for text in [
        "wf: 'unclosed",
        "wf:\r  type: Workflow\r  jobs: [",
        "wf: \"a\\",
        "\t",
    ] {
        write(dir.path(), "t.yml", text);
        for format in ["human", "json", "github", "sarif", "junit", "gitlab"] {
            let out = wfc(
                &["check", "--no-cache", "--format", format, "t.yml"],
                dir.path(),
            );
            assert_eq!(
                out.status.code(),
                Some(1),
                "{text:?} {format}: {}",
                stderr(&out)
            );
            assert!(
                stderr(&out).is_empty(),
                "{text:?} {format}: {}",
                stderr(&out)
            );
        }
    }
}

// ---- paths that are not workflow files ----

#[test]
fn odd_entries_of_a_folder_are_skipped_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("conf");
    write(dir.path(), "conf/a.yml", CLEAN);
    symlink("nowhere", &conf.join("README"));
    // An editor's lock file: hidden, never looked at.
    symlink("root@host.1234:1700000000", &conf.join(".#a.yml"));
    symlink("gone.yml", &conf.join("b.yml"));
    mkfifo(&conf.join("fifo.yml"));
    symlink("/dev/zero", &conf.join("zero.yml"));
    let _socket = std::os::unix::net::UnixListener::bind(conf.join("sock.yml")).expect("socket");
    symlink("loop2.yml", &conf.join("loop1.yml"));
    symlink("loop1.yml", &conf.join("loop2.yml"));
    // A folder named like a workflow file is a folder: walked.
    write(dir.path(), "conf/d.yml/inner.yml", BROKEN);

    for args in [&["check", "conf"][..], &["compile", "conf"][..]] {
        let out = bounded(wfc_command(args, dir.path()), Duration::from_secs(60));
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
    }
    let json = wfc(&["check", "--format", "json", "conf"], dir.path());
    let found = json_findings(&json);
    let warned: Vec<&str> = found
        .iter()
        .filter(|f| f.3 == "WF005")
        .map(|f| f.0.as_str())
        .collect();
    assert_eq!(
        warned,
        [
            "conf/README",
            "conf/b.yml",
            "conf/fifo.yml",
            "conf/loop1.yml",
            "conf/loop2.yml",
            "conf/sock.yml",
            "conf/zero.yml"
        ],
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.0 == "conf/d.yml/inner.yml" && f.3 == "WF101")
    );
    let human = stdout(&wfc(&["check", "conf"], dir.path()));
    for why in [
        "a symbolic link to `nowhere`, which does not exist",
        "a FIFO (named pipe), not a regular file",
        "a socket, not a regular file",
        "a symbolic link to a character device, not to a regular file",
        "too many levels of symbolic links",
    ] {
        assert!(human.contains(why), "{why}: {human}");
    }
    // Without the broken file, the warnings alone keep the check clean.
    std::fs::remove_dir_all(conf.join("d.yml")).expect("rm");
    let out = wfc(&["check", "conf"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(
        wfc(&["check", "--deny-warnings", "conf"], dir.path())
            .status
            .code(),
        Some(1)
    );
    let out = wfc(&["compile", "conf"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(dir.path().join(".wfc/plans/wf.wfp").is_file());
}

#[test]
fn links_to_folders_are_not_followed_out_of_the_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("conf");
    write(dir.path(), "conf/a.yml", CLEAN);
    write(dir.path(), "outside/x.yml", BROKEN);
    symlink("../outside", &conf.join("out"));
    symlink("/etc", &conf.join("etc"));
    // Cycles: a link to the folder itself and to its parent.
    write(
        dir.path(),
        "conf/sub/b.yml",
        CLEAN.replace("wf:", "wf-b:").as_str(),
    );
    symlink("..", &conf.join("sub/back"));
    symlink(".", &conf.join("self"));
    symlink("..", &conf.join("up"));
    let out = bounded(
        wfc_command(&["check", "--format", "json", "conf"], dir.path()),
        Duration::from_secs(60),
    );
    let found = json_findings(&out);
    let warned: Vec<&str> = found
        .iter()
        .filter(|f| f.3 == "WF005")
        .map(|f| f.0.as_str())
        .collect();
    assert_eq!(warned, ["conf/etc", "conf/out", "conf/up"], "{found:?}");
    // Nothing from outside was loaded, and the files inside were loaded once.
    assert!(
        !found.iter().any(|f| f.3 == "WF101" || f.3 == "WF201"),
        "{found:?}"
    );
    let human = stdout(&wfc(&["check", "conf"], dir.path()));
    assert!(
        human.contains("a symbolic link to the folder `/etc`, outside `conf`: not followed"),
        "{human}"
    );
    // A link to a file is read like a file.
    std::fs::remove_file(conf.join("out")).expect("rm");
    symlink("../outside/x.yml", &conf.join("x.yml"));
    let found = json_findings(&wfc(&["check", "--format", "json", "conf"], dir.path()));
    assert!(
        found.iter().any(|f| f.0 == "conf/x.yml" && f.3 == "WF101"),
        "{found:?}"
    );
}

#[test]
fn a_path_that_is_not_a_file_or_folder_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    mkfifo(&dir.path().join("fifo.yml"));
    let _socket =
        std::os::unix::net::UnixListener::bind(dir.path().join("sock.yml")).expect("socket");
    symlink("gone.yml", &dir.path().join("dangling.yml"));
    let cases = [
        (
            "fifo.yml",
            "fifo.yml: a FIFO (named pipe), not a workflow file or a folder of them",
        ),
        (
            "sock.yml",
            "sock.yml: a socket, not a workflow file or a folder of them",
        ),
        (
            "/dev/zero",
            "/dev/zero: a character device, not a workflow file or a folder of them",
        ),
        (
            "dangling.yml",
            "dangling.yml: a symbolic link to `gone.yml`, which does not exist",
        ),
        ("missing.yml", "missing.yml: no such file or directory"),
        // A regular file that cannot be read, even by root.
        ("/proc/self/mem", "/proc/self/mem: input/output error"),
    ];
    for command in ["check", "compile"] {
        for (path, message) in cases {
            let out = bounded(
                wfc_command(&[command, path], dir.path()),
                Duration::from_secs(30),
            );
            assert_eq!(
                out.status.code(),
                Some(2),
                "{command} {path}: {}",
                stderr(&out)
            );
            assert!(
                stderr(&out).contains(&format!("wfc: error: {message}")),
                "{command} {path}: {}",
                stderr(&out)
            );
        }
    }
}

#[test]
fn a_confignore_that_is_not_a_file_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/a.yml", CLEAN);
    mkfifo(&dir.path().join("conf/.confignore"));
    let out = bounded(
        wfc_command(&["check", "conf"], dir.path()),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("conf/.confignore: a FIFO (named pipe), not a regular file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_huge_workflow_file_is_a_finding_and_the_others_are_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/a.yml", BROKEN);
    let big = format!("# {}\n", "x".repeat(17 << 20));
    write(dir.path(), "conf/big.yml", &big);
    let found = json_findings(&wfc(&["check", "--format", "json", "conf"], dir.path()));
    let codes: Vec<(&str, &str)> = found.iter().map(|f| (f.0.as_str(), f.3.as_str())).collect();
    assert_eq!(codes, [("conf/a.yml", "WF101"), ("conf/big.yml", "WF006")]);
    let human = stdout(&wfc(&["check", "conf"], dir.path()));
    assert!(
        human.contains(
            "the file is not loaded: it is 17.0 MiB long, more than the 16 MiB such a file may have"
        ),
        "{human}"
    );
}

#[test]
fn caches_that_are_not_files_are_not_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a.yml", BROKEN);
    let cache = dir.path().join(".wfc/cache");
    std::fs::create_dir_all(&cache).expect("mkdir");
    // A FIFO would block a reader forever; /dev/zero would fill the memory.
    for make in [&(|p: &Path| mkfifo(p)) as &dyn Fn(&Path), &|p: &Path| {
        symlink("/dev/zero", p);
    }] {
        let file = cache.join("check.bin");
        let _ = std::fs::remove_file(&file);
        make(&file);
        let out = bounded(
            wfc_command(&["check", "a.yml"], dir.path()),
            Duration::from_secs(30),
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stdout(&out).contains("WF101"));
        // The cache was written in its place, as a file.
        assert!(std::fs::symlink_metadata(&file).expect("cache").is_file());
    }
}

#[test]
fn a_first_line_ends_at_any_line_break() {
    // The finding on a named file without workflows covers its first line only.
    let dir = tempfile::tempdir().expect("tempdir");
    for nl in ["\n", "\r\n", "\r"] {
        write(dir.path(), "c.yml", &format!("services:{nl}  web: x{nl}"));
        let out = wfc(
            &["check", "--no-cache", "--format", "json", "c.yml"],
            dir.path(),
        );
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let finding = &value["findings"][0];
        assert_eq!(finding["code"], "WF003", "{value}");
        assert_eq!(
            (
                &finding["line"],
                &finding["end_line"],
                &finding["end_column"]
            ),
            (&1.into(), &1.into(), &10.into()),
            "{nl:?}: {value}"
        );
    }
}
