//! Run records: `.wfc/runs/<run_id>/` holds the final context, the params, the plan
//! it ran (name and source hash) and the log. The record is assembled in a hidden
//! folder and renamed into place at the end, so a crash never leaves a half-written
//! record behind.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crate::value::{Map, Value};

pub struct Record {
    tmp: PathBuf,
    dest: PathBuf,
    /// The record's files, made while the run goes.
    files: Option<JoinHandle<std::io::Result<Files>>>,
}

struct Files {
    context: File,
    params: File,
    plan: File,
}

impl Files {
    fn create(dir: &Path) -> std::io::Result<Files> {
        // The log exists even when nothing is logged (`WFR_LOG=off`); the logger
        // appends to it (whichever of the two makes it first).
        fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(dir.join("run.log"))?;
        Ok(Files {
            context: File::create(dir.join("context.json"))?,
            params: File::create(dir.join("params.json"))?,
            plan: File::create(dir.join("plan.json"))?,
        })
    }
}

impl Record {
    /// Starts a record for `run_id` under `root` (usually `.wfc/runs`). A run
    /// whose record cannot be kept does not start: `root` must exist (it is made)
    /// and take new entries. The record's folder and files are made on a thread
    /// of their own while the run goes: a new file or folder costs a few hundred
    /// microseconds on some file systems (0.3 ms each on the ext4 of our
    /// machines), as much as a short run.
    pub fn start(root: &Path, run_id: &str) -> std::io::Result<Self> {
        use nix::unistd::{AccessFlags, access};
        fs::create_dir_all(root)?;
        access(root, AccessFlags::W_OK | AccessFlags::X_OK).map_err(|errno| {
            std::io::Error::new(
                std::io::Error::from(errno).kind(),
                format!("{} does not take new entries ({errno})", root.display()),
            )
        })?;
        let tmp = root.join(format!(".{run_id}.partial"));
        let dir = tmp.clone();
        let files = std::thread::Builder::new()
            .name("wfr-record".into())
            .spawn(move || {
                fs::create_dir_all(&dir)?;
                Files::create(&dir)
            })
            .ok();
        Ok(Self {
            tmp,
            dest: root.join(run_id),
            files,
        })
    }

    /// The log file, written while the run goes.
    #[must_use]
    pub fn log_path(&self) -> PathBuf {
        self.tmp.join("run.log")
    }

    /// Writes the final files and moves the record into place.
    pub fn finish(self, context: &Map, params: &Map, plan: &Value) -> std::io::Result<PathBuf> {
        let made = self.files.and_then(|thread| thread.join().ok());
        let mut files = if let Some(files) = made {
            files?
        } else {
            fs::create_dir_all(&self.tmp)?;
            Files::create(&self.tmp)?
        };
        crate::json::write_map(context, &mut files.context)?;
        files.context.write_all(b"\n")?;
        write_json(files.params, params)?;
        write_json(files.plan, plan)?;
        fs::rename(&self.tmp, &self.dest)?;
        Ok(self.dest)
    }
}

/// A small value (params, the plan's name) as one line of JSON.
fn write_json(mut file: File, value: &impl serde::Serialize) -> std::io::Result<()> {
    let mut text = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    text.push(b'\n');
    file.write_all(&text)
}
