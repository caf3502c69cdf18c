//! Statuses of stages, jobs and runs, and how they add up (upstream's rules).

use crate::value::{Map, Str, Value};

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
            Value::Str(Str::const_new(status.as_str()))
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
                    let mut result = Map::with_capacity(2);
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

wfc_plan::listed_enum! {
    /// The name of an error wfr puts in a context: the exception class upstream
    /// raises in that case, written as upstream writes it (the variant's name).
    /// An exception raised by a stage's own Python code keeps its own class name:
    /// [`error_named`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[allow(
        clippy::enum_variant_names,
        reason = "upstream's class names, as written"
    )]
    pub enum ErrorName {
        StageError,
        StageCancelError,
        StageNestedError,
        StageNestedCancelError,
        StageTimeoutError,
        JobError,
        JobCancelError,
        WorkflowError,
        WorkflowCancelError,
        WorkflowTimeoutError,
        ParamError,
        /// A template or condition that cannot be rendered (upstream's `UtilError`).
        UtilError,
        TypeError,
        ValueError,
        IndexError,
        OverflowError,
        ZeroDivisionError,
        MemoryError,
        NotImplementedError,
    }
}

impl ErrorName {
    /// The name as it is written in a context.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        self.variant_name()
    }
}

impl std::fmt::Display for ErrorName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// `{name, message}`, the shape of every error in a context.
#[must_use]
pub fn error(name: ErrorName, message: impl Into<String>) -> Value {
    error_named(name.as_str(), message)
}

/// [`error`] with a name that is not one of wfr's own: the class of an exception
/// a stage's Python code raised.
#[must_use]
pub fn error_named(name: &str, message: impl Into<String>) -> Value {
    let mut map = Map::default();
    map.insert("name".into(), Value::str(name));
    map.insert("message".into(), Value::Str(Str::from(message.into())));
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

    #[test]
    fn error_names_are_written_as_upstream_writes_them() {
        use super::ErrorName;
        assert_eq!(
            ErrorName::StageTimeoutError.to_string(),
            "StageTimeoutError"
        );
        assert_eq!(ErrorName::UtilError, "UtilError");
        let mut names: Vec<&str> = ErrorName::ALL.iter().map(|n| n.as_str()).collect();
        assert!(names.iter().all(|n| n.ends_with("Error")), "{names:?}");
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorName::ALL.len());
    }
}
