//! Helpers the integration-test crates share (each includes this file with `#[path]`).

// Not every crate uses every helper.
#![allow(dead_code)]

use std::path::Path;
use std::process::Output;

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `text` to `dir/name`, making the folders on the way.
pub fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// Runs `command` with its output captured; it must end within `limit` (it is
/// killed, and the test fails, if it does not: a FIFO read would block forever).
pub fn bounded(mut command: std::process::Command, limit: std::time::Duration) -> Output {
    use std::process::Stdio;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = std::time::Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} still running after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// Makes a FIFO at `path` (with the system's `mkfifo`).
pub fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A tmpfs mounted for a test: a disk that fills up for real (the tests run as
/// root on the project's machines, as CI does). Unmounted (lazily: an open file
/// in it never leaves the mount behind) when dropped.
pub struct Tmpfs {
    pub path: std::path::PathBuf,
}

impl Tmpfs {
    /// A tmpfs of `size` (`64k`) at `path`.
    pub fn mount(path: &Path, size: &str) -> Self {
        std::fs::create_dir_all(path).expect("mount point");
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .expect("mount");
        assert!(
            out.status.success(),
            "this test needs to mount a small tmpfs (as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            path: path.to_path_buf(),
        }
    }

    /// Fills it up with the file `filler`.
    pub fn fill(&self) {
        let filler = vec![b'x'; 4096];
        let mut file = std::fs::File::create(self.path.join("filler")).expect("filler");
        while std::io::Write::write_all(&mut file, &filler).is_ok() {}
    }

    /// Every file on it.
    pub fn files(&self) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        let mut stack = vec![self.path.clone()];
        while let Some(folder) = stack.pop() {
            for entry in std::fs::read_dir(folder).expect("list") {
                let entry = entry.expect("entry");
                if entry.file_type().expect("type").is_dir() {
                    stack.push(entry.path());
                } else {
                    files.push(entry.path());
                }
            }
        }
        files.sort();
        files
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

/// Damaged copies of a good plan file, each named: what a crash, a full disk or a
/// stray write could leave. Loading any of them must fail, and the plan be rewritten.
pub fn damaged_plans(good: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let flipped = |at: usize, mask: u8| {
        let mut b = good.to_vec();
        b[at] ^= mask;
        b
    };
    vec![
        ("empty", Vec::new()),
        ("cut in half", good[..good.len() / 2].to_vec()),
        ("cut short", good[..good.len() - 10].to_vec()),
        ("bad magic", [b"NOTAPLAN".as_slice(), &good[8..]].concat()),
        ("other format", {
            let mut b = good.to_vec();
            b[8] = b[8].wrapping_add(1);
            b
        }),
        ("a flipped byte in the body", flipped(good.len() - 40, 0x55)),
        ("a flipped checksum", flipped(good.len() - 1, 1)),
        ("trailing bytes", [good, b"x"].concat()),
    ]
}

/// Whether `shell` is installed (a syntax check of its completions is run only then).
pub fn installed(shell: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {shell}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Checks the syntax of `script` with `shell` (`bash -n`, `zsh -n`,
/// `fish --no-execute`), failing the test with the shell's words.
pub fn syntax_ok(shell: &str, script: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("completions");
    std::fs::write(&file, script).expect("write");
    let flag = if shell == "fish" {
        "--no-execute"
    } else {
        "-n"
    };
    let out = std::process::Command::new(shell)
        .arg(flag)
        .arg(&file)
        .output()
        .expect("run the shell");
    assert!(
        out.status.success(),
        "{shell} {flag}: {}\n{script}",
        stderr(&out)
    );
}

/// `git rev-parse --short=12 HEAD` of the repository the tests are in, if they
/// are in one.
pub fn git_head() -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Checks a `--version` line, `NAME VERSION (commit COMMIT, plan format N)`:
/// the package's version, the plan format `format`, and the commit of the
/// checkout (`-dirty` or not) when the tests run in one.
pub fn assert_version_line(text: &str, name: &str, format: u32) {
    let line = text.strip_suffix('\n').unwrap_or(text);
    let rest = line
        .strip_prefix(&format!("{name} {} (commit ", env!("CARGO_PKG_VERSION")))
        .unwrap_or_else(|| panic!("`{line}` does not start with `{name} <version> (commit `"));
    let (commit, rest) = rest
        .split_once(", ")
        .unwrap_or_else(|| panic!("no `, ` after the commit in `{line}`"));
    assert_eq!(rest, format!("plan format {format})"), "{line}");
    let hash = commit.strip_suffix("-dirty").unwrap_or(commit);
    match git_head() {
        Some(head) => assert_eq!(hash, head, "{line}: built from this checkout's HEAD"),
        None => assert!(
            hash == "unknown" || hash.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{line}"
        ),
    }
}
