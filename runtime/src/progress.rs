//! The live progress view on a terminal: a line per running job with its current
//! stage and how many stages it finished, kept below the log lines. It is fed by
//! the same events as the logs (see `logs`), so the VM knows nothing about it.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::logs::Fields;

pub(crate) struct Progress {
    multi: MultiProgress,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// By run id: the run's workflow (for child runs) and its jobs' lines.
    runs: HashMap<String, RunView>,
}

struct RunView {
    /// Shown before job names for triggered (child) runs.
    label: Option<String>,
    jobs: Vec<JobView>,
}

struct JobView {
    id: String,
    bar: ProgressBar,
    done: u64,
    failed: u64,
}

fn running_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {elapsed:>4} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn ended_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Progress {
    pub(crate) fn new() -> Self {
        Self {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)),
            state: Mutex::new(State::default()),
        }
    }

    /// Where log lines go: written above the progress lines.
    pub(crate) fn writer(&self) -> ProgressWriter {
        ProgressWriter {
            multi: self.multi.clone(),
        }
    }

    /// Stops what still spins (a cancelled run), leaving the last state shown.
    pub(crate) fn clear(&self) {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for job in state.runs.values().flat_map(|r| &r.jobs) {
            if !job.bar.is_finished() {
                job.bar.abandon();
            }
        }
    }

    pub(crate) fn on_event(&self, target: &str, fields: &Fields) {
        let Some(run) = fields.get("run") else {
            return;
        };
        let mut views = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match (target, fields.message.as_str()) {
            ("wfr::run", "run started") => {
                let label = fields
                    .get("parent")
                    .and(fields.get("workflow"))
                    .map(str::to_string);
                views.runs.insert(
                    run.to_string(),
                    RunView {
                        label,
                        jobs: Vec::new(),
                    },
                );
            }
            ("wfr::job", "job started") => {
                let (Some(view), Some(job)) = (views.runs.get_mut(run), fields.get("job")) else {
                    return;
                };
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(running_style());
                bar.set_prefix(match &view.label {
                    Some(label) => format!("{label} › {job}"),
                    None => job.to_string(),
                });
                bar.set_message("starting");
                bar.enable_steady_tick(Duration::from_millis(100));
                view.jobs.push(JobView {
                    id: job.to_string(),
                    bar,
                    done: 0,
                    failed: 0,
                });
            }
            ("wfr::job", "job not run") => {
                let (Some(view), Some(job)) = (views.runs.get_mut(run), fields.get("job")) else {
                    return;
                };
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(ended_style());
                let name = match &view.label {
                    Some(label) => format!("{label} › {job}"),
                    None => job.to_string(),
                };
                let status = fields.get("status").unwrap_or("NOT RUN");
                let reason = fields.get("reason").unwrap_or("");
                bar.finish_with_message(format!("○ {name} {status} · not run: {reason}"));
            }
            ("wfr::job", "job ended") => {
                let (Some(view), Some(job)) = (views.runs.get_mut(run), fields.get("job")) else {
                    return;
                };
                let Some(job) = view.jobs.iter_mut().rev().find(|j| j.id == job) else {
                    return;
                };
                let status = fields.get("status").unwrap_or("?");
                let mark = match status {
                    "SUCCESS" => "✔",
                    "SKIP" => "○",
                    "CANCEL" => "⊘",
                    _ => "✘",
                };
                let took = crate::logs::duration(job.bar.elapsed().as_secs_f64());
                job.bar.set_style(ended_style());
                let failed = if job.failed > 0 {
                    format!(", {} failed", job.failed)
                } else {
                    String::new()
                };
                job.bar.finish_with_message(format!(
                    "{mark} {} {status} in {took} · {}{failed}",
                    job.bar.prefix(),
                    stages(job.done),
                ));
            }
            ("wfr::stage", message) => {
                let (Some(view), Some(at)) = (views.runs.get_mut(run), fields.get("at")) else {
                    return;
                };
                let Some(job) = owner(&mut view.jobs, at) else {
                    return;
                };
                match message {
                    "stage started" => {
                        let stage = fields.get("stage").unwrap_or("?");
                        job.bar
                            .set_message(format!("{stage} ({at}) · {} done", stages(job.done)));
                    }
                    "stage ended" => job.done += 1,
                    "stage failed" => {
                        job.done += 1;
                        job.failed += 1;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

fn stages(count: u64) -> String {
    if count == 1 {
        "1 stage".to_string()
    } else {
        format!("{count} stages")
    }
}

/// The running job a stage path (`job`, `job/strategy`, `job[item]`...) belongs to.
fn owner<'a>(jobs: &'a mut [JobView], at: &str) -> Option<&'a mut JobView> {
    jobs.iter_mut()
        .filter(|j| !j.bar.is_finished())
        .filter(|j| {
            at.strip_prefix(j.id.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '[', '#']))
        })
        .max_by_key(|j| j.id.len())
}

/// Writes log lines above the progress view.
pub(crate) struct ProgressWriter {
    multi: MultiProgress,
}

impl Write for ProgressWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.multi
            .suspend(|| std::io::stderr().lock().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
