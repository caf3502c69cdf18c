//! The plan: a checked workflow lowered to what the runtime needs, and nothing
//! else. Every template and condition is already parsed, every default applied,
//! every static matrix expanded. Shared with the runtime; written to `.wfp` files.

use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};

use crate::expr::ast::{Expr, Template};
use crate::kind::Kind;
use crate::vocab::{ParamType, RunsOnKind, TriggerRule};

/// A compiled workflow.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
    pub desc: Option<String>,
    /// The file the workflow came from, as given to the compiler.
    pub source: String,
    pub params: Vec<ParamSpec>,
    pub schedule: Vec<ScheduleSpec>,
    pub tags: Vec<String>,
    pub extras: Option<PlanValue>,
    /// Jobs, with an edge from each need to the job that needs it.
    pub jobs: DiGraph<JobPlan, ()>,
    /// Workflows this one can trigger whose names are known before it runs
    /// (literal names, and templated ones expanded over choice params and static
    /// matrix values); the runtime finds their plans beside this one.
    pub triggers: Vec<String>,
}

impl PartialEq for Plan {
    fn eq(&self, other: &Self) -> bool {
        let edges = |p: &Plan| -> Vec<(usize, usize)> {
            p.jobs
                .raw_edges()
                .iter()
                .map(|e| (e.source().index(), e.target().index()))
                .collect()
        };
        self.name == other.name
            && self.desc == other.desc
            && self.source == other.source
            && self.params == other.params
            && self.schedule == other.schedule
            && self.tags == other.tags
            && self.extras == other.extras
            && self.triggers == other.triggers
            && self.jobs.node_weights().eq(other.jobs.node_weights())
            && edges(self) == edges(other)
    }
}

impl Plan {
    /// The job with this id.
    #[must_use]
    pub fn job(&self, id: &str) -> Option<(NodeIndex, &JobPlan)> {
        self.jobs
            .node_indices()
            .map(|i| (i, &self.jobs[i]))
            .find(|(_, j)| j.id == id)
    }
}

/// A declared param with its resolved requirement and default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ParamType,
    pub desc: Option<String>,
    /// A run must pass it: `required: true`, or a choice param without `required: false`.
    pub required: bool,
    pub default: Option<PlanValue>,
    pub options: Vec<PlanValue>,
    /// Digits after the point for float and decimal params (upstream's default is 6).
    pub precision: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    /// A 5-field cron (intervals are converted), a 6-field one with a year, or an alias.
    pub cron: String,
    pub timezone: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobPlan {
    pub id: String,
    pub desc: Option<String>,
    pub runs_on: RunsOnKind,
    pub runs_on_args: Option<PlanValue>,
    pub cond: Option<CondPlan>,
    pub trigger_rule: TriggerRule,
    pub retry: u32,
    pub needs: Vec<String>,
    pub strategy: StrategyPlan,
    pub stages: Vec<StagePlan>,
    pub extras: Option<PlanValue>,
}

/// An `if` / `until`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CondPlan {
    Bool(bool),
    Expr { source: String, expr: Expr },
}

/// A bound: fixed at compile time, or a template checked when the run reaches it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Bound {
    Fixed(u32),
    Template(Template),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StrategyPlan {
    pub fail_fast: bool,
    pub max_parallel: Bound,
    pub matrix: MatrixPlan,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MatrixPlan {
    /// No matrix: one strategy, upstream's "EMPTY".
    None,
    /// Expanded at compile time, include and exclude applied.
    Static(Vec<Combination>),
    /// Some axis is a template: expanded when the job runs.
    Dynamic {
        axes: Vec<(String, Axis)>,
        include: Vec<PlanMap>,
        exclude: Vec<PlanMap>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Axis {
    Values(Vec<PlanValue>),
    Template(Template),
}

/// One matrix combination and upstream's id for it (a hash of Python's `str()` of
/// the combination).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Combination {
    pub id: String,
    pub values: PlanMap,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StagePlan {
    pub name: Template,
    pub id: Option<Template>,
    pub desc: Option<String>,
    pub cond: Option<CondPlan>,
    /// Seconds.
    pub timeout: Option<f64>,
    pub retry: u32,
    pub extras: Option<PlanValue>,
    pub kind: StageKindPlan,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StageKindPlan {
    Empty {
        echo: Option<Template>,
        sleep: f64,
    },
    Bash {
        script: Template,
        env: PlanMap,
    },
    Py {
        run: Template,
        vars: PlanMap,
    },
    VirtualPy {
        run: Template,
        vars: PlanMap,
        deps: Vec<Template>,
        version: Option<Template>,
    },
    Call {
        uses: Template,
        args: PlanMap,
    },
    Trigger {
        workflow: Template,
        params: PlanMap,
    },
    // The nested stage lists are decoded one level deeper each (see
    // `limits::DecodeDepth`), so that a plan nested beyond wfc's limits is refused.
    Parallel {
        #[serde(deserialize_with = "crate::limits::nested")]
        branches: Vec<(String, Vec<StagePlan>)>,
        max_workers: Bound,
    },
    ForEach {
        items: Items,
        #[serde(deserialize_with = "crate::limits::nested")]
        stages: Vec<StagePlan>,
        concurrent: u32,
        use_index_as_key: bool,
    },
    Until {
        item: PlanValue,
        until: CondPlan,
        #[serde(deserialize_with = "crate::limits::nested")]
        stages: Vec<StagePlan>,
        max_loop: u32,
    },
    Case {
        case: Template,
        #[serde(deserialize_with = "crate::limits::nested")]
        arms: Vec<ArmPlan>,
        skip_not_match: bool,
    },
    Raise {
        message: Template,
    },
    Docker(DockerPlan),
}

/// A Docker stage. (Serialized as the struct variant it was: plans keep their format.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DockerPlan {
    pub image: Template,
    pub tag: Template,
    pub env: PlanMap,
    /// `host: container`; the host path is a template too.
    pub volume: Vec<(Template, PlanValue)>,
    pub auth: PlanMap,
    /// What the container runs instead of the image's own command.
    pub command: Option<CommandPlan>,
}

/// A Docker stage's `command`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CommandPlan {
    /// Run with `sh -c`.
    Shell(Template),
    /// Run as is.
    Exec(Vec<Template>),
}

impl StageKindPlan {
    /// Which kind this is: its name and facts are in [`Kind`]'s table.
    #[must_use]
    pub fn kind(&self) -> Kind {
        match self {
            StageKindPlan::Empty { .. } => Kind::Empty,
            StageKindPlan::Bash { .. } => Kind::Bash,
            StageKindPlan::Py { .. } => Kind::Py,
            StageKindPlan::VirtualPy { .. } => Kind::VirtualPy,
            StageKindPlan::Call { .. } => Kind::Call,
            StageKindPlan::Trigger { .. } => Kind::Trigger,
            StageKindPlan::Parallel { .. } => Kind::Parallel,
            StageKindPlan::ForEach { .. } => Kind::ForEach,
            StageKindPlan::Until { .. } => Kind::Until,
            StageKindPlan::Case { .. } => Kind::Case,
            StageKindPlan::Raise { .. } => Kind::Raise,
            StageKindPlan::Docker(_) => Kind::Docker,
        }
    }

    /// The kind's name (see [`Kind::name`]).
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Items {
    List(Vec<PlanValue>),
    /// A template (or a JSON list written as a string) resolved when the stage runs.
    Template(Template),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArmPlan {
    /// `None` is the default arm (`case: _` or `else:`).
    pub case: Option<PlanValue>,
    pub stages: Vec<StagePlan>,
}

/// A value with templates in its strings, as a plan holds it (the compiler's
/// `WrittenValue` without its places); the runtime renders it to a `Value`. In
/// human-readable formats (`wfc plan show`) it is plain JSON, strings being
/// template source text.
#[derive(Clone, Debug, PartialEq)]
pub enum PlanValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Template),
    List(Vec<PlanValue>),
    Map(PlanMap),
    /// An integer beyond 64 bits (Python's ints are unbounded): its decimal
    /// digits, after a `-` when negative, without leading zeros.
    BigInt(String),
}

/// An ordered mapping of names to values (`with`, `vars`, `env`...).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanMap(pub Vec<(String, PlanValue)>);

impl PlanMap {
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&PlanValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = &(String, PlanValue)> {
        self.0.iter()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `PlanValue` as stored in binary formats (read; written as [`PlanValueRef`]).
#[derive(Deserialize)]
enum PlanValueRepr {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Template),
    List(Vec<PlanValue>),
    Map(PlanMap),
    BigInt(String),
}

/// [`PlanValueRepr`] borrowed: the same variants in the same order, so the same
/// bytes, without a copy of the value to write it.
#[derive(Serialize)]
#[serde(rename = "PlanValueRepr")]
enum PlanValueRef<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a Template),
    List(&'a [PlanValue]),
    Map(&'a PlanMap),
    BigInt(&'a str),
}

impl Serialize for PlanValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            return match self {
                PlanValue::Null => serializer.serialize_unit(),
                PlanValue::Bool(b) => serializer.serialize_bool(*b),
                PlanValue::Int(n) => serializer.serialize_i64(*n),
                PlanValue::Float(x) => serializer.serialize_f64(*x),
                PlanValue::Str(t) => t.serialize(serializer),
                PlanValue::List(items) => items.serialize(serializer),
                PlanValue::Map(map) => map.serialize(serializer),
                // A number where the format holds it (128 bits), else its digits.
                PlanValue::BigInt(digits) => match digits.parse::<i128>() {
                    Ok(n) => serializer.serialize_i128(n),
                    Err(_) => serializer.serialize_str(digits),
                },
            };
        }
        let repr = match self {
            PlanValue::Null => PlanValueRef::Null,
            PlanValue::Bool(b) => PlanValueRef::Bool(*b),
            PlanValue::Int(n) => PlanValueRef::Int(*n),
            PlanValue::Float(x) => PlanValueRef::Float(*x),
            PlanValue::Str(t) => PlanValueRef::Str(t),
            PlanValue::List(items) => PlanValueRef::List(items),
            PlanValue::Map(map) => PlanValueRef::Map(map),
            PlanValue::BigInt(digits) => PlanValueRef::BigInt(digits),
        };
        repr.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PlanValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let _depth = crate::limits::DecodeDepth::enter::<D::Error>()?;
        if deserializer.is_human_readable() {
            return deserializer.deserialize_any(PlanValueVisitor);
        }
        Ok(match PlanValueRepr::deserialize(deserializer)? {
            PlanValueRepr::Null => PlanValue::Null,
            PlanValueRepr::Bool(b) => PlanValue::Bool(b),
            PlanValueRepr::Int(n) => PlanValue::Int(n),
            PlanValueRepr::Float(x) => PlanValue::Float(x),
            PlanValueRepr::Str(t) => PlanValue::Str(t),
            PlanValueRepr::List(items) => PlanValue::List(items),
            PlanValueRepr::Map(map) => PlanValue::Map(map),
            PlanValueRepr::BigInt(digits) => PlanValue::BigInt(digits),
        })
    }
}

/// Reads a `PlanValue` from plain JSON-like data.
struct PlanValueVisitor;

impl<'de> serde::de::Visitor<'de> for PlanValueVisitor {
    type Value = PlanValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a value")
    }
    fn visit_unit<E>(self) -> Result<PlanValue, E> {
        Ok(PlanValue::Null)
    }
    fn visit_none<E>(self) -> Result<PlanValue, E> {
        Ok(PlanValue::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<PlanValue, E> {
        Ok(PlanValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<PlanValue, E> {
        Ok(PlanValue::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<PlanValue, E> {
        Ok(i64::try_from(v).map_or_else(|_| PlanValue::BigInt(v.to_string()), PlanValue::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<PlanValue, E> {
        Ok(i64::try_from(v).map_or_else(|_| PlanValue::BigInt(v.to_string()), PlanValue::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<PlanValue, E> {
        Ok(i64::try_from(v).map_or_else(|_| PlanValue::BigInt(v.to_string()), PlanValue::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<PlanValue, E> {
        Ok(PlanValue::Float(v))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PlanValue, E> {
        crate::expr::parse_template(v)
            .map(PlanValue::Str)
            .map_err(|e| E::custom(e.message))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<PlanValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(PlanValue::List(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<PlanValue, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry()? {
            entries.push((k, v));
        }
        Ok(PlanValue::Map(PlanMap(entries)))
    }
}

impl Serialize for PlanMap {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        if serializer.is_human_readable() {
            let mut map = serializer.serialize_map(Some(self.0.len()))?;
            for (k, v) in &self.0 {
                map.serialize_entry(k, v)?;
            }
            map.end()
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for PlanMap {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            match PlanValue::deserialize(deserializer)? {
                PlanValue::Map(map) => Ok(map),
                _ => Err(serde::de::Error::custom("expected a mapping")),
            }
        } else {
            Vec::<(String, PlanValue)>::deserialize(deserializer).map(PlanMap)
        }
    }
}

#[cfg(test)]
mod value_bytes_tests {
    use super::{PlanMap, PlanValue};
    use crate::expr::ast::Template;

    /// The bytes a plan file holds for a value are those of the owned
    /// `PlanValueRepr` it is read back as (written before the borrowed form).
    #[test]
    fn values_keep_their_bytes() {
        let value = PlanValue::List(vec![
            PlanValue::Null,
            PlanValue::Bool(true),
            PlanValue::Int(-3),
            PlanValue::Float(0.5),
            PlanValue::Str(Template::literal("a")),
            PlanValue::Map(PlanMap(vec![(
                "k".into(),
                PlanValue::BigInt("123456789012345678901234567890".into()),
            )])),
        ]);
        let bytes = postcard::to_stdvec(&value).unwrap();
        let expected: &[u8] = &[
            5, 6, 0, 1, 1, 2, 5, 3, 0, 0, 0, 0, 0, 0, 224, 63, 4, 1, 0, 1, 97, 6, 1, 1, 107, 7, 30,
            49, 50, 51, 52, 53, 54, 55, 56, 57, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 48, 49, 50,
            51, 52, 53, 54, 55, 56, 57, 48,
        ];
        assert_eq!(bytes, expected);
        let back: PlanValue = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, value);
    }
}
