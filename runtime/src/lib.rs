//! wfc-runtime: the VM that runs compiled plans.

pub mod cancel;
pub mod cli;
pub mod eval;
pub mod events;
mod executor;
#[cfg(feature = "nats")]
pub mod fleet;
pub mod guard;
#[cfg(not(feature = "python"))]
pub mod handoff;
pub mod human;
pub mod json;
pub mod logs;
mod output;
pub mod owner;
pub mod params;
pub mod plans;
pub mod pool;
pub mod process;
mod progress;
#[cfg(feature = "python")]
mod python;
pub mod reap;
pub mod record;
pub mod release;
mod runner;
pub mod schedule;
pub mod status;
pub mod store;
pub mod value;
pub mod vm;

/// Locks `mutex`, and goes on with its data when a thread panicked holding it
/// (what it guards stays usable: records, logs, routes, processes).
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
