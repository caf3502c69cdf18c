//! Running a set of units (matrix strategies, parallel branches, foreach items) on
//! the pool, at most `limit` at a time, optionally stopping at the first failure.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::stage::StageCx;
use crate::executor::Done;

/// Runs `work` for every unit; results in unit order, `None` for units that never
/// started because an earlier one failed under `fail_fast`.
///
/// Fail-fast is upstream's: the first unit that fails (or is cancelled) while
/// others have not ended sets the run's cancel event
/// ([`crate::cancel::Cancel::stop_tree`]): the units that run finish the stage
/// they are in and stop before their next one, and so does every other level of
/// the run (other jobs, the runs above a triggered one). The runner of the unit
/// that failed takes one more unit, which stops before its first stage; the
/// others never start. (Upstream's worker thread takes the next unit before the
/// thread that waits for the units sets the event and cancels the units left; how
/// many it takes is a race, one is what it takes most often.)
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
    let runners = limit.max(1).min(count);
    if runners <= 1 {
        // One at a time, on this thread: no queue, no locks.
        let mut results: Vec<Option<R>> = (0..count).map(|_| None).collect();
        let mut rest = units.into_iter().enumerate();
        while let Some((index, unit)) = rest.next() {
            let done = work(cx, index, unit);
            results[index] = Some(done.result);
            if done.failed && fail_fast {
                if let Some((next, unit)) = rest.next() {
                    cx.cancel.stop_tree();
                    results[next] = Some(work(cx, next, unit).result);
                }
                break;
            }
        }
        return results;
    }
    let queue: Arc<Mutex<VecDeque<(usize, U)>>> =
        Arc::new(Mutex::new(units.into_iter().enumerate().collect()));
    let results: Arc<Mutex<Vec<Option<R>>>> =
        Arc::new(Mutex::new((0..count).map(|_| None).collect()));
    // Set by this set's own fail-fast: the units not started never start. (A
    // stop from elsewhere lets them start: they stop before their first stage.)
    let stop = Arc::new(AtomicBool::new(false));
    let ended = Arc::new(AtomicUsize::new(0));
    let work = Arc::new(work);
    let runner = {
        let queue = Arc::clone(&queue);
        let results = Arc::clone(&results);
        let stop = Arc::clone(&stop);
        let unit_cx = cx.clone();
        move || {
            // After this runner's unit set the event: one more unit, then none.
            let mut last = false;
            loop {
                if stop.load(Ordering::Acquire) && !last {
                    break;
                }
                let Some((index, unit)) = queue.lock().ok().and_then(|mut q| q.pop_front()) else {
                    break;
                };
                let done = work(&unit_cx, index, unit);
                let ended = ended.fetch_add(1, Ordering::AcqRel) + 1;
                if let Ok(mut r) = results.lock() {
                    r[index] = Some(done.result);
                }
                if last {
                    break;
                }
                if done.failed && fail_fast && !stop.swap(true, Ordering::AcqRel) && ended < count {
                    unit_cx.cancel.stop_tree();
                    last = true;
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
    results
        .lock()
        .map(|mut r| std::mem::take(&mut *r))
        .unwrap_or_default()
}
