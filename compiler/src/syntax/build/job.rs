//! Jobs: `runs-on`, `needs`, `trigger-rule`, `strategy` and their stages.

use super::edits::{self, MaybeFix};
use super::reader::Cx;
use super::stage;
use crate::diagnostic::{Code, Diagnostic};
use crate::span::Spanned;
use crate::syntax::model::{
    AxisValues, Job, MatrixAxis, MatrixRow, RunsOn, RunsOnKind, Strategy, TriggerRule, WrittenValue,
};
use crate::syntax::yaml::{Entry, Node, NodeKind};

/// The keys of `runs-on` written as a mapping.
pub(crate) const RUNS_ON_KEYS: &[&str] = &["type", "with"];

/// The bounds (from, below) of a strategy's `max-parallel`.
pub(crate) const MAX_PARALLEL: (i64, i64) = (1, 10);

pub(crate) const JOB_KEYS: &[&str] = &[
    "id",
    "desc",
    "runs-on",
    "if",
    "stages",
    "retry",
    "trigger-rule",
    "needs",
    "strategy",
    "extras",
];

pub(super) fn jobs(cx: &mut Cx<'_>, node: &Node) -> Vec<Job> {
    let NodeKind::Map(entries) = &node.kind else {
        cx.wrong_type(
            node,
            "`jobs` must be a mapping of job ids to jobs",
            "a mapping",
        );
        return Vec::new();
    };
    let kept = cx.dedup(entries, Code::DuplicateJob, "job id");
    kept.into_iter().filter_map(|e| job(cx, e)).collect()
}

fn job(cx: &mut Cx<'_>, entry: &Entry) -> Option<Job> {
    let id = Spanned::new(entry.key.name.clone(), entry.key.span);
    cx.literal_only(&id, "a job id");
    let obj = cx.obj(&entry.value, &format!("job `{}`", id.value))?;
    cx.check_keys(&obj, "a job", JOB_KEYS);
    if let Some(inner_entry) = obj.entry("id") {
        let inner = &inner_entry.value;
        match inner.as_str() {
            Some(inner_id) if inner_id != id.value => cx.report(
                Diagnostic::new(
                    Code::NameMismatch,
                    inner.span,
                    format!(
                        "`id: {inner_id}` differs from the job's key `{}`, which wins",
                        id.value
                    ),
                )
                .label("ignored")
                .with_secondary(id.span, "the job's id")
                .help("remove `id:` or make it equal to the key")
                .maybe_fix(edits::remove_ignored_entry(
                    &cx.source.text,
                    obj.entries.len(),
                    inner_entry,
                )),
            ),
            Some(_) => {}
            None => cx.wrong_type(inner, "`id` must be a string", "a string"),
        }
    }
    let desc = cx.desc(&obj);
    let runs_on = obj.get("runs-on").and_then(|n| runs_on(cx, n));
    let cond = obj.get("if").and_then(|n| cx.condition(n, "if"));
    let stages = obj
        .get("stages")
        .map(|n| stage::stage_list(cx, n, stage::Place::Job))
        .unwrap_or_default();
    let retry = cx.int_in(&obj, "retry", 0, 20);
    let trigger_rule = obj.get("trigger-rule").and_then(|n| trigger_rule(cx, n));
    let needs = cx.string_list(&obj, "needs");
    let strategy = obj.get("strategy").and_then(|n| strategy(cx, n));
    let extras = cx.map_value(&obj, "extras");
    Some(Job {
        id,
        desc,
        runs_on,
        cond,
        stages,
        retry,
        trigger_rule,
        needs,
        strategy,
        extras,
    })
}

fn trigger_rule(cx: &mut Cx<'_>, node: &Node) -> Option<Spanned<TriggerRule>> {
    let text = cx.string_node(node, "trigger-rule")?;
    cx.one_of(
        &text,
        &TriggerRule::ALL,
        TriggerRule::name,
        Code::InvalidValue,
        "trigger rule",
    )
}

/// The `with:` keys of each `runs-on` type, required ones first.
pub(crate) fn runs_on_args(
    kind: RunsOnKind,
) -> Option<(&'static [&'static str], &'static [&'static str])> {
    match kind {
        RunsOnKind::Local => None,
        RunsOnKind::SelfHosted => Some((&[], &["host", "token", "labels"])),
        RunsOnKind::Docker => Some((&[], &["image", "env", "volume"])),
        RunsOnKind::Container => Some((
            &["image"],
            &[
                "container_name",
                "volumes",
                "environment",
                "network",
                "resources",
                "working_dir",
                "user",
                "command",
                "timeout",
                "remove",
                "docker_host",
            ],
        )),
        RunsOnKind::AwsBatch => Some((
            &["job_queue_arn", "s3_bucket"],
            &[
                "region_name",
                "aws_access_key_id",
                "aws_secret_access_key",
                "aws_session_token",
            ],
        )),
        RunsOnKind::GcpBatch => Some((
            &["project_id", "region", "gcs_bucket"],
            &["credentials_path", "machine_type", "max_parallel_tasks"],
        )),
    }
}

fn runs_on_kind(cx: &mut Cx<'_>, text: &Spanned<String>) -> Option<Spanned<RunsOnKind>> {
    cx.one_of(
        text,
        &RunsOnKind::ALL,
        RunsOnKind::name,
        Code::UnknownRunsOn,
        "`runs-on` type",
    )
}

fn runs_on(cx: &mut Cx<'_>, node: &Node) -> Option<RunsOn> {
    if let NodeKind::Str(s) = &node.kind {
        let text = Spanned::new(s.clone(), node.span);
        let kind = runs_on_kind(cx, &text)?;
        if kind.value != RunsOnKind::Local {
            cx.report(
                Diagnostic::new(
                    Code::WrongType,
                    node.span,
                    format!("`runs-on: {s}` needs its arguments"),
                )
                .label("only `local` can be written as a plain string")
                .help(format!("write `runs-on: {{type: {s}, with: {{...}}}}`")),
            );
        }
        return Some(RunsOn {
            span: node.span,
            kind,
            args: None,
        });
    }
    let obj = cx.obj(node, "`runs-on`")?;
    cx.check_keys(&obj, "`runs-on`", RUNS_ON_KEYS);
    let kind = match cx.string(&obj, "type") {
        Some(text) => runs_on_kind(cx, &text)?,
        None if obj.has("type") => return None,
        None => Spanned::new(RunsOnKind::Local, obj.node.span),
    };
    let args = cx.map_value(&obj, "with");
    if let Some((required, optional)) = runs_on_args(kind.value) {
        let what = format!("`runs-on` type `{}`", kind.value.name());
        let entries: &[(crate::syntax::yaml::Key, WrittenValue)] =
            args.as_ref().and_then(WrittenValue::as_map).unwrap_or(&[]);
        let all: Vec<&str> = required.iter().chain(optional).copied().collect();
        for (key, _) in entries {
            if !all.contains(&key.name.as_str()) {
                cx.report(
                    Diagnostic::new(
                        Code::UnknownKey,
                        key.span,
                        format!("unknown key `{}` in `with` of {what}", key.name),
                    )
                    .label("unknown key")
                    .did_you_mean_or(&key.name, all.iter().copied(), || {
                        Some(format!("its `with` keys are: {}", all.join(", ")))
                    }),
                );
            }
        }
        for needed in required {
            if !entries.iter().any(|(k, _)| k.name == *needed) {
                let at = obj.key_span(if obj.has("with") { "with" } else { "type" });
                cx.report(
                    Diagnostic::new(
                        Code::MissingKey,
                        at,
                        format!("{what} needs `with.{needed}`"),
                    )
                    .label(format!("`{needed}` is missing"))
                    .help(format!("add `{needed}` under `with`")),
                );
            }
        }
    }
    if matches!(kind.value, RunsOnKind::AwsBatch | RunsOnKind::GcpBatch) {
        cx.report(
            Diagnostic::new(
                Code::UnsupportedRunsOn,
                kind.span,
                format!("`runs-on` type `{}` is not supported by wfc", kind.value.name()),
            )
            .label("wfc does not run jobs on this provider")
            .help("use self_hosted workers (`runs-on: {type: self_hosted, with: {host: nats://…}}` and `wfr worker`), or a container job"),
        );
    }
    if kind.value == RunsOnKind::SelfHosted {
        self_hosted_token(cx, args.as_ref());
    }
    Some(RunsOn {
        span: node.span,
        kind,
        args,
    })
}

/// `token` of `runs-on: self_hosted` must be `${VAR}`: a credential is read
/// from the environment when the job is dispatched, never kept in a plan.
fn self_hosted_token(cx: &mut Cx<'_>, args: Option<&WrittenValue>) {
    let Some(token) = args
        .and_then(WrittenValue::as_map)
        .and_then(|entries| entries.iter().find(|(k, _)| k.name == "token"))
        .map(|(_, v)| v)
    else {
        return;
    };
    let is_variable = |raw: &str| {
        raw.strip_prefix("${")
            .and_then(|r| r.strip_suffix('}'))
            .is_some_and(|name| {
                !name.is_empty()
                    && !name.starts_with(|c: char| c.is_ascii_digit())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
    };
    let ok = matches!(&token.kind, crate::syntax::model::ValueKind::Text(t) if is_variable(t.raw.trim()));
    if !ok {
        cx.report(
            Diagnostic::new(
                Code::SecretInWorkflow,
                token.span,
                "the `token` of a self_hosted job is written into the workflow",
            )
            .label("a credential kept in the workflow and its plan")
            .help("write `token: ${WFR_NATS_TOKEN}` (any variable name): wfr reads it from its environment when the job is dispatched"),
        );
    }
}

pub(crate) const STRATEGY_KEYS: &[&str] =
    &["matrix", "include", "exclude", "max-parallel", "fail-fast"];

fn strategy(cx: &mut Cx<'_>, node: &Node) -> Option<Strategy> {
    let obj = cx.obj(node, "`strategy`")?;
    cx.check_keys(&obj, "`strategy`", STRATEGY_KEYS);
    let fail_fast = cx.boolean(&obj, "fail-fast");
    let max_parallel = cx.count_in(&obj, "max-parallel", MAX_PARALLEL.0, MAX_PARALLEL.1);
    let matrix = obj.get("matrix").map(|n| matrix(cx, n)).unwrap_or_default();
    let include = obj
        .get("include")
        .map(|n| rows(cx, n, "include"))
        .unwrap_or_default();
    let exclude = obj
        .get("exclude")
        .map(|n| rows(cx, n, "exclude"))
        .unwrap_or_default();
    Some(Strategy {
        fail_fast,
        max_parallel,
        matrix_span: obj.key_span("matrix"),
        matrix,
        include,
        exclude,
    })
}

fn matrix(cx: &mut Cx<'_>, node: &Node) -> Vec<MatrixAxis> {
    let Some(obj) = cx.obj(node, "`matrix`") else {
        return Vec::new();
    };
    let mut axes = Vec::new();
    for entry in &obj.entries {
        let node = &entry.value;
        let values = match &node.kind {
            NodeKind::Seq(items) => {
                let strings = items
                    .iter()
                    .filter(|i| matches!(i.kind, NodeKind::Str(_)))
                    .count();
                for item in items {
                    let fits = match item.kind {
                        NodeKind::Str(_) => true,
                        NodeKind::Int(_) | NodeKind::BigInt(_) | NodeKind::Bool(_) => strings == 0,
                        _ => false,
                    };
                    if !fits {
                        cx.wrong_type(
                            item,
                            &format!(
                                "values of matrix key `{}` must all be strings or all be integers",
                                entry.key.name
                            ),
                            if strings > 0 {
                                "a string"
                            } else {
                                "an integer"
                            },
                        );
                    }
                }
                AxisValues::List(items.iter().map(|n| cx.value(n)).collect())
            }
            NodeKind::Str(s) => {
                let text = cx.template(s.clone(), node.span);
                if text.template.sole_interp().is_none() {
                    cx.wrong_type(
                        node,
                        &format!(
                            "matrix key `{}` must be a list (or one template that gives a list)",
                            entry.key.name
                        ),
                        "a list",
                    );
                    continue;
                }
                AxisValues::Template(text)
            }
            _ => {
                cx.wrong_type(
                    node,
                    &format!("matrix key `{}` must be a list", entry.key.name),
                    "a list",
                );
                continue;
            }
        };
        axes.push(MatrixAxis {
            key: entry.key.clone(),
            values,
        });
    }
    axes
}

fn rows(cx: &mut Cx<'_>, node: &Node, key: &str) -> Vec<MatrixRow> {
    let NodeKind::Seq(items) = &node.kind else {
        cx.wrong_type(
            node,
            &format!("`{key}` must be a list of mappings"),
            "a list",
        );
        return Vec::new();
    };
    let mut rows = Vec::new();
    for item in items {
        let Some(obj) = cx.obj(item, &format!("an `{key}` entry")) else {
            continue;
        };
        let mut entries = Vec::new();
        for entry in &obj.entries {
            if !matches!(
                entry.value.kind,
                NodeKind::Str(_) | NodeKind::Int(_) | NodeKind::BigInt(_) | NodeKind::Bool(_)
            ) {
                cx.wrong_type(
                    &entry.value,
                    &format!("`{key}` values must be strings or integers"),
                    "a string",
                );
                continue;
            }
            entries.push((entry.key.clone(), cx.value(&entry.value)));
        }
        rows.push(MatrixRow {
            span: item.span,
            entries,
        });
    }
    rows
}
