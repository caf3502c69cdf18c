//! Cancellation: one token per run, child tokens for what can be stopped on its own
//! (a stage with a timeout, a triggered run). A token is cancelled in one of two
//! ways, and either reaches its children:
//!
//! * **Stopped** (upstream's cancel event, set by a fail-fast failure): nothing new
//!   starts (a stage, an item, a strategy, a job), but what runs finishes.
//! * **Killed** (a signal, `--timeout`, a stage's `timeout`): stopped, and the
//!   hooks that stop running work run (killing a child process group), and whoever
//!   sleeps on the token wakes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

type Hook = Box<dyn Fn() + Send + Sync>;

struct Inner {
    /// Stopped or killed: nothing new starts.
    cancelled: AtomicBool,
    /// Killed: running work is stopped too.
    killed: AtomicBool,
    /// The token at the top of this one's tree (none for a top token): what a
    /// fail-fast failure stops.
    top: Option<Arc<Inner>>,
    hooks: Mutex<Vec<(u64, Hook)>>,
    children: Mutex<Vec<Weak<Inner>>>,
    sleepers: (Mutex<()>, Condvar),
}

#[derive(Clone)]
pub struct Cancel(Arc<Inner>);

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancel")
            .field("cancelled", &self.is_cancelled())
            .field("killed", &self.is_killed())
            .finish()
    }
}

static NEXT_HOOK: AtomicU64 = AtomicU64::new(1);

/// Unregisters a hook when dropped.
pub struct HookGuard {
    token: Weak<Inner>,
    id: u64,
}

impl Drop for HookGuard {
    fn drop(&mut self) {
        if let Some(inner) = self.token.upgrade()
            && let Ok(mut hooks) = inner.hooks.lock()
        {
            hooks.retain(|(id, _)| *id != self.id);
        }
    }
}

impl Default for Cancel {
    fn default() -> Self {
        Self::new()
    }
}

impl Cancel {
    #[must_use]
    pub fn new() -> Self {
        Self::under(None)
    }

    fn under(top: Option<Arc<Inner>>) -> Self {
        Cancel(Arc::new(Inner {
            cancelled: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            top,
            hooks: Mutex::new(Vec::new()),
            children: Mutex::new(Vec::new()),
            sleepers: (Mutex::new(()), Condvar::new()),
        }))
    }

    /// A token stopped and killed with this one (and on its own).
    #[must_use]
    pub fn child(&self) -> Cancel {
        let top = self.0.top.clone().unwrap_or_else(|| Arc::clone(&self.0));
        let child = Cancel::under(Some(top));
        if let Ok(mut children) = self.0.children.lock() {
            children.retain(|c| c.strong_count() > 0);
            children.push(Arc::downgrade(&child.0));
        }
        if self.is_killed() {
            child.cancel();
        } else if self.is_cancelled() {
            child.stop();
        }
        child
    }

    /// Stopped or killed: nothing new may start.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::Acquire)
    }

    /// Killed: running work is being stopped.
    #[must_use]
    pub fn is_killed(&self) -> bool {
        self.0.killed.load(Ordering::Acquire)
    }

    /// Stops this token and its children: nothing new starts, what runs goes on.
    pub fn stop(&self) {
        if self.0.cancelled.swap(true, Ordering::AcqRel) {
            return;
        }
        for child in self.children() {
            Cancel(child).stop();
        }
    }

    /// Stops the top token of this one's tree, so every token of the tree (as
    /// upstream's one cancel event that every level of a run, and the runs it
    /// triggers, share).
    pub fn stop_tree(&self) {
        match &self.0.top {
            Some(top) => Cancel(Arc::clone(top)).stop(),
            None => self.stop(),
        }
    }

    fn children(&self) -> Vec<Arc<Inner>> {
        self.0
            .children
            .lock()
            .map(|c| c.iter().filter_map(Weak::upgrade).collect())
            .unwrap_or_default()
    }

    /// Kills this token and its children: runs their hooks once, wakes sleepers.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::Release);
        if self.0.killed.swap(true, Ordering::AcqRel) {
            return;
        }
        let hooks: Vec<(u64, Hook)> = self
            .0
            .hooks
            .lock()
            .map(|mut h| std::mem::take(&mut *h))
            .unwrap_or_default();
        for (_, hook) in &hooks {
            hook();
        }
        for child in self.children() {
            Cancel(child).cancel();
        }
        let (lock, condvar) = &self.0.sleepers;
        let _guard = lock.lock();
        condvar.notify_all();
    }

    /// Runs `hook` when the token is killed (at once if it already is), until the
    /// guard is dropped.
    pub fn on_cancel(&self, hook: impl Fn() + Send + Sync + 'static) -> HookGuard {
        let id = NEXT_HOOK.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut hooks) = self.0.hooks.lock() {
            hooks.push((id, Box::new(hook)));
        }
        // Killed before the hook was in place: run it now.
        if self.is_killed() {
            let hook = self.0.hooks.lock().ok().and_then(|mut h| {
                let at = h.iter().position(|(i, _)| *i == id)?;
                Some(h.remove(at).1)
            });
            if let Some(hook) = hook {
                hook();
            }
        }
        HookGuard {
            token: Arc::downgrade(&self.0),
            id,
        }
    }

    /// Sleeps for `duration` unless killed first; true when it slept in full.
    #[must_use]
    pub fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        let (lock, condvar) = &self.0.sleepers;
        let Ok(mut guard) = lock.lock() else {
            return false;
        };
        loop {
            if self.is_killed() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            match condvar.wait_timeout(guard, deadline - now) {
                Ok((g, _)) => guard = g,
                Err(_) => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn cancel_reaches_children_hooks_and_sleepers() {
        let root = Cancel::new();
        let child = root.child();
        let fired = Arc::new(AtomicUsize::new(0));
        let f = Arc::clone(&fired);
        let _guard = child.on_cancel(move || {
            f.fetch_add(1, Ordering::SeqCst);
        });
        let sleeper = {
            let child = child.clone();
            std::thread::spawn(move || child.sleep(Duration::from_secs(30)))
        };
        std::thread::sleep(Duration::from_millis(20));
        root.cancel();
        assert!(!sleeper.join().unwrap());
        assert!(child.is_cancelled());
        assert_eq!(fired.load(Ordering::SeqCst), 1);
        root.cancel();
        assert_eq!(fired.load(Ordering::SeqCst), 1);
        // A hook added after cancellation runs at once; a child of a cancelled token is cancelled.
        let late = Arc::new(AtomicUsize::new(0));
        let l = Arc::clone(&late);
        let _g = root.on_cancel(move || {
            l.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(late.load(Ordering::SeqCst), 1);
        assert!(root.child().is_cancelled());
        assert!(Cancel::new().sleep(Duration::from_millis(1)));
    }

    #[test]
    fn a_stop_reaches_the_whole_tree_and_kills_nothing() {
        let top = Cancel::new();
        let job = top.child();
        let stage = job.child();
        let sibling = top.child();
        let fired = Arc::new(AtomicUsize::new(0));
        let f = Arc::clone(&fired);
        let _guard = stage.on_cancel(move || {
            f.fetch_add(1, Ordering::SeqCst);
        });
        // Stopped from deep down: every token of the tree is stopped, from the top.
        stage.child().stop_tree();
        for token in [&top, &job, &stage, &sibling] {
            assert!(token.is_cancelled());
            assert!(!token.is_killed());
        }
        // Running work goes on: no hook, and a sleep runs in full.
        assert_eq!(fired.load(Ordering::SeqCst), 0);
        assert!(stage.sleep(Duration::from_millis(5)));
        let late = job.child();
        assert!(late.is_cancelled() && !late.is_killed());
        // A kill after the stop still stops running work.
        top.cancel();
        assert!(stage.is_killed() && late.is_killed());
        assert_eq!(fired.load(Ordering::SeqCst), 1);
        assert!(!stage.sleep(Duration::from_secs(5)));
        // Another tree is left alone.
        let other = Cancel::new();
        other.child().stop_tree();
        assert!(other.is_cancelled());
        assert!(!Cancel::new().child().is_cancelled());
    }
}
