//! Validation of `on.schedule` cron expressions as ddeutil-workflow reads them:
//! five fields (`minute hour day month weekday`), six with a trailing year, or an
//! `@alias`. Hand-written because the cron crates take seconds as the sixth field
//! and do not say which field, and where in it, is wrong.

use std::ops::Range;

/// What is wrong and where, as a byte range in the expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronError {
    pub message: String,
    pub range: Range<usize>,
}

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

const ALIASES: &[&str] = &[
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// Checks a `cronjob` value.
pub fn validate(expr: &str) -> Result<(), CronError> {
    let trimmed = expr.trim();
    if trimmed.starts_with('@') {
        return if ALIASES.contains(&trimmed) {
            Ok(())
        } else {
            let start = expr.len() - expr.trim_start().len();
            Err(CronError {
                message: format!(
                    "unknown cron alias `{trimmed}`; expected one of {}",
                    ALIASES.join(", ")
                ),
                range: start..start + trimmed.len(),
            })
        };
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
    for ((offset, field), unit) in fields.into_iter().zip(UNITS.iter()) {
        validate_field(field, unit).map_err(|(message, range)| CronError {
            message,
            range: offset + range.start..offset + range.end,
        })?;
    }
    Ok(())
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

fn validate_field(field: &str, unit: &Unit) -> Result<(), FieldError> {
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
        let (body, step) = match item.split_once('/') {
            Some((body, step)) => (body, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            let step_at = range.start + body.len() + 1;
            let step_range = step_at..step_at + step.len();
            match step.parse::<u32>() {
                Ok(n) if n >= 1 && n <= unit.max.max(1) => {}
                _ => {
                    return Err((
                        format!("invalid step `{step}` in the {} field", unit.name),
                        step_range,
                    ));
                }
            }
        }
        if body == "*" {
            continue;
        }
        let (low, high) = match body.split_once('-') {
            Some((l, h)) => (l, Some(h)),
            None => (body, None),
        };
        let low_value = value(low, unit).map_err(|m| (m, range.start..range.start + low.len()))?;
        if let Some(high) = high {
            let at = range.start + low.len() + 1;
            let high_value = value(high, unit).map_err(|m| (m, at..at + high.len()))?;
            if high_value < low_value {
                return Err((
                    format!("range `{body}` in the {} field goes backwards", unit.name),
                    range.start..range.start + body.len(),
                ));
            }
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(e.message.contains("hour"));
        let e = validate("0 0 * FOO *").unwrap_err();
        assert_eq!(e.range, 6..9);
        let e = validate("*/0 * * * *").unwrap_err();
        assert_eq!(e.range, 2..3);
        let e = validate("* * * *").unwrap_err();
        assert!(e.message.contains("5 fields"));
        let e = validate("5-1 * * * *").unwrap_err();
        assert!(e.message.contains("backwards"));
        assert!(validate("@sometimes").is_err());
        assert!(validate("0 0 1 1 * 1989").is_err());
    }
}
