//! Validation of `on.schedule` cron expressions: the language is defined once, in
//! [`wfc_plan::cron`], so that what the compiler accepts is what the runtime's
//! scheduler reads.

pub use wfc_plan::cron::{CronError, validate};

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
