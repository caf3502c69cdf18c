//! References in templates and conditions: every name a template reads must exist
//! where the template is evaluated.

use std::collections::HashSet;

use super::needs;
use super::{Options, cond_span, text_span};
use crate::diagnostic::{Code, Diagnostic, suggestion};
use crate::ids::hash_id;
use crate::source::SourceFile;
use crate::span::Span;
use crate::syntax::expr::ast::{ExprItem, Filter, Path, TextRange};
use crate::syntax::model::{
    AxisValues, Cond, Condition, Count, ForEachItems, Job, Stage, StageKind, Text, Value, Workflow,
};

/// Names a template path can start with.
const ROOTS: &[&str] = &[
    "params", "matrix", "stages", "jobs", "item", "loop", "branch", "case", "retry",
];

/// True for the filters every template has; any other name is a filter registered
/// in Python (`@custom_filter`).
#[must_use]
pub fn is_builtin_filter(name: &str) -> bool {
    FILTERS.iter().any(|f| f.0 == name)
}

/// Fields of a stage's result.
const RESULT_FIELDS: &[&str] = &["outputs", "status", "errors", "info"];

/// The built-in filters: name, fewest and most arguments, keyword names.
const FILTERS: &[(&str, usize, usize, &[&str])] = &[
    ("abs", 0, 0, &[]),
    ("str", 0, 0, &[]),
    ("int", 0, 0, &[]),
    ("list", 0, 0, &[]),
    ("dict", 0, 0, &[]),
    ("title", 0, 0, &[]),
    ("upper", 0, 0, &[]),
    ("lower", 0, 0, &[]),
    ("rstr", 0, 0, &[]),
    ("keys", 0, 0, &[]),
    ("values", 0, 0, &[]),
    ("fmt", 0, 1, &["fmt"]),
    ("coalesce", 1, 1, &["default"]),
    ("getitem", 1, 2, &["key", "default"]),
    ("getindex", 1, 1, &["index"]),
];

/// What a template can see at the place it is evaluated. One flag per context
/// name that only some places have.
#[allow(clippy::struct_excessive_bools)]
#[derive(Clone)]
struct Env<'a> {
    source: &'a SourceFile,
    workflow: &'a Workflow,
    job: &'a Job,
    upstream: &'a HashSet<&'a str>,
    options: &'a Options,
    /// Matrix keys, when the matrix is visible (inside stages).
    matrix: Option<Vec<&'a str>>,
    /// Earlier stages' ids, when stages are visible.
    stages: Option<Vec<String>>,
    /// Some earlier stage has a templated id: any id might exist.
    dynamic_ids: bool,
    item: bool,
    branch: bool,
    case: bool,
    retry: bool,
    /// Stage `name` / `id`: only `matrix.*` may be used.
    only_matrix: bool,
}

pub(super) fn check(
    source: &SourceFile,
    workflow: &Workflow,
    options: &Options,
    out: &mut Vec<Diagnostic>,
) {
    let upstream = needs::upstream(workflow);
    let empty = HashSet::new();
    for job in &workflow.jobs {
        let env = Env {
            source,
            workflow,
            job,
            upstream: upstream.get(job.id.value.as_str()).unwrap_or(&empty),
            options,
            matrix: None,
            stages: None,
            dynamic_ids: false,
            item: false,
            branch: false,
            case: false,
            retry: false,
            only_matrix: false,
        };
        if let Some(Condition::Expr(cond)) = &job.cond {
            check_cond(&env, cond, out);
        }
        if let Some(strategy) = &job.strategy {
            if let Some(Count::Template(t)) = &strategy.max_parallel {
                check_text(&env, t, out);
            }
            for axis in &strategy.matrix {
                if let AxisValues::Template(t) = &axis.values {
                    check_text(&env, t, out);
                }
            }
        }
        let keys: Vec<&str> = job
            .strategy
            .iter()
            .flat_map(|s| s.matrix.iter().map(|a| a.key.name.as_str()))
            .collect();
        let stage_env = Env {
            matrix: Some(keys),
            stages: Some(Vec::new()),
            ..env
        };
        stage_list(&stage_env, &job.stages, out);
    }
}

fn stage_list(env: &Env<'_>, stages: &[Stage], out: &mut Vec<Diagnostic>) {
    let mut env = env.clone();
    for stage in stages {
        check_stage(&env, stage, out);
        match (&stage.id, stage.literal_id()) {
            (_, Some(id)) => env.stages.get_or_insert_with(Vec::new).push(id.to_string()),
            (Some(_), None) => env.dynamic_ids = true,
            (None, _) if stage.name.template.is_literal() => {
                // With default ids switched on, an id-less stage is stored under its name's hash.
                env.stages
                    .get_or_insert_with(Vec::new)
                    .push(hash_id(&stage.name.raw));
            }
            (None, _) => env.dynamic_ids = true,
        }
    }
}

fn check_stage(env: &Env<'_>, stage: &Stage, out: &mut Vec<Diagnostic>) {
    let naming = Env {
        only_matrix: true,
        ..env.clone()
    };
    check_text(&naming, &stage.name, out);
    if let Some(id) = &stage.id {
        check_text(&naming, id, out);
    }
    if let Some(Condition::Expr(cond)) = &stage.cond {
        check_cond(env, cond, out);
    }
    let fields = Env {
        retry: stage.kind.retries(),
        ..env.clone()
    };
    let text = |t: &Text, out: &mut Vec<Diagnostic>| check_text(&fields, t, out);
    let value = |v: &Option<Value>, out: &mut Vec<Diagnostic>| {
        if let Some(v) = v {
            check_value(&fields, v, out);
        }
    };
    match &stage.kind {
        StageKind::Empty { echo, .. } => {
            if let Some(echo) = echo {
                text(echo, out);
            }
        }
        StageKind::Bash { bash, env: vars } => {
            text(bash, out);
            for (_, v) in vars {
                text(v, out);
            }
        }
        StageKind::Py { run, vars } => {
            text(run, out);
            value(vars, out);
        }
        StageKind::VirtualPy {
            run,
            vars,
            deps,
            version,
        } => {
            text(run, out);
            value(vars, out);
            for dep in deps {
                text(dep, out);
            }
            if let Some(v) = version {
                text(v, out);
            }
        }
        StageKind::Call { uses, args } => {
            text(uses, out);
            value(args, out);
        }
        StageKind::Trigger { trigger, params } => {
            text(trigger, out);
            value(params, out);
        }
        StageKind::Raise { message } => text(message, out),
        StageKind::Docker {
            image,
            tag,
            env: vars,
            volume,
            auth,
            command,
        } => {
            text(image, out);
            if let Some(tag) = tag {
                text(tag, out);
            }
            value(vars, out);
            for entry in volume.iter().flatten() {
                text(&entry.host, out);
                check_value(&fields, &entry.container, out);
            }
            value(auth, out);
            match command {
                Some(crate::syntax::model::DockerCommand::Shell(t)) => text(t, out),
                Some(crate::syntax::model::DockerCommand::Exec(parts)) => {
                    for t in parts {
                        text(t, out);
                    }
                }
                None => {}
            }
        }
        StageKind::Parallel {
            branches,
            max_workers,
        } => {
            if let Some(Count::Template(t)) = max_workers {
                check_text(env, t, out);
            }
            let inner = Env {
                branch: true,
                ..env.clone()
            };
            for branch in branches {
                stage_list(&inner, &branch.stages, out);
            }
        }
        StageKind::ForEach {
            foreach, stages, ..
        } => {
            match foreach {
                ForEachItems::Template(t) => check_text(env, t, out),
                ForEachItems::List(items) => items.iter().for_each(|v| check_value(env, v, out)),
            }
            let inner = Env {
                item: true,
                ..env.clone()
            };
            stage_list(&inner, stages, out);
        }
        StageKind::Until {
            item,
            until,
            stages,
            ..
        } => {
            if let Some(item) = item {
                check_value(env, item, out);
            }
            let mut inner = Env {
                item: true,
                ..env.clone()
            };
            stage_list(&inner, stages, out);
            // `until` is evaluated after the body ran: the body's stages are visible.
            for s in stages {
                match s.literal_id() {
                    Some(id) => inner
                        .stages
                        .get_or_insert_with(Vec::new)
                        .push(id.to_string()),
                    None => inner.dynamic_ids = true,
                }
            }
            check_cond(&inner, until, out);
        }
        StageKind::Case { case, arms, .. } => {
            check_text(env, case, out);
            let inner = Env {
                case: true,
                ..env.clone()
            };
            for arm in arms {
                if let Some(v) = &arm.case {
                    check_value(env, v, out);
                }
                stage_list(&inner, &arm.stages, out);
            }
        }
    }
}

fn check_value(env: &Env<'_>, value: &Value, out: &mut Vec<Diagnostic>) {
    let mut texts = Vec::new();
    value.texts(&mut texts);
    for t in texts {
        check_text(env, t, out);
    }
}

fn check_text(env: &Env<'_>, text: &Text, out: &mut Vec<Diagnostic>) {
    let at = |r: TextRange| text_span(env.source, text, r);
    for interp in text.template.interps() {
        check_path(env, &interp.pipeline.path, &at, out);
        for filter in &interp.pipeline.filters {
            check_filter(env, filter, &at, out);
        }
    }
}

fn check_cond(env: &Env<'_>, cond: &Cond, out: &mut Vec<Diagnostic>) {
    let Some(expr) = &cond.expr else { return };
    let at = |r: TextRange| cond_span(env.source, cond, r);
    expr.walk(&mut |item| match item {
        ExprItem::Path(path) => check_path(env, path, &at, out),
        ExprItem::Filter(filter) => check_filter(env, filter, &at, out),
        ExprItem::Env => {}
    });
}

fn list_names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

fn check_path(
    env: &Env<'_>,
    path: &Path,
    at: &dyn Fn(TextRange) -> Span,
    out: &mut Vec<Diagnostic>,
) {
    let Some(first) = path.segments.first() else {
        return;
    };
    let Some(root) = path.root() else {
        out.push(
            Diagnostic::new(
                Code::UnknownName,
                at(first.range),
                "a path cannot start with an index",
            )
            .label("here")
            .help(format!(
                "start from one of {}",
                list_names(ROOTS.iter().copied())
            )),
        );
        return;
    };
    let root_span = || at(first.range);
    if env.only_matrix && root != "matrix" {
        out.push(
            Diagnostic::new(
                Code::TemplateNotAllowed,
                root_span(),
                format!("a stage's `name` and `id` can only use `matrix` templates, not `{root}`"),
            )
            .label("resolved before the stage runs")
            .help("move the value into the stage's fields, or use a matrix key"),
        );
        return;
    }
    let next = path.segments.get(1);
    let next_name = path.name_at(1);
    let optional = next.is_some_and(|s| s.optional);
    match root {
        "params" => {
            let (Some(name), Some(next)) = (next_name, next) else {
                return;
            };
            let span = || at(next.range);
            if optional || env.workflow.param(name).is_some() {
                return;
            }
            let declared = env.workflow.params.iter().map(|p| p.name.value.as_str());
            out.push(
                Diagnostic::new(
                    Code::UndeclaredParam,
                    span(),
                    format!(
                        "`params.{name}` is not declared in workflow `{}`",
                        env.workflow.name.value
                    ),
                )
                .label("undeclared param")
                .help(suggestion(name, declared.clone()).unwrap_or_else(|| {
                    format!(
                        "declare it under `params:` (declared: {})",
                        list_names(declared)
                    )
                })),
            );
        }
        "matrix" => {
            let Some(keys) = &env.matrix else {
                out.push(
                    Diagnostic::new(
                        Code::OutOfScope,
                        root_span(),
                        "`matrix` is not available here",
                    )
                    .label("no matrix here")
                    .help("a job's `if` and `strategy` are evaluated before its matrix exists"),
                );
                return;
            };
            let (Some(key), Some(next)) = (next_name, next) else {
                return;
            };
            let span = || at(next.range);
            if optional || keys.contains(&key) {
                return;
            }
            let message = if keys.is_empty() {
                format!(
                    "job `{}` has no matrix, so `matrix.{key}` does not exist",
                    env.job.id.value
                )
            } else {
                format!(
                    "`{key}` is not a key of the matrix of job `{}`",
                    env.job.id.value
                )
            };
            out.push(
                Diagnostic::new(Code::UnknownMatrixKey, span(), message)
                    .label("unknown matrix key")
                    .help(suggestion(key, keys.iter().copied()).unwrap_or_else(|| {
                        if keys.is_empty() {
                            "add a `strategy.matrix` to the job".to_string()
                        } else {
                            format!("matrix keys are: {}", list_names(keys.iter().copied()))
                        }
                    })),
            );
        }
        "stages" => check_stage_ref(env, path, at, out),
        "jobs" => {
            let (Some(id), Some(next)) = (next_name, next) else {
                return;
            };
            let span = || at(next.range);
            if optional || env.upstream.contains(id) {
                return;
            }
            let exists = env.workflow.job(id).is_some();
            let (message, help) = if exists {
                (
                    format!(
                        "job `{id}` is not upstream of job `{}`, so it may not have run yet",
                        env.job.id.value
                    ),
                    format!("add `{id}` to the `needs` of job `{}`", env.job.id.value),
                )
            } else {
                (
                    format!("workflow `{}` has no job `{id}`", env.workflow.name.value),
                    suggestion(id, env.workflow.jobs.iter().map(|j| j.id.value.as_str()))
                        .unwrap_or_else(|| {
                            format!(
                                "jobs are: {}",
                                list_names(env.workflow.jobs.iter().map(|j| j.id.value.as_str()))
                            )
                        }),
                )
            };
            out.push(
                Diagnostic::new(Code::JobNotUpstream, span(), message)
                    .label(if exists {
                        "not in `needs`"
                    } else {
                        "no such job"
                    })
                    .help(help),
            );
        }
        "item" | "loop" | "branch" | "case" | "retry" => {
            let (visible, place) = match root {
                "item" | "loop" => (env.item, "inside foreach and until stages"),
                "branch" => (env.branch, "inside parallel stages"),
                "case" => (env.case, "inside the arms of case stages"),
                _ => (env.retry, "in stages that take `retry`"),
            };
            if !visible {
                out.push(
                    Diagnostic::new(
                        Code::OutOfScope,
                        root_span(),
                        format!("`{root}` is not available here"),
                    )
                    .label(format!("outside of where `{root}` exists"))
                    .help(format!("`{root}` exists only {place}")),
                );
            }
        }
        _ => out.push(
            Diagnostic::new(
                Code::UnknownName,
                root_span(),
                format!("unknown name `{root}`"),
            )
            .label("not a context name")
            .help(suggestion(root, ROOTS.iter().copied()).unwrap_or_else(|| {
                format!(
                    "templates start from one of {}",
                    list_names(ROOTS.iter().copied())
                )
            })),
        ),
    }
}

fn check_stage_ref(
    env: &Env<'_>,
    path: &Path,
    at: &dyn Fn(TextRange) -> Span,
    out: &mut Vec<Diagnostic>,
) {
    let Some(visible) = &env.stages else {
        let root_span = path
            .segments
            .first()
            .map_or_else(Span::default, |s| at(s.range));
        out.push(
            Diagnostic::new(
                Code::OutOfScope,
                root_span,
                "`stages` is not available here",
            )
            .label("no stages here")
            .help("a job's `if` and `strategy` are evaluated before any of its stages run"),
        );
        return;
    };
    let (Some(id), Some(segment)) = (path.name_at(1), path.segments.get(1)) else {
        return;
    };
    if segment.optional {
        return;
    }
    if !visible.iter().any(|v| v == id) {
        if env.dynamic_ids {
            return;
        }
        let later = job_has_stage_id(&env.job.stages, id);
        let elsewhere = env
            .workflow
            .jobs
            .iter()
            .find(|j| j.id.value != env.job.id.value && job_has_stage_id(&j.stages, id));
        let help = suggestion(id, visible.iter().map(String::as_str)).unwrap_or_else(|| {
            if let Some(other) = elsewhere {
                let via = if other
                    .strategy
                    .as_ref()
                    .is_some_and(|s| !s.matrix.is_empty())
                {
                    format!(
                        "jobs.{}.strategies.<strategy id>.stages.{id}",
                        other.id.value
                    )
                } else {
                    format!("jobs.{}.stages.{id}", other.id.value)
                };
                format!(
                    "`{id}` is a stage of job `{}`; another job reads it as `{via}`",
                    other.id.value
                )
            } else if later {
                format!(
                    "stage `{id}` does not run before this one in the same list or an enclosing one"
                )
            } else {
                format!(
                    "stages visible here: {}",
                    list_names(visible.iter().map(String::as_str).filter(|v| !is_hash(v)))
                )
            }
        });
        out.push(
            Diagnostic::new(
                Code::UnknownStageRef,
                at(segment.range),
                format!("no stage with id `{id}` runs before this point"),
            )
            .label(if later {
                "not an earlier stage in scope"
            } else {
                "unknown stage id"
            })
            .help(help),
        );
        return;
    }
    if let (Some(field), Some(seg)) = (path.name_at(2), path.segments.get(2))
        && !RESULT_FIELDS.contains(&field)
    {
        out.push(
            Diagnostic::new(
                Code::UnknownStageRef,
                at(seg.range),
                format!("a stage result has no `{field}`"),
            )
            .label("unknown field")
            .help(
                suggestion(field, RESULT_FIELDS.iter().copied()).unwrap_or_else(|| {
                    format!(
                        "a stage result has {}",
                        list_names(RESULT_FIELDS.iter().copied())
                    )
                }),
            ),
        );
    }
}

fn is_hash(id: &str) -> bool {
    id.len() == 10 && id.bytes().all(|b| b.is_ascii_digit())
}

fn job_has_stage_id(stages: &[Stage], id: &str) -> bool {
    let mut found = false;
    super::walk_stages(stages, &mut |s| {
        if s.literal_id() == Some(id) {
            found = true;
        }
    });
    found
}

fn check_filter(
    env: &Env<'_>,
    filter: &Filter,
    at: &dyn Fn(TextRange) -> Span,
    out: &mut Vec<Diagnostic>,
) {
    let name = filter.name.as_str();
    let Some(&(_, min, max, keywords)) = FILTERS.iter().find(|f| f.0 == name) else {
        if env.options.extra_filters.iter().any(|f| f == name) {
            return;
        }
        let names = FILTERS
            .iter()
            .map(|f| f.0)
            .chain(env.options.extra_filters.iter().map(String::as_str));
        out.push(
            Diagnostic::new(
                Code::UnknownFilter,
                at(filter.name_range),
                format!("unknown filter `{name}`"),
            )
            .label("no such filter")
            .help(suggestion(name, names.clone()).unwrap_or_else(|| {
                format!(
                    "filters are {}; declare Python filters with `wfc check --filter NAME`",
                    list_names(names)
                )
            })),
        );
        return;
    };
    let given = filter.args.len() + filter.kwargs.len();
    let bad_keyword = filter
        .kwargs
        .iter()
        .find(|(k, _)| !keywords.contains(&k.as_str()));
    let problem = if let Some((k, _)) = bad_keyword {
        Some(format!("filter `{name}` has no argument `{k}`"))
    } else if given < min || given > max {
        let wanted = match (min, max) {
            (0, 0) => "no arguments".to_string(),
            (a, b) if a == b => format!("{a} argument{}", if a == 1 { "" } else { "s" }),
            (a, b) => format!("{a} to {b} arguments"),
        };
        Some(format!(
            "filter `{name}` takes {wanted}, but {given} {} given",
            if given == 1 { "is" } else { "are" }
        ))
    } else {
        None
    };
    if let Some(message) = problem {
        let usage = match name {
            "fmt" => "fmt('%Y-%m-%d')",
            "coalesce" => "coalesce('default')",
            "getitem" => "getitem('key', default=None)",
            "getindex" => "getindex(0)",
            _ => name,
        };
        out.push(
            Diagnostic::new(Code::FilterArguments, at(filter.range), message)
                .label("wrong arguments")
                .help(format!("write `{usage}`")),
        );
    }
}
