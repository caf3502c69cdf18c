//! The check cache: per file, keyed by a hash of its content, the compiler build
//! and the options, the file's own findings and its summary for cross-file checks.
//! One file, rewritten atomically (write, then rename) when anything changed.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::FileReport;

const MAGIC: &[u8; 8] = b"WFCCHK01";

/// A file's cache key.
pub(super) type Key = [u8; 16];

pub(super) fn key(salt: &[u8], text: &[u8], bad_utf8: bool) -> Key {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update([u8::from(bad_utf8)]);
    hasher.update(text);
    let digest = hasher.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

#[derive(Default)]
pub(super) struct Cache {
    entries: HashMap<Key, FileReport>,
}

impl Cache {
    /// Reads the cache; a missing, foreign or damaged one is an empty cache.
    pub(super) fn read(path: &Path) -> Self {
        let Ok(bytes) = std::fs::read(path) else {
            return Self::default();
        };
        let Some(body) = bytes.strip_prefix(MAGIC.as_slice()) else {
            return Self::default();
        };
        match postcard::from_bytes::<Vec<(Key, FileReport)>>(body) {
            Ok(list) => Self {
                entries: list.into_iter().collect(),
            },
            Err(_) => Self::default(),
        }
    }

    pub(super) fn get(&self, key: &Key) -> Option<&FileReport> {
        self.entries.get(key)
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Replaces the cache with `entries`.
    pub(super) fn write<'a>(
        path: &Path,
        entries: impl Iterator<Item = (Key, &'a FileReport)>,
    ) -> std::io::Result<()> {
        let list: Vec<(Key, &FileReport)> = entries.collect();
        let body = postcard::to_stdvec(&list).map_err(std::io::Error::other)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(MAGIC)?;
        tmp.write_all(&body)?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}
