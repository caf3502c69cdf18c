//! The durations and datetimes the scheduler's command line takes (`wfr release
//! --at`, `wfr backfill`), read the same way everywhere.
//!
//! * A duration is a number of days, hours, minutes and seconds, largest first:
//!   `90s`, `10m`, `2h`, `1d`, `1h30m`; a bare number is seconds. At most
//!   [`MAX_DURATION_DAYS`] days.
//! * A datetime is RFC 3339 with an offset or `Z` (`2024-06-01T10:00:00+07:00`), a
//!   local time in the timezone given (`2024-06-01T10:00`, `2024-06-01 10:00:30`),
//!   or a date, meaning its local midnight (`2024-06-01`). A local time the clocks
//!   skip is an error; one that happens twice is its earlier instant, the one a
//!   schedule's tick would be (see [`crate::schedule`]).

use std::time::Duration;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// The longest duration [`parse_duration`] accepts, in days.
pub const MAX_DURATION_DAYS: u64 = 366;

/// What a duration or datetime given on the command line gets wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WhenError {
    #[error(
        "`{text}` is not a duration: {problem}; write seconds (`90` or `90s`), minutes (`10m`), hours (`2h`), days (`1d`) or several of them from the largest (`1h30m`), up to 366 days"
    )]
    Duration { text: String, problem: String },
    #[error(
        "`{text}` is not a date and time: {problem}; write RFC 3339 with an offset (`2024-06-01T10:00:00Z`, `2024-06-01T10:00:00+07:00`), a local time in {zone} (`2024-06-01T10:00`, `2024-06-01 10:00:30`) or a date for its local midnight (`2024-06-01`)"
    )]
    DateTime {
        text: String,
        problem: String,
        zone: String,
    },
    #[error(
        "`{text}` does not exist in {zone}: the clocks skip from {skip_from} to {skip_to} that day; give a time outside that gap, or the offset you mean (`{example}`)"
    )]
    Gap {
        text: String,
        zone: String,
        skip_from: String,
        skip_to: String,
        example: String,
    },
}

/// Reads a duration: `90s`, `10m`, `2h`, `1d`, several of them from the largest
/// (`1d12h`, `1h30m`), or a bare number of seconds.
///
/// # Errors
/// [`WhenError::Duration`] naming what is wrong and the forms accepted.
pub fn parse_duration(text: &str) -> Result<Duration, WhenError> {
    let problem = |problem: String| WhenError::Duration {
        text: text.to_string(),
        problem,
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(problem("it is empty".into()));
    }
    if trimmed.contains(char::is_whitespace) {
        return Err(problem(
            "it has a space (write `1h30m`, not `1h 30m`)".into(),
        ));
    }
    let too_long = || problem(format!("it is longer than {MAX_DURATION_DAYS} days"));
    let mut seconds: u64 = 0;
    // The units still allowed: each once, largest first.
    let mut units: &[(char, u64)] = &[('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(problem(format!("expected a number before `{rest}`")));
        }
        let count: u64 = rest[..digits].parse().map_err(|_| too_long())?;
        rest = &rest[digits..];
        let Some(unit) = rest.chars().next() else {
            if seconds != 0 || units.len() < 4 {
                return Err(problem(format!(
                    "the number `{count}` at the end has no unit"
                )));
            }
            seconds = count;
            break;
        };
        let Some(at) = units.iter().position(|(u, _)| *u == unit) else {
            return Err(problem(if "dhms".contains(unit) {
                format!(
                    "`{unit}` comes after a smaller unit or twice (write the largest first, each once, as `1h30m`)"
                )
            } else {
                format!("`{unit}` is not a unit (`d`, `h`, `m` or `s`)")
            }));
        };
        let part = count.checked_mul(units[at].1).ok_or_else(too_long)?;
        seconds = seconds.checked_add(part).ok_or_else(too_long)?;
        units = &units[at + 1..];
        rest = &rest[unit.len_utf8()..];
    }
    if seconds > MAX_DURATION_DAYS * 86_400 {
        return Err(too_long());
    }
    Ok(Duration::from_secs(seconds))
}

/// Reads a datetime: RFC 3339 with an offset or `Z`; `YYYY-MM-DDTHH:MM[:SS]` (or
/// with a space for the `T`) as a local time in `tz`; `YYYY-MM-DD` as its local
/// midnight. A local time in a fold is its earlier instant.
///
/// # Errors
/// [`WhenError::Gap`] for a local time the clocks skip in `tz`,
/// [`WhenError::DateTime`] for anything else not understood.
pub fn parse_datetime(text: &str, tz: &TimeZone) -> Result<Timestamp, WhenError> {
    let zone = tz
        .iana_name()
        .unwrap_or("the scheduler's timezone")
        .to_string();
    let problem = |problem: String| WhenError::DateTime {
        text: text.to_string(),
        problem,
        zone: zone.clone(),
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(problem("it is empty".into()));
    }
    let Some(local) = local_shape(trimmed) else {
        return trimmed.parse::<Timestamp>().map_err(|e| {
            // Past a date's ten characters, a `Z` or a sign means an offset was meant.
            let tail = trimmed.get(10..).unwrap_or("");
            problem(if tail.contains(['Z', 'z', '+', '-']) {
                format!("it is not RFC 3339 ({e})")
            } else {
                "it is none of the forms accepted".into()
            })
        });
    };
    let date = Date::new(local.year, local.month, local.day).map_err(|_| {
        problem(format!(
            "{:04}-{:02} has no day {}",
            local.year, local.month, local.day
        ))
    })?;
    if !(0..24).contains(&local.hour)
        || !(0..60).contains(&local.minute)
        || !(0..60).contains(&local.second)
    {
        return Err(problem(format!(
            "{:02}:{:02}:{:02} is not a time of day",
            local.hour, local.minute, local.second
        )));
    }
    let time =
        Time::new(local.hour, local.minute, local.second, 0).map_err(|e| problem(e.to_string()))?;
    let civil = date.to_datetime(time);
    let offset = match tz.to_ambiguous_timestamp(civil).offset() {
        AmbiguousOffset::Unambiguous { offset } | AmbiguousOffset::Fold { before: offset, .. } => {
            offset
        }
        AmbiguousOffset::Gap { before, after } => {
            return Err(gap(text, zone, tz, civil, before, after));
        }
    };
    offset
        .to_timestamp(civil)
        .map_err(|e| problem(e.to_string()))
}

/// The numbers of a local date, time or both, as written.
struct Local {
    year: i16,
    month: i8,
    day: i8,
    hour: i8,
    minute: i8,
    second: i8,
}

/// `YYYY-MM-DD`, then optionally `T` (or a space) and `HH:MM` or `HH:MM:SS`;
/// `None` for any other shape. Values are not checked here.
fn local_shape(text: &str) -> Option<Local> {
    let bytes = text.as_bytes();
    let number = |at: usize, len: usize| -> Option<u16> {
        let part = text.get(at..at + len)?;
        if part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let small = |at: usize| number(at, 2).and_then(|n| i8::try_from(n).ok());
    if !matches!(bytes.len(), 10 | 16 | 19)
        || bytes.get(4) != Some(&b'-')
        || bytes.get(7) != Some(&b'-')
    {
        return None;
    }
    let mut local = Local {
        year: i16::try_from(number(0, 4)?).ok()?,
        month: small(5)?,
        day: small(8)?,
        hour: 0,
        minute: 0,
        second: 0,
    };
    if bytes.len() == 10 {
        return Some(local);
    }
    if !matches!(bytes[10], b'T' | b't' | b' ') || bytes[13] != b':' {
        return None;
    }
    local.hour = small(11)?;
    local.minute = small(14)?;
    if bytes.len() == 19 {
        if bytes[16] != b':' {
            return None;
        }
        local.second = small(17)?;
    }
    Some(local)
}

/// The error for a local time in a gap, with the gap's bounds and the time with
/// the offset before the gap, which is likely what was meant.
fn gap(
    text: &str,
    zone: String,
    tz: &TimeZone,
    civil: DateTime,
    before: Offset,
    after: Offset,
) -> WhenError {
    let clock = |dt: DateTime| {
        if dt.second() == 0 {
            dt.strftime("%H:%M").to_string()
        } else {
            dt.strftime("%H:%M:%S").to_string()
        }
    };
    // The transition is the last one at or before the time read with the offset
    // before the gap (that reading lands after the transition).
    let transition = before
        .to_timestamp(civil)
        .ok()
        .and_then(|t| t.checked_add(SignedDuration::from_nanos(1)).ok())
        .and_then(|t| tz.preceding(t).next())
        .map(|transition| transition.timestamp());
    let (skip_from, skip_to) = match transition {
        Some(t) => (clock(before.to_datetime(t)), clock(after.to_datetime(t))),
        None => (format!("offset {before}"), format!("offset {after}")),
    };
    WhenError::Gap {
        text: text.to_string(),
        zone,
        skip_from,
        skip_to,
        example: format!("{}{before}", civil.strftime("%Y-%m-%dT%H:%M:%S")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn durations_in_each_unit_and_combined() {
        for (text, seconds) in [
            ("90s", 90),
            ("10m", 600),
            ("2h", 7_200),
            ("1d", 86_400),
            ("1h30m", 5_400),
            ("1d2h3m4s", 93_784),
            ("1d30s", 86_430),
            ("90", 90),
            ("0", 0),
            ("0s", 0),
            (" 45 ", 45),
            ("366d", 366 * 86_400),
            ("365d23h59m60s", 366 * 86_400),
            ("0031622400", 366 * 86_400),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(seconds)),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_durations_say_why_and_what_is_accepted() {
        for (text, problem) in [
            ("", "it is empty"),
            ("   ", "it is empty"),
            ("367d", "it is longer than 366 days"),
            ("366d1s", "it is longer than 366 days"),
            ("8785h", "it is longer than 366 days"),
            ("31622401", "it is longer than 366 days"),
            ("99999999999999999999s", "it is longer than 366 days"),
            ("9999999999999999d", "it is longer than 366 days"),
            ("1x", "`x` is not a unit (`d`, `h`, `m` or `s`)"),
            ("1H", "`H` is not a unit (`d`, `h`, `m` or `s`)"),
            ("1h 30m", "it has a space (write `1h30m`, not `1h 30m`)"),
            ("1 h", "it has a space (write `1h30m`, not `1h 30m`)"),
            (
                "30m1h",
                "`h` comes after a smaller unit or twice (write the largest first, each once, as `1h30m`)",
            ),
            (
                "1h1h",
                "`h` comes after a smaller unit or twice (write the largest first, each once, as `1h30m`)",
            ),
            ("h", "expected a number before `h`"),
            ("-5s", "expected a number before `-5s`"),
            ("1.5h", "`.` is not a unit (`d`, `h`, `m` or `s`)"),
            ("1h30", "the number `30` at the end has no unit"),
        ] {
            let error = parse_duration(text).unwrap_err();
            assert_eq!(
                error,
                WhenError::Duration {
                    text: text.into(),
                    problem: problem.into()
                },
                "{text}"
            );
        }
        let text = parse_duration("1x").unwrap_err().to_string();
        assert_eq!(
            text,
            "`1x` is not a duration: `x` is not a unit (`d`, `h`, `m` or `s`); write seconds (`90` or `90s`), minutes (`10m`), hours (`2h`), days (`1d`) or several of them from the largest (`1h30m`), up to 366 days"
        );
    }

    #[test]
    fn datetimes_with_an_offset_ignore_the_timezone() {
        let bangkok = tz("Asia/Bangkok");
        for (text, want) in [
            ("2024-06-01T10:00:00Z", "2024-06-01T10:00:00Z"),
            ("2024-06-01T10:00:00+07:00", "2024-06-01T03:00:00Z"),
            ("2024-06-01T10:00:00.250-05:00", "2024-06-01T15:00:00.25Z"),
            (" 2024-06-01T10:00:00z ", "2024-06-01T10:00:00Z"),
        ] {
            assert_eq!(parse_datetime(text, &bangkok), Ok(ts(want)), "{text}");
        }
    }

    #[test]
    fn datetimes_without_an_offset_are_local() {
        let bangkok = tz("Asia/Bangkok");
        for (text, want) in [
            ("2024-06-01T10:00", "2024-06-01T03:00:00Z"),
            ("2024-06-01 10:00", "2024-06-01T03:00:00Z"),
            ("2024-06-01T10:00:30", "2024-06-01T03:00:30Z"),
            ("2024-06-01 10:00:30", "2024-06-01T03:00:30Z"),
            ("2024-06-01", "2024-05-31T17:00:00Z"),
        ] {
            assert_eq!(parse_datetime(text, &bangkok), Ok(ts(want)), "{text}");
        }
        let utc = TimeZone::UTC;
        assert_eq!(
            parse_datetime("2024-02-29", &utc),
            Ok(ts("2024-02-29T00:00:00Z"))
        );
    }

    #[test]
    fn a_local_time_in_a_fold_is_its_first_instant_as_a_tick_is() {
        let new_york = tz("America/New_York");
        let at = parse_datetime("2024-11-03 01:30", &new_york).unwrap();
        assert_eq!(at, ts("2024-11-03T05:30:00Z"));
        let s = crate::schedule::Schedule::new(&crate::ScheduleSpec {
            cron: "30 1 * * *".into(),
            timezone: "America/New_York".into(),
        })
        .unwrap();
        assert!(s.is_tick(at));
        let berlin = tz("Europe/Berlin");
        assert_eq!(
            parse_datetime("2024-10-27T02:30", &berlin),
            Ok(ts("2024-10-27T00:30:00Z"))
        );
    }

    #[test]
    fn a_local_time_in_a_gap_is_an_error_that_names_the_gap() {
        let error = parse_datetime("2024-03-10 02:30", &tz("America/New_York")).unwrap_err();
        assert_eq!(
            error,
            WhenError::Gap {
                text: "2024-03-10 02:30".into(),
                zone: "America/New_York".into(),
                skip_from: "02:00".into(),
                skip_to: "03:00".into(),
                example: "2024-03-10T02:30:00-05".into(),
            }
        );
        assert_eq!(
            error.to_string(),
            "`2024-03-10 02:30` does not exist in America/New_York: the clocks skip from 02:00 to 03:00 that day; give a time outside that gap, or the offset you mean (`2024-03-10T02:30:00-05`)"
        );
        // The example it gives is accepted.
        assert!(parse_datetime("2024-03-10T02:30:00-05", &tz("America/New_York")).is_ok());
        let error = parse_datetime("2024-03-31T02:00:00", &tz("Europe/Berlin")).unwrap_err();
        assert!(
            matches!(&error, WhenError::Gap { skip_from, skip_to, .. } if skip_from == "02:00" && skip_to == "03:00"),
            "{error:?}"
        );
        // Lord Howe moves its clocks by half an hour.
        let error = parse_datetime("2024-10-06 02:15", &tz("Australia/Lord_Howe")).unwrap_err();
        assert!(
            matches!(&error, WhenError::Gap { skip_from, skip_to, .. } if skip_from == "02:00" && skip_to == "02:30"),
            "{error:?}"
        );
        // A date whose midnight is skipped (Santiago moves its clocks at midnight).
        let error = parse_datetime("2024-09-08", &tz("America/Santiago")).unwrap_err();
        assert!(
            matches!(&error, WhenError::Gap { skip_from, skip_to, .. } if skip_from == "00:00" && skip_to == "01:00"),
            "{error:?}"
        );
    }

    #[test]
    fn bad_datetimes_say_why_and_what_is_accepted() {
        let utc = TimeZone::UTC;
        for (text, problem) in [
            ("", "it is empty"),
            ("tomorrow", "it is none of the forms accepted"),
            ("2024-06-01T10", "it is none of the forms accepted"),
            ("2024-6-1", "it is none of the forms accepted"),
            ("2024-06-01T10:00:00.5", "it is none of the forms accepted"),
            ("2024-02-30", "2024-02 has no day 30"),
            ("2023-02-29 10:00", "2023-02 has no day 29"),
            ("2024-13-01", "2024-13 has no day 1"),
            ("2024-06-01T24:00", "24:00:00 is not a time of day"),
            ("2024-06-01 10:60", "10:60:00 is not a time of day"),
            ("2024-06-01 10:00:61", "10:00:61 is not a time of day"),
        ] {
            let error = parse_datetime(text, &utc).unwrap_err();
            assert_eq!(
                error,
                WhenError::DateTime {
                    text: text.into(),
                    problem: problem.into(),
                    zone: "UTC".into()
                },
                "{text}"
            );
        }
        let error = parse_datetime("2024-06-01T10:00:00+99:00", &utc).unwrap_err();
        assert!(
            matches!(&error, WhenError::DateTime { problem, .. } if problem.starts_with("it is not RFC 3339 (")),
            "{error:?}"
        );
        assert_eq!(
            parse_datetime("soon", &tz("Asia/Bangkok"))
                .unwrap_err()
                .to_string(),
            "`soon` is not a date and time: it is none of the forms accepted; write RFC 3339 with an offset (`2024-06-01T10:00:00Z`, `2024-06-01T10:00:00+07:00`), a local time in Asia/Bangkok (`2024-06-01T10:00`, `2024-06-01 10:00:30`) or a date for its local midnight (`2024-06-01`)"
        );
    }
}
