//! Cron expressions as ddeutil-workflow reads them, in one place for the compiler
//! (which validates `on.schedule`) and the runtime (which computes ticks through
//! [`crate::schedule`]): five fields (`minute hour day month weekday`), six with a
//! trailing year, or an `@alias`. Hand-written because the cron crates take seconds as
//! the sixth field and do not say which field, and where in it, is wrong.
//!
//! A field is a list of items (`a,b`); an item is `*`, a value, a range `a-b`, any of
//! those with a step (`*/15`, `0-30/10`, `5/15`), or `?`. Months and weekdays also take
//! their three-letter English names, in any case (`JAN`, `mon`). Weekdays run from 0
//! (Sunday) to 6; years from 1990 to 2100.
//!
//! What a parsed [`Cron`] matches:
//!
//! * A civil (wall-clock) minute matches when every field holds its value. The day of
//!   the month and the weekday must **both** match, as upstream has it
//!   (`0 0 13 * FRI` is every Friday the 13th, not every 13th and every Friday as in
//!   Vixie cron). A day the month does not have never matches (`0 0 31 * *` skips
//!   30-day months; `0 0 31 2 *` never matches).
//! * `a/s` runs from `a` to the field's end (`5/15` in the minute field is 5, 20, 35
//!   and 50), as in Vixie cron and as upstream's documentation describes it (upstream's
//!   code keeps only `a`).
//! * `?` means "no restriction" when it is the whole field (upstream's documentation;
//!   upstream's code then never finds a time); in a list beside other items it adds
//!   nothing (`1,?` is `1`), as upstream.
//! * Aliases are upstream's table: `@yearly` and `@annually` `0 0 1 1 *`, `@monthly`
//!   `0 0 1 * *`, `@weekly` `0 0 * * 0`, `@daily` and `@midnight` `0 0 * * *`,
//!   `@hourly` `0 * * * *`.
//! * Searches stay within the year field's range, [`FIRST_YEAR`] to [`LAST_YEAR`],
//!   also for a five-field expression, so that one that never matches ends.

use std::ops::Range;

use jiff::civil::{Date, DateTime};

/// What is wrong and where, as a byte range in the expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronError {
    pub message: String,
    pub range: Range<usize>,
}

impl std::fmt::Display for CronError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CronError {}

/// The first year a cron can match (the year field's lowest value).
pub const FIRST_YEAR: i16 = 1990;
/// The last year a cron can match (the year field's highest value).
pub const LAST_YEAR: i16 = 2100;

struct Unit {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

// The year unit's bounds are FIRST_YEAR and LAST_YEAR (checked by a test).
const UNITS: [Unit; 6] = [
    Unit {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Unit {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Unit {
        name: "day",
        min: 1,
        max: 31,
        names: &[],
    },
    Unit {
        name: "month",
        min: 1,
        max: 12,
        names: MONTHS,
    },
    Unit {
        name: "weekday",
        min: 0,
        max: 6,
        names: WEEKDAYS,
    },
    Unit {
        name: "year",
        min: 1990,
        max: 2100,
        names: &[],
    },
];

/// Each alias with the expression it stands for (upstream's table).
const ALIASES: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// The values one field allows, as bits: bit `v - unit.min` stands for value `v`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Bits(u128);

impl Bits {
    /// Every value from `min` to `max`.
    fn full(unit: &Unit) -> Bits {
        let width = unit.max - unit.min + 1;
        Bits(if width >= 128 {
            u128::MAX
        } else {
            (1u128 << width) - 1
        })
    }

    fn has(self, index: i32) -> bool {
        (0..128).contains(&index) && self.0 & (1u128 << index) != 0
    }

    /// The lowest index at or above `from` that is set.
    fn at_or_above(self, from: i32) -> Option<i32> {
        if from >= 128 {
            return None;
        }
        let from = from.max(0);
        let rest = self.0 >> from;
        (rest != 0).then(|| from + rest.trailing_zeros().cast_signed())
    }

    /// The highest index at or below `from` that is set.
    fn at_or_below(self, from: i32) -> Option<i32> {
        if from < 0 {
            return None;
        }
        let from = from.min(127);
        let rest = self.0 << (127 - from);
        (rest != 0).then(|| from - rest.leading_zeros().cast_signed())
    }
}

impl std::fmt::Debug for Bits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// A parsed cron expression: the values each field allows.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cron {
    minutes: Bits,
    hours: Bits,
    days: Bits,
    months: Bits,
    weekdays: Bits,
    /// Bit `y - FIRST_YEAR` for year `y`; every year when the expression has no year field.
    years: Bits,
    /// The year field was written (a six-field expression).
    has_year: bool,
}

/// Checks a `cronjob` value.
///
/// # Errors
/// What is wrong and where, as [`parse`] finds it.
pub fn validate(expr: &str) -> Result<(), CronError> {
    parse(expr).map(|_| ())
}

/// Parses a `cronjob` value: five fields, six with a year, or an `@alias`.
///
/// # Errors
/// The first thing wrong, with its byte range in `expr`.
pub fn parse(expr: &str) -> Result<Cron, CronError> {
    let trimmed = expr.trim();
    if trimmed.starts_with('@') {
        if let Some((_, meaning)) = ALIASES.iter().find(|(alias, _)| *alias == trimmed) {
            return parse(meaning);
        }
        let start = expr.len() - expr.trim_start().len();
        let names: Vec<&str> = ALIASES.iter().map(|(alias, _)| *alias).collect();
        return Err(CronError {
            message: format!(
                "unknown cron alias `{trimmed}`; expected one of {}",
                names.join(", ")
            ),
            range: start..start + trimmed.len(),
        });
    }
    let fields: Vec<(usize, &str)> = split_fields(expr);
    if fields.len() != 5 && fields.len() != 6 {
        return Err(CronError {
            message: format!(
                "a cron expression has 5 fields (minute hour day month weekday) or 6 with a year; this one has {}",
                fields.len()
            ),
            range: 0..expr.len(),
        });
    }
    let mut bits = [Bits(0); 6];
    for (i, ((offset, field), unit)) in fields.iter().zip(UNITS.iter()).enumerate() {
        bits[i] = parse_field(field, unit).map_err(|(message, range)| CronError {
            message,
            range: offset + range.start..offset + range.end,
        })?;
    }
    let has_year = fields.len() == 6;
    Ok(Cron {
        minutes: bits[0],
        hours: bits[1],
        days: bits[2],
        months: bits[3],
        weekdays: bits[4],
        years: if has_year {
            bits[5]
        } else {
            Bits::full(&UNITS[5])
        },
        has_year,
    })
}

impl std::str::FromStr for Cron {
    type Err = CronError;

    fn from_str(expr: &str) -> Result<Cron, CronError> {
        parse(expr)
    }
}

fn split_fields(expr: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in expr.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &expr[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &expr[s..]));
    }
    out
}

type FieldError = (String, Range<usize>);

/// One field's values. The checks run in the order the validator always had, so
/// that the first error, its message and its range stay the same.
fn parse_field(field: &str, unit: &Unit) -> Result<Bits, FieldError> {
    let mut bits = 0u128;
    let mut only_any = true;
    let mut offset = 0;
    for item in field.split(',') {
        let range = offset..offset + item.len();
        offset += item.len() + 1;
        if item.is_empty() {
            return Err((format!("empty value in the {} field", unit.name), range));
        }
        if item == "?" {
            continue;
        }
        only_any = false;
        let (body, step) = match item.split_once('/') {
            Some((body, step)) => (body, Some(step)),
            None => (item, None),
        };
        let mut step_value = 1;
        if let Some(step) = step {
            let step_at = range.start + body.len() + 1;
            let step_range = step_at..step_at + step.len();
            match step.parse::<u32>() {
                Ok(n) if n >= 1 && n <= unit.max.max(1) => step_value = n,
                _ => {
                    return Err((
                        format!("invalid step `{step}` in the {} field", unit.name),
                        step_range,
                    ));
                }
            }
        }
        let (first, last) = if body == "*" {
            (unit.min, unit.max)
        } else {
            let (low, high) = match body.split_once('-') {
                Some((l, h)) => (l, Some(h)),
                None => (body, None),
            };
            let low_value =
                value(low, unit).map_err(|m| (m, range.start..range.start + low.len()))?;
            match high {
                Some(high) => {
                    let at = range.start + low.len() + 1;
                    let high_value = value(high, unit).map_err(|m| (m, at..at + high.len()))?;
                    if high_value < low_value {
                        return Err((
                            format!("range `{body}` in the {} field goes backwards", unit.name),
                            range.start..range.start + body.len(),
                        ));
                    }
                    (low_value, high_value)
                }
                // `a/s` runs to the field's end; a lone `a` is only `a`.
                None if step.is_some() => (low_value, unit.max),
                None => (low_value, low_value),
            }
        };
        let mut v = first;
        while v <= last {
            bits |= 1u128 << (v - unit.min);
            v += step_value;
        }
    }
    Ok(if only_any {
        Bits::full(unit)
    } else {
        Bits(bits)
    })
}

fn value(text: &str, unit: &Unit) -> Result<u32, String> {
    if let Some(i) = unit.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(unit.min + u32::try_from(i).unwrap_or(0));
    }
    match text.parse::<u32>() {
        Ok(n) if (unit.min..=unit.max).contains(&n) => Ok(n),
        Ok(n) => Err(format!(
            "{n} is out of range for the {} field ({}-{})",
            unit.name, unit.min, unit.max
        )),
        Err(_) => Err(if unit.names.is_empty() {
            format!("`{text}` is not a number in the {} field", unit.name)
        } else {
            format!(
                "`{text}` is not a number or a name ({}) in the {} field",
                unit.names.join(", "),
                unit.name
            )
        }),
    }
}

/// A civil minute being searched for, as plain numbers so that a step past a
/// field's end (minute 60, day 32, month 0) is a value to carry, not an error.
#[derive(Clone, Copy)]
struct Cursor {
    year: i32,
    month: i32,
    day: i32,
    hour: i32,
    minute: i32,
}

impl Cursor {
    fn of(dt: DateTime) -> Cursor {
        Cursor {
            year: i32::from(dt.year()),
            month: i32::from(dt.month()),
            day: i32::from(dt.day()),
            hour: i32::from(dt.hour()),
            minute: i32::from(dt.minute()),
        }
    }

    fn date(self) -> Option<Date> {
        Date::new(
            i16::try_from(self.year).ok()?,
            i8::try_from(self.month).ok()?,
            i8::try_from(self.day).ok()?,
        )
        .ok()
    }

    fn datetime(self) -> Option<DateTime> {
        let time = jiff::civil::Time::new(
            i8::try_from(self.hour).ok()?,
            i8::try_from(self.minute).ok()?,
            0,
            0,
        )
        .ok()?;
        Some(self.date()?.to_datetime(time))
    }

    fn start_of_year(&mut self, year: i32) {
        *self = Cursor {
            year,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
        };
    }

    fn end_of_year(&mut self, year: i32) {
        *self = Cursor {
            year,
            month: 12,
            day: 31,
            hour: 23,
            minute: 59,
        };
    }
}

fn days_in_month(year: i32, month: i32) -> i32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Cron {
    /// Whether the expression has a year field (six fields).
    #[must_use]
    pub fn has_year(&self) -> bool {
        self.has_year
    }

    /// Whether a civil minute matches: every field holds its value, the day of the
    /// month and the weekday both, and the year is within [`FIRST_YEAR`]..=[`LAST_YEAR`].
    /// Seconds and subseconds are not looked at.
    #[must_use]
    pub fn matches(&self, dt: DateTime) -> bool {
        let c = Cursor::of(dt);
        self.years.has(c.year - i32::from(FIRST_YEAR))
            && self.months.has(c.month - 1)
            && self.day_matches(dt.date())
            && self.hours.has(c.hour)
            && self.minutes.has(c.minute)
    }

    fn day_matches(&self, date: Date) -> bool {
        self.days.has(i32::from(date.day()) - 1)
            && self
                .weekdays
                .has(i32::from(date.weekday().to_sunday_zero_offset()))
    }

    /// The first matching civil minute at or after `from` (a `from` with seconds
    /// counts from the next minute), or `None` when there is none up to the end of
    /// [`LAST_YEAR`]. It skips whole years, months, days and hours that cannot match.
    #[must_use]
    pub fn next_at_or_after(&self, from: DateTime) -> Option<DateTime> {
        let mut c = Cursor::of(from);
        if from.second() != 0 || from.subsec_nanosecond() != 0 {
            c.minute += 1;
        }
        self.next_from(c)
    }

    /// The first matching civil minute strictly after `after`'s minute.
    #[must_use]
    pub fn next_after(&self, after: DateTime) -> Option<DateTime> {
        let mut c = Cursor::of(after);
        c.minute += 1;
        self.next_from(c)
    }

    /// The last matching civil minute at or before `from` (its seconds ignored), or
    /// `None` when there is none back to the start of [`FIRST_YEAR`].
    #[must_use]
    pub fn last_at_or_before(&self, from: DateTime) -> Option<DateTime> {
        self.last_from(Cursor::of(from))
    }

    /// The last matching civil minute strictly before `before`'s minute.
    #[must_use]
    pub fn last_before(&self, before: DateTime) -> Option<DateTime> {
        let mut c = Cursor::of(before);
        c.minute -= 1;
        self.last_from(c)
    }

    /// Forward search from a cursor whose fields may be one step past their end.
    /// Every pass moves the cursor forward, by a whole field when that field
    /// cannot match.
    fn next_from(&self, mut c: Cursor) -> Option<DateTime> {
        let first = i32::from(FIRST_YEAR);
        let last = i32::from(LAST_YEAR);
        if c.year < first {
            c.start_of_year(first);
        }
        loop {
            // Carry what a step pushed past its field's end.
            if c.minute > 59 {
                c.minute = 0;
                c.hour += 1;
            }
            if c.hour > 23 {
                c.hour = 0;
                c.minute = 0;
                c.day += 1;
            }
            if c.month <= 12 && c.day > days_in_month(c.year, c.month) {
                c.day = 1;
                c.hour = 0;
                c.minute = 0;
                c.month += 1;
            }
            if c.month > 12 {
                c.start_of_year(c.year + 1);
            }
            if c.year > last {
                return None;
            }
            if !self.years.has(c.year - first) {
                let next = self.years.at_or_above(c.year - first)?;
                c.start_of_year(first + next);
                continue;
            }
            if !self.months.has(c.month - 1) {
                match self.months.at_or_above(c.month - 1) {
                    Some(m) => {
                        c.month = m + 1;
                        c.day = 1;
                    }
                    None => c.month = 13,
                }
                c.hour = 0;
                c.minute = 0;
                continue;
            }
            if !self.days.has(c.day - 1) {
                // Past the month's end when no later day is allowed; carried above.
                c.day = self.days.at_or_above(c.day - 1).map_or(32, |d| d + 1);
                c.hour = 0;
                c.minute = 0;
                continue;
            }
            if !self.weekday_matches(c)? {
                c.day += 1;
                c.hour = 0;
                c.minute = 0;
                continue;
            }
            if !self.hours.has(c.hour) {
                c.hour = self.hours.at_or_above(c.hour).unwrap_or(24);
                c.minute = 0;
                continue;
            }
            if !self.minutes.has(c.minute) {
                c.minute = self.minutes.at_or_above(c.minute).unwrap_or(60);
                continue;
            }
            return c.datetime();
        }
    }

    /// Backward search from a cursor whose fields may be one step below their
    /// start, the mirror of [`Cron::next_from`].
    fn last_from(&self, mut c: Cursor) -> Option<DateTime> {
        let first = i32::from(FIRST_YEAR);
        let last = i32::from(LAST_YEAR);
        if c.year > last {
            c.end_of_year(last);
        }
        loop {
            // Carry what a step pushed below its field's start.
            if c.minute < 0 {
                c.minute = 59;
                c.hour -= 1;
            }
            if c.hour < 0 {
                c.hour = 23;
                c.minute = 59;
                c.day -= 1;
            }
            if c.day < 1 {
                c.month -= 1;
                c.day = 31;
                c.hour = 23;
                c.minute = 59;
            }
            if c.month < 1 {
                c.end_of_year(c.year - 1);
            }
            if c.year < first {
                return None;
            }
            let days = days_in_month(c.year, c.month);
            if c.day > days {
                c.day = days;
                c.hour = 23;
                c.minute = 59;
            }
            if !self.years.has(c.year - first) {
                let previous = self.years.at_or_below(c.year - first)?;
                c.end_of_year(first + previous);
                continue;
            }
            if !self.months.has(c.month - 1) {
                match self.months.at_or_below(c.month - 1) {
                    Some(m) => {
                        c.month = m + 1;
                        c.day = 31;
                    }
                    None => c.month = 0,
                }
                c.hour = 23;
                c.minute = 59;
                continue;
            }
            if !self.days.has(c.day - 1) {
                c.day = self.days.at_or_below(c.day - 1).map_or(0, |d| d + 1);
                c.hour = 23;
                c.minute = 59;
                continue;
            }
            if !self.weekday_matches(c)? {
                c.day -= 1;
                c.hour = 23;
                c.minute = 59;
                continue;
            }
            if !self.hours.has(c.hour) {
                c.hour = self.hours.at_or_below(c.hour).unwrap_or(-1);
                c.minute = 59;
                continue;
            }
            if !self.minutes.has(c.minute) {
                c.minute = self.minutes.at_or_below(c.minute).unwrap_or(-1);
                continue;
            }
            return c.datetime();
        }
    }

    /// Whether the cursor's date falls on an allowed weekday (`None` when the
    /// cursor is not a date, which the searches never let happen).
    fn weekday_matches(&self, c: Cursor) -> Option<bool> {
        if self.weekdays == Bits::full(&UNITS[4]) {
            return Some(true);
        }
        let weekday = c.date()?.weekday().to_sunday_zero_offset();
        Some(self.weekdays.has(i32::from(weekday)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::datetime;

    fn at(y: i16, mo: i8, d: i8, h: i8, mi: i8) -> DateTime {
        datetime(y, mo, d, h, mi, 0, 0)
    }

    fn cron(expr: &str) -> Cron {
        parse(expr).unwrap()
    }

    #[test]
    fn accepts_common_forms() {
        for expr in [
            "* * * * *",
            "*/15 0-6 1,15 JAN-MAR mon-fri",
            "0 10 ? * MON-FRI 2024",
            "5,35 14 * * ?",
            "@daily",
            "0 0 1 1 * 2100",
        ] {
            assert_eq!(validate(expr), Ok(()), "{expr}");
        }
    }

    #[test]
    fn points_at_the_bad_field() {
        let e = validate("0 24 * * *").unwrap_err();
        assert_eq!(e.range, 2..4);
        assert_eq!(e.message, "24 is out of range for the hour field (0-23)");
        let e = validate("0 0 * FOO *").unwrap_err();
        assert_eq!(e.range, 6..9);
        assert_eq!(
            e.message,
            "`FOO` is not a number or a name (JAN, FEB, MAR, APR, MAY, JUN, JUL, AUG, SEP, OCT, NOV, DEC) in the month field"
        );
        let e = validate("*/0 * * * *").unwrap_err();
        assert_eq!(
            (e.range, e.message.as_str()),
            (2..3, "invalid step `0` in the minute field")
        );
        let e = validate("* * * *").unwrap_err();
        assert_eq!(e.range, 0..7);
        assert!(e.message.contains("5 fields"));
        let e = validate("5-1 * * * *").unwrap_err();
        assert_eq!(
            (e.range, e.message.as_str()),
            (0..3, "range `5-1` in the minute field goes backwards")
        );
        let e = validate("  @sometimes ").unwrap_err();
        assert_eq!(e.range, 2..12);
        assert!(
            e.message.starts_with(
                "unknown cron alias `@sometimes`; expected one of @yearly, @annually,"
            )
        );
        let e = validate("0 0 1 1 * 1989").unwrap_err();
        assert_eq!(e.range, 10..14);
        let e = validate("0 0 1,,2 * *").unwrap_err();
        assert_eq!(
            (e.range, e.message.as_str()),
            (6..6, "empty value in the day field")
        );
        let e = validate("0 0 * * 1-x").unwrap_err();
        assert_eq!(e.range, 10..11);
        let e = validate("0 0 * * 7").unwrap_err();
        assert_eq!(e.message, "7 is out of range for the weekday field (0-6)");
    }

    #[test]
    fn the_year_unit_is_the_search_window() {
        assert_eq!(UNITS[5].min, u32::try_from(FIRST_YEAR).unwrap());
        assert_eq!(UNITS[5].max, u32::try_from(LAST_YEAR).unwrap());
    }

    #[test]
    fn aliases_are_upstreams_table() {
        for (alias, meaning) in [
            ("@yearly", "0 0 1 1 *"),
            ("@annually", "0 0 1 1 *"),
            ("@monthly", "0 0 1 * *"),
            ("@weekly", "0 0 * * 0"),
            ("@daily", "0 0 * * *"),
            ("@midnight", "0 0 * * *"),
            ("@hourly", "0 * * * *"),
        ] {
            assert_eq!(cron(alias), cron(meaning), "{alias}");
            assert_eq!(cron(&format!("  {alias}\t")), cron(meaning), "{alias}");
        }
        assert_ne!(cron("@weekly"), cron("@daily"));
        // Aliases are written in lower case, as upstream's table has them.
        assert!(parse("@Daily").is_err());
    }

    #[test]
    fn fields_hold_the_values_written() {
        let c = cron("*/15 0-6 1,15 JAN-MAR mon-fri");
        // 2024-01-01 and 2024-01-15 are Mondays; 2024-03-01 a Friday; 2024-02-15 a Thursday.
        assert!(c.matches(at(2024, 1, 1, 0, 0)));
        assert!(c.matches(at(2024, 1, 15, 6, 45)));
        assert!(c.matches(at(2024, 2, 15, 3, 30)));
        assert!(c.matches(at(2024, 3, 1, 6, 15)));
        assert!(
            !c.matches(at(2024, 1, 1, 0, 5)),
            "minute 5 is not a quarter"
        );
        assert!(!c.matches(at(2024, 1, 1, 7, 0)), "hour 7 is past 0-6");
        assert!(!c.matches(at(2024, 1, 2, 0, 0)), "day 2 is not 1 or 15");
        assert!(!c.matches(at(2024, 4, 1, 0, 0)), "April is past JAN-MAR");
        assert!(!c.matches(at(2024, 6, 15, 0, 0)), "June");
        // 2023-01-01 is a Sunday and 2023-01-15 too.
        assert!(!c.matches(at(2023, 1, 1, 0, 0)));
        assert!(!c.matches(at(2023, 1, 15, 0, 0)));
        // Steps over ranges start at the range's start; `a/s` runs to the end.
        let c = cron("5/15 1-10/3 */10 * *");
        for (minute, fires) in [
            (5, true),
            (20, true),
            (35, true),
            (50, true),
            (0, false),
            (6, false),
        ] {
            assert_eq!(
                c.matches(at(2024, 1, 1, 1, minute)),
                fires,
                "minute {minute}"
            );
        }
        for (hour, fires) in [
            (1, true),
            (4, true),
            (7, true),
            (10, true),
            (0, false),
            (2, false),
            (13, false),
        ] {
            assert_eq!(c.matches(at(2024, 1, 1, hour, 5)), fires, "hour {hour}");
        }
        for (day, fires) in [
            (1, true),
            (11, true),
            (21, true),
            (31, true),
            (10, false),
            (2, false),
        ] {
            assert_eq!(c.matches(at(2024, 1, day, 1, 5)), fires, "day {day}");
        }
        // Names in any case, in ranges and with steps.
        assert_eq!(cron("0 0 * jan-dec/2 SUN"), cron("0 0 * 1,3,5,7,9,11 0"));
        assert_eq!(cron("0 0 * Feb sat-SAT"), cron("0 0 * 2 6"));
        // Lists merge; a value twice is once.
        assert_eq!(cron("1,2,2,1-2 * * * *"), cron("1-2 * * * *"));
        assert_eq!(cron("0 0 * * 0-6"), cron("0 0 * * *"));
    }

    #[test]
    fn a_question_mark_field_is_any_and_adds_nothing_in_a_list() {
        assert_eq!(cron("0 10 ? * MON-FRI"), cron("0 10 * * MON-FRI"));
        assert_eq!(cron("5,35 14 * * ?"), cron("5,35 14 * * *"));
        assert_eq!(cron("? ? ? ? ?"), cron("* * * * *"));
        assert_eq!(cron("1,? * * * *"), cron("1 * * * *"));
        assert_eq!(cron("?,?,3 * * * *"), cron("3 * * * *"));
    }

    #[test]
    fn day_and_weekday_must_both_match_as_upstream() {
        // Upstream's runner gives these very dates from 2024-01-01.
        let c = cron("0 0 13 * FRI");
        let mut got = Vec::new();
        let mut t = at(2024, 1, 1, 0, 0);
        for _ in 0..3 {
            t = c.next_after(t).unwrap();
            got.push(t);
        }
        assert_eq!(
            got,
            [
                at(2024, 9, 13, 0, 0),
                at(2024, 12, 13, 0, 0),
                at(2025, 6, 13, 0, 0)
            ]
        );
        let c = cron("0 0 1,15 * MON");
        assert_eq!(
            c.next_at_or_after(at(2024, 1, 1, 0, 0)),
            Some(at(2024, 1, 1, 0, 0))
        );
        assert_eq!(
            c.next_after(at(2024, 1, 1, 0, 0)),
            Some(at(2024, 1, 15, 0, 0))
        );
        assert_eq!(
            c.next_after(at(2024, 1, 15, 0, 0)),
            Some(at(2024, 4, 1, 0, 0))
        );
        assert_eq!(
            c.last_before(at(2024, 4, 1, 0, 0)),
            Some(at(2024, 1, 15, 0, 0))
        );
    }

    #[test]
    fn the_year_field_bounds_the_matches() {
        let c = cron("0 0 1 1 * 2024");
        assert!(c.has_year());
        assert!(!cron("0 0 1 1 *").has_year());
        assert_eq!(
            c.next_at_or_after(at(2020, 5, 5, 5, 5)),
            Some(at(2024, 1, 1, 0, 0))
        );
        assert_eq!(c.next_after(at(2024, 1, 1, 0, 0)), None);
        assert_eq!(
            c.last_at_or_before(at(2099, 1, 1, 0, 0)),
            Some(at(2024, 1, 1, 0, 0))
        );
        assert_eq!(c.last_before(at(2024, 1, 1, 0, 0)), None);
        let c = cron("30 12 * * * 1995,2030-2031");
        assert_eq!(
            c.next_at_or_after(at(1980, 1, 1, 0, 0)),
            Some(at(1995, 1, 1, 12, 30))
        );
        assert_eq!(
            c.next_after(at(1995, 12, 31, 12, 30)),
            Some(at(2030, 1, 1, 12, 30))
        );
        assert_eq!(
            c.last_before(at(2030, 1, 1, 12, 30)),
            Some(at(1995, 12, 31, 12, 30))
        );
        assert_eq!(
            c.last_at_or_before(at(2100, 6, 1, 0, 0)),
            Some(at(2031, 12, 31, 12, 30))
        );
        // Without a year field the window is still FIRST_YEAR..=LAST_YEAR.
        let every = cron("* * * * *");
        assert_eq!(every.next_after(at(2100, 12, 31, 23, 59)), None);
        assert_eq!(
            every.next_at_or_after(at(2100, 12, 31, 23, 59)),
            Some(at(2100, 12, 31, 23, 59))
        );
        assert_eq!(every.last_before(at(1990, 1, 1, 0, 0)), None);
        assert_eq!(
            every.next_at_or_after(at(1000, 1, 1, 0, 0)),
            Some(at(1990, 1, 1, 0, 0))
        );
        assert_eq!(
            every.last_at_or_before(at(9999, 1, 1, 0, 0)),
            Some(at(2100, 12, 31, 23, 59))
        );
        assert!(!every.matches(at(1989, 12, 31, 23, 59)));
        assert!(!every.matches(at(2101, 1, 1, 0, 0)));
    }

    #[test]
    fn searches_cross_month_and_year_ends() {
        let c = cron("0 0 1 * *");
        assert_eq!(
            c.next_at_or_after(at(2024, 12, 15, 8, 0)),
            Some(at(2025, 1, 1, 0, 0))
        );
        assert_eq!(
            c.last_at_or_before(at(2025, 1, 1, 0, 0)),
            Some(at(2025, 1, 1, 0, 0))
        );
        assert_eq!(
            c.last_before(at(2025, 1, 1, 0, 0)),
            Some(at(2024, 12, 1, 0, 0))
        );
        let c = cron("59 23 31 12 *");
        assert_eq!(
            c.next_at_or_after(at(2024, 6, 1, 0, 0)),
            Some(at(2024, 12, 31, 23, 59))
        );
        assert_eq!(
            c.next_after(at(2024, 12, 31, 23, 59)),
            Some(at(2025, 12, 31, 23, 59))
        );
        assert_eq!(
            c.last_before(at(2024, 12, 31, 23, 59)),
            Some(at(2023, 12, 31, 23, 59))
        );
        let c = cron("0 0 29 2 *");
        assert_eq!(
            c.next_after(at(2024, 3, 1, 0, 0)),
            Some(at(2028, 2, 29, 0, 0))
        );
        assert_eq!(
            c.last_at_or_before(at(2027, 7, 1, 0, 0)),
            Some(at(2024, 2, 29, 0, 0))
        );
        // 2100 is not a leap year: the last 29 February is in 2096.
        assert_eq!(c.next_after(at(2096, 2, 29, 0, 0)), None);
        let c = cron("0 0 31 * *");
        assert_eq!(
            c.next_after(at(2024, 3, 31, 0, 0)),
            Some(at(2024, 5, 31, 0, 0))
        );
        assert_eq!(
            c.last_before(at(2024, 5, 31, 0, 0)),
            Some(at(2024, 3, 31, 0, 0))
        );
        // Seconds: at-or-after goes to the next minute, at-or-before keeps the minute.
        let every = cron("* * * * *");
        let late = datetime(2024, 12, 31, 23, 59, 30, 0);
        assert_eq!(every.next_at_or_after(late), Some(at(2025, 1, 1, 0, 0)));
        assert_eq!(
            every.last_at_or_before(late),
            Some(at(2024, 12, 31, 23, 59))
        );
    }

    #[test]
    fn a_cron_that_never_matches_answers_none() {
        for expr in [
            "0 0 31 2 *",
            "0 0 30 2 *",
            "0 0 31 4,6,9,11 *",
            "0 0 30 2 * 2024",
        ] {
            let c = cron(expr);
            assert_eq!(c.next_at_or_after(at(1990, 1, 1, 0, 0)), None, "{expr}");
            assert_eq!(
                c.last_at_or_before(at(2100, 12, 31, 23, 59)),
                None,
                "{expr}"
            );
        }
        // 29 February on a Monday exists (2016, 2044, 2072): found, not given up on.
        let c = cron("0 0 29 2 MON");
        assert_eq!(
            c.next_after(at(2016, 2, 29, 0, 0)),
            Some(at(2044, 2, 29, 0, 0))
        );
    }

    /// Minute by minute, the slow and obvious way.
    fn brute_next(c: &Cron, from: DateTime, limit: i64) -> Option<DateTime> {
        (0..limit)
            .map(|i| from + jiff::SignedDuration::from_mins(i))
            .find(|t| c.matches(*t))
    }

    fn brute_last(c: &Cron, from: DateTime, limit: i64) -> Option<DateTime> {
        (0..limit)
            .map(|i| from - jiff::SignedDuration::from_mins(i))
            .find(|t| c.matches(*t))
    }

    #[test]
    fn searches_agree_with_a_minute_by_minute_walk() {
        let crons = [
            "*/7 1-5 * * *",
            "5/15 */3 * * MON-FRI",
            "0 12 1,15,31 * *",
            "59 23 * * SUN",
            "0-10 0 28-31 * *",
            "* * * * *",
            "30 2 * 2,3 *",
        ];
        let window = 4 * 24 * 60;
        // Starts near ends of months and years, and a leap day, spread over minutes.
        let mut starts = Vec::new();
        for (y, mo, d) in [
            (2023, 12, 29),
            (2024, 2, 27),
            (2024, 2, 29),
            (2024, 4, 29),
            (2025, 2, 26),
        ] {
            for step in 0..8 {
                starts.push(at(y, mo, d, 0, 0) + jiff::SignedDuration::from_mins(step * 617));
            }
        }
        for expr in crons {
            let c = cron(expr);
            for &start in &starts {
                if let Some(want) = brute_next(&c, start, window) {
                    assert_eq!(c.next_at_or_after(start), Some(want), "{expr} from {start}");
                }
                if let Some(want) = brute_last(&c, start, window) {
                    assert_eq!(
                        c.last_at_or_before(start),
                        Some(want),
                        "{expr} before {start}"
                    );
                }
                let one = jiff::SignedDuration::from_mins(1);
                if let Some(want) = brute_next(&c, start + one, window) {
                    assert_eq!(c.next_after(start), Some(want), "{expr} after {start}");
                }
                if let Some(want) = brute_last(&c, start - one, window) {
                    assert_eq!(c.last_before(start), Some(want), "{expr} before {start}");
                }
            }
        }
    }
}
