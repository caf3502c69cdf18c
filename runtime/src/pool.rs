//! The work-stealing pool every job, strategy, branch and item runs on: a global
//! injector, one FIFO deque per worker, and stealing between them
//! (crossbeam-deque).
//!
//! Two rules keep nested stages from deadlocking the pool:
//! * a task that waits for tasks it spawned helps run queued work while it waits
//!   ([`Pool::join`]), so a parent never sits on a worker its children need;
//! * a task about to block outside the pool (a child process, a sleep) says so
//!   ([`Pool::blocking`]): if that would leave no worker free, the pool starts one,
//!   which retires once it is idle and the pool is back to its size.
//!
//! And two keep nesting from overflowing a thread's stack (stages nest in stages,
//! runs in runs, and a waiting worker runs other tasks on top of its own):
//! * a waiting worker helps only while its stack has [`HEADROOM`] left; deeper, it
//!   blocks, lending its place to a new worker;
//! * nested work ([`Pool::nested`]: a compound stage, a child run) runs on the
//!   current thread while it has [`HEADROOM`] left, else on a fresh thread of its
//!   own, the current one waiting (and lending its place) meanwhile.
//!
//! Workers and those fresh threads have [`STACK_SIZE`] stacks and know how much of
//! them they used. The main thread is measured from where its pool is made, against
//! its stack limit (`ulimit -s`). Other threads are not measured: they never help,
//! and always hand nested work to a fresh thread.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

use crossbeam_deque::{Injector, Stealer, Worker};

type Task = Box<dyn FnOnce() + Send>;

struct Shared {
    id: usize,
    injector: Injector<Task>,
    stealers: RwLock<Vec<Stealer<Task>>>,
    /// Wakes idle workers and joiners: bumped on every push and every completion.
    signal: (Mutex<u64>, Condvar),
    /// The number of workers the pool keeps: known when the first one starts.
    size: std::sync::OnceLock<usize>,
    threads: AtomicUsize,
    idle: AtomicUsize,
    blocked: AtomicUsize,
    shutdown: AtomicBool,
}

/// A handle on a pool; cheap to clone.
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.shared.size.get())
            .field("threads", &self.shared.threads.load(Ordering::Relaxed))
            .finish()
    }
}

thread_local! {
    /// The pool and deque of the worker running on this thread.
    static LOCAL: RefCell<Option<(usize, Worker<Task>)>> = const { RefCell::new(None) };
    /// Where the stack of this thread began and how much of it there is, on the
    /// threads the pool started.
    static STACK: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
}

/// The stack of every thread the pool starts. Only the pages a thread touches are
/// backed by memory.
pub const STACK_SIZE: usize = 16 << 20;

/// Stack left free for a stage to run in (an executor, Python's own recursion, a
/// Docker client): a thread with less does not take on more work.
pub const HEADROOM: usize = 4 << 20;

/// The address of a local of a frame of its own: where the stack is now.
#[inline(never)]
fn stack_position() -> usize {
    let marker = 0u8;
    std::ptr::from_ref(std::hint::black_box(&marker)).addr()
}

/// Notes, at the start of a thread the pool started, where its stack begins.
fn note_stack() {
    // The thread's first frames sit above this one; count them out generously.
    STACK.set(Some((stack_position(), STACK_SIZE - (64 << 10))));
}

/// Measures the main thread's stack from here (close to its start: the pool is
/// made as a run begins), as big as the stack limit allows less what sits above:
/// the arguments, the environment and a margin. Does nothing on other threads.
fn note_main_stack() {
    use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit};
    if std::thread::current().name() != Some("main") || STACK.get().is_some() {
        return;
    }
    let Ok((soft, _)) = getrlimit(Resource::RLIMIT_STACK) else {
        return;
    };
    // No limit: the usual 8 MiB is assumed.
    let limit = if soft == RLIM_INFINITY {
        8 << 20
    } else {
        usize::try_from(soft).unwrap_or(usize::MAX)
    };
    let above: usize = std::env::args_os().map(|a| a.len() + 1).sum::<usize>()
        + std::env::vars_os()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum::<usize>();
    STACK.set(Some((
        stack_position(),
        limit.saturating_sub(above + (256 << 10)),
    )));
}

/// How much of this thread's stack is left; `None` on a thread the pool did not
/// start (stacks grow down on every target wfr runs on).
fn stack_left() -> Option<usize> {
    STACK
        .get()
        .map(|(start, size)| size.saturating_sub(start.saturating_sub(stack_position())))
}

/// True when this thread may take on more work on its own stack.
fn has_headroom() -> bool {
    stack_left().is_some_and(|left| left >= HEADROOM)
}

static NEXT_POOL: AtomicUsize = AtomicUsize::new(1);

/// The result of a spawned task, for [`Pool::join`].
pub struct Handle<T> {
    slot: Arc<Mutex<Option<std::thread::Result<T>>>>,
}

impl Pool {
    /// A pool of up to `size` workers (at least one), started as work comes: a run
    /// whose jobs all run on its own thread starts none.
    #[must_use]
    pub fn new(size: usize) -> Self {
        Self::with_size(std::sync::OnceLock::from(size.max(1)))
    }

    fn with_size(size: std::sync::OnceLock<usize>) -> Self {
        Pool {
            shared: Arc::new(Shared {
                id: NEXT_POOL.fetch_add(1, Ordering::Relaxed),
                injector: Injector::new(),
                stealers: RwLock::new(Vec::new()),
                signal: (Mutex::new(0), Condvar::new()),
                size,
                threads: AtomicUsize::new(0),
                idle: AtomicUsize::new(0),
                blocked: AtomicUsize::new(0),
                shutdown: AtomicBool::new(false),
            }),
        }
    }

    /// A pool of as many workers as the machine has cores, asked for (from the
    /// cgroup limits, a few files) only when the first worker starts.
    /// On the main thread, it also measures the main thread's stack (see the module
    /// doc).
    #[must_use]
    pub fn for_this_machine() -> Self {
        note_main_stack();
        Self::with_size(std::sync::OnceLock::new())
    }

    fn size(&self) -> usize {
        *self
            .shared
            .size
            .get_or_init(|| std::thread::available_parallelism().map_or(2, usize::from))
    }

    fn start_worker(&self) {
        let worker: Worker<Task> = Worker::new_fifo();
        if let Ok(mut stealers) = self.shared.stealers.write() {
            stealers.push(worker.stealer());
        }
        self.shared.threads.fetch_add(1, Ordering::AcqRel);
        let pool = self.clone();
        let spawned = std::thread::Builder::new()
            .name("wfr-worker".into())
            .stack_size(STACK_SIZE)
            .spawn(move || {
                note_stack();
                pool.worker_loop(worker);
            });
        if spawned.is_err() {
            self.shared.threads.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn notify(&self) {
        let (lock, condvar) = &self.shared.signal;
        if let Ok(mut generation) = lock.lock() {
            *generation = generation.wrapping_add(1);
        }
        condvar.notify_all();
    }

    /// Runs `task` on the pool.
    pub fn spawn<T: Send + 'static>(&self, task: impl FnOnce() -> T + Send + 'static) -> Handle<T> {
        let slot = Arc::new(Mutex::new(None));
        let out = Arc::clone(&slot);
        let pool = self.clone();
        let job: Task = Box::new(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
            if let Ok(mut s) = out.lock() {
                *s = Some(result);
            }
            pool.notify();
        });
        let id = self.shared.id;
        let job = LOCAL.with(|local| match &*local.borrow() {
            Some((pool_id, worker)) if *pool_id == id => {
                worker.push(job);
                None
            }
            _ => Some(job),
        });
        if let Some(job) = job {
            self.shared.injector.push(job);
        }
        if self.shared.idle.load(Ordering::Acquire) == 0
            && self.shared.threads.load(Ordering::Acquire) < self.size()
        {
            self.start_worker();
        }
        self.notify();
        Handle { slot }
    }

    /// Finds a queued task: this worker's own first, then the injector, then others'.
    fn find_task(&self) -> Option<Task> {
        let id = self.shared.id;
        let own = LOCAL.with(|local| match &*local.borrow() {
            Some((pool_id, worker)) if *pool_id == id => worker.pop(),
            _ => None,
        });
        if own.is_some() {
            return own;
        }
        loop {
            let stolen = LOCAL.with(|local| match &*local.borrow() {
                Some((pool_id, worker)) if *pool_id == id => {
                    self.shared.injector.steal_batch_and_pop(worker)
                }
                _ => self.shared.injector.steal(),
            });
            match stolen {
                crossbeam_deque::Steal::Success(task) => return Some(task),
                crossbeam_deque::Steal::Retry => {}
                crossbeam_deque::Steal::Empty => break,
            }
        }
        let stealers = self.shared.stealers.read().ok()?;
        for stealer in stealers.iter() {
            loop {
                match stealer.steal() {
                    crossbeam_deque::Steal::Success(task) => return Some(task),
                    crossbeam_deque::Steal::Retry => {}
                    crossbeam_deque::Steal::Empty => break,
                }
            }
        }
        None
    }

    /// Waits for the signal to move on (a push or a completion) after `seen`.
    fn wait_signal(&self, seen: u64, timeout: Duration) {
        let (lock, condvar) = &self.shared.signal;
        if let Ok(generation) = lock.lock()
            && *generation == seen
        {
            let _ = condvar.wait_timeout(generation, timeout);
        }
    }

    fn generation(&self) -> u64 {
        self.shared.signal.0.lock().map_or(0, |g| *g)
    }

    fn worker_loop(self, worker: Worker<Task>) {
        let id = self.shared.id;
        LOCAL.with(|local| *local.borrow_mut() = Some((id, worker)));
        loop {
            let seen = self.generation();
            if let Some(task) = self.find_task() {
                task();
                continue;
            }
            if self.shared.shutdown.load(Ordering::Acquire) {
                break;
            }
            // More workers than the pool's size (some were added for blocked tasks):
            // an idle one retires.
            let running = self.shared.threads.load(Ordering::Acquire);
            let blocked = self.shared.blocked.load(Ordering::Acquire);
            if running > self.size() + blocked
                && self
                    .shared
                    .threads
                    .compare_exchange(running, running - 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                // Hand over anything left in this deque.
                LOCAL.with(|local| {
                    if let Some((_, worker)) = local.borrow_mut().take() {
                        while let Some(task) = worker.pop() {
                            self.shared.injector.push(task);
                        }
                    }
                });
                self.notify();
                return;
            }
            self.shared.idle.fetch_add(1, Ordering::AcqRel);
            self.wait_signal(seen, Duration::from_millis(500));
            self.shared.idle.fetch_sub(1, Ordering::AcqRel);
        }
        self.shared.threads.fetch_sub(1, Ordering::AcqRel);
    }

    /// Waits for `handles`, running queued tasks meanwhile; results in order. A task
    /// that panicked resumes its panic here.
    #[must_use]
    pub fn join<T>(&self, handles: Vec<Handle<T>>) -> Vec<T> {
        let mut out = Vec::with_capacity(handles.len());
        for handle in handles {
            out.push(self.join_one(handle));
        }
        out
    }

    fn join_one<T>(&self, handle: Handle<T>) -> T {
        let result = loop {
            let seen = self.generation();
            if let Some(result) = handle.slot.lock().ok().and_then(|mut s| s.take()) {
                break result;
            }
            if !has_headroom() {
                // Too deep in this stack to run another task on top of it: wait,
                // and let a new worker take this one's place meanwhile.
                break self.blocking(|| {
                    loop {
                        let seen = self.generation();
                        if let Some(result) = handle.slot.lock().ok().and_then(|mut s| s.take()) {
                            return result;
                        }
                        self.wait_signal(seen, Duration::from_millis(500));
                    }
                });
            }
            if let Some(task) = self.find_task() {
                task();
                continue;
            }
            self.wait_signal(seen, Duration::from_millis(500));
        };
        match result {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Runs `f`, which may nest deeply (a compound stage, a child run): on this
    /// thread while it has [`HEADROOM`] left, else on a fresh thread with a stack
    /// of its own while this one waits, lending its place in the pool. An error
    /// when no thread can be started.
    pub fn nested<R: Send>(&self, f: impl FnOnce() -> R + Send) -> std::io::Result<R> {
        if has_headroom() {
            return Ok(f());
        }
        self.blocking(|| {
            std::thread::scope(|scope| {
                let thread = std::thread::Builder::new()
                    .name("wfr-nested".into())
                    .stack_size(STACK_SIZE)
                    .spawn_scoped(scope, || {
                        note_stack();
                        f()
                    })?;
                match thread.join() {
                    Ok(value) => Ok(value),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            })
        })
    }

    /// Runs `f`, which blocks outside the pool, keeping the pool's capacity for
    /// other work: a worker is added when none would be left free. (A thread that
    /// is not one of the pool's workers, such as the main thread waiting for its
    /// jobs, takes no worker's place: it just blocks.)
    pub fn blocking<R>(&self, f: impl FnOnce() -> R) -> R {
        let id = self.shared.id;
        let on_worker =
            LOCAL.with(|local| matches!(&*local.borrow(), Some((pool, _)) if *pool == id));
        if !on_worker {
            return f();
        }
        let blocked = self.shared.blocked.fetch_add(1, Ordering::AcqRel) + 1;
        let threads = self.shared.threads.load(Ordering::Acquire);
        if threads < self.size() + blocked && self.shared.idle.load(Ordering::Acquire) == 0 {
            self.start_worker();
        }
        let result = f();
        self.shared.blocked.fetch_sub(1, Ordering::AcqRel);
        result
    }

    /// Stops idle workers (running tasks finish first).
    pub fn shutdown(&self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.notify();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_joins_do_not_deadlock_a_small_pool() {
        let pool = Pool::new(1);
        let p = pool.clone();
        let outer = pool.spawn(move || {
            let inner: Vec<_> = (0..10)
                .map(|i| {
                    let p2 = p.clone();
                    p.spawn(move || {
                        let leaves: Vec<_> = (0..5).map(|j| p2.spawn(move || i * 10 + j)).collect();
                        p2.join(leaves).into_iter().sum::<i32>()
                    })
                })
                .collect();
            p.join(inner).into_iter().sum::<i32>()
        });
        let total = pool.join(vec![outer])[0];
        assert_eq!(
            total,
            (0..10)
                .map(|i| (0..5).map(|j| i * 10 + j).sum::<i32>())
                .sum::<i32>()
        );
        pool.shutdown();
    }

    /// A task that waits for a task that waits for a task…, `depth` deep.
    fn chain(pool: &Pool, depth: usize) -> usize {
        if depth == 0 {
            return 0;
        }
        let p = pool.clone();
        let inner = pool.spawn(move || chain(&p, depth - 1));
        pool.join(vec![inner])[0] + 1
    }

    #[test]
    fn deep_chains_of_joins_do_not_overflow_a_worker() {
        // Every waiting worker would run the next task on top of its own stack:
        // 20,000 of them overflow any stack unless helping stops at the headroom.
        let pool = Pool::new(1);
        let p = pool.clone();
        let outer = pool.spawn(move || chain(&p, 20_000));
        assert_eq!(pool.join(vec![outer])[0], 20_000);
        pool.shutdown();
    }

    #[test]
    fn nested_work_moves_to_a_fresh_stack_when_this_one_is_used_up() {
        fn deep(pool: &Pool, depth: usize) -> usize {
            if depth == 0 {
                return 0;
            }
            // A frame of a few kilobytes, as a stage's is.
            let frame = std::hint::black_box([1u8; 4096]);
            let below = pool
                .nested(|| deep(pool, depth - 1))
                .expect("a thread starts");
            below + usize::from(frame[0])
        }
        let pool = Pool::new(1);
        // On a thread the pool did not start, nested work always moves.
        assert!(!has_headroom());
        assert_eq!(deep(&pool, 20_000), 20_000);
        pool.shutdown();
    }

    #[test]
    fn blocking_tasks_run_side_by_side() {
        let pool = Pool::new(1);
        let start = std::time::Instant::now();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let p = pool.clone();
                pool.spawn(move || p.blocking(|| std::thread::sleep(Duration::from_millis(200))))
            })
            .collect();
        let _ = pool.join(handles);
        // Four 200 ms sleeps on a one-worker pool end together, not one after another.
        assert!(
            start.elapsed() < Duration::from_millis(700),
            "{:?}",
            start.elapsed()
        );
        pool.shutdown();
    }
}
