//! Reading the files a user points wfc and wfr at: only regular files, and only up to
//! a bound, so that a FIFO never blocks a run and `/dev/zero` is never read.
//!
//! Every file wfc and wfr read on a user's behalf goes through [`read`]: workflow
//! files, `.confignore`, the check cache, plan files and `wfr run --params-file`.

use std::fs::{File, Metadata};
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// The largest workflow file loaded (16 MiB): a job of 10,000 Bash stages with ids
/// is under 1 MiB, so this is far more than a hand-written or generated workflow
/// needs, and little enough to load whole.
pub const MAX_WORKFLOW_FILE: u64 = 16 << 20;
/// The largest `.confignore` read (1 MiB).
pub const MAX_CONFIGNORE: u64 = 1 << 20;
/// The largest check cache read (256 MiB); a larger one is ignored and rewritten.
pub const MAX_CHECK_CACHE: u64 = 256 << 20;
/// The largest plan file read (256 MiB).
pub const MAX_PLAN: u64 = 256 << 20;
/// The largest `--params-file` read (16 MiB).
pub const MAX_PARAMS_FILE: u64 = 16 << 20;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Nothing at the path.
    #[error("no such file or directory")]
    NotFound,
    /// A symbolic link whose target does not exist.
    #[error("a symbolic link to `{}`, which does not exist", target.display())]
    DanglingLink { target: PathBuf },
    /// A folder, FIFO, socket or device (`kind` says which).
    #[error("{kind}, not a regular file")]
    NotAFile { kind: &'static str },
    /// Larger than the bound (`size` when the file system knows it).
    #[error("{}", too_large(*size, *limit))]
    TooLarge { size: Option<u64>, limit: u64 },
    /// Anything else the system refused (permissions, a symlink loop...).
    #[error("{}", io_message(.0))]
    Io(std::io::Error),
}

impl ReadError {
    /// True when there is nothing at the path at all.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::NotFound)
    }
}

/// [`ReadError::TooLarge`] in words: the size when it is known.
fn too_large(size: Option<u64>, limit: u64) -> String {
    match size {
        Some(size) => format!(
            "{} long, more than the {} such a file may have",
            size_text(size),
            size_text(limit)
        ),
        None => format!("longer than the {} such a file may have", size_text(limit)),
    }
}

/// An I/O error in words, without Rust's "(os error N)" suffix.
#[must_use]
pub fn io_message(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let text = error.to_string();
            let text = text
                .find(" (os error")
                .map_or(text.as_str(), |at| &text[..at]);
            // "Too many levels of symbolic links" reads as part of a sentence.
            let mut chars = text.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_lowercase().chain(chars).collect()
            })
        }
    }
}

/// A size for people: bytes, KiB or MiB.
#[must_use]
pub fn size_text(bytes: u64) -> String {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        let tenths = u128::from(bytes) * 10 / u128::from(MIB);
        format!("{}.{} MiB", tenths / 10, tenths % 10)
    } else if bytes >= KIB {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// What kind of thing a path is, in words ("a folder", "a FIFO"...).
#[must_use]
pub fn kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a folder"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

/// What is at `path`, following symbolic links, with a dangling link told apart from
/// a missing path.
pub fn metadata(path: &Path) -> Result<Metadata, ReadError> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(meta),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            match std::fs::symlink_metadata(path) {
                Ok(link) if link.file_type().is_symlink() => Err(ReadError::DanglingLink {
                    target: std::fs::read_link(path).unwrap_or_default(),
                }),
                _ => Err(ReadError::NotFound),
            }
        }
        Err(error) => Err(ReadError::Io(error)),
    }
}

/// Reads a regular file of at most `limit` bytes. Anything else (a folder, FIFO,
/// socket or device, a dangling link) is refused without being opened for reading
/// in a way that could block.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let meta = metadata(path)?;
    check(&meta, limit)?;
    read_regular(path, limit)
}

/// [`read`] for a path just seen to be a regular file (by a folder walk): it is not
/// looked at again before it is opened, only after.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    // O_NONBLOCK: should the path have become a FIFO since it was looked at, opening
    // it does not wait for a writer (and the check below refuses it).
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match metadata(path) {
            Err(missing) => missing,
            Ok(_) => ReadError::Io(e),
        })?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    check(&meta, limit)?;
    read_open(file, meta.len(), limit)
}

fn check(meta: &Metadata, limit: u64) -> Result<(), ReadError> {
    if !meta.is_file() {
        return Err(ReadError::NotAFile { kind: kind(meta) });
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            size: Some(meta.len()),
            limit,
        });
    }
    Ok(())
}

/// Reads at most `limit` bytes of an open regular file (`/proc` files claim a size
/// of 0 and may be longer: the bound holds whatever the size says).
fn read_open(file: File, size: u64, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::with_capacity(usize::try_from(size.min(limit)).unwrap_or(0));
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { size: None, limit });
    }
    Ok(bytes)
}

/// [`read`], as UTF-8 text.
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read(path, limit)?).map_err(|e| {
        ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text (an invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_within_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a");
        std::fs::write(&path, b"hello").unwrap();
        assert_eq!(read(&path, 5).unwrap(), b"hello");
        let error = read(&path, 4).unwrap_err();
        assert!(matches!(
            error,
            ReadError::TooLarge {
                size: Some(5),
                limit: 4
            }
        ));
        assert_eq!(
            error.to_string(),
            "5 bytes long, more than the 4 bytes such a file may have"
        );
    }

    #[test]
    fn refuses_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read(dir.path(), 10),
            Err(ReadError::NotAFile { kind: "a folder" })
        ));
        assert!(matches!(
            read(Path::new("/dev/zero"), 10),
            Err(ReadError::NotAFile {
                kind: "a character device"
            })
        ));
        assert!(
            read(&dir.path().join("none"), 10)
                .unwrap_err()
                .is_not_found()
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("nowhere", &link).unwrap();
        assert_eq!(
            read(&link, 10).unwrap_err().to_string(),
            "a symbolic link to `nowhere`, which does not exist"
        );
    }

    #[test]
    fn a_file_longer_than_its_size_says_is_bounded() {
        // /proc files report a size of 0.
        let error = read(Path::new("/proc/self/maps"), 16).unwrap_err();
        assert!(
            matches!(
                error,
                ReadError::TooLarge {
                    size: None,
                    limit: 16
                }
            ),
            "{error}"
        );
        assert_eq!(
            error.to_string(),
            "longer than the 16 bytes such a file may have"
        );
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(size_text(16 << 20), "16 MiB");
        assert_eq!(size_text(1536), "1 KiB");
        assert_eq!(size_text((3 << 20) / 2), "1.5 MiB");
    }
}
