//! When a workflow's `on.schedule` fires: the ticks of its crons in their timezone,
//! for the runtime's scheduler (`wfr schedule`), for checking a release time
//! (`wfr release --at`) and for listing missed ones (`wfr backfill`).
//!
//! A cron matches civil (wall-clock) minutes in its timezone ([`crate::cron`] says
//! which); a tick is the instant such a minute starts, always at its second 0. Local
//! times map to instants by these rules:
//!
//! * **Gaps are skipped.** A local time that does not exist, because the clocks jump
//!   over it (spring forward), is no tick: `30 2 * * *` in `America/New_York` does
//!   not fire on the day daylight saving time starts, and `*/30 * * * *` gives no
//!   02:00 and 02:30 that night. Nothing fires in its place.
//! * **Folds fire once, at the first instant.** A local time that happens twice,
//!   because the clocks go back (fall back), is one tick, at its earlier instant (the
//!   one with the offset before the change): `30 1 * * *` fires once on that day in
//!   `America/New_York`, at 01:30 daylight time; `*/30 * * * *` gives 01:00 and 01:30
//!   daylight time, then 02:00 standard time, and not the second 01:00 and 01:30.
//!
//! With these rules ticks are strictly increasing instants, and a time is a tick
//! exactly when [`Schedule::is_tick`] says so. Searches go no further than the years
//! a cron can have ([`crate::cron::FIRST_YEAR`] to [`crate::cron::LAST_YEAR`]) and
//! skip whole years, months, days and hours that cannot match, so a cron that never
//! fires (`0 0 31 2 *`) answers `None` at once and a yearly one does not walk its
//! year minute by minute.
//!
//! A workflow's list of schedules ([`Schedules`]) fires at the union of their ticks;
//! two crons that fire at one instant give one tick.

use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::{SignedDuration, Timestamp, ZonedDateTime, civil::DateTime};

use crate::ScheduleSpec;
use crate::cron::{self, Cron, CronError};

/// Why a schedule cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The cron expression is not one the compiler accepts (a plan not made by
    /// `wfc`, or made before a change to the cron language).
    #[error(
        "invalid cron `{cron}`: {error}; fix `cronjob` in the workflow's `on.schedule` (fields are `minute hour day month weekday [year]`, or an alias such as `@daily`) and compile it again"
    )]
    Cron { cron: String, error: CronError },
    /// The timezone name is not in this machine's time zone database.
    #[error(
        "unknown timezone `{timezone}` for the schedule `{cron}` ({reason}); use an IANA timezone name such as `UTC` or `Asia/Bangkok`, or install the system's time zone database (tzdata) if the name is right"
    )]
    TimeZone {
        cron: String,
        timezone: String,
        reason: String,
    },
}

/// One firing of a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tick {
    /// The instant it fires (second 0 of a minute).
    pub at: Timestamp,
    /// The same instant in the schedule's timezone.
    pub local: ZonedDateTime,
}

/// One cron in its timezone.
#[derive(Clone, Debug)]
pub struct Schedule {
    spec: ScheduleSpec,
    cron: Cron,
    tz: TimeZone,
}

impl Schedule {
    /// Reads a plan's schedule entry.
    ///
    /// # Errors
    /// [`ScheduleError::Cron`] for an expression the compiler would refuse,
    /// [`ScheduleError::TimeZone`] for a timezone this machine does not know.
    pub fn new(spec: &ScheduleSpec) -> Result<Schedule, ScheduleError> {
        let cron = cron::parse(&spec.cron).map_err(|error| ScheduleError::Cron {
            cron: spec.cron.clone(),
            error,
        })?;
        let tz = time_zone(&spec.timezone).map_err(|e| ScheduleError::TimeZone {
            cron: spec.cron.clone(),
            timezone: spec.timezone.clone(),
            reason: e.to_string(),
        })?;
        Ok(Schedule {
            spec: spec.clone(),
            cron,
            tz,
        })
    }

    /// The entry it was read from.
    #[must_use]
    pub fn spec(&self) -> &ScheduleSpec {
        &self.spec
    }

    /// The parsed cron.
    #[must_use]
    pub fn cron(&self) -> &Cron {
        &self.cron
    }

    /// The timezone its cron is read in.
    #[must_use]
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The first tick strictly after `t`.
    #[must_use]
    pub fn next_after(&self, t: Timestamp) -> Option<Tick> {
        self.first_from(t, false)
    }

    /// The first tick at or after `t`.
    #[must_use]
    pub fn first_at_or_after(&self, t: Timestamp) -> Option<Tick> {
        self.first_from(t, true)
    }

    /// The last tick at or before `t`.
    #[must_use]
    pub fn last_at_or_before(&self, t: Timestamp) -> Option<Tick> {
        // A local time later than `t`'s can still start before `t`: when `t` is in
        // the second pass of a fold, the first pass of a later local time came
        // earlier. So start from `t` read with the largest offset of the last two
        // days, and pass over the candidates that start after `t`.
        let start = widest_offset(&self.tz, t).to_datetime(t);
        let mut civil = self.cron.last_at_or_before(start)?;
        loop {
            if let Some(at) = self.instant(civil)
                && at <= t
            {
                return Some(self.tick(at));
            }
            civil = self.cron.last_before(civil)?;
        }
    }

    /// Whether `t` is a tick: second 0 of a minute whose local time the cron
    /// matches, and not the second pass of a fold.
    #[must_use]
    pub fn is_tick(&self, t: Timestamp) -> bool {
        let civil = self.tz.to_datetime(t);
        civil.second() == 0
            && civil.subsec_nanosecond() == 0
            && self.cron.matches(civil)
            && self.instant(civil) == Some(t)
    }

    /// The ticks from `from` to `to`, both included, oldest first, found as the
    /// iterator is read.
    #[must_use]
    pub fn ticks(&self, from: Timestamp, to: Timestamp) -> Ticks<'_> {
        Ticks::new(std::slice::from_ref(self), from, to)
    }

    /// The tick at or before `t` and the one after it, to say in a message which
    /// times would do.
    #[must_use]
    pub fn nearest(&self, t: Timestamp) -> (Option<Tick>, Option<Tick>) {
        (self.last_at_or_before(t), self.next_after(t))
    }

    fn first_from(&self, t: Timestamp, inclusive: bool) -> Option<Tick> {
        // Local times only start later than `t` from `t`'s own local time on (see
        // the module doc); those in the second pass of a fold start before it.
        let mut civil = self.cron.next_at_or_after(self.tz.to_datetime(t))?;
        loop {
            if let Some(at) = self.instant(civil)
                && (at > t || (inclusive && at == t))
            {
                return Some(self.tick(at));
            }
            civil = self.cron.next_after(civil)?;
        }
    }

    /// The instant a local time fires at: `None` in a gap, the earlier one in a fold.
    fn instant(&self, civil: DateTime) -> Option<Timestamp> {
        let offset = match self.tz.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset }
            | AmbiguousOffset::Fold { before: offset, .. } => offset,
            AmbiguousOffset::Gap { .. } => return None,
        };
        offset.to_timestamp(civil).ok()
    }

    fn tick(&self, at: Timestamp) -> Tick {
        Tick {
            at,
            local: at.to_zoned_datetime(self.tz.clone()),
        }
    }
}

/// The largest offset `tz` has between two days before `t` and `t`: reading `t`
/// with it gives a local time at or after every local time that starts by `t`.
fn widest_offset(tz: &TimeZone, t: Timestamp) -> Offset {
    let mut widest = tz.to_offset(t);
    let since = t
        .checked_sub(SignedDuration::from_hours(48))
        .unwrap_or(Timestamp::MIN);
    for transition in tz.preceding(t) {
        if transition.timestamp() < since {
            break;
        }
        if let Ok(just_before) = transition
            .timestamp()
            .checked_sub(SignedDuration::from_nanos(1))
        {
            widest = widest.max(tz.to_offset(just_before));
        }
    }
    widest
}

/// The timezone named `name` (IANA): UTC without a lookup; else its TZif file
/// read directly (`$TZDIR`, else `/usr/share/zoneinfo`), and only when there is
/// none, jiff's database. jiff's first lookup indexes the whole zoneinfo folder
/// (about 3 ms), which a `wfr release` started per tick would pay each time.
///
/// # Errors
/// A name no database knows.
pub fn time_zone(name: &str) -> Result<TimeZone, jiff::Error> {
    if matches!(name, "UTC" | "Etc/UTC" | "Z") {
        return Ok(TimeZone::UTC);
    }
    let safe = !name.is_empty()
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b));
    if safe {
        let dir = std::env::var_os("TZDIR")
            .filter(|d| !d.is_empty())
            .map_or_else(
                || std::path::PathBuf::from("/usr/share/zoneinfo"),
                Into::into,
            );
        if let Ok(data) = std::fs::read(dir.join(name))
            && let Ok(tz) = TimeZone::tzif(name, &data)
        {
            return Ok(tz);
        }
    }
    TimeZone::get(name)
}

/// A workflow's schedules: it fires at the union of their ticks.
#[derive(Clone, Debug, Default)]
pub struct Schedules {
    list: Vec<Schedule>,
}

impl Schedules {
    /// Reads a plan's `schedule` list (an empty list never fires).
    ///
    /// # Errors
    /// The first entry that cannot be read, as [`Schedule::new`] says.
    pub fn new(specs: &[ScheduleSpec]) -> Result<Schedules, ScheduleError> {
        Ok(Schedules {
            list: specs.iter().map(Schedule::new).collect::<Result<_, _>>()?,
        })
    }

    /// The schedules, in the plan's order.
    #[must_use]
    pub fn as_slice(&self) -> &[Schedule] {
        &self.list
    }

    /// Whether there are none (nothing ever fires).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The first tick of any schedule strictly after `t`. When several fire at
    /// that instant, the tick is the first listed one's (its `local` in that
    /// one's timezone).
    #[must_use]
    pub fn next_after(&self, t: Timestamp) -> Option<Tick> {
        earliest(self.list.iter().map(|s| s.next_after(t)))
    }

    /// The first tick of any schedule at or after `t`.
    #[must_use]
    pub fn first_at_or_after(&self, t: Timestamp) -> Option<Tick> {
        earliest(self.list.iter().map(|s| s.first_at_or_after(t)))
    }

    /// The last tick of any schedule at or before `t`.
    #[must_use]
    pub fn last_at_or_before(&self, t: Timestamp) -> Option<Tick> {
        let mut latest: Option<Tick> = None;
        for tick in self.list.iter().filter_map(|s| s.last_at_or_before(t)) {
            if latest.as_ref().is_none_or(|l| tick.at > l.at) {
                latest = Some(tick);
            }
        }
        latest
    }

    /// Whether any schedule fires at `t`.
    #[must_use]
    pub fn is_tick(&self, t: Timestamp) -> bool {
        self.list.iter().any(|s| s.is_tick(t))
    }

    /// The union's ticks from `from` to `to`, both included, oldest first, each
    /// instant once, found as the iterator is read.
    #[must_use]
    pub fn ticks(&self, from: Timestamp, to: Timestamp) -> Ticks<'_> {
        Ticks::new(&self.list, from, to)
    }

    /// The tick at or before `t` and the one after it.
    #[must_use]
    pub fn nearest(&self, t: Timestamp) -> (Option<Tick>, Option<Tick>) {
        (self.last_at_or_before(t), self.next_after(t))
    }
}

/// The earliest tick, the first one of those at the same instant.
fn earliest(ticks: impl Iterator<Item = Option<Tick>>) -> Option<Tick> {
    let mut first: Option<Tick> = None;
    for tick in ticks.flatten() {
        if first.as_ref().is_none_or(|f| tick.at < f.at) {
            first = Some(tick);
        }
    }
    first
}

/// The ticks of one or more schedules in a window, oldest first: each schedule's
/// next tick is kept, and the earliest is taken (those at the same instant with it).
#[derive(Debug)]
pub struct Ticks<'a> {
    schedules: &'a [Schedule],
    heads: Vec<Option<Tick>>,
    to: Timestamp,
}

impl<'a> Ticks<'a> {
    fn new(schedules: &'a [Schedule], from: Timestamp, to: Timestamp) -> Ticks<'a> {
        let heads = schedules
            .iter()
            .map(|s| {
                if from > to {
                    None
                } else {
                    s.first_at_or_after(from).filter(|tick| tick.at <= to)
                }
            })
            .collect();
        Ticks {
            schedules,
            heads,
            to,
        }
    }
}

impl Iterator for Ticks<'_> {
    type Item = Tick;

    fn next(&mut self) -> Option<Tick> {
        let at = self.heads.iter().flatten().map(|tick| tick.at).min()?;
        let mut out = None;
        for (head, schedule) in self.heads.iter_mut().zip(self.schedules) {
            if head.as_ref().is_some_and(|tick| tick.at == at) {
                let next = schedule.next_after(at).filter(|tick| tick.at <= self.to);
                let taken = std::mem::replace(head, next);
                if out.is_none() {
                    out = taken;
                }
            }
        }
        out
    }
}

impl std::iter::FusedIterator for Ticks<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(cron: &str, timezone: &str) -> ScheduleSpec {
        ScheduleSpec {
            cron: cron.into(),
            timezone: timezone.into(),
        }
    }

    fn schedule(cron: &str, timezone: &str) -> Schedule {
        Schedule::new(&spec(cron, timezone)).unwrap()
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn instants(ticks: impl Iterator<Item = Tick>) -> Vec<String> {
        ticks.map(|t| t.at.to_string()).collect()
    }

    fn locals(ticks: impl Iterator<Item = Tick>) -> Vec<String> {
        ticks
            .map(|t| t.local.strftime("%Y-%m-%d %H:%M %Z").to_string())
            .collect()
    }

    /// A zone read from its file is the zone jiff's database gives; names that
    /// are not plain zone names go to the database (and fail there).
    #[test]
    fn zones_read_directly_are_the_databases() {
        for name in [
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
            "Asia/Bangkok",
        ] {
            let direct = time_zone(name).expect("a zone");
            let db = TimeZone::get(name).expect("a zone");
            for second in [0_i64, 1_700_000_000, 1_774_746_000, 1_792_000_000] {
                let at = Timestamp::from_second(second).expect("a time");
                assert_eq!(direct.to_offset(at), db.to_offset(at), "{name} at {at}");
            }
        }
        assert_eq!(time_zone("UTC").expect("UTC"), TimeZone::UTC);
        assert!(time_zone("../../etc/passwd").is_err());
        assert!(time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn next_is_strictly_after_and_first_is_inclusive() {
        let s = schedule("*/15 * * * *", "UTC");
        let t = ts("2024-05-01T10:15:00Z");
        assert_eq!(s.next_after(t).unwrap().at, ts("2024-05-01T10:30:00Z"));
        assert_eq!(s.first_at_or_after(t).unwrap().at, t);
        assert_eq!(s.last_at_or_before(t).unwrap().at, t);
        let between = ts("2024-05-01T10:15:00.000000001Z");
        assert_eq!(
            s.first_at_or_after(between).unwrap().at,
            ts("2024-05-01T10:30:00Z")
        );
        assert_eq!(s.last_at_or_before(between).unwrap().at, t);
        assert_eq!(s.nearest(ts("2024-05-01T10:20:00Z")).0.unwrap().at, t);
        assert_eq!(
            s.nearest(ts("2024-05-01T10:20:00Z")).1.unwrap().at,
            ts("2024-05-01T10:30:00Z")
        );
    }

    #[test]
    fn ticks_are_in_the_schedules_timezone() {
        let s = schedule("0 9 * * MON-FRI", "Asia/Bangkok");
        // Friday 2024-05-03 09:00 in Bangkok (UTC+7), then Monday 2024-05-06.
        let tick = s.next_after(ts("2024-05-03T00:00:00Z")).unwrap();
        assert_eq!(tick.at, ts("2024-05-03T02:00:00Z"));
        assert_eq!(
            tick.local.strftime("%Y-%m-%d %H:%M %:z").to_string(),
            "2024-05-03 09:00 +07:00"
        );
        assert_eq!(tick.local.time_zone().iana_name(), Some("Asia/Bangkok"));
        assert_eq!(
            s.next_after(tick.at).unwrap().at,
            ts("2024-05-06T02:00:00Z")
        );
        assert!(s.is_tick(ts("2024-05-06T02:00:00Z")));
        assert!(
            !s.is_tick(ts("2024-05-06T09:00:00Z")),
            "09:00 UTC is not 09:00 in Bangkok"
        );
    }

    #[test]
    fn a_time_with_seconds_is_no_tick() {
        let s = schedule("* * * * *", "UTC");
        assert!(s.is_tick(ts("2024-05-01T10:15:00Z")));
        assert!(!s.is_tick(ts("2024-05-01T10:15:01Z")));
        assert!(!s.is_tick(ts("2024-05-01T10:15:00.5Z")));
        assert!(!s.is_tick(ts("2024-05-01T10:15:00.000000001Z")));
        for tick in s.ticks(ts("2024-05-01T10:15:00.5Z"), ts("2024-05-01T10:20:59Z")) {
            assert_eq!(tick.at.subsec_nanosecond(), 0);
            assert_eq!(tick.at.as_second().rem_euclid(60), 0);
        }
        assert_eq!(
            s.ticks(ts("2024-05-01T10:15:00.5Z"), ts("2024-05-01T10:20:59Z"))
                .count(),
            5
        );
    }

    #[test]
    fn new_york_spring_forward_skips_the_missing_time() {
        // 2024-03-10: 02:00 EST becomes 03:00 EDT.
        let s = schedule("30 2 * * *", "America/New_York");
        let days = locals(s.ticks(ts("2024-03-08T12:00:00Z"), ts("2024-03-12T12:00:00Z")));
        assert_eq!(
            days,
            [
                "2024-03-09 02:30 EST",
                "2024-03-11 02:30 EDT",
                "2024-03-12 02:30 EDT"
            ]
        );
        let saturday = ts("2024-03-09T07:30:00Z");
        assert_eq!(
            s.next_after(saturday).unwrap().at,
            ts("2024-03-11T06:30:00Z")
        );
        assert_eq!(
            s.last_at_or_before(ts("2024-03-11T06:29:00Z")).unwrap().at,
            saturday
        );
        // 03:30 EDT is the instant 02:30 EST would have named: it is no tick.
        assert!(!s.is_tick(ts("2024-03-10T07:30:00Z")));
        let half_hours = schedule("*/30 * * * *", "America/New_York");
        let night =
            locals(half_hours.ticks(ts("2024-03-10T06:00:00Z"), ts("2024-03-10T07:30:00Z")));
        assert_eq!(
            night,
            [
                "2024-03-10 01:00 EST",
                "2024-03-10 01:30 EST",
                "2024-03-10 03:00 EDT",
                "2024-03-10 03:30 EDT"
            ]
        );
    }

    #[test]
    fn new_york_fall_back_fires_once_at_the_first_pass() {
        // 2024-11-03: 02:00 EDT becomes 01:00 EST; 01:00-01:59 happen twice.
        let s = schedule("30 1 * * *", "America/New_York");
        let days = instants(s.ticks(ts("2024-11-02T00:00:00Z"), ts("2024-11-05T00:00:00Z")));
        assert_eq!(
            days,
            [
                "2024-11-02T05:30:00Z",
                "2024-11-03T05:30:00Z",
                "2024-11-04T06:30:00Z"
            ]
        );
        assert!(s.is_tick(ts("2024-11-03T05:30:00Z")));
        assert!(
            !s.is_tick(ts("2024-11-03T06:30:00Z")),
            "the second 01:30 is no tick"
        );
        assert_eq!(
            s.next_after(ts("2024-11-03T05:30:00Z")).unwrap().at,
            ts("2024-11-04T06:30:00Z")
        );
        // From within the second pass, the last tick is the first pass's 01:30.
        assert_eq!(
            s.last_at_or_before(ts("2024-11-03T06:45:00Z")).unwrap().at,
            ts("2024-11-03T05:30:00Z")
        );

        let half_hours = schedule("*/30 * * * *", "America/New_York");
        let night =
            locals(half_hours.ticks(ts("2024-11-03T04:00:00Z"), ts("2024-11-03T08:00:00Z")));
        assert_eq!(
            night,
            [
                "2024-11-03 00:00 EDT",
                "2024-11-03 00:30 EDT",
                "2024-11-03 01:00 EDT",
                "2024-11-03 01:30 EDT",
                "2024-11-03 02:00 EST",
                "2024-11-03 02:30 EST",
                "2024-11-03 03:00 EST",
            ]
        );
        let second_pass = ts("2024-11-03T06:10:00Z");
        assert_eq!(
            half_hours.last_at_or_before(second_pass).unwrap().at,
            ts("2024-11-03T05:30:00Z")
        );
        assert_eq!(
            half_hours.next_after(second_pass).unwrap().at,
            ts("2024-11-03T07:00:00Z")
        );
        assert_eq!(
            half_hours
                .next_after(ts("2024-11-03T05:30:00Z"))
                .unwrap()
                .at,
            ts("2024-11-03T07:00:00Z")
        );
        assert_eq!(
            half_hours
                .last_at_or_before(ts("2024-11-03T06:59:59Z"))
                .unwrap()
                .at,
            ts("2024-11-03T05:30:00Z")
        );
    }

    #[test]
    fn berlin_skips_the_gap_and_fires_once_in_the_fold() {
        // 2024-03-31: 02:00 CET becomes 03:00 CEST. 2024-10-27: 03:00 CEST becomes 02:00 CET.
        let s = schedule("30 2 * * *", "Europe/Berlin");
        let spring = locals(s.ticks(ts("2024-03-29T12:00:00Z"), ts("2024-04-01T12:00:00Z")));
        assert_eq!(spring, ["2024-03-30 02:30 CET", "2024-04-01 02:30 CEST"]);
        let autumn = instants(s.ticks(ts("2024-10-26T00:00:00Z"), ts("2024-10-28T12:00:00Z")));
        assert_eq!(
            autumn,
            [
                "2024-10-26T00:30:00Z",
                "2024-10-27T00:30:00Z",
                "2024-10-28T01:30:00Z"
            ]
        );
        // Every minute through the fold: each local minute once, and no instant twice.
        let every = schedule("* * * * *", "Europe/Berlin");
        let ticks: Vec<Tick> = every
            .ticks(ts("2024-10-26T23:00:00Z"), ts("2024-10-27T02:59:00Z"))
            .collect();
        // 4 hours of instants minus the 60 minutes of the second pass.
        assert_eq!(ticks.len(), 4 * 60 - 60);
        let mut local: Vec<DateTime> = ticks.iter().map(|t| t.local.datetime()).collect();
        local.dedup();
        assert_eq!(local.len(), ticks.len());
        assert_eq!(
            ticks[0].local.datetime(),
            "2024-10-27T01:00".parse().unwrap()
        );
        assert_eq!(
            ticks.last().unwrap().local.datetime(),
            "2024-10-27T03:59".parse().unwrap()
        );
    }

    /// Every claim about ticks at once, over windows that hold DST changes.
    #[test]
    fn ticks_are_increasing_and_agree_with_the_other_questions() {
        let crons = [
            "*/7 * * * *",
            "30 1,2 * * *",
            "0 0-3 * * SUN",
            "59 * * * *",
            "0 2 * 3,10,11 *",
        ];
        let zones = [
            "America/New_York",
            "Europe/Berlin",
            "Australia/Lord_Howe",
            "UTC",
            "Asia/Kolkata",
        ];
        let windows = [
            ("2024-03-09T00:00:00Z", "2024-03-11T12:00:00Z"),
            ("2024-03-30T00:00:00Z", "2024-04-01T00:00:00Z"),
            ("2024-04-06T00:00:00Z", "2024-04-08T00:00:00Z"),
            ("2024-10-05T12:00:00Z", "2024-10-07T00:00:00Z"),
            ("2024-10-26T12:00:00Z", "2024-10-28T00:00:00Z"),
            ("2024-11-02T12:00:00Z", "2024-11-04T00:00:00Z"),
        ];
        for cron in crons {
            for zone in zones {
                let s = schedule(cron, zone);
                for (from, to) in windows {
                    let (from, to) = (ts(from), ts(to));
                    let ticks: Vec<Tick> = s.ticks(from, to).collect();
                    // Every minute of the window that is_tick says fires, and no other.
                    let mut minute = from;
                    let mut fired = Vec::new();
                    while minute <= to {
                        if s.is_tick(minute) {
                            fired.push(minute);
                        }
                        minute += SignedDuration::from_mins(1);
                    }
                    let at: Vec<Timestamp> = ticks.iter().map(|t| t.at).collect();
                    assert_eq!(at, fired, "{cron} in {zone} from {from}");
                    // From times between ticks (every 13 minutes and 7 seconds, so
                    // also inside folds), the ticks around them are those of the list.
                    let mut t = from + SignedDuration::from_hours(3);
                    while t <= to - SignedDuration::from_hours(3) {
                        let before = fired.iter().rev().find(|f| **f <= t);
                        let after = fired.iter().find(|f| **f > t);
                        let (last, next) = s.nearest(t);
                        if let Some(before) = before {
                            assert_eq!(
                                last.map(|l| l.at).as_ref(),
                                Some(before),
                                "{cron} in {zone} before {t}"
                            );
                        }
                        if let Some(after) = after {
                            assert_eq!(
                                next.map(|n| n.at).as_ref(),
                                Some(after),
                                "{cron} in {zone} after {t}"
                            );
                        }
                        t += SignedDuration::from_secs(13 * 60 + 7);
                    }
                    for pair in ticks.windows(2) {
                        assert!(pair[0].at < pair[1].at, "{cron} in {zone}");
                        assert_eq!(s.next_after(pair[0].at).as_ref(), Some(&pair[1]));
                        let just_before = pair[1].at - SignedDuration::from_nanos(1);
                        assert_eq!(s.last_at_or_before(just_before).as_ref(), Some(&pair[0]));
                    }
                    for tick in &ticks {
                        assert_eq!(tick.local.timestamp(), tick.at);
                        assert_eq!(tick.local.second(), 0);
                        assert!(s.cron().matches(tick.local.datetime()));
                        assert_eq!(s.last_at_or_before(tick.at).as_ref(), Some(tick));
                    }
                }
            }
        }
    }

    #[test]
    fn sparse_and_impossible_crons_answer_at_once() {
        let yearly = schedule("0 0 1 1 *", "UTC");
        let t = ts("2024-01-01T00:00:00Z");
        assert_eq!(yearly.next_after(t).unwrap().at, ts("2025-01-01T00:00:00Z"));
        assert_eq!(
            yearly
                .last_at_or_before(t - SignedDuration::from_secs(1))
                .unwrap()
                .at,
            ts("2023-01-01T00:00:00Z")
        );
        let mut n = 0;
        let mut at = ts("1980-01-01T00:00:00Z");
        while let Some(tick) = yearly.next_after(at) {
            at = tick.at;
            n += 1;
        }
        assert_eq!(n, 2100 - 1990 + 1);
        assert_eq!(at, ts("2100-01-01T00:00:00Z"));
        let one = schedule("0 0 1 1 * 2100", "Pacific/Kiritimati");
        assert_eq!(one.next_after(Timestamp::MIN).unwrap().local.year(), 2100);
        assert_eq!(
            one.last_at_or_before(Timestamp::MAX).unwrap().local.year(),
            2100
        );
        for cron in ["0 0 31 2 *", "0 0 30 2 * 2024-2030", "0 0 31 4,6,9,11 *"] {
            let never = schedule(cron, "Europe/Berlin");
            assert_eq!(never.next_after(Timestamp::MIN), None);
            assert_eq!(never.last_at_or_before(Timestamp::MAX), None);
            assert_eq!(never.nearest(t), (None, None));
            assert_eq!(never.ticks(Timestamp::MIN, Timestamp::MAX).next(), None);
            assert!(!never.is_tick(t));
        }
    }

    #[test]
    fn searches_stop_at_the_years_a_cron_can_have() {
        let every = schedule("* * * * *", "UTC");
        assert_eq!(every.next_after(ts("2100-12-31T23:59:00Z")), None);
        assert_eq!(every.next_after(ts("2200-01-01T00:00:00Z")), None);
        assert_eq!(every.last_at_or_before(ts("1989-12-31T23:59:00Z")), None);
        assert_eq!(
            every.first_at_or_after(Timestamp::MIN).unwrap().at,
            ts("1990-01-01T00:00:00Z")
        );
        assert_eq!(
            every.last_at_or_before(Timestamp::MAX).unwrap().at,
            ts("2100-12-31T23:59:00Z")
        );
        assert!(!every.is_tick(ts("2101-01-01T00:00:00Z")));
        let reversed = every.ticks(ts("2024-01-02T00:00:00Z"), ts("2024-01-01T00:00:00Z"));
        assert_eq!(reversed.count(), 0);
    }

    #[test]
    fn schedules_fire_at_the_union_once_per_instant() {
        let both = Schedules::new(&[
            spec("0 * * * *", "UTC"),
            spec("*/30 * * * *", "UTC"),
            spec("15 10 * * *", "UTC"),
        ])
        .unwrap();
        let got = instants(both.ticks(ts("2024-05-01T09:50:00Z"), ts("2024-05-01T11:00:00Z")));
        assert_eq!(
            got,
            [
                "2024-05-01T10:00:00Z",
                "2024-05-01T10:15:00Z",
                "2024-05-01T10:30:00Z",
                "2024-05-01T11:00:00Z"
            ]
        );
        assert_eq!(
            both.next_after(ts("2024-05-01T10:00:00Z")).unwrap().at,
            ts("2024-05-01T10:15:00Z")
        );
        assert_eq!(
            both.last_at_or_before(ts("2024-05-01T10:29:00Z"))
                .unwrap()
                .at,
            ts("2024-05-01T10:15:00Z")
        );
        assert!(both.is_tick(ts("2024-05-01T10:15:00Z")));
        assert!(!both.is_tick(ts("2024-05-01T10:16:00Z")));
        assert_eq!(
            both.nearest(ts("2024-05-01T10:20:00Z")),
            (
                both.first_at_or_after(ts("2024-05-01T10:15:00Z")),
                both.next_after(ts("2024-05-01T10:16:00Z"))
            )
        );
        // Two timezones naming one instant: one tick, the first listed one's.
        let apart = Schedules::new(&[
            spec("0 19 * * *", "Asia/Bangkok"),
            spec("0 12 * * *", "UTC"),
        ])
        .unwrap();
        let ticks: Vec<Tick> = apart
            .ticks(ts("2024-05-01T00:00:00Z"), ts("2024-05-02T23:59:00Z"))
            .collect();
        assert_eq!(ticks.len(), 2);
        assert_eq!(ticks[0].at, ts("2024-05-01T12:00:00Z"));
        assert_eq!(ticks[0].local.time_zone().iana_name(), Some("Asia/Bangkok"));
        assert_eq!(
            apart.next_after(ts("2024-05-01T00:00:00Z")),
            Some(ticks[0].clone())
        );
        let none = Schedules::new(&[]).unwrap();
        assert!(none.is_empty());
        assert_eq!(none.nearest(ts("2024-05-01T00:00:00Z")), (None, None));
        assert_eq!(none.ticks(Timestamp::MIN, Timestamp::MAX).count(), 0);
        assert_eq!(both.as_slice().len(), 3);
        assert_eq!(both.as_slice()[2].spec(), &spec("15 10 * * *", "UTC"));
    }

    #[test]
    fn bad_entries_say_what_and_how_to_fix_it() {
        let error = Schedule::new(&spec("0 24 * * *", "UTC")).unwrap_err();
        let ScheduleError::Cron { cron, error: inner } = &error else {
            panic!("{error:?}");
        };
        assert_eq!((cron.as_str(), inner.range.clone()), ("0 24 * * *", 2..4));
        let text = error.to_string();
        assert!(text.starts_with("invalid cron `0 24 * * *`: 24 is out of range for the hour field (0-23); fix `cronjob`"), "{text}");
        let error = Schedules::new(&[spec("@daily", "UTC"), spec("@hourly", "Mars/Olympus_Mons")])
            .unwrap_err();
        assert!(
            matches!(&error, ScheduleError::TimeZone { cron, timezone, .. } if cron == "@hourly" && timezone == "Mars/Olympus_Mons")
        );
        let text = error.to_string();
        assert!(
            text.starts_with("unknown timezone `Mars/Olympus_Mons` for the schedule `@hourly` ("),
            "{text}"
        );
        assert!(
            text.contains("use an IANA timezone name such as `UTC`"),
            "{text}"
        );
    }
}
