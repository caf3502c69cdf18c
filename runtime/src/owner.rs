//! Who owns what a run leaves on the machine: this `wfr` process, named by its
//! host, the boot it runs in, its pid and its start time (so that a pid used again
//! later is not taken for it). Stage processes carry it in their environment,
//! containers in a label, records and scratch folders in a file; a later `wfr` (or
//! this one's guard) that finds the owner gone cleans up after it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The environment variable that marks a stage's processes:
/// `<owner label>/<stage number>`.
pub const STAGE_ENV: &str = "WFR_STAGE";

/// The container label naming the owning process.
pub const LABEL: &str = "dev.wfc.owner";

/// A `wfr` process, on some host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub host: String,
    /// The first 8 hex digits of the kernel's boot id: after a reboot every
    /// owner of the boot before is gone.
    pub boot: String,
    pub pid: u32,
    /// The process's start time, in clock ticks after boot (`/proc/<pid>/stat`).
    pub start: u64,
}

impl Owner {
    /// This process.
    pub fn current() -> &'static Owner {
        static CURRENT: OnceLock<Owner> = OnceLock::new();
        CURRENT.get_or_init(|| Owner {
            host: hostname(),
            boot: boot_id(),
            pid: std::process::id(),
            start: start_time(std::process::id()).unwrap_or(0),
        })
    }

    /// `host/boot/pid/start`: what labels, environment markers and files hold.
    #[must_use]
    pub fn label(&self) -> String {
        format!("{}/{}/{}/{}", self.host, self.boot, self.pid, self.start)
    }

    /// The owner a label names.
    #[must_use]
    pub fn parse(label: &str) -> Option<Owner> {
        let mut parts = label.trim().rsplitn(4, '/');
        let start = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        let boot = parts.next()?.to_string();
        let host = parts.next()?.to_string();
        Some(Owner {
            host,
            boot,
            pid,
            start,
        })
    }

    /// True when this owner is known to have ended: it ran on this host, and in
    /// an earlier boot or under a pid that is now gone or another process's. An
    /// owner on another host is never taken for gone.
    #[must_use]
    pub fn is_gone(&self) -> bool {
        let me = Owner::current();
        if self.host != me.host {
            return false;
        }
        if self.boot != me.boot {
            return true;
        }
        start_time(self.pid) != Some(self.start)
    }
}

fn hostname() -> String {
    let name = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .map(|h| h.trim().replace('/', "_"))
        .unwrap_or_default();
    if name.is_empty() {
        "localhost".to_string()
    } else {
        name
    }
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|b| {
            b.trim()
                .chars()
                .filter(char::is_ascii_hexdigit)
                .take(8)
                .collect()
        })
        .unwrap_or_default()
}

/// A process's start time (field 22 of `/proc/<pid>/stat`), none when it does
/// not exist (or is a zombie: it has ended).
#[must_use]
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    // `rest` starts at field 3 (the state).
    if fields.next()? == "Z" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// The folder of this process's scratch files (scripts, `/logs` folders):
/// `$TMPDIR/wfr-<pid>-<start>/`, mode 0700, made on first use with an `owner`
/// file. It is removed when `wfr` ends, by its guard when it is killed, and
/// otherwise by the next `wfr` that finds its owner gone.
pub fn scratch_root() -> std::io::Result<&'static Path> {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    if let Some(root) = ROOT.get() {
        return Ok(root);
    }
    // One thread makes it; the others wait and use it.
    let _making = MAKING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(root) = ROOT.get() {
        return Ok(root);
    }
    let me = Owner::current();
    let root = scratch_root_path();
    make_scratch_root(&root, me)?;
    Ok(ROOT.get_or_init(|| root))
}

fn make_scratch_root(root: &Path, me: &Owner) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    match std::fs::DirBuilder::new().mode(0o700).create(root) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // Left by an earlier process with this pid and start time (in an
            // earlier boot): never one of another user's.
            use std::os::unix::fs::MetadataExt as _;
            let meta = std::fs::symlink_metadata(root)?;
            if !meta.is_dir() || meta.uid() != nix::unistd::getuid().as_raw() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not this user's folder", root.display()),
                ));
            }
        }
        Err(e) => return Err(e),
    }
    write_owner_file(root, me)
}

/// Writes `dir/owner` (the owner's label) in one small write: a reader sees the
/// file empty or whole (its size grows only once the text is in), never part
/// of a label, which could name another process.
pub fn write_owner_file(dir: &Path, owner: &Owner) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::File::create(dir.join("owner"))?;
    file.write_all(format!("{}\n", owner.label()).as_bytes())
}

/// The owner named by `dir/owner`, when there is one.
#[must_use]
pub fn read_owner_file(dir: &Path) -> Option<Owner> {
    let text = crate::owner::read_small(&dir.join("owner"), 4096).ok()?;
    Owner::parse(&text)
}

/// A small regular file's text (at most `limit` bytes): never a FIFO or a device.
pub fn read_small(path: &Path, limit: u64) -> std::io::Result<String> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    // Not blocking: opening a FIFO would wait for a writer.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    let mut text = String::new();
    file.take(limit).read_to_string(&mut text)?;
    Ok(text)
}

/// A private folder (mode 0700) for one stage's scratch files, inside
/// [`scratch_root`]; removed when dropped.
pub fn scratch_dir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(scratch_root()?)?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
    Ok(dir)
}

/// Notes in the scratch root that this process has started containers, so that
/// whoever cleans up after it asks the Docker engine for them.
pub fn note_containers() -> std::io::Result<()> {
    static NOTED: OnceLock<()> = OnceLock::new();
    if NOTED.get().is_some() {
        return Ok(());
    }
    std::fs::write(scratch_root()?.join("containers"), b"")?;
    let _ = NOTED.set(());
    Ok(())
}

/// Removes this process's scratch root (at the end of `wfr`).
pub fn remove_scratch_root() {
    let _ = std::fs::remove_dir_all(scratch_root_path());
}

/// Where this process's scratch folder is (made or not).
#[must_use]
pub fn scratch_root_path() -> PathBuf {
    let me = Owner::current();
    std::env::temp_dir().join(format!("wfr-{}-{}", me.pid, me.start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_and_this_process_is_not_gone() {
        let me = Owner::current();
        assert_eq!(me.pid, std::process::id());
        assert!(me.start > 0);
        assert_eq!(Owner::parse(&me.label()).as_ref(), Some(me));
        assert!(!me.is_gone());
        // Another start time under this pid is another process: gone.
        let earlier = Owner {
            start: me.start - 1,
            ..me.clone()
        };
        assert!(earlier.is_gone());
        // An earlier boot: gone. Another host: cannot tell, so not gone.
        let rebooted = Owner {
            boot: "00000000".into(),
            ..me.clone()
        };
        assert!(rebooted.is_gone());
        let elsewhere = Owner {
            host: "elsewhere".into(),
            start: 1,
            ..me.clone()
        };
        assert!(!elsewhere.is_gone());
        assert_eq!(Owner::parse("bad"), None);
    }
}
