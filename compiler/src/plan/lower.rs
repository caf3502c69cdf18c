//! A checked workflow to its plan. Runs only on workflows without errors, so what
//! the checks guarantee is taken as given; anything missing gets upstream's default.

use std::collections::HashMap;

use crate::check::summary::{Targets, targets};

use petgraph::graph::DiGraph;

use super::matrix;
use super::{
    ArmPlan, Axis, Bound, CommandPlan, CondPlan, DockerPlan, Items, JobPlan, MatrixPlan, ParamSpec,
    Plan, PlanMap, PlanValue, ScheduleSpec, StageKindPlan, StagePlan, StrategyPlan,
};
use crate::syntax::expr::ast::{Part, Template};
use crate::syntax::model::{
    AxisValues, Condition, Count as ModelCount, ForEachItems, Job, ParamType, RunsOnKind,
    ScheduleKind, Stage, StageKind, Strategy, Text, TriggerRule, ValueKind, Workflow, WrittenValue,
};
use crate::syntax::visit::each_stage;

/// Lowers one workflow; `source` is the file it came from.
#[must_use]
pub fn lower(workflow: &Workflow, source: &str) -> Plan {
    let mut jobs: DiGraph<JobPlan, ()> = DiGraph::new();
    let mut index = HashMap::new();
    for job in &workflow.jobs {
        let node = jobs.add_node(lower_job(job));
        index.insert(job.id.value.as_str(), node);
    }
    for job in &workflow.jobs {
        for need in &job.needs {
            if let (Some(&from), Some(&to)) = (
                index.get(need.value.as_str()),
                index.get(job.id.value.as_str()),
            ) {
                jobs.add_edge(from, to, ());
            }
        }
    }
    let mut triggers = Vec::new();
    for job in &workflow.jobs {
        each_stage(&job.stages, |stage| {
            if let StageKind::Trigger { trigger, .. } = &stage.kind
                && let Targets::Known(names) = targets(workflow, job, trigger)
            {
                for (name, _) in names {
                    if !triggers.contains(&name) {
                        triggers.push(name);
                    }
                }
            }
        });
    }
    Plan {
        name: workflow.name.value.clone(),
        desc: workflow.desc.clone(),
        source: source.to_string(),
        params: workflow.params.iter().map(lower_param).collect(),
        schedule: workflow.schedule.iter().map(lower_schedule).collect(),
        tags: workflow.tags.iter().map(|t| t.value.clone()).collect(),
        extras: workflow.extras.as_ref().map(value),
        jobs,
        triggers,
    }
}

fn lower_param(param: &crate::syntax::model::Param) -> ParamSpec {
    ParamSpec {
        name: param.name.value.clone(),
        ty: param.ty.value,
        desc: param.desc.clone(),
        required: param
            .required
            .as_ref()
            .map_or(param.ty.value == ParamType::Choice, |r| r.value),
        default: param.default.as_ref().map(value),
        options: param.options.iter().map(value).collect(),
        precision: param
            .precision
            .as_ref()
            .and_then(|p| u32::try_from(p.value).ok()),
    }
}

fn lower_schedule(schedule: &crate::syntax::model::Schedule) -> ScheduleSpec {
    let cron = match &schedule.kind {
        ScheduleKind::Cron(expr) => expr.value.split_whitespace().collect::<Vec<_>>().join(" "),
        ScheduleKind::Interval {
            interval,
            day,
            time,
        } => interval_cron(
            &interval.value,
            day.as_ref().map(|d| d.value.as_str()),
            time.as_ref().map_or("00:00", |t| t.value.as_str()),
        ),
    };
    ScheduleSpec {
        cron,
        timezone: schedule
            .timezone
            .as_ref()
            .map_or_else(|| "UTC".to_string(), |t| t.value.clone()),
    }
}

/// `interval: daily|weekly|monthly` as a cron (minute first; upstream swaps them).
fn interval_cron(interval: &str, day: Option<&str>, time: &str) -> String {
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let (hour, minute) = time.split_once(':').unwrap_or(("0", "0"));
    let number = |s: &str| s.trim_start_matches('0').parse::<u32>().unwrap_or(0);
    let weekday = |d: &str| {
        let short = d.get(..3).unwrap_or("").to_ascii_lowercase();
        DAYS.iter()
            .position(|x| *x == short)
            .unwrap_or(1)
            .to_string()
    };
    let (day_of_month, day_of_week) = match interval {
        "weekly" => ("*".to_string(), weekday(day.unwrap_or("monday"))),
        "monthly" => (
            "1".to_string(),
            day.map_or_else(|| "*".to_string(), weekday),
        ),
        _ => ("*".to_string(), "*".to_string()),
    };
    format!(
        "{} {} {day_of_month} * {day_of_week}",
        number(minute),
        number(hour)
    )
}

fn lower_job(job: &Job) -> JobPlan {
    JobPlan {
        id: job.id.value.clone(),
        desc: job.desc.clone(),
        runs_on: job
            .runs_on
            .as_ref()
            .map_or(RunsOnKind::Local, |r| r.kind.value),
        runs_on_args: job
            .runs_on
            .as_ref()
            .and_then(|r| r.args.as_ref())
            .map(value),
        cond: job.cond.as_ref().map(condition),
        trigger_rule: job
            .trigger_rule
            .as_ref()
            .map_or(TriggerRule::AllSuccess, |r| r.value),
        retry: job
            .retry
            .as_ref()
            .and_then(|r| u32::try_from(r.value).ok())
            .unwrap_or(0),
        needs: job.needs.iter().map(|n| n.value.clone()).collect(),
        strategy: lower_strategy(job.strategy.as_ref()),
        stages: job.stages.iter().map(lower_stage).collect(),
        extras: job.extras.as_ref().map(value),
    }
}

fn lower_strategy(strategy: Option<&Strategy>) -> StrategyPlan {
    let Some(strategy) = strategy else {
        return StrategyPlan {
            fail_fast: false,
            max_parallel: Bound::Fixed(1),
            matrix: MatrixPlan::None,
        };
    };
    StrategyPlan {
        fail_fast: strategy.fail_fast.as_ref().is_some_and(|f| f.value),
        max_parallel: count(strategy.max_parallel.as_ref(), 1),
        matrix: lower_matrix(strategy),
    }
}

fn lower_matrix(strategy: &Strategy) -> MatrixPlan {
    if strategy.matrix.is_empty() {
        return MatrixPlan::None;
    }
    let rows = |rows: &[crate::syntax::model::MatrixRow]| -> Vec<PlanMap> {
        rows.iter()
            .map(|r| {
                PlanMap(
                    r.entries
                        .iter()
                        .map(|(k, v)| (k.name.clone(), value(v)))
                        .collect(),
                )
            })
            .collect()
    };
    if let Some((axes, include, exclude)) = matrix::static_parts(strategy) {
        // The checks refused a matrix beyond the bound: a workflow with errors
        // is never lowered to run.
        return MatrixPlan::Static(matrix::expand(&axes, &include, &exclude).unwrap_or_default());
    }
    MatrixPlan::Dynamic {
        axes: strategy
            .matrix
            .iter()
            .map(|axis| {
                let values = match &axis.values {
                    AxisValues::List(values) => Axis::Values(values.iter().map(value).collect()),
                    AxisValues::Template(t) => Axis::Template(t.template.clone()),
                };
                (axis.key.name.clone(), values)
            })
            .collect(),
        include: rows(&strategy.include),
        exclude: rows(&strategy.exclude),
    }
}

fn count(count: Option<&ModelCount>, default: u32) -> Bound {
    match count {
        Some(ModelCount::Int(n)) => Bound::Fixed(u32::try_from(n.value).unwrap_or(default)),
        Some(ModelCount::Template(t)) => Bound::Template(t.template.clone()),
        None => Bound::Fixed(default),
    }
}

fn condition(cond: &Condition) -> CondPlan {
    match cond {
        Condition::Bool(b) => CondPlan::Bool(b.value),
        Condition::Expr(c) => match &c.expr {
            Some(expr) => CondPlan::Expr {
                source: c.raw.clone(),
                expr: expr.clone(),
            },
            // Checked workflows have parsed conditions; an unparsed one never holds.
            None => CondPlan::Bool(false),
        },
    }
}

fn template(text: &Text) -> Template {
    text.template.clone()
}

fn value(value: &WrittenValue) -> PlanValue {
    match &value.kind {
        ValueKind::Null => PlanValue::Null,
        ValueKind::Bool(b) => PlanValue::Bool(*b),
        ValueKind::Int(n) => PlanValue::Int(*n),
        ValueKind::BigInt(digits) => PlanValue::BigInt(digits.clone()),
        ValueKind::Float(f) => PlanValue::Float(*f),
        ValueKind::Text(t) => PlanValue::Str(template(t)),
        ValueKind::Seq(items) => PlanValue::List(items.iter().map(self::value).collect()),
        ValueKind::Map(entries) => PlanValue::Map(PlanMap(
            entries
                .iter()
                .map(|(k, v)| (k.name.clone(), self::value(v)))
                .collect(),
        )),
    }
}

fn map(value: Option<&WrittenValue>) -> PlanMap {
    match value.map(self::value) {
        Some(PlanValue::Map(entries)) => entries,
        _ => PlanMap::default(),
    }
}

fn lower_stage(stage: &Stage) -> StagePlan {
    let kind = match &stage.kind {
        StageKind::Empty { echo, sleep } => StageKindPlan::Empty {
            echo: echo.as_ref().map(template),
            sleep: sleep.as_ref().map_or(0.0, |s| s.value),
        },
        StageKind::Bash { bash, env } => StageKindPlan::Bash {
            script: template(bash),
            env: PlanMap(
                env.iter()
                    .map(|(k, v)| (k.name.clone(), PlanValue::Str(template(v))))
                    .collect(),
            ),
        },
        StageKind::Py { run, vars } => StageKindPlan::Py {
            run: template(run),
            vars: map(vars.as_ref()),
        },
        StageKind::VirtualPy {
            run,
            vars,
            deps,
            version,
        } => StageKindPlan::VirtualPy {
            run: template(run),
            vars: map(vars.as_ref()),
            deps: deps.iter().map(template).collect(),
            version: version.as_ref().map(template),
        },
        StageKind::Call { uses, args } => StageKindPlan::Call {
            uses: template(uses),
            args: map(args.as_ref()),
        },
        StageKind::Trigger { trigger, params } => StageKindPlan::Trigger {
            workflow: template(trigger),
            params: map(params.as_ref()),
        },
        StageKind::Parallel {
            branches,
            max_workers,
        } => StageKindPlan::Parallel {
            branches: branches
                .iter()
                .map(|b| {
                    (
                        b.name.name.clone(),
                        b.stages.iter().map(lower_stage).collect(),
                    )
                })
                .collect(),
            max_workers: count(max_workers.as_ref(), 2),
        },
        StageKind::ForEach {
            foreach,
            stages,
            concurrent,
            use_index_as_key,
        } => StageKindPlan::ForEach {
            items: match foreach {
                ForEachItems::List(items) => Items::List(items.iter().map(value).collect()),
                ForEachItems::Template(t) => Items::Template(template(t)),
            },
            stages: stages.iter().map(lower_stage).collect(),
            concurrent: concurrent
                .as_ref()
                .and_then(|c| u32::try_from(c.value).ok())
                .unwrap_or(1),
            use_index_as_key: use_index_as_key.as_ref().is_some_and(|b| b.value),
        },
        StageKind::Until {
            item,
            until,
            stages,
            max_loop,
        } => StageKindPlan::Until {
            item: item.as_ref().map_or(PlanValue::Int(0), value),
            until: condition(&Condition::Expr(until.clone())),
            stages: stages.iter().map(lower_stage).collect(),
            max_loop: max_loop
                .as_ref()
                .and_then(|m| u32::try_from(m.value).ok())
                .unwrap_or(10),
        },
        StageKind::Case {
            case,
            arms,
            skip_not_match,
        } => StageKindPlan::Case {
            case: template(case),
            arms: arms
                .iter()
                .map(|arm| ArmPlan {
                    case: arm.case.as_ref().filter(|c| !is_default_case(c)).map(value),
                    stages: arm.stages.iter().map(lower_stage).collect(),
                })
                .collect(),
            skip_not_match: skip_not_match.as_ref().is_some_and(|b| b.value),
        },
        StageKind::Raise { message } => StageKindPlan::Raise {
            message: template(message),
        },
        StageKind::Docker {
            image,
            tag,
            env,
            volume,
            auth,
            command,
        } => StageKindPlan::Docker(DockerPlan {
            command: command.as_ref().map(|c| match c {
                crate::syntax::model::DockerCommand::Shell(t) => CommandPlan::Shell(template(t)),
                crate::syntax::model::DockerCommand::Exec(parts) => {
                    CommandPlan::Exec(parts.iter().map(template).collect())
                }
            }),
            image: template(image),
            tag: tag
                .as_ref()
                .map_or_else(|| Template::literal("latest"), template),
            env: map(env.as_ref()),
            volume: volume
                .iter()
                .flatten()
                .map(|entry| (template(&entry.host), value(&entry.container)))
                .collect(),
            auth: map(auth.as_ref()),
        }),
    };
    StagePlan {
        name: template(&stage.name),
        id: stage.id.as_ref().map(template),
        desc: stage.desc.clone(),
        cond: stage.cond.as_ref().map(condition),
        timeout: stage.timeout.as_ref().map(|t| t.value),
        retry: stage
            .retry
            .as_ref()
            .and_then(|r| u32::try_from(r.value).ok())
            .unwrap_or(0),
        extras: stage.extras.as_ref().map(value),
        kind,
    }
}

/// `case: _` is the default arm, like `else:`.
fn is_default_case(value: &WrittenValue) -> bool {
    matches!(&value.kind, ValueKind::Text(t) if t.template.parts.as_slice() == [Part::Text("_".to_string())])
}

#[cfg(test)]
mod tests {
    use super::interval_cron;

    #[test]
    fn intervals_become_crons() {
        assert_eq!(interval_cron("daily", None, "01:30"), "30 1 * * *");
        assert_eq!(
            interval_cron("weekly", Some("friday"), "18:30"),
            "30 18 * * 5"
        );
        assert_eq!(interval_cron("monthly", None, "00:00"), "0 0 1 * *");
    }
}
