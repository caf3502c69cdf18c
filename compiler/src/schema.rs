//! `wfc schema`: a JSON Schema (draft 2020-12) of a workflow file, for editors
//! (yaml-language-server's `# yaml-language-server: $schema=…`).
//!
//! Made from the model's own tables, not written apart from them: the keys of
//! each mapping are the lists the builders refuse unknown keys by
//! (`syntax/build/*.rs`, `check_keys`), a stage's keys are the stage kinds'
//! table (`wfc_plan::kind`), enums are the vocabulary's lists (param types,
//! `runs-on` types, trigger rules), and bounds are the builders' and
//! `wfc_plan::limits`' constants. What this file adds is each key's JSON type and
//! description ([`key`]); a test checks that every key the builders take has
//! one, and that every key described is one they take, so the two cannot drift.

use serde_json::{Map, Value, json};
use wfc_plan::kind::{COMMON_KEYS, Kind};
use wfc_plan::vocab::{ParamType, RunsOnKind, TriggerRule};

use crate::syntax::build::{job, stage, workflow};

/// The mappings of a workflow file that have keys of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    Workflow,
    Param,
    On,
    Cron,
    Interval,
    Job,
    Strategy,
    RunsOn,
    Stage,
    CaseArm,
    ElseArm,
}

impl Object {
    pub const ALL: [Object; 11] = [
        Object::Workflow,
        Object::Param,
        Object::On,
        Object::Cron,
        Object::Interval,
        Object::Job,
        Object::Strategy,
        Object::RunsOn,
        Object::Stage,
        Object::CaseArm,
        Object::ElseArm,
    ];

    /// Its name in the schema's `$defs`.
    fn def(self) -> &'static str {
        match self {
            Object::Workflow => "workflow",
            Object::Param => "param",
            Object::On => "on",
            Object::Cron => "cronSchedule",
            Object::Interval => "intervalSchedule",
            Object::Job => "job",
            Object::Strategy => "strategy",
            Object::RunsOn => "runsOn",
            Object::Stage => "stage",
            Object::CaseArm => "caseArm",
            Object::ElseArm => "elseArm",
        }
    }

    /// The keys it takes, as the builders take them.
    #[must_use]
    pub fn keys(self) -> Vec<&'static str> {
        match self {
            Object::Workflow => workflow::WORKFLOW_KEYS.to_vec(),
            Object::Param => workflow::PARAM_KEYS.to_vec(),
            Object::On => workflow::ON_KEYS.to_vec(),
            Object::Cron => workflow::CRON_KEYS.to_vec(),
            Object::Interval => workflow::INTERVAL_KEYS.to_vec(),
            Object::Job => job::JOB_KEYS.to_vec(),
            Object::Strategy => job::STRATEGY_KEYS.to_vec(),
            Object::RunsOn => job::RUNS_ON_KEYS.to_vec(),
            Object::Stage => {
                let mut keys: Vec<&str> = COMMON_KEYS.to_vec();
                for kind in Kind::ALL {
                    for key in kind.keys() {
                        if !keys.contains(&key) {
                            keys.push(key);
                        }
                    }
                }
                keys
            }
            Object::CaseArm => stage::CASE_ARM_KEYS.to_vec(),
            Object::ElseArm => stage::ELSE_ARM_KEYS.to_vec(),
        }
    }

    /// What it is.
    fn doc(self) -> &'static str {
        match self {
            Object::Workflow => "A workflow: params, schedules and jobs.",
            Object::Param => "A param of the workflow (`x: str` is short for `x: {type: str}`).",
            Object::On => "When the workflow runs by itself.",
            Object::Cron => "A cron schedule.",
            Object::Interval => "An interval schedule (converted to a cron).",
            Object::Job => "A job: stages that run in order, on the machine `runs-on` says.",
            Object::Strategy => "A matrix strategy: the job runs once per combination.",
            Object::RunsOn => "Where the job runs, with its arguments.",
            Object::Stage => {
                "A stage. Its kind is decided by its keys: `bash`, `run` (with `deps`: virtual python), `uses`, `trigger`, `parallel`, `foreach`, `until`, `case`, `raise`, `image`; none of them: empty."
            }
            Object::CaseArm => "An arm of a case stage: the stages to run when `case` matches.",
            Object::ElseArm => "The arm of a case stage that runs when no other matches.",
        }
    }
}

fn reference(object: Object) -> Value {
    json!({ "$ref": format!("#/$defs/{}", object.def()) })
}

/// `then` when a value fits `when`, else `otherwise`: unlike `anyOf`, a
/// validator says where inside the branch taken a value fails, so an editor
/// marks the key at fault, not the whole workflow.
fn either(when: Value, then: Value, otherwise: Value) -> Value {
    json!({ "if": when, "then": then, "else": otherwise })
}

/// A text, which may hold `${{ … }}` templates.
fn text(doc: &str) -> Value {
    json!({ "type": "string", "description": doc })
}

/// An integer in [from, below), or a template that renders one.
fn bounded(doc: &str, (from, below): (i64, i64)) -> Value {
    let mut schema = either(
        json!({ "type": "string" }),
        json!({ "pattern": "\\$\\{\\{" }),
        json!({ "type": "integer", "minimum": from, "maximum": below - 1 }),
    );
    schema["description"] = Value::from(doc);
    schema
}

fn names<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str) -> Value {
    Value::from(all.iter().map(|t| name(*t)).collect::<Vec<_>>())
}

fn stages(doc: &str) -> Value {
    json!({ "type": "array", "items": reference(Object::Stage), "description": doc })
}

/// The type and description of `key` of `object`; None for a key it does
/// not take.
#[must_use]
pub fn key(object: Object, key: &str) -> Option<Value> {
    let seconds = wfc_plan::limits::MAX_TIMEOUT_SECONDS;
    let value = match (object, key) {
        (Object::Workflow, "name") => text("The workflow's name, in a file of one workflow."),
        (Object::Workflow, "type") => {
            json!({ "const": "Workflow", "description": "Marks the entry as a workflow." })
        }
        (Object::Workflow | Object::Job | Object::Stage, "desc") => text("What it is for."),
        (Object::Workflow, "params") => json!({
            "type": "object",
            "description": "The params a run takes, by name.",
            "additionalProperties": either(
                json!({ "type": "string" }),
                json!({ "enum": names(&ParamType::ALL, ParamType::name) }),
                reference(Object::Param),
            )
        }),
        (Object::Workflow, "on") => reference(Object::On),
        (Object::Workflow, "jobs") => json!({
            "type": "object",
            "description": "The jobs, by id.",
            "additionalProperties": reference(Object::Job)
        }),
        (Object::Workflow, "tags") => json!({
            "description": "Tags, for people.",
            "anyOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }]
        }),
        (_, "extras") => {
            json!({ "type": "object", "description": "Extra settings, passed through." })
        }
        (Object::Param, "type") => json!({
            "enum": names(&ParamType::ALL, ParamType::name),
            "description": "The param's type."
        }),
        (Object::Param, "desc") => text("What the param is for."),
        (Object::Param, "required") => {
            json!({ "type": "boolean", "description": "A run must give it (a choice param is required unless `required: false`)." })
        }
        (Object::Param, "default") => json!({ "description": "Its value when a run gives none." }),
        (Object::Param, "options") => {
            json!({ "type": "array", "description": "A choice param's options." })
        }
        (Object::Param, "precision") => json!({
            "type": "integer", "minimum": 0,
            "description": "Digits after the point of a float or decimal param."
        }),
        (Object::On, "schedule") => json!({
            "type": "array",
            "description": "Schedules: a cron or an interval each.",
            "items": either(
                json!({ "type": "object", "required": ["interval"] }),
                reference(Object::Interval),
                reference(Object::Cron),
            )
        }),
        (Object::On, "release") => json!({
            "description": "Workflows this one releases.",
            "anyOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }]
        }),
        (Object::Cron, "cronjob") => {
            text("A cron of 5 fields (6 with a year), or an alias such as `@daily`.")
        }
        (Object::Cron | Object::Interval, "timezone" | "tz") => {
            text("The IANA timezone of the schedule (default UTC).")
        }
        (Object::Interval, "interval") => json!({
            "enum": ["daily", "weekly", "monthly"],
            "description": "How often."
        }),
        (Object::Interval, "day") => {
            text("The day: a weekday (`mon`…`sun`) or a day of the month.")
        }
        (Object::Interval, "time") => text("The time of day, `HH:MM`."),
        (Object::Job, "id") => text("The job's id (its key in `jobs` by default)."),
        (Object::Job, "runs-on") => {
            let mut schema = either(
                json!({ "type": "string" }),
                json!({ "enum": names(&RunsOnKind::ALL, RunsOnKind::name) }),
                reference(Object::RunsOn),
            );
            schema["description"] = Value::from("Where the job runs (default `local`).");
            schema
        }
        (Object::Job | Object::Stage, "if") => {
            text("A condition: the job or stage runs only when it is true.")
        }
        (Object::Job, "stages") => stages("The job's stages, run in order."),
        (Object::Job, "retry") => {
            json!({ "type": "integer", "minimum": 0, "description": "How many times the job is tried again when it fails." })
        }
        (Object::Job, "trigger-rule") => json!({
            "enum": names(&TriggerRule::ALL, TriggerRule::name),
            "description": "When the job runs, from how the jobs it needs ended."
        }),
        (Object::Job, "needs") => json!({
            "type": "array", "items": { "type": "string" },
            "description": "The ids of the jobs this one runs after."
        }),
        (Object::Job, "strategy") => reference(Object::Strategy),
        (Object::Strategy, "matrix") => json!({
            "type": "object",
            "description": format!("Axes: the job runs once per combination of their values (at most {}).", wfc_plan::limits::MAX_MATRIX_COMBINATIONS),
            "additionalProperties": { "anyOf": [{ "type": "array" }, { "type": "string" }] }
        }),
        (Object::Strategy, "include") => {
            json!({ "type": "array", "items": { "type": "object" }, "description": "Combinations added." })
        }
        (Object::Strategy, "exclude") => {
            json!({ "type": "array", "items": { "type": "object" }, "description": "Combinations removed." })
        }
        (Object::Strategy, "max-parallel") => {
            bounded("How many combinations run at once.", job::MAX_PARALLEL)
        }
        (Object::Strategy, "fail-fast") => {
            json!({ "type": "boolean", "description": "Cancel the other combinations when one fails." })
        }
        (Object::RunsOn, "type") => {
            json!({ "enum": names(&RunsOnKind::ALL, RunsOnKind::name), "description": "Where the job runs." })
        }
        (Object::RunsOn, "with") => {
            json!({ "type": "object", "description": "The arguments of the `runs-on` type." })
        }
        (Object::Stage, "name") => text("The stage's name, in logs."),
        (Object::Stage, "id") => text("The stage's id: its outputs are `stages.<id>.outputs`."),
        (Object::Stage, "timeout") => json!({
            "description": "Seconds the stage may take.",
            "type": "number", "exclusiveMinimum": 0, "maximum": seconds
        }),
        (Object::Stage, "retry") => {
            json!({ "description": "How many times the stage is tried again when it fails.", "anyOf": [{ "type": "integer", "minimum": 0 }, { "type": "string" }] })
        }
        (Object::Stage, "echo") => {
            json!({ "description": "(empty) A message to log.", "type": ["string", "number", "boolean", "null"] })
        }
        (Object::Stage, "sleep") => json!({
            "description": "(empty) Seconds to wait.",
            "type": "number", "minimum": 0, "exclusiveMaximum": wfc_plan::limits::MAX_SLEEP_SECONDS
        }),
        (Object::Stage, "bash") => text("(bash) The script."),
        (Object::Stage, "env") => json!({
            "type": "object", "additionalProperties": { "type": "string" },
            "description": "(bash, docker) Environment variables: text values."
        }),
        (Object::Stage, "run") => text("(python, virtual python) The Python code."),
        (Object::Stage, "vars") => {
            json!({ "type": "object", "description": "(python) Variables given to the code." })
        }
        (Object::Stage, "deps") => {
            json!({ "type": "array", "items": { "type": "string" }, "description": "(virtual python) Packages installed with uv." })
        }
        (Object::Stage, "version") => text("(virtual python) The Python version."),
        (Object::Stage, "uses") => text("(call) The task: `tasks/name@tag`."),
        (Object::Stage, "with") => {
            json!({ "type": "object", "description": "(call) The task's arguments." })
        }
        (Object::Stage, "trigger") => text("(trigger) The workflow to run."),
        (Object::Stage, "params") => {
            json!({ "type": "object", "description": "(trigger) Its params." })
        }
        (Object::Stage, "parallel") => json!({
            "type": "object", "additionalProperties": stages("A branch's stages."),
            "description": "(parallel) Branches, by name, that run at once."
        }),
        (Object::Stage, "max-workers") => bounded(
            "(parallel) How many branches run at once.",
            stage::MAX_WORKERS,
        ),
        (Object::Stage, "foreach") => {
            json!({ "description": "(foreach) The items: a list, or a template that renders one." })
        }
        (Object::Stage, "stages") => stages("(foreach, until) The stages run for each item."),
        (Object::Stage, "concurrent") => {
            bounded("(foreach) How many items run at once.", stage::CONCURRENT)
        }
        (Object::Stage, "use_index_as_key") => {
            json!({ "type": "boolean", "description": "(foreach) Key the results by position, not by item." })
        }
        (Object::Stage, "until") => text("(until) The condition that ends the loop."),
        (Object::Stage, "item") => json!({ "description": "(until) The first item." }),
        (Object::Stage, "max-loop") => bounded("(until) The most loops.", stage::MAX_LOOP),
        (Object::Stage, "case") => json!({ "description": "(case) The value the arms match." }),
        (Object::Stage, "match") => json!({
            "type": "array",
            "items": either(
                json!({ "type": "object", "required": ["else"] }),
                reference(Object::ElseArm),
                reference(Object::CaseArm),
            ),
            "description": "(case) The arms."
        }),
        (Object::Stage, "skip-not-match") => {
            json!({ "type": "boolean", "description": "(case) Skip the stage when no arm matches." })
        }
        (Object::Stage, "raise") => text("(raise) The error message."),
        (Object::Stage, "image") => text("(docker) The image."),
        (Object::Stage, "tag") => text("(docker) The image's tag."),
        (Object::Stage, "volume") => {
            json!({ "type": "object", "description": "(docker) Host paths (in the workspace) to mount, by host path." })
        }
        (Object::Stage, "auth") => {
            json!({ "type": "object", "description": "(docker) Registry credentials." })
        }
        (Object::Stage, "command") => json!({
            "description": "(docker) The command: a shell line, or a list of arguments.",
            "anyOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }]
        }),
        (Object::CaseArm, "case") => json!({ "description": "The value this arm matches." }),
        (Object::CaseArm, "stages") => stages("The arm's stages."),
        (Object::ElseArm, "else") => stages("The stages run when no arm matches."),
        _ => return None,
    };
    Some(value)
}

fn object_schema(object: Object) -> Value {
    let mut properties = Map::new();
    for name in object.keys() {
        // Every key the builders take is described (a test checks it).
        if let Some(described) = key(object, name) {
            properties.insert(name.to_string(), described);
        }
    }
    let mut schema = json!({
        "type": "object",
        "description": object.doc(),
        "properties": properties,
        "additionalProperties": false,
    });
    let required: &[&str] = match object {
        Object::Stage => &["name"],
        Object::Cron => &["cronjob"],
        Object::Interval => &["interval"],
        Object::CaseArm => &["case", "stages"],
        Object::ElseArm => &["else"],
        Object::RunsOn => &["type"],
        _ => &[],
    };
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    match object {
        // A case stage needs its arms.
        Object::Stage => schema["dependentRequired"] = json!({ "case": ["match"] }),
        // A choice param needs its options.
        Object::Param => {
            schema["if"] =
                json!({ "properties": { "type": { "const": "choice" } }, "required": ["type"] });
            schema["then"] = json!({ "required": ["options"] });
        }
        // Each `runs-on` type takes its own `with` keys (its required ones first).
        Object::RunsOn => {
            let per_type: Vec<Value> = RunsOnKind::ALL
                .iter()
                .map(|kind| {
                    let needs_with = job::runs_on_args(*kind).is_some_and(|(r, _)| !r.is_empty());
                    let with = match job::runs_on_args(*kind) {
                        None => json!({ "type": "object", "maxProperties": 0 }),
                        Some((required, optional)) => {
                            let properties: Map<String, Value> = required
                                .iter()
                                .chain(optional)
                                .map(|k| ((*k).to_string(), json!({})))
                                .collect();
                            json!({
                                "type": "object",
                                "properties": properties,
                                "required": required,
                                "additionalProperties": false,
                            })
                        }
                    };
                    json!({
                        "if": { "properties": { "type": { "const": kind.name() } }, "required": ["type"] },
                        "then": if needs_with {
                            json!({ "properties": { "with": with }, "required": ["with"] })
                        } else {
                            json!({ "properties": { "with": with } })
                        }
                    })
                })
                .collect();
            schema["allOf"] = Value::from(per_type);
        }
        _ => {}
    }
    schema
}

/// The schema of a workflow file: a mapping of workflow names to workflows,
/// or one workflow with a top-level `name`.
#[must_use]
pub fn schema() -> Value {
    let mut defs = Map::new();
    for object in Object::ALL {
        defs.insert(object.def().to_string(), object_schema(object));
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "wfc workflow file",
        "description": "A file of ddeutil-workflow workflows, as wfc checks them (`wfc check` says more than a schema can: references, cycles, templates).",
        "type": "object",
        "if": { "required": ["name"] },
        "then": reference(Object::Workflow),
        "else": {
            // Entries typed `Workflow` are workflows; others are not wfc's.
            "additionalProperties": {
                "if": { "type": "object", "required": ["type"], "properties": { "type": { "const": "Workflow" } } },
                "then": reference(Object::Workflow)
            }
        },
        "$defs": defs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key the builders take is described.
    #[test]
    fn every_key_taken_is_described() {
        for object in Object::ALL {
            for name in object.keys() {
                assert!(
                    key(object, name).is_some(),
                    "{object:?} takes `{name}`, which the schema does not describe"
                );
            }
        }
        let schema = schema();
        for object in Object::ALL {
            let properties = schema["$defs"][object.def()]["properties"]
                .as_object()
                .expect("properties");
            assert_eq!(properties.len(), object.keys().len(), "{object:?}");
        }
        // A key no builder takes is not described.
        assert!(key(Object::Job, "need").is_none());
        assert!(key(Object::Stage, "max_workers").is_none());
    }
}
