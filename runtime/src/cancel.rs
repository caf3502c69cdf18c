//! Cancellation: one token per run, child tokens for what can be stopped on its own
//! (a stage with a timeout, a fail-fast matrix). Cancelling a token cancels its
//! children, wakes whoever sleeps on it, and runs the hooks that stop running work
//! (killing a child process group). Forcing a token (a second SIGINT/SIGTERM)
//! cancels it and tells what is being stopped to skip its grace period.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

type Hook = Box<dyn Fn() + Send + Sync>;

struct Inner {
    cancelled: AtomicBool,
    forced: AtomicBool,
    hooks: Mutex<Vec<(u64, Hook)>>,
    force_hooks: Mutex<Vec<(u64, Hook)>>,
    children: Mutex<Vec<Weak<Inner>>>,
    sleepers: (Mutex<()>, Condvar),
}

#[derive(Clone)]
pub struct Cancel(Arc<Inner>);

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancel")
            .field("cancelled", &self.is_cancelled())
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
        if let Some(inner) = self.token.upgrade() {
            for list in [&inner.hooks, &inner.force_hooks] {
                if let Ok(mut hooks) = list.lock() {
                    hooks.retain(|(id, _)| *id != self.id);
                }
            }
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
        Cancel(Arc::new(Inner {
            cancelled: AtomicBool::new(false),
            forced: AtomicBool::new(false),
            hooks: Mutex::new(Vec::new()),
            force_hooks: Mutex::new(Vec::new()),
            children: Mutex::new(Vec::new()),
            sleepers: (Mutex::new(()), Condvar::new()),
        }))
    }

    /// A token cancelled with this one (and on its own).
    #[must_use]
    pub fn child(&self) -> Cancel {
        let child = Cancel::new();
        if let Ok(mut children) = self.0.children.lock() {
            children.retain(|c| c.strong_count() > 0);
            children.push(Arc::downgrade(&child.0));
        }
        if self.is_forced() {
            child.force();
        } else if self.is_cancelled() {
            child.cancel();
        }
        child
    }

    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::Acquire)
    }

    /// Cancels this token and its children; runs their hooks once.
    pub fn cancel(&self) {
        if self.0.cancelled.swap(true, Ordering::AcqRel) {
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
        let children: Vec<Weak<Inner>> = self
            .0
            .children
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default();
        for child in children.iter().filter_map(Weak::upgrade) {
            Cancel(child).cancel();
        }
        let (lock, condvar) = &self.0.sleepers;
        let _guard = lock.lock();
        condvar.notify_all();
    }

    /// Cancels this token and its children with no grace period: what is being
    /// stopped is killed at once (a second SIGINT/SIGTERM). Runs the force hooks
    /// once, then cancels.
    pub fn force(&self) {
        if !self.0.forced.swap(true, Ordering::AcqRel) {
            let hooks: Vec<(u64, Hook)> = self
                .0
                .force_hooks
                .lock()
                .map(|mut h| std::mem::take(&mut *h))
                .unwrap_or_default();
            for (_, hook) in &hooks {
                hook();
            }
            let children: Vec<Weak<Inner>> = self
                .0
                .children
                .lock()
                .map(|c| c.clone())
                .unwrap_or_default();
            for child in children.iter().filter_map(Weak::upgrade) {
                Cancel(child).force();
            }
        }
        self.cancel();
    }

    /// True once the token was forced: skip grace periods.
    #[must_use]
    pub fn is_forced(&self) -> bool {
        self.0.forced.load(Ordering::Acquire)
    }

    /// Runs `hook` when the token is forced (at once if it already is), until
    /// the guard is dropped.
    pub fn on_force(&self, hook: impl Fn() + Send + Sync + 'static) -> HookGuard {
        let id = NEXT_HOOK.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut hooks) = self.0.force_hooks.lock() {
            hooks.push((id, Box::new(hook)));
        }
        if self.is_forced() {
            let hook = self.0.force_hooks.lock().ok().and_then(|mut h| {
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

    /// Runs `hook` when the token is cancelled (at once if it already is), until the
    /// guard is dropped.
    pub fn on_cancel(&self, hook: impl Fn() + Send + Sync + 'static) -> HookGuard {
        let id = NEXT_HOOK.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut hooks) = self.0.hooks.lock() {
            hooks.push((id, Box::new(hook)));
        }
        // Cancelled before the hook was in place: run it now.
        if self.is_cancelled() {
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

    /// Sleeps for `duration` unless cancelled first; true when it slept in full.
    #[must_use]
    pub fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        let (lock, condvar) = &self.0.sleepers;
        let Ok(mut guard) = lock.lock() else {
            return false;
        };
        loop {
            if self.is_cancelled() {
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
    fn force_cancels_and_reaches_children_and_their_hooks_once() {
        let root = Cancel::new();
        let child = root.child();
        let forced = Arc::new(AtomicUsize::new(0));
        let f = Arc::clone(&forced);
        let _guard = child.on_force(move || {
            f.fetch_add(1, Ordering::SeqCst);
        });
        // A plain cancel is not a force.
        root.cancel();
        assert!(child.is_cancelled() && !child.is_forced());
        assert_eq!(forced.load(Ordering::SeqCst), 0);
        root.force();
        assert!(child.is_forced());
        assert_eq!(forced.load(Ordering::SeqCst), 1);
        root.force();
        assert_eq!(forced.load(Ordering::SeqCst), 1);
        // Late hooks and children of a forced token are forced at once; a dropped
        // guard's hook never runs.
        let late = Arc::new(AtomicUsize::new(0));
        let l = Arc::clone(&late);
        let _g = root.on_force(move || {
            l.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(late.load(Ordering::SeqCst), 1);
        assert!(root.child().is_forced());
        let other = Cancel::new();
        let never = Arc::new(AtomicUsize::new(0));
        let n = Arc::clone(&never);
        drop(other.on_force(move || {
            n.fetch_add(1, Ordering::SeqCst);
        }));
        other.force();
        assert!(other.is_cancelled());
        assert_eq!(never.load(Ordering::SeqCst), 0);
    }
}
