//! Run records: `.wfc/runs/<run_id>/` holds the final context, the params, the plan
//! it ran (name and source hash) and the log. The record is assembled in a hidden
//! folder and renamed into place at the end, so a crash never leaves a half-written
//! record behind.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::value::{Map, Value};

pub struct Record {
    tmp: PathBuf,
    dest: PathBuf,
}

impl Record {
    /// Starts a record for `run_id` under `root` (usually `.wfc/runs`).
    pub fn start(root: &Path, run_id: &str) -> std::io::Result<Self> {
        let tmp = root.join(format!(".{run_id}.partial"));
        fs::create_dir_all(&tmp)?;
        Ok(Self {
            tmp,
            dest: root.join(run_id),
        })
    }

    /// The log file, written while the run goes.
    #[must_use]
    pub fn log_path(&self) -> PathBuf {
        self.tmp.join("run.log")
    }

    /// Writes the final files and moves the record into place.
    pub fn finish(self, context: &Map, params: &Map, plan: &Value) -> std::io::Result<PathBuf> {
        let mut file = fs::File::create(self.tmp.join("context.json"))?;
        crate::json::write_map(context, &mut file)?;
        file.write_all(b"\n")?;
        write_json(&self.tmp.join("params.json"), params)?;
        write_json(&self.tmp.join("plan.json"), plan)?;
        fs::rename(&self.tmp, &self.dest)?;
        Ok(self.dest)
    }
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::with_capacity(1 << 16, fs::File::create(path)?);
    serde_json::to_writer(&mut file, value).map_err(std::io::Error::other)?;
    file.write_all(b"\n")?;
    file.flush()
}
