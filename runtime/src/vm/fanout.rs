//! Running a set of units (matrix strategies, parallel branches, foreach items) on
//! the pool, at most `limit` at a time, optionally stopping at the first failure.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::stage::StageCx;

/// What a unit reports: its result, and whether it failed (for fail-fast).
pub(crate) struct Done<R> {
    pub result: R,
    pub failed: bool,
}

/// Runs `work` for every unit; results in unit order, `None` for units that never
/// started because an earlier one failed under `fail_fast`. Units see a cancel
/// token that `fail_fast` trips on the first failure.
pub(crate) fn run<U, R>(
    cx: &StageCx,
    units: Vec<U>,
    limit: usize,
    fail_fast: bool,
    work: impl Fn(&StageCx, usize, U) -> Done<R> + Send + Sync + 'static,
) -> Vec<Option<R>>
where
    U: Send + 'static,
    R: Send + 'static,
{
    let count = units.len();
    let token = cx.cancel.child();
    let unit_cx = cx.with_cancel(token.clone());
    let runners = limit.max(1).min(count);
    if runners <= 1 {
        // One at a time, on this thread: no queue, no locks.
        let mut results: Vec<Option<R>> = (0..count).map(|_| None).collect();
        for (index, unit) in units.into_iter().enumerate() {
            let done = work(&unit_cx, index, unit);
            results[index] = Some(done.result);
            if done.failed && fail_fast {
                unit_cx.cancel.cancel();
                break;
            }
        }
        drop(token);
        return results;
    }
    let queue: Arc<Mutex<VecDeque<(usize, U)>>> =
        Arc::new(Mutex::new(units.into_iter().enumerate().collect()));
    let results: Arc<Mutex<Vec<Option<R>>>> =
        Arc::new(Mutex::new((0..count).map(|_| None).collect()));
    let stop = Arc::new(AtomicBool::new(false));
    let work = Arc::new(work);
    let runner = {
        let queue = Arc::clone(&queue);
        let results = Arc::clone(&results);
        let stop = Arc::clone(&stop);
        move || {
            loop {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                let Some((index, unit)) = queue.lock().ok().and_then(|mut q| q.pop_front()) else {
                    break;
                };
                let done = work(&unit_cx, index, unit);
                if done.failed && fail_fast {
                    stop.store(true, Ordering::Release);
                    unit_cx.cancel.cancel();
                }
                if let Ok(mut r) = results.lock() {
                    r[index] = Some(done.result);
                }
            }
        }
    };
    let handles: Vec<_> = (0..runners)
        .map(|_| {
            let runner = runner.clone();
            cx.run.pool.spawn(runner)
        })
        .collect();
    let _ = cx.run.pool.join(handles);
    drop(token);
    results
        .lock()
        .map(|mut r| std::mem::take(&mut *r))
        .unwrap_or_default()
}
