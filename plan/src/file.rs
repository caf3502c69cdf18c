//! The plan file: a header that says what made the plan and from what, then the
//! plan, then a checksum. Binary (postcard) for fast loading; `wfc plan show`
//! prints it as JSON.
//!
//! ```text
//! "WFCPLAN\0"  format: u32 LE  header length: u32 LE  header (postcard)
//! body length: u64 LE  body (postcard)  SHA-256 of header and body (32 bytes)
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::input::{self, ReadError};
use crate::ir::Plan;

const MAGIC: &[u8; 8] = b"WFCPLAN\0";

/// The version of this layout and of the plan types. A plan of another format is
/// refused, whatever compiler made it. (4: `and` / `or`, arithmetic and filter
/// chains are flat; 5: integers beyond 64 bits in values and conditions.)
pub const FORMAT_VERSION: u32 = 5;

/// What made a plan and from what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: u32,
    /// The compiler build (`wfc_compiler::BUILD_ID`).
    pub compiler: String,
    pub workflow: String,
    /// Hash of the compiler build, the workflow's file and the files of every
    /// workflow it triggers: the plan is up to date while this is unchanged.
    pub source_hash: String,
    /// Hash of the declared params (names, types, requirements, defaults).
    pub params_hash: String,
}

/// What a plan that cannot be used asks of its user.
const AGAIN: &str = "recompile with `wfc compile`";

/// Why a plan file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Not read: missing, not a regular file, too large, unreadable.
    #[error("cannot read plan `{}`: {error}", path.display())]
    Io { path: PathBuf, error: ReadError },
    #[error("`{}` is not a wfc plan file", path.display())]
    NotAPlan { path: PathBuf },
    #[error(
        "plan `{}` has format {found}, but this build reads format {FORMAT_VERSION}: {AGAIN}",
        path.display()
    )]
    Format { path: PathBuf, found: u32 },
    #[error("plan `{}` is truncated: {AGAIN}", path.display())]
    Truncated { path: PathBuf },
    #[error("plan `{}` is damaged ({why}): {AGAIN}", path.display())]
    Corrupt { path: PathBuf, why: String },
}

/// The file name of a workflow's plan: the name itself when it is safe in a path,
/// else a cleaned name with a hash of the real one.
#[must_use]
pub fn file_name(workflow: &str) -> String {
    let safe = !workflow.is_empty()
        && !workflow.starts_with('.')
        && workflow
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if safe {
        return format!("{workflow}.wfp");
    }
    let cleaned: String = workflow
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    format!("{cleaned}-{}.wfp", &crate::ids::hash_id(workflow))
}

/// A plan file's bytes.
pub fn encode(header: &Header, plan: &Plan) -> std::io::Result<Vec<u8>> {
    let header_bytes = postcard::to_stdvec(header).map_err(std::io::Error::other)?;
    let body = postcard::to_stdvec(plan).map_err(std::io::Error::other)?;
    let mut digest = Sha256::new();
    digest.update(&header_bytes);
    digest.update(&body);
    let mut out = Vec::with_capacity(header_bytes.len() + body.len() + 64);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(
        &u32::try_from(header_bytes.len())
            .map_err(std::io::Error::other)?
            .to_le_bytes(),
    );
    out.extend_from_slice(&header_bytes);
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&digest.finalize());
    Ok(out)
}

/// Writes a plan atomically (a temporary file renamed into place).
pub fn write(path: &Path, header: &Header, plan: &Plan) -> std::io::Result<()> {
    write_bytes(path, &encode(header, plan)?)
}

/// Writes encoded plan bytes atomically: whole or not at all, never a plan cut
/// short by a full disk (see [`crate::state::write_atomic`]).
pub fn write_bytes(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::state::write_atomic(path, bytes)
}

fn corrupt(path: &Path, why: impl Into<String>) -> PlanError {
    PlanError::Corrupt {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// Magic and format; returns the header length.
fn check_start(path: &Path, start: &[u8]) -> Result<usize, PlanError> {
    if start.len() < 8 || &start[..8] != MAGIC {
        return Err(PlanError::NotAPlan {
            path: path.to_path_buf(),
        });
    }
    if start.len() < 16 {
        return Err(PlanError::Truncated {
            path: path.to_path_buf(),
        });
    }
    let format = u32::from_le_bytes([start[8], start[9], start[10], start[11]]);
    if format != FORMAT_VERSION {
        return Err(PlanError::Format {
            path: path.to_path_buf(),
            found: format,
        });
    }
    Ok(u32::from_le_bytes([start[12], start[13], start[14], start[15]]) as usize)
}

/// A plan file's bytes: a regular file of at most [`input::MAX_PLAN`] bytes.
fn read_bytes(path: &Path) -> Result<Vec<u8>, PlanError> {
    input::read(path, input::MAX_PLAN).map_err(|error| PlanError::Io {
        path: path.to_path_buf(),
        error,
    })
}

/// Reads only the header (what made the plan), without verifying the rest.
pub fn read_header(path: &Path) -> Result<Header, PlanError> {
    let bytes = read_bytes(path)?;
    let length = check_start(path, &bytes)?;
    let header = bytes
        .get(16..16usize.saturating_add(length))
        .ok_or_else(|| PlanError::Truncated {
            path: path.to_path_buf(),
        })?;
    postcard::from_bytes(header).map_err(|e| corrupt(path, format!("header: {e}")))
}

/// Reads and verifies a whole plan.
pub fn read(path: &Path) -> Result<(Header, Plan), PlanError> {
    decode(path, &read_bytes(path)?)
}

/// Reads a whole plan and verifies everything but the body's decoding: magic,
/// format, lengths, checksum, header. Cheaper than [`read`] (the body is not
/// decoded), and as strict for any file this build wrote: a body whose checksum
/// holds and whose header names this compiler build decodes.
pub fn verify(path: &Path) -> Result<Header, PlanError> {
    let bytes = read_bytes(path)?;
    let (header, _) = split(path, &bytes)?;
    postcard::from_bytes(header).map_err(|e| corrupt(path, format!("header: {e}")))
}

/// Decodes plan bytes (`path` is only for messages).
pub fn decode(path: &Path, bytes: &[u8]) -> Result<(Header, Plan), PlanError> {
    let (header_bytes, body) = split(path, bytes)?;
    let header: Header =
        postcard::from_bytes(header_bytes).map_err(|e| corrupt(path, format!("header: {e}")))?;
    let _ = crate::limits::decode_depth_exceeded();
    let plan: Plan = postcard::from_bytes(body).map_err(|e| {
        if crate::limits::decode_depth_exceeded() {
            corrupt(
                path,
                format!(
                    "values nested more than {} levels deep",
                    crate::limits::MAX_PLAN_DEPTH
                ),
            )
        } else {
            corrupt(path, format!("body: {e}"))
        }
    })?;
    if let Some(why) = plan.out_of_bounds() {
        return Err(corrupt(path, format!("{why}, beyond wfc's bounds")));
    }
    Ok((header, plan))
}

/// The header and body bytes of a plan file, its layout and checksum verified.
fn split<'b>(path: &Path, bytes: &'b [u8]) -> Result<(&'b [u8], &'b [u8]), PlanError> {
    let truncated = || PlanError::Truncated {
        path: path.to_path_buf(),
    };
    let header_len = check_start(path, bytes)?;
    let header_end = 16usize.checked_add(header_len).ok_or_else(truncated)?;
    let header_bytes = bytes.get(16..header_end).ok_or_else(truncated)?;
    let len_bytes: [u8; 8] = bytes
        .get(header_end..header_end + 8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(truncated)?;
    let body_len = usize::try_from(u64::from_le_bytes(len_bytes)).map_err(|_| truncated())?;
    let body_start = header_end + 8;
    let body_end = body_start.checked_add(body_len).ok_or_else(truncated)?;
    let body = bytes.get(body_start..body_end).ok_or_else(truncated)?;
    let stored = bytes.get(body_end..body_end + 32).ok_or_else(truncated)?;
    if bytes.len() != body_end + 32 {
        return Err(corrupt(path, "unexpected bytes after the checksum"));
    }
    let mut digest = Sha256::new();
    digest.update(header_bytes);
    digest.update(body);
    if digest.finalize().as_slice() != stored {
        return Err(corrupt(path, "checksum mismatch"));
    }
    Ok((header_bytes, body))
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_name("wf-run.matrix_1"), "wf-run.matrix_1.wfp");
        let odd = file_name("../etc/passwd");
        assert!(
            odd.starts_with("___etc_passwd-")
                && std::path::Path::new(&odd)
                    .extension()
                    .is_some_and(|e| e == "wfp"),
            "{odd}"
        );
        assert_ne!(file_name("a b"), file_name("a_b"));
    }
}
