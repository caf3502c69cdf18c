//! Cancellation: one token per run, child tokens for what can be stopped on its own
//! (a stage with a timeout, a fail-fast matrix). Cancelling a token cancels its
//! children, wakes whoever sleeps on it, and runs the hooks that stop running work
//! (killing a child process group).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

type Hook = Box<dyn Fn() + Send + Sync>;

struct Inner {
    cancelled: AtomicBool,
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
        Cancel(Arc::new(Inner {
            cancelled: AtomicBool::new(false),
            hooks: Mutex::new(Vec::new()),
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
        if self.is_cancelled() {
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
}
