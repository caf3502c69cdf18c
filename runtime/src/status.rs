//! Statuses of stages, jobs and runs, and how they add up (upstream's rules).

use crate::value::{Map, Text, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Success,
    Failed,
    Skip,
    Cancel,
    Wait,
}

impl Status {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Success => "SUCCESS",
            Status::Failed => "FAILED",
            Status::Skip => "SKIP",
            Status::Cancel => "CANCEL",
            Status::Wait => "WAIT",
        }
    }

    #[must_use]
    pub fn value(self) -> Value {
        // Made at compile time: the names are short enough to be inline text.
        const fn text(status: Status) -> Value {
            Value::Str(Text::const_new(status.as_str()))
        }
        match self {
            Status::Success => const { text(Status::Success) },
            Status::Failed => const { text(Status::Failed) },
            Status::Skip => const { text(Status::Skip) },
            Status::Cancel => const { text(Status::Cancel) },
            Status::Wait => const { text(Status::Wait) },
        }
    }

    /// A stage result with this status and nothing else: `{outputs: {}, status}`.
    /// Such results (every Empty stage, every skip) are constants, shared by all
    /// the stages that end that way.
    #[must_use]
    pub fn bare_result(self) -> Value {
        const ALL: [Status; 5] = [
            Status::Success,
            Status::Failed,
            Status::Skip,
            Status::Cancel,
            Status::Wait,
        ];
        static RESULTS: std::sync::LazyLock<Vec<Value>> = std::sync::LazyLock::new(|| {
            ALL.iter()
                .map(|status| {
                    let mut result = crate::value::Map::with_capacity(2);
                    result.insert("outputs".into(), Value::from(Map::default()));
                    result.insert("status".into(), status.value());
                    Value::from(result)
                })
                .collect()
        });
        let index = ALL.iter().position(|s| *s == self).unwrap_or(0);
        RESULTS[index].clone()
    }

    /// Any failure wins, then any cancel, then any wait; all skipped is a skip;
    /// otherwise success (an empty list is a success).
    #[must_use]
    pub fn aggregate(statuses: impl IntoIterator<Item = Status>) -> Status {
        let (mut any, mut failed, mut cancel, mut wait, mut all_skip) =
            (false, false, false, false, true);
        for s in statuses {
            any = true;
            match s {
                Status::Failed => failed = true,
                Status::Cancel => cancel = true,
                Status::Wait => wait = true,
                _ => {}
            }
            all_skip &= s == Status::Skip;
        }
        if failed {
            Status::Failed
        } else if cancel {
            Status::Cancel
        } else if wait {
            Status::Wait
        } else if any && all_skip {
            Status::Skip
        } else {
            Status::Success
        }
    }

    #[must_use]
    pub fn parse(text: &str) -> Option<Status> {
        Some(match text {
            "SUCCESS" => Status::Success,
            "FAILED" => Status::Failed,
            "SKIP" => Status::Skip,
            "CANCEL" => Status::Cancel,
            "WAIT" => Status::Wait,
            _ => return None,
        })
    }
}

/// `{name, message}`, the shape of every error in a context.
#[must_use]
pub fn error(name: &str, message: impl Into<String>) -> Value {
    let mut map = Map::default();
    map.insert("name".into(), Value::str(name));
    map.insert("message".into(), Value::Str(Text::from(message.into())));
    Value::from(map)
}

/// The name of an error value, when it is a `{name, message}` map.
#[must_use]
pub fn name(error: &Value) -> Option<&str> {
    error.as_map()?.get("name")?.as_str()
}

/// The message of an error value, when it is a `{name, message}` map.
#[must_use]
pub fn message(error: &Value) -> Option<&str> {
    error.as_map()?.get("message")?.as_str()
}

#[cfg(test)]
mod tests {
    use super::Status::{self, *};

    #[test]
    fn aggregation() {
        assert_eq!(Status::aggregate([]), Success);
        assert_eq!(Status::aggregate([Success, Skip]), Success);
        assert_eq!(Status::aggregate([Skip, Skip]), Skip);
        assert_eq!(Status::aggregate([Skip, Cancel, Success]), Cancel);
        assert_eq!(Status::aggregate([Cancel, Failed]), Failed);
    }
}
