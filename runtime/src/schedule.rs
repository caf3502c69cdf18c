//! The scheduler's logic: which ticks of which workflows are due at a time, and
//! the claims that make each tick fire once across every scheduler of a
//! workspace. It runs on any clock ([`Clock`]): `wfr schedule` gives it the
//! system's, tests a clock they move.
//!
//! * A workflow seen for the first time starts at the scheduler's start: ticks
//!   before it are not fired.
//! * At its start the scheduler catches up on the ticks missed since the
//!   workflow's last tick (its own or another scheduler's), as told: `none`
//!   passes them, `latest` fires the newest only, `all` fires them all (the
//!   newest [`MAX_CATCHUP`] at most), oldest first.
//! * While it runs, every tick is fired as it comes (a tick that comes while the
//!   scheduler is busy fires late, and says so).
//! * A tick is claimed in the store before it fires: a tick that another
//!   scheduler (or `wfr release`, `wfr backfill`) released is not fired again.
//! * A tick that finds `max_active` runs of its workflow going waits, in order,
//!   until one ends (at most [`MAX_WAITING`] ticks per workflow wait: past that the
//!   oldest is dropped, passed and said). Waiting ticks are not claimed: if the
//!   scheduler stops, they are missed ticks to the next one's catch-up.
//! * The due ticks of every workflow are claimed in one transaction, then their
//!   runs start.

use std::collections::HashMap;

use jiff::Timestamp;
use wfc_plan::schedule::Schedules;

use crate::store::{Claim, Claimer, Store, StoreError};

/// The newest missed ticks `--catchup all` fires, per workflow.
pub const MAX_CATCHUP: usize = 1000;

/// The most ticks of one workflow that wait for a run to end (`max_active`).
pub const MAX_WAITING: usize = 1000;

/// What time it is.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system clock, shifted by an offset (zero but in tests of the binary,
/// which put it a little before a tick to watch one fire without waiting for it).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock {
    pub offset: jiff::SignedDuration,
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
            .checked_add(self.offset)
            .unwrap_or_else(|_| Timestamp::now())
    }
}

/// How ticks missed while no scheduler ran are caught up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Catchup {
    /// Missed ticks are not fired.
    None,
    /// Only the newest missed tick is fired.
    Latest,
    /// Every missed tick is fired (the newest [`MAX_CATCHUP`] at most), oldest first.
    All,
}

/// A workflow the scheduler fires.
pub struct Scheduled {
    pub name: String,
    pub schedules: Schedules,
}

/// What the scheduler decided for a tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Claimed: run it now, as `run_id`.
    Fire {
        workflow: String,
        tick: Timestamp,
        run_id: String,
        /// How late it fires (now minus the tick).
        late: jiff::SignedDuration,
        /// A missed tick fired by the catch-up.
        catchup: bool,
    },
    /// Released already (another scheduler, `wfr release`): not fired again.
    Taken {
        workflow: String,
        tick: Timestamp,
        run_id: String,
    },
    /// Waits: `max_active` runs of the workflow are going (said once, as it
    /// starts waiting).
    Waiting {
        workflow: String,
        tick: Timestamp,
        active: usize,
    },
    /// Dropped: more than [`MAX_WAITING`] ticks waited; this, the oldest, is
    /// passed without a run.
    Dropped { workflow: String, tick: Timestamp },
    /// Missed ticks the catch-up did not fire (how many, the newest).
    Passed {
        workflow: String,
        count: usize,
        newest: Timestamp,
    },
}

/// The tick logic over a store (see the module doc).
pub struct Ticker<'a> {
    store: &'a dyn Store,
    catchup: Catchup,
    max_active: usize,
    /// Per workflow: the newest tick this scheduler dealt with.
    cursor: HashMap<String, Timestamp>,
    /// Per workflow: runs this scheduler started that have not ended (they are
    /// in the store's history a moment after they start).
    running: HashMap<String, usize>,
    /// Per workflow: due ticks waiting for a run to end, oldest first (and
    /// whether each is a catch-up).
    waiting: HashMap<String, std::collections::VecDeque<(Timestamp, bool)>>,
    new_run_id: Box<dyn FnMut(&str) -> String + 'a>,
}

impl<'a> Ticker<'a> {
    pub fn new(
        store: &'a dyn Store,
        catchup: Catchup,
        max_active: usize,
        new_run_id: impl FnMut(&str) -> String + 'a,
    ) -> Self {
        Ticker {
            store,
            catchup,
            max_active: max_active.max(1),
            cursor: HashMap::new(),
            running: HashMap::new(),
            waiting: HashMap::new(),
            new_run_id: Box::new(new_run_id),
        }
    }

    /// A run this scheduler started for `workflow` ended.
    pub fn ended(&mut self, workflow: &str) {
        if let Some(n) = self.running.get_mut(workflow) {
            *n = n.saturating_sub(1);
        }
    }

    /// What to do now for `workflow` alone (see [`Ticker::due_all`]).
    pub fn due(
        &mut self,
        workflow: &Scheduled,
        now: Timestamp,
    ) -> Result<Vec<Decision>, StoreError> {
        self.due_all(std::slice::from_ref(workflow), now)
    }

    /// What to do now: for each workflow, at its first look the catch-up, then
    /// every tick in (last look, now]; ticks wait while `max_active` runs go. The
    /// ticks that may fire are claimed in one transaction.
    pub fn due_all(
        &mut self,
        workflows: &[Scheduled],
        now: Timestamp,
    ) -> Result<Vec<Decision>, StoreError> {
        let mut decisions = Vec::new();
        for workflow in workflows {
            self.enqueue(workflow, now, &mut decisions)?;
        }
        // What may start now: waiting ticks, oldest first, while runs are free.
        let mut candidates: Vec<(String, Timestamp, bool, String)> = Vec::new();
        for workflow in workflows {
            let name = workflow.name.as_str();
            let Some(queue) = self.waiting.get_mut(name) else {
                continue;
            };
            if queue.is_empty() {
                continue;
            }
            let own = self.running.get(name).copied().unwrap_or(0);
            let mut active = self.store.active(name)?.max(own);
            while active < self.max_active {
                let Some((tick, catchup)) = queue.pop_front() else {
                    break;
                };
                candidates.push((name.to_string(), tick, catchup, (self.new_run_id)(name)));
                active += 1;
            }
        }
        if candidates.is_empty() {
            return Ok(decisions);
        }
        let claims: Vec<(String, Timestamp, String)> = candidates
            .iter()
            .map(|(w, t, _, id)| (w.clone(), *t, id.clone()))
            .collect();
        let outcomes = self.store.claim_releases(&claims, Claimer::Scheduler)?;
        for ((workflow, tick, catchup, run_id), outcome) in candidates.into_iter().zip(outcomes) {
            match outcome {
                Claim::Claimed => {
                    *self.running.entry(workflow.clone()).or_insert(0) += 1;
                    decisions.push(Decision::Fire {
                        workflow,
                        tick,
                        run_id,
                        late: now.duration_since(tick),
                        catchup,
                    });
                }
                Claim::Taken { run_id } => decisions.push(Decision::Taken {
                    workflow,
                    tick,
                    run_id,
                }),
            }
        }
        Ok(decisions)
    }

    /// Puts `workflow`'s new due ticks in its queue (the catch-up at its first
    /// look); says the ticks that start waiting and those dropped.
    fn enqueue(
        &mut self,
        workflow: &Scheduled,
        now: Timestamp,
        decisions: &mut Vec<Decision>,
    ) -> Result<(), StoreError> {
        let name = workflow.name.as_str();
        let mut ticks: Vec<(Timestamp, bool)> = Vec::new();
        if let Some(cursor) = self.cursor.get(name).copied() {
            ticks.extend(ticks_after(&workflow.schedules, cursor, now).map(|t| (t, false)));
        } else if let Some(last) = self.store.last_tick(name)? {
            // First look: the ticks missed since the store's last one.
            let mut missed: Vec<Timestamp> = ticks_after(&workflow.schedules, last, now).collect();
            let fire = match self.catchup {
                Catchup::None => Vec::new(),
                Catchup::Latest => missed.pop().into_iter().collect(),
                Catchup::All => missed.split_off(missed.len().saturating_sub(MAX_CATCHUP)),
            };
            if let Some(newest) = missed.last() {
                self.store.pass_tick(name, *newest)?;
                decisions.push(Decision::Passed {
                    workflow: name.to_string(),
                    count: missed.len(),
                    newest: *newest,
                });
            }
            ticks.extend(fire.into_iter().map(|t| (t, true)));
        } else if let Some(start) = workflow.schedules.last_at_or_before(now) {
            // Never scheduled: it starts now; earlier ticks are history.
            self.store.pass_tick(name, start.at)?;
        }
        self.cursor.insert(name.to_string(), now);
        if ticks.is_empty() {
            return Ok(());
        }
        let own = self.running.get(name).copied().unwrap_or(0);
        let active = self.store.active(name)?.max(own);
        let queue = self.waiting.entry(name.to_string()).or_default();
        // Ticks that cannot all start now say so as they start waiting.
        let free = self.max_active.saturating_sub(active);
        let busy = queue.len() + ticks.len() > free;
        for (tick, catchup) in ticks {
            if busy {
                decisions.push(Decision::Waiting {
                    workflow: name.to_string(),
                    tick,
                    active,
                });
            }
            queue.push_back((tick, catchup));
            if queue.len() > MAX_WAITING
                && let Some((dropped, _)) = queue.pop_front()
            {
                self.store.pass_tick(name, dropped)?;
                decisions.push(Decision::Dropped {
                    workflow: name.to_string(),
                    tick: dropped,
                });
            }
        }
        Ok(())
    }

    /// The next time something may be due: the soonest next tick of any
    /// workflow after `now`.
    #[must_use]
    pub fn next_wake(workflows: &[Scheduled], now: Timestamp) -> Option<Timestamp> {
        workflows
            .iter()
            .filter_map(|w| w.schedules.next_after(now).map(|t| t.at))
            .min()
    }
}

/// The ticks in (`after`, `to`], oldest first.
fn ticks_after(
    schedules: &Schedules,
    after: Timestamp,
    to: Timestamp,
) -> impl Iterator<Item = Timestamp> + '_ {
    schedules
        .ticks(after, to)
        .map(|tick| tick.at)
        .filter(move |t| *t > after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::Sqlite;
    use crate::store::{RunRow, RunState};

    fn t(text: &str) -> Timestamp {
        text.parse().expect("a time")
    }

    fn every(name: &str, cron: &str, tz: &str) -> Scheduled {
        Scheduled {
            name: name.into(),
            schedules: Schedules::new(&[wfc_plan::ScheduleSpec {
                cron: cron.into(),
                timezone: tz.into(),
            }])
            .expect("a schedule"),
        }
    }

    fn store(dir: &std::path::Path) -> Sqlite {
        Sqlite::open(&dir.join(".wfc/wfc.db"), &dir.join(".wfc/runs")).expect("a store")
    }

    fn ids() -> impl FnMut(&str) -> String {
        let mut n = 0;
        move |w: &str| {
            n += 1;
            format!("{w}-{n}")
        }
    }

    fn fired(decisions: &[Decision]) -> Vec<(String, Timestamp, bool)> {
        decisions
            .iter()
            .filter_map(|d| match d {
                Decision::Fire {
                    workflow,
                    tick,
                    catchup,
                    ..
                } => Some((workflow.clone(), *tick, *catchup)),
                _ => None,
            })
            .collect()
    }

    /// A fake clock: the scheduler fires every tick once as time moves, and
    /// nothing before its first look.
    #[test]
    fn ticks_fire_once_as_the_clock_moves() {
        let dir = tempfile::tempdir().expect("a folder");
        let store = store(dir.path());
        let w = every("w", "*/5 * * * *", "UTC");
        let mut ticker = Ticker::new(&store, Catchup::Latest, 10, ids());
        // First look, between ticks: nothing fires (12:00 is history).
        assert!(fired(&ticker.due(&w, t("2026-01-01T12:03:00Z")).expect("due")).is_empty());
        let at_five = ticker.due(&w, t("2026-01-01T12:05:00.2Z")).expect("due");
        assert_eq!(
            fired(&at_five),
            vec![("w".into(), t("2026-01-01T12:05:00Z"), false)]
        );
        let Decision::Fire { late, .. } = &at_five[0] else {
            panic!("fired")
        };
        assert_eq!(late.as_millis(), 200);
        // The same time again: nothing more.
        assert!(fired(&ticker.due(&w, t("2026-01-01T12:05:01Z")).expect("due")).is_empty());
        // Busy for a while: both ticks it slept through fire, oldest first.
        let late = ticker.due(&w, t("2026-01-01T12:15:30Z")).expect("due");
        assert_eq!(
            fired(&late).iter().map(|(_, t, _)| *t).collect::<Vec<_>>(),
            vec![t("2026-01-01T12:10:00Z"), t("2026-01-01T12:15:00Z")]
        );
    }

    /// After downtime: `none`, `latest` and `all` as documented, and a restart
    /// never fires a tick fired before it.
    #[test]
    fn catchup_after_downtime() {
        for (catchup, expected) in [
            (Catchup::None, vec![]),
            (Catchup::Latest, vec!["2026-01-01T13:00:00Z"]),
            (
                Catchup::All,
                vec![
                    "2026-01-01T12:15:00Z",
                    "2026-01-01T12:30:00Z",
                    "2026-01-01T12:45:00Z",
                    "2026-01-01T13:00:00Z",
                ],
            ),
        ] {
            let dir = tempfile::tempdir().expect("a folder");
            let store = store(dir.path());
            let w = every("w", "*/15 * * * *", "UTC");
            {
                let mut first = Ticker::new(&store, catchup, 10, ids());
                first.due(&w, t("2026-01-01T12:00:10Z")).expect("due");
                // This scheduler is killed here.
            }
            let mut restarted = Ticker::new(&store, catchup, 10, ids());
            let decisions = restarted.due(&w, t("2026-01-01T13:07:00Z")).expect("due");
            let got: Vec<Timestamp> = fired(&decisions).iter().map(|(_, t, _)| *t).collect();
            let expected: Vec<Timestamp> = expected.iter().map(|e| t(e)).collect();
            assert_eq!(got, expected, "{catchup:?}");
            assert!(fired(&decisions).iter().all(|(_, _, c)| *c));
            // A third one, later the same minute: nothing is fired twice.
            let mut again = Ticker::new(&store, Catchup::All, 10, ids());
            assert!(
                fired(&again.due(&w, t("2026-01-01T13:08:00Z")).expect("due")).is_empty(),
                "{catchup:?}"
            );
        }
    }

    /// Two schedulers on one store: each tick fires in exactly one.
    #[test]
    fn two_schedulers_fire_each_tick_once() {
        let dir = tempfile::tempdir().expect("a folder");
        let a_store = store(dir.path());
        let b_store = store(dir.path());
        let w = every("w", "* * * * *", "UTC");
        let mut a = Ticker::new(&a_store, Catchup::All, 100, |w: &str| format!("a-{w}"));
        let mut b = Ticker::new(&b_store, Catchup::All, 100, |w: &str| format!("b-{w}"));
        let start = t("2026-01-01T00:00:30Z");
        a.due(&w, start).expect("due");
        b.due(&w, start).expect("due");
        let mut all = Vec::new();
        for minute in 1..=30 {
            let now = start
                .checked_add(jiff::SignedDuration::from_secs(60 * minute))
                .expect("a time");
            // They look in turns, in either order.
            let (first, second) = if minute % 2 == 0 {
                (&mut a, &mut b)
            } else {
                (&mut b, &mut a)
            };
            all.extend(fired(&first.due(&w, now).expect("due")));
            all.extend(fired(&second.due(&w, now).expect("due")));
        }
        let ticks: Vec<Timestamp> = all.iter().map(|(_, t, _)| *t).collect();
        assert_eq!(ticks.len(), 30);
        let mut unique = ticks.clone();
        unique.dedup();
        assert_eq!(unique, ticks);
    }

    fn running_row(run_id: &str, at: &str) -> RunRow {
        RunRow {
            run_id: run_id.into(),
            workflow: "w".into(),
            state: RunState::Running,
            release: Some(t(at)),
            started: t(at),
            ended: None,
            rerun_of: None,
            record: "/r".into(),
            owner: None,
        }
    }

    /// `max_active`: a tick that finds a run going waits for it to end, then
    /// fires (late, and says so); ticks that wait are not claimed.
    #[test]
    fn a_busy_workflows_tick_waits_for_its_run_to_end() {
        let dir = tempfile::tempdir().expect("a folder");
        let store = store(dir.path());
        let w = every("w", "* * * * *", "UTC");
        let mut ticker = Ticker::new(&store, Catchup::Latest, 1, ids());
        ticker.due(&w, t("2026-01-01T00:00:30Z")).expect("due");
        let first = ticker.due(&w, t("2026-01-01T00:01:00Z")).expect("due");
        let Some(Decision::Fire { run_id, .. }) = first.first().cloned() else {
            panic!("fired: {first:?}")
        };
        store
            .add_run(&running_row(&run_id, "2026-01-01T00:01:00Z"))
            .expect("added");
        let second = ticker.due(&w, t("2026-01-01T00:02:00Z")).expect("due");
        assert!(
            matches!(&second[..], [Decision::Waiting { active: 1, .. }]),
            "{second:?}"
        );
        assert_eq!(
            store
                .released_as("w", t("2026-01-01T00:02:00Z"))
                .expect("read"),
            None
        );
        // Still going: it keeps waiting, said once.
        assert!(
            ticker
                .due(&w, t("2026-01-01T00:02:10Z"))
                .expect("due")
                .is_empty()
        );
        store
            .end_run(&run_id, RunState::Success, t("2026-01-01T00:02:30Z"))
            .expect("ended");
        ticker.ended("w");
        let third = ticker.due(&w, t("2026-01-01T00:02:31Z")).expect("due");
        let Some(Decision::Fire { tick, late, .. }) = third.first().cloned() else {
            panic!("fired: {third:?}")
        };
        assert_eq!(tick, t("2026-01-01T00:02:00Z"));
        assert_eq!(late.as_secs(), 31);
    }

    /// `--catchup all` with one run at a time: the missed ticks fire one after
    /// another, oldest first, as each run ends.
    #[test]
    fn catchup_all_with_one_run_at_a_time_fires_in_turn() {
        let dir = tempfile::tempdir().expect("a folder");
        let store = store(dir.path());
        let w = every("w", "0 * * * *", "UTC");
        Ticker::new(&store, Catchup::All, 1, ids())
            .due(&w, t("2026-01-01T00:30:00Z"))
            .expect("due");
        let mut ticker = Ticker::new(&store, Catchup::All, 1, ids());
        let mut fired_ticks = Vec::new();
        let mut now = t("2026-01-01T03:30:00Z");
        for _ in 0..5 {
            for decision in ticker.due(&w, now).expect("due") {
                if let Decision::Fire { tick, .. } = decision {
                    fired_ticks.push(tick);
                    ticker.ended("w");
                }
            }
            now = now
                .checked_add(jiff::SignedDuration::from_secs(1))
                .expect("a time");
        }
        assert_eq!(
            fired_ticks,
            vec![
                t("2026-01-01T01:00:00Z"),
                t("2026-01-01T02:00:00Z"),
                t("2026-01-01T03:00:00Z")
            ]
        );
    }

    /// A tick released by hand is not fired by the scheduler.
    #[test]
    fn a_released_tick_is_not_fired_again() {
        let dir = tempfile::tempdir().expect("a folder");
        let store = store(dir.path());
        let w = every("w", "0 * * * *", "UTC");
        let mut ticker = Ticker::new(&store, Catchup::Latest, 1, ids());
        ticker.due(&w, t("2026-01-01T00:30:00Z")).expect("due");
        store
            .claim_release(
                "w",
                t("2026-01-01T01:00:00Z"),
                "by-hand",
                Claimer::Release,
                false,
            )
            .expect("claimed");
        let decisions = ticker.due(&w, t("2026-01-01T01:00:00Z")).expect("due");
        assert_eq!(
            decisions,
            vec![Decision::Taken {
                workflow: "w".into(),
                tick: t("2026-01-01T01:00:00Z"),
                run_id: "by-hand".into()
            }]
        );
    }
}
