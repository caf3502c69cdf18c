//! The check cache: per file, keyed by a hash of its content, the compiler build
//! and the options, the file's own findings and its summary for cross-file checks.
//! One file, rewritten atomically (write, then rename) when anything changed.

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::FileReport;
use crate::input;
use crate::project::FileProblem;

const MAGIC: &[u8; 8] = b"WFCCHK01";

/// A file's cache key.
pub(super) type CacheKey = [u8; 16];

pub(super) fn key(salt: &[u8], text: &[u8], problem: Option<&FileProblem>) -> CacheKey {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    match problem {
        None => hasher.update([0]),
        Some(problem) => {
            hasher.update([1]);
            hasher.update(format!("{problem:?}").as_bytes());
            hasher.update([0]);
        }
    }
    hasher.update(text);
    let digest = hasher.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

#[derive(Default)]
pub(super) struct Cache {
    entries: HashMap<CacheKey, FileReport>,
}

impl Cache {
    /// Reads the cache; a missing, foreign or damaged one is an empty cache, and so
    /// is anything that is not a regular file of at most
    /// [`input::MAX_CHECK_CACHE`] bytes (a FIFO there never blocks the check).
    pub(super) fn read(path: &Path) -> Self {
        let Ok(bytes) = input::read(path, input::MAX_CHECK_CACHE) else {
            return Self::default();
        };
        let Some(body) = bytes.strip_prefix(MAGIC.as_slice()) else {
            return Self::default();
        };
        match postcard::from_bytes::<Vec<(CacheKey, FileReport)>>(body) {
            Ok(list) => Self {
                entries: list.into_iter().collect(),
            },
            Err(_) => Self::default(),
        }
    }

    pub(super) fn get(&self, key: &CacheKey) -> Option<&FileReport> {
        self.entries.get(key)
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Replaces the cache with `entries`.
    pub(super) fn write<'a>(
        path: &Path,
        entries: impl Iterator<Item = (CacheKey, &'a FileReport)>,
    ) -> std::io::Result<()> {
        let list: Vec<(CacheKey, &FileReport)> = entries.collect();
        let body = postcard::to_stdvec(&list).map_err(std::io::Error::other)?;
        let mut bytes = Vec::with_capacity(MAGIC.len() + body.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&body);
        crate::state::write_atomic(path, &bytes)
    }
}
