//! How wfr says numbers to people (the log lines, the progress view, the summary
//! line), so that they say them alike.

/// A duration for people: `61µs`, `3.2ms`, `250ms`, `1.25s`, `12.3s`, `2m 03s`,
/// `1h 02m`.
#[must_use]
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "?".to_string();
    }
    let micros = seconds * 1e6;
    if micros < 1000.0 {
        format!("{}µs", micros.round())
    } else if seconds < 0.1 {
        format!("{:.1}ms", seconds * 1e3)
    } else if seconds < 1.0 {
        format!("{}ms", (seconds * 1e3).round())
    } else if seconds < 10.0 {
        format!("{seconds:.2}s")
    } else if seconds < 60.0 {
        format!("{seconds:.1}s")
    } else {
        // Whole seconds from here on.
        let total = seconds.round();
        let (minutes, secs) = ((total / 60.0).floor(), total % 60.0);
        if minutes < 60.0 {
            format!("{minutes}m {secs:02}s")
        } else {
            format!("{}h {:02}m", (minutes / 60.0).floor(), minutes % 60.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_as_people_write_them() {
        for (seconds, text) in [
            (0.000_061, "61µs"),
            (0.003_21, "3.2ms"),
            (0.25, "250ms"),
            (1.254, "1.25s"),
            (12.34, "12.3s"),
            (123.4, "2m 03s"),
            (3725.0, "1h 02m"),
            (f64::NAN, "?"),
        ] {
            assert_eq!(duration(seconds), text);
        }
    }
}
