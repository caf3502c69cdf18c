//! Words both the model and the plan use: param types, `runs-on` kinds and
//! trigger rules, with the names workflows spell them by.

#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    Str,
    Int,
    Float,
    Decimal,
    Date,
    Datetime,
    Choice,
    Map,
    Array,
}

impl ParamType {
    pub const ALL: [ParamType; 9] = [
        ParamType::Str,
        ParamType::Int,
        ParamType::Float,
        ParamType::Decimal,
        ParamType::Date,
        ParamType::Datetime,
        ParamType::Choice,
        ParamType::Map,
        ParamType::Array,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ParamType::Str => "str",
            ParamType::Int => "int",
            ParamType::Float => "float",
            ParamType::Decimal => "decimal",
            ParamType::Date => "date",
            ParamType::Datetime => "datetime",
            ParamType::Choice => "choice",
            ParamType::Map => "map",
            ParamType::Array => "array",
        }
    }

    #[must_use]
    pub fn from_name(name: &str) -> Option<ParamType> {
        ParamType::ALL.into_iter().find(|t| t.name() == name)
    }
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RunsOnKind {
    Local,
    SelfHosted,
    Docker,
    Container,
    AwsBatch,
    GcpBatch,
}

impl RunsOnKind {
    pub const ALL: [RunsOnKind; 6] = [
        RunsOnKind::Local,
        RunsOnKind::SelfHosted,
        RunsOnKind::Docker,
        RunsOnKind::Container,
        RunsOnKind::AwsBatch,
        RunsOnKind::GcpBatch,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            RunsOnKind::Local => "local",
            RunsOnKind::SelfHosted => "self_hosted",
            RunsOnKind::Docker => "docker",
            RunsOnKind::Container => "container",
            RunsOnKind::AwsBatch => "aws_batch",
            RunsOnKind::GcpBatch => "gcp_batch",
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TriggerRule {
    AllSuccess,
    AllFailed,
    AllDone,
    OneFailed,
    OneSuccess,
    NoneFailed,
    NoneSkipped,
}

impl TriggerRule {
    pub const ALL: [TriggerRule; 7] = [
        TriggerRule::AllSuccess,
        TriggerRule::AllFailed,
        TriggerRule::AllDone,
        TriggerRule::OneFailed,
        TriggerRule::OneSuccess,
        TriggerRule::NoneFailed,
        TriggerRule::NoneSkipped,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            TriggerRule::AllSuccess => "all_success",
            TriggerRule::AllFailed => "all_failed",
            TriggerRule::AllDone => "all_done",
            TriggerRule::OneFailed => "one_failed",
            TriggerRule::OneSuccess => "one_success",
            TriggerRule::NoneFailed => "none_failed",
            TriggerRule::NoneSkipped => "none_skipped",
        }
    }
}
