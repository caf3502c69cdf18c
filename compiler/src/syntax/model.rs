//! The typed model of workflows as written, with a span on everything the checks
//! can complain about. Built from YAML nodes by `syntax::build`; defaults are not
//! applied here (the plan does that), so the model says what the user wrote.

use crate::kind::Kind;
use crate::span::{FileId, Span, Spanned};
use crate::syntax::expr::ast::{Expr, Template};
use crate::syntax::yaml::Key;
pub use wfc_plan::vocab::{ParamType, RunsOnKind, TriggerRule};

/// A string value that may hold templates.
#[derive(Clone, Debug, PartialEq)]
pub struct Text {
    /// The string as the YAML parser produced it.
    pub raw: String,
    /// The scalar in the file.
    pub span: Span,
    /// The parsed template; a plain literal when it did not parse (already reported).
    pub template: Template,
}

/// A free-form value (`with`, `vars`, trigger `params`, `extras` ...) as the
/// workflow wrote it, with its place for findings. Every string in it is a parsed
/// template. Made from a YAML `Node`; lowered to a `PlanValue`; the runtime's
/// `Value` is what a run computes.
#[derive(Clone, Debug, PartialEq)]
pub struct WrittenValue {
    pub span: Span,
    pub kind: ValueKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ValueKind {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer beyond 64 bits: its decimal digits (see `NodeKind::BigInt`).
    BigInt(String),
    Float(f64),
    Text(Text),
    Seq(Vec<WrittenValue>),
    Map(Vec<(Key, WrittenValue)>),
}

impl WrittenValue {
    /// Every text in the value, depth first.
    pub fn texts<'a>(&'a self, out: &mut Vec<&'a Text>) {
        match &self.kind {
            ValueKind::Text(t) => out.push(t),
            ValueKind::Seq(items) => items.iter().for_each(|v| v.texts(out)),
            ValueKind::Map(entries) => entries.iter().for_each(|(_, v)| v.texts(out)),
            _ => {}
        }
    }

    #[must_use]
    pub fn as_text(&self) -> Option<&Text> {
        match &self.kind {
            ValueKind::Text(t) => Some(t),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_map(&self) -> Option<&[(Key, WrittenValue)]> {
        match &self.kind {
            ValueKind::Map(m) => Some(m),
            _ => None,
        }
    }
}

/// All workflows of one file.
#[derive(Clone, Debug, Default)]
pub struct FileModel {
    pub file: FileId,
    pub workflows: Vec<Workflow>,
}

#[derive(Clone, Debug)]
pub struct Workflow {
    /// The name and where it is defined (the map key, or the `name:` value).
    pub name: Spanned<String>,
    /// The whole definition (to tell which workflow a finding is in).
    pub span: Span,
    pub desc: Option<String>,
    pub params: Vec<Param>,
    pub schedule: Vec<Schedule>,
    pub release: Vec<Spanned<String>>,
    pub jobs: Vec<Job>,
    pub tags: Vec<Spanned<String>>,
    pub extras: Option<WrittenValue>,
}

impl Workflow {
    /// Each job's position, by id (the last of two jobs with one id: WF202).
    #[must_use]
    pub fn job_index(&self) -> std::collections::HashMap<&str, usize> {
        self.jobs
            .iter()
            .enumerate()
            .map(|(i, j)| (j.id.value.as_str(), i))
            .collect()
    }

    #[must_use]
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name.value == name)
    }

    #[must_use]
    pub fn job(&self, id: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.id.value == id)
    }
}

#[derive(Clone, Debug)]
pub struct Param {
    pub name: Spanned<String>,
    pub ty: Spanned<ParamType>,
    pub desc: Option<String>,
    /// `required:` as written.
    pub required: Option<Spanned<bool>>,
    pub default: Option<WrittenValue>,
    /// `choice` options.
    pub options: Vec<WrittenValue>,
    /// `float` / `decimal` digits after the point.
    pub precision: Option<Spanned<i64>>,
}

impl Param {
    /// True when a run must pass this param: it is required (`required: true`, or a
    /// `choice` param without `required: false`, as upstream) and has no default.
    #[must_use]
    pub fn must_be_passed(&self) -> bool {
        let required = self
            .required
            .as_ref()
            .map_or(self.ty.value == ParamType::Choice, |r| r.value);
        required && self.default.is_none()
    }
}

#[derive(Clone, Debug)]
pub struct Schedule {
    pub span: Span,
    pub kind: ScheduleKind,
    pub timezone: Option<Spanned<String>>,
}

#[derive(Clone, Debug)]
pub enum ScheduleKind {
    /// `cronjob:` — 5 fields, 6 with a year, or an `@alias`.
    Cron(Spanned<String>),
    /// `interval: daily|weekly|monthly` with `day` and `time`.
    Interval {
        interval: Spanned<String>,
        day: Option<Spanned<String>>,
        time: Option<Spanned<String>>,
    },
}

#[derive(Clone, Debug)]
pub struct Job {
    pub id: Spanned<String>,
    pub desc: Option<String>,
    pub runs_on: Option<RunsOn>,
    pub cond: Option<Condition>,
    pub stages: Vec<Stage>,
    pub retry: Option<Spanned<i64>>,
    pub trigger_rule: Option<Spanned<TriggerRule>>,
    pub needs: Vec<Spanned<String>>,
    pub strategy: Option<Strategy>,
    pub extras: Option<WrittenValue>,
}

#[derive(Clone, Debug)]
pub struct RunsOn {
    pub span: Span,
    pub kind: Spanned<RunsOnKind>,
    pub args: Option<WrittenValue>,
}

#[derive(Clone, Debug, Default)]
pub struct Strategy {
    pub fail_fast: Option<Spanned<bool>>,
    pub max_parallel: Option<Count>,
    /// The `matrix` key.
    pub matrix_span: Span,
    pub matrix: Vec<MatrixAxis>,
    pub include: Vec<MatrixRow>,
    pub exclude: Vec<MatrixRow>,
}

#[derive(Clone, Debug)]
pub struct MatrixAxis {
    pub key: Key,
    pub values: AxisValues,
}

#[derive(Clone, Debug)]
pub enum AxisValues {
    List(Vec<WrittenValue>),
    /// A template that gives the list at run time.
    Template(Text),
}

#[derive(Clone, Debug)]
pub struct MatrixRow {
    pub span: Span,
    pub entries: Vec<(Key, WrittenValue)>,
}

/// A bound written as a number or as a template resolved at run time.
#[derive(Clone, Debug)]
pub enum Count {
    Int(Spanned<i64>),
    Template(Text),
}

/// An `if` / `until`.
#[derive(Clone, Debug)]
pub enum Condition {
    Bool(Spanned<bool>),
    Expr(Cond),
}

/// A condition expression and its source text.
#[derive(Clone, Debug)]
pub struct Cond {
    pub raw: String,
    pub span: Span,
    /// `None` when it did not parse (already reported).
    pub expr: Option<Expr>,
}

#[derive(Clone, Debug)]
pub struct Stage {
    /// The whole stage mapping.
    pub span: Span,
    pub name: Text,
    pub id: Option<Text>,
    pub desc: Option<String>,
    pub cond: Option<Condition>,
    pub extras: Option<WrittenValue>,
    pub timeout: Option<Spanned<f64>>,
    pub retry: Option<Spanned<i64>>,
    pub kind: StageKind,
}

impl Stage {
    /// The id a reference would use: `id` when literal, else `None`.
    #[must_use]
    pub fn literal_id(&self) -> Option<&str> {
        let id = self.id.as_ref()?;
        id.template.is_literal().then_some(id.raw.as_str())
    }
}

#[derive(Clone, Debug)]
pub enum StageKind {
    Empty {
        echo: Option<Text>,
        sleep: Option<Spanned<f64>>,
    },
    Bash {
        bash: Text,
        env: Vec<(Key, Text)>,
    },
    Py {
        run: Text,
        vars: Option<WrittenValue>,
    },
    VirtualPy {
        run: Text,
        vars: Option<WrittenValue>,
        deps: Vec<Text>,
        version: Option<Text>,
    },
    Call {
        uses: Text,
        args: Option<WrittenValue>,
    },
    Trigger {
        trigger: Text,
        params: Option<WrittenValue>,
    },
    Parallel {
        branches: Vec<Branch>,
        max_workers: Option<Count>,
    },
    ForEach {
        foreach: ForEachItems,
        stages: Vec<Stage>,
        concurrent: Option<Spanned<i64>>,
        use_index_as_key: Option<Spanned<bool>>,
    },
    Until {
        item: Option<WrittenValue>,
        until: Cond,
        stages: Vec<Stage>,
        max_loop: Option<Spanned<i64>>,
    },
    Case {
        case: Text,
        arms: Vec<CaseArm>,
        skip_not_match: Option<Spanned<bool>>,
    },
    Raise {
        message: Text,
    },
    Docker {
        image: Text,
        tag: Option<Text>,
        env: Option<WrittenValue>,
        volume: Option<Vec<Volume>>,
        auth: Option<WrittenValue>,
        /// wfc's `command`: what the container runs instead of the image's own
        /// command (a string runs with `sh -c`, a list as is).
        command: Option<DockerCommand>,
    },
}

/// A Docker stage's `volume` entry: `host: container`. The host path is a
/// template too (`${{ params.dir }}`, `${HOME}`), rendered when the stage runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Volume {
    pub host: Text,
    pub container: WrittenValue,
}

/// A Docker stage's `command`.
#[derive(Clone, Debug)]
pub enum DockerCommand {
    /// `command: "echo hi"`: run with `sh -c`.
    Shell(Text),
    /// `command: [echo, hi]`: run as is.
    Exec(Vec<Text>),
}

impl StageKind {
    /// Which kind this is: its name and facts are in [`Kind`]'s table.
    #[must_use]
    pub fn kind(&self) -> Kind {
        match self {
            StageKind::Empty { .. } => Kind::Empty,
            StageKind::Bash { .. } => Kind::Bash,
            StageKind::Py { .. } => Kind::Py,
            StageKind::VirtualPy { .. } => Kind::VirtualPy,
            StageKind::Call { .. } => Kind::Call,
            StageKind::Trigger { .. } => Kind::Trigger,
            StageKind::Parallel { .. } => Kind::Parallel,
            StageKind::ForEach { .. } => Kind::ForEach,
            StageKind::Until { .. } => Kind::Until,
            StageKind::Case { .. } => Kind::Case,
            StageKind::Raise { .. } => Kind::Raise,
            StageKind::Docker { .. } => Kind::Docker,
        }
    }

    /// The kind's name in messages (see [`Kind::name`]).
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }
}

#[derive(Clone, Debug)]
pub struct Branch {
    pub name: Key,
    pub stages: Vec<Stage>,
}

#[derive(Clone, Debug)]
pub enum ForEachItems {
    List(Vec<WrittenValue>),
    Template(Text),
}

/// One arm of a case stage; `case: None` is the `else` arm.
#[derive(Clone, Debug)]
pub struct CaseArm {
    pub span: Span,
    pub case: Option<WrittenValue>,
    pub stages: Vec<Stage>,
}
