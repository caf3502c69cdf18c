//! The live progress view on a terminal: a line per running job with its current
//! stage and how many stages it finished, kept below the log lines. It is a
//! subscriber of the run's events, so the VM knows nothing about it.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::events::{Event, Interest, Kind, RunEvent, Subscriber};
use crate::status::Status;

pub(crate) struct Progress {
    multi: MultiProgress,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// By run id: the run's workflow (for child runs) and its jobs' lines.
    runs: HashMap<String, RunView>,
    #[cfg(test)]
    ended: Vec<String>,
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
        Self::drawn_on(ProgressDrawTarget::stderr_with_hz(10))
    }

    fn drawn_on(target: ProgressDrawTarget) -> Self {
        Self {
            multi: MultiProgress::with_draw_target(target),
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

    /// A view drawn nowhere.
    #[cfg(test)]
    pub(crate) fn hidden() -> Self {
        Self::drawn_on(ProgressDrawTarget::hidden())
    }

    /// The last line of each job, in the order they ended.
    #[cfg(test)]
    pub(crate) fn ended(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ended
            .clone()
    }
}

impl Subscriber for Progress {
    fn interest(&self) -> Interest {
        [
            Kind::RunStarted,
            Kind::JobStarted,
            Kind::JobNotRun,
            Kind::JobReused,
            Kind::JobEnded,
            Kind::StageStarted,
            Kind::StageEnded,
        ]
        .into_iter()
        .fold(Interest::NONE, |all, kind| all.with(Interest::kind(kind)))
    }

    fn on_event(&self, event: &Event<'_>) {
        let run = event.run;
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let views = &mut *guard;
        match event.event {
            RunEvent::RunStarted {
                workflow, parent, ..
            } => {
                let label = parent.and(Some(workflow)).map(str::to_string);
                views.runs.insert(
                    run.to_string(),
                    RunView {
                        label,
                        jobs: Vec::new(),
                    },
                );
            }
            RunEvent::JobStarted { job } => {
                let Some(view) = views.runs.get_mut(run) else {
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
            RunEvent::JobNotRun {
                job,
                status,
                ref reason,
            } => {
                let status = status.map_or("NOT RUN", Status::as_str);
                self.settled(views, run, job, |name| {
                    format!("○ {name} {status} · not run: {reason}")
                });
            }
            RunEvent::JobReused { job, from_run } => {
                self.settled(views, run, job, |name| {
                    format!("✔ {name} SUCCESS · reused from run {from_run}")
                });
            }
            RunEvent::JobEnded { job, status, .. } => {
                let Some(view) = views.runs.get_mut(run) else {
                    return;
                };
                let Some(job) = view.jobs.iter_mut().rev().find(|j| j.id == job) else {
                    return;
                };
                let mark = match status {
                    Status::Success => "✔",
                    Status::Skip => "○",
                    Status::Cancel => "⊘",
                    _ => "✘",
                };
                let took = crate::human::duration(job.bar.elapsed().as_secs_f64());
                job.bar.set_style(ended_style());
                let failed = if job.failed > 0 {
                    format!(", {} failed", job.failed)
                } else {
                    String::new()
                };
                let line = format!(
                    "{mark} {} {} in {took} · {}{failed}",
                    job.bar.prefix(),
                    status.as_str(),
                    stages(job.done),
                );
                #[cfg(test)]
                views.ended.push(line.clone());
                job.bar.finish_with_message(line);
            }
            RunEvent::StageStarted { at, stage, .. } => {
                let Some(job) = views.runs.get_mut(run).and_then(|v| owner(&mut v.jobs, at)) else {
                    return;
                };
                job.bar
                    .set_message(format!("{stage} ({at}) · {} done", stages(job.done)));
            }
            RunEvent::StageEnded {
                at, status, error, ..
            } => {
                let Some(job) = views.runs.get_mut(run).and_then(|v| owner(&mut v.jobs, at)) else {
                    return;
                };
                job.done += 1;
                if status == Status::Failed && error.is_some() {
                    job.failed += 1;
                }
            }
            _ => {}
        }
    }
}

impl Progress {
    /// Shows `job` of `run`, which does not run (not run, or reused by a
    /// rerun), as ended at once: the `line` made from its name.
    fn settled(&self, views: &mut State, run: &str, job: &str, line: impl FnOnce(&str) -> String) {
        let Some(view) = views.runs.get(run) else {
            return;
        };
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(ended_style());
        let name = match &view.label {
            Some(label) => format!("{label} › {job}"),
            None => job.to_string(),
        };
        let line = line(&name);
        #[cfg(test)]
        views.ended.push(line.clone());
        bar.finish_with_message(line);
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
