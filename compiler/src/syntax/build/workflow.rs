//! The top level of a file, workflows, params and schedules.

use super::edits::{self, MaybeFix};
use super::job;
use super::reader::{Cx, Obj};
use crate::diagnostic::{Applicability, Code, Diagnostic, Fix, did_you_mean};
use crate::span::Spanned;
use crate::syntax::model::{
    Param, ParamType, Schedule, ScheduleKind, ValueKind, Workflow, WrittenValue,
};
use crate::syntax::yaml::{Entry, Node, NodeKind};
use wfc_plan::cron;

pub(crate) const WORKFLOW_KEYS: &[&str] = &[
    "name", "type", "desc", "params", "on", "jobs", "tags", "extras",
];

/// Keys that show an untyped entry was meant as a workflow.
const WORKFLOW_MARKERS: &[&str] = &["jobs", "params"];

/// All workflows of a file, in either shape: `NAME: {type: Workflow, ...}` entries,
/// or one workflow with a top-level `name:`.
pub(super) fn file(cx: &mut Cx<'_>, root: &Node) -> Vec<Workflow> {
    match &root.kind {
        NodeKind::Null => Vec::new(),
        NodeKind::Map(entries) => {
            if entries.iter().any(|e| e.key.name == "name") {
                return unnested(cx, root).into_iter().collect();
            }
            let kept = cx.dedup(entries, Code::DuplicateWorkflow, "workflow");
            kept.into_iter()
                .filter_map(|entry| nested(cx, entry))
                .collect()
        }
        _ => {
            cx.report(
                Diagnostic::new(
                    Code::NotAWorkflow,
                    first_line(cx, root.span),
                    format!("a workflow file must be a mapping, but this file is {}", root.type_name()),
                )
                .label("top level of the file")
                .help("write `NAME: {type: Workflow, jobs: ...}`, or one workflow with a top-level `name:`"),
            );
            Vec::new()
        }
    }
}

/// The part of `span` on its first line: a label over a whole file reads badly.
fn first_line(cx: &Cx<'_>, span: crate::span::Span) -> crate::span::Span {
    let text = cx.source.slice(span);
    // Lines end at LF, CRLF or a lone CR.
    let len = text.find(['\n', '\r']).unwrap_or(text.len());
    span.within(0..len)
}

/// Whether a mapping is a workflow (`type: Workflow`); reports entries that look
/// like workflows but are not typed as one.
fn is_workflow(cx: &mut Cx<'_>, node: &Node, name_span: crate::span::Span) -> bool {
    let Some(entries) = node.as_map() else {
        return false;
    };
    match node.get("type") {
        Some(Node {
            kind: NodeKind::Str(t),
            span,
        }) => {
            if t == "Workflow" {
                return true;
            }
            if did_you_mean(t, ["Workflow"]).is_some() {
                cx.report(
                    Diagnostic::new(
                        Code::IgnoredEntry,
                        *span,
                        format!("`type: {t}` is not `Workflow`, so this entry is ignored"),
                    )
                    .label("not a workflow type")
                    .help("write `type: Workflow` (the case matters)")
                    // Unsafe: the entry becomes a workflow that is checked and run.
                    .with_fix(Fix::rename(
                        *span,
                        t,
                        "Workflow",
                        Applicability::Unsafe,
                    )),
                );
            }
            false
        }
        Some(other) => {
            cx.wrong_type(other, "`type` must be a string", "a string");
            false
        }
        None => {
            if entries
                .iter()
                .any(|e| WORKFLOW_MARKERS.contains(&e.key.name.as_str()))
            {
                cx.report(
                    Diagnostic::new(
                        Code::IgnoredEntry,
                        name_span,
                        "this entry has workflow keys but no `type: Workflow`, so it is ignored",
                    )
                    .label("no `type`")
                    .help("add `type: Workflow`"),
                );
            }
            false
        }
    }
}

fn nested(cx: &mut Cx<'_>, entry: &Entry) -> Option<Workflow> {
    if !is_workflow(cx, &entry.value, entry.key.span) {
        return None;
    }
    let name = Spanned::new(entry.key.name.clone(), entry.key.span);
    cx.literal_only(&name, "a workflow name");
    let obj = cx.obj(&entry.value, "a workflow")?;
    if let Some(inner_entry) = obj.entry("name") {
        let inner = &inner_entry.value;
        match inner.as_str() {
            Some(inner_name) if inner_name != name.value => cx.report(
                Diagnostic::new(
                    Code::NameMismatch,
                    inner.span,
                    format!(
                        "`name: {inner_name}` differs from the workflow's key `{}`, which wins",
                        name.value
                    ),
                )
                .label("ignored")
                .with_secondary(name.span, "the workflow's name")
                .help("remove `name:` or make it equal to the key")
                .maybe_fix(edits::remove_ignored_entry(
                    &cx.source.text,
                    obj.entries.len(),
                    inner_entry,
                )),
            ),
            Some(_) => {}
            None => cx.wrong_type(inner, "`name` must be a string", "a string"),
        }
    }
    Some(workflow(
        cx,
        &obj,
        name,
        entry.key.span.cover(entry.value.span),
    ))
}

fn unnested(cx: &mut Cx<'_>, root: &Node) -> Option<Workflow> {
    let name_node = root.get("name")?;
    let name = cx.string_node(name_node, "name")?;
    if !is_workflow(cx, root, name_node.span) {
        return None;
    }
    cx.literal_only(&name, "a workflow name");
    let obj = cx.obj(root, "a workflow")?;
    Some(workflow(cx, &obj, name, root.span))
}

fn workflow(
    cx: &mut Cx<'_>,
    obj: &Obj<'_>,
    name: Spanned<String>,
    span: crate::span::Span,
) -> Workflow {
    cx.check_keys(obj, "a workflow", WORKFLOW_KEYS);
    let desc = cx.desc(obj);
    let params = obj.get("params").map(|n| params(cx, n)).unwrap_or_default();
    let (schedule, release) = obj.entry("on").map(|e| on(cx, e)).unwrap_or_default();
    let jobs = obj
        .get("jobs")
        .map(|n| job::jobs(cx, n))
        .unwrap_or_default();
    let tags = cx.string_list(obj, "tags");
    let extras = cx.map_value(obj, "extras");
    Workflow {
        name,
        span,
        desc,
        params,
        schedule,
        release,
        jobs,
        tags,
        extras,
    }
}

fn params(cx: &mut Cx<'_>, node: &Node) -> Vec<Param> {
    let Some(obj) = cx.obj(node, "`params`") else {
        return Vec::new();
    };
    obj.entries
        .iter()
        .filter_map(|entry| param(cx, entry))
        .collect()
}

pub(crate) const PARAM_KEYS: &[&str] = &[
    "type",
    "desc",
    "required",
    "default",
    "options",
    "precision",
];

fn param_type(cx: &mut Cx<'_>, node: &Node) -> Option<Spanned<ParamType>> {
    let text = cx.string_node(node, "type")?;
    cx.one_of(
        &text,
        &ParamType::ALL,
        ParamType::name,
        Code::InvalidValue,
        "param type",
    )
}

fn param(cx: &mut Cx<'_>, entry: &Entry) -> Option<Param> {
    let name = Spanned::new(entry.key.name.clone(), entry.key.span);
    // `x: str` is short for `x: {type: str}`.
    if let NodeKind::Str(_) = entry.value.kind {
        let ty = param_type(cx, &entry.value)?;
        return Some(Param {
            name,
            ty,
            desc: None,
            required: None,
            default: None,
            options: Vec::new(),
            precision: None,
        });
    }
    let obj = cx.obj(&entry.value, "a param (or a type name such as `str`)")?;
    let Some(type_node) = obj.get("type") else {
        cx.missing_key(
            &obj,
            "type",
            &format!("param `{}`", name.value),
            "add `type: str` (or int, float, decimal, date, datetime, choice, map, array)",
        );
        return None;
    };
    let ty = param_type(cx, type_node)?;
    let mut allowed: Vec<&str> = vec!["type", "desc", "required", "default"];
    match ty.value {
        ParamType::Choice => allowed.push("options"),
        ParamType::Float | ParamType::Decimal => allowed.push("precision"),
        _ => {}
    }
    for entry in &obj.entries {
        let key = entry.key.name.as_str();
        if allowed.contains(&key) {
            continue;
        }
        if PARAM_KEYS.contains(&key) {
            cx.report(
                Diagnostic::new(
                    Code::MisplacedKey,
                    entry.key.span,
                    format!("`{key}` is not a key of `{}` params", ty.value.name()),
                )
                .label("not used by this type")
                .help(match key {
                    "options" => "only `choice` params have `options`".to_string(),
                    _ => "only `float` and `decimal` params have `precision`".to_string(),
                }),
            );
        } else {
            cx.unknown_key(entry, "a param", &allowed);
        }
    }
    let desc = cx.desc(&obj);
    let required = cx.boolean(&obj, "required");
    let precision = cx.int_in(&obj, "precision", 0, 29);
    let options = if ty.value == ParamType::Choice {
        choice_options(cx, &obj, &name)
    } else {
        Vec::new()
    };
    let default = obj.get("default").and_then(|node| {
        let value = cx.value(node);
        check_default(cx, ty.value, &value, &options).then_some(value)
    });
    Some(Param {
        name,
        ty,
        desc,
        required,
        default,
        options,
        precision,
    })
}

fn choice_options(cx: &mut Cx<'_>, obj: &Obj<'_>, name: &Spanned<String>) -> Vec<WrittenValue> {
    let Some(node) = obj.get("options") else {
        cx.missing_key(
            obj,
            "options",
            &format!("choice param `{}`", name.value),
            "add `options: [a, b]`",
        );
        return Vec::new();
    };
    let NodeKind::Seq(items) = &node.kind else {
        cx.wrong_type(node, "`options` must be a list", "a list");
        return Vec::new();
    };
    if items.is_empty() {
        cx.report(
            Diagnostic::new(Code::InvalidValue, node.span, "`options` is empty")
                .label("no options")
                .help("a choice param needs at least one option"),
        );
    }
    let strings = items
        .iter()
        .filter(|i| matches!(i.kind, NodeKind::Str(_)))
        .count();
    let ints = items
        .iter()
        .filter(|i| matches!(i.kind, NodeKind::Int(_) | NodeKind::BigInt(_)))
        .count();
    for item in items {
        let ok = match item.kind {
            NodeKind::Str(_) => ints == 0 || strings >= ints,
            NodeKind::Int(_) | NodeKind::BigInt(_) => strings == 0 || ints > strings,
            _ => false,
        };
        if !ok {
            cx.wrong_type(
                item,
                "options must all be strings or all be integers",
                if strings >= ints {
                    "a string"
                } else {
                    "an integer"
                },
            );
        }
    }
    items.iter().map(|n| cx.value(n)).collect()
}

/// Whether a default fits its param type; reports it when not.
fn check_default(
    cx: &mut Cx<'_>,
    ty: ParamType,
    value: &WrittenValue,
    options: &[WrittenValue],
) -> bool {
    let literal = |v: &WrittenValue| {
        v.as_text()
            .filter(|t| t.template.is_literal())
            .map(|t| t.raw.clone())
    };
    let problem: Option<String> = match (ty, &value.kind) {
        (_, ValueKind::Null) => None,
        (
            ParamType::Str,
            ValueKind::Text(_)
            | ValueKind::Int(_)
            | ValueKind::BigInt(_)
            | ValueKind::Float(_)
            | ValueKind::Bool(_),
        ) => None,
        (ParamType::Int, ValueKind::Int(_) | ValueKind::BigInt(_)) => None,
        (ParamType::Int, ValueKind::Text(t)) if is_integer(t.raw.trim()) => None,
        (ParamType::Int, ValueKind::Text(t)) => Some(format!("`{}` is not an integer", t.raw)),
        (ParamType::Float | ParamType::Decimal, ValueKind::Text(t))
            if t.raw.trim().parse::<f64>().is_err() =>
        {
            Some(format!("`{}` is not a number", t.raw))
        }
        (
            ParamType::Float | ParamType::Decimal,
            ValueKind::Int(_) | ValueKind::BigInt(_) | ValueKind::Float(_),
        ) => None,
        (ParamType::Float | ParamType::Decimal, ValueKind::Text(t))
            if t.raw.trim().parse::<f64>().is_ok() =>
        {
            None
        }
        (ParamType::Date, ValueKind::Text(t)) => {
            if parse_date(&t.raw) {
                None
            } else {
                Some(format!(
                    "`{}` is not a date; write it as `YYYY-MM-DD`",
                    t.raw
                ))
            }
        }
        (ParamType::Datetime, ValueKind::Text(t)) => {
            if parse_datetime(&t.raw) {
                None
            } else {
                Some(format!(
                    "`{}` is not a datetime; write it as `YYYY-MM-DDTHH:MM:SS`",
                    t.raw
                ))
            }
        }
        (ParamType::Map, ValueKind::Map(_)) | (ParamType::Array, ValueKind::Seq(_)) => None,
        (ParamType::Choice, _) => {
            let matches = options.iter().any(|o| match (&o.kind, &value.kind) {
                (ValueKind::Int(a), ValueKind::Int(b)) => a == b,
                (ValueKind::BigInt(a), ValueKind::BigInt(b)) => a == b,
                _ => literal(o).is_some() && literal(o) == literal(value),
            });
            (!matches).then(|| "a choice default must be one of the `options`".to_string())
        }
        _ => Some(format!(
            "{} cannot default to {}",
            article_type(ty),
            value_noun(value)
        )),
    };
    match problem {
        None => true,
        Some(message) => {
            cx.report(
                Diagnostic::new(Code::InvalidDefault, value.span, message)
                    .label(format!("not a valid `{}` value", ty.name())),
            );
            false
        }
    }
}

/// Text an `int` param reads (Python's `int()`): a sign, then digits, of any size.
fn is_integer(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// "a `str` param", "an `int` param".
fn article_type(ty: ParamType) -> String {
    let article = if ty.name().starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} `{}` param", ty.name())
}

fn value_noun(value: &WrittenValue) -> &'static str {
    match value.kind {
        ValueKind::Null => "null",
        ValueKind::Bool(_) => "a boolean",
        ValueKind::Int(_) | ValueKind::BigInt(_) => "an integer",
        ValueKind::Float(_) => "a number",
        ValueKind::Text(_) => "a string",
        ValueKind::Seq(_) => "a list",
        ValueKind::Map(_) => "a mapping",
    }
}

fn parse_date(text: &str) -> bool {
    text.trim().parse::<jiff::civil::Date>().is_ok()
}

fn parse_datetime(text: &str) -> bool {
    let text = text.trim();
    text.parse::<jiff::civil::DateTime>().is_ok()
        || text.parse::<jiff::Timestamp>().is_ok()
        || text.parse::<jiff::civil::Date>().is_ok()
}

pub(crate) const ON_KEYS: &[&str] = &["schedule", "release"];
pub(crate) const CRON_KEYS: &[&str] = &["cronjob", "timezone", "tz", "extras"];
pub(crate) const INTERVAL_KEYS: &[&str] = &["interval", "day", "time", "timezone", "tz", "extras"];

fn on(cx: &mut Cx<'_>, entry: &Entry) -> (Vec<Schedule>, Vec<Spanned<String>>) {
    let node = &entry.value;
    if let NodeKind::Seq(_) = node.kind {
        cx.wrong_type(
            node,
            "`on` must be a mapping with `schedule` (the list form is no longer accepted)",
            "a mapping",
        );
        let fix = edits::schedule_list_fix(&cx.source.text, entry.key.span, node);
        if let Some(last) = cx.diags.last_mut() {
            last.help = Some("write `on: {schedule: [{cronjob: \"0 0 * * *\"}]}`".into());
            last.fix = fix;
        }
        return Default::default();
    }
    let Some(obj) = cx.obj(node, "`on`") else {
        return Default::default();
    };
    cx.check_keys(&obj, "`on`", ON_KEYS);
    let release = cx.string_list(&obj, "release");
    let mut schedules = Vec::new();
    if let Some(list) = obj.get("schedule") {
        match &list.kind {
            NodeKind::Seq(items) => {
                schedules = items.iter().filter_map(|item| schedule(cx, item)).collect();
                check_schedules(cx, list, &schedules);
            }
            _ => cx.wrong_type(list, "`schedule` must be a list", "a list"),
        }
    }
    (schedules, release)
}

fn schedule(cx: &mut Cx<'_>, node: &Node) -> Option<Schedule> {
    let obj = cx.obj(node, "a schedule entry (`{cronjob: \"* * * * *\"}`)")?;
    let timezone_key = if obj.has("tz") { "tz" } else { "timezone" };
    let kind = if obj.has("cronjob") {
        cx.check_keys(&obj, "a cron schedule", CRON_KEYS);
        let expr = cx.string(&obj, "cronjob")?;
        if let Err(error) = cron::validate(&expr.value) {
            let at = cx.content_span(
                expr.span,
                &expr.value,
                crate::syntax::expr::ast::TextRange::new(error.range.start, error.range.end),
            );
            cx.report(
                Diagnostic::new(
                    Code::InvalidCron,
                    at,
                    format!("invalid cron: {}", error.message),
                )
                .label("here")
                .help("fields are `minute hour day month weekday [year]`"),
            );
        }
        ScheduleKind::Cron(expr)
    } else if obj.has("interval") {
        cx.check_keys(&obj, "an interval schedule", INTERVAL_KEYS);
        let interval = cx.string(&obj, "interval")?;
        if !["daily", "weekly", "monthly"].contains(&interval.value.as_str()) {
            cx.report(
                Diagnostic::new(
                    Code::InvalidValue,
                    interval.span,
                    format!("unknown interval `{}`", interval.value),
                )
                .label("not an interval")
                .help("intervals are `daily`, `weekly` and `monthly`"),
            );
        }
        let day = cx.string(&obj, "day");
        if let Some(day) = &day {
            const DAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
            let short = day.value.get(..3).unwrap_or("").to_ascii_lowercase();
            if !DAYS.contains(&short.as_str()) {
                cx.report(
                    Diagnostic::new(
                        Code::InvalidValue,
                        day.span,
                        format!("`{}` is not a weekday", day.value),
                    )
                    .label("not a weekday")
                    .help("write a weekday such as `monday`"),
                );
            }
        }
        let time = cx.string(&obj, "time");
        if let Some(time) = &time {
            let ok = time.value.split_once(':').is_some_and(|(h, m)| {
                h.parse::<u32>().is_ok_and(|h| h < 24) && m.parse::<u32>().is_ok_and(|m| m < 60)
            });
            if !ok {
                cx.report(
                    Diagnostic::new(
                        Code::InvalidValue,
                        time.span,
                        format!("`{}` is not a time of day", time.value),
                    )
                    .label("not `HH:MM`")
                    .help("write the time as `HH:MM`, e.g. `01:30`"),
                );
            }
        }
        ScheduleKind::Interval {
            interval,
            day,
            time,
        }
    } else {
        cx.missing_key(
            &obj,
            "cronjob",
            "a schedule entry",
            "add `cronjob: \"0 0 * * *\"` (or `interval: daily`)",
        );
        return None;
    };
    let timezone = cx.string(&obj, timezone_key);
    if let Some(tz) = &timezone
        && jiff::tz::TimeZone::get(&tz.value).is_err()
    {
        cx.report(
            Diagnostic::new(
                Code::InvalidSchedule,
                tz.span,
                format!("unknown timezone `{}`", tz.value),
            )
            .label("not an IANA timezone")
            .help("use an IANA timezone name such as `UTC` or `Asia/Bangkok`"),
        );
    }
    Some(Schedule {
        span: node.span,
        kind,
        timezone,
    })
}

/// The list-level rules: at most 10 entries, no cron twice, one timezone.
fn check_schedules(cx: &mut Cx<'_>, list: &Node, schedules: &[Schedule]) {
    if schedules.len() > 10 {
        cx.report(
            Diagnostic::new(
                Code::InvalidSchedule,
                list.span,
                format!("{} schedules; at most 10 are allowed", schedules.len()),
            )
            .label("too many entries"),
        );
    }
    for (i, s) in schedules.iter().enumerate() {
        let ScheduleKind::Cron(expr) = &s.kind else {
            continue;
        };
        let normal = |e: &str| e.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(first) = schedules[..i].iter().find_map(|o| match &o.kind {
            ScheduleKind::Cron(e) if normal(&e.value) == normal(&expr.value) => Some(e),
            _ => None,
        }) {
            cx.report(
                Diagnostic::new(
                    Code::InvalidSchedule,
                    expr.span,
                    format!("cron `{}` is listed twice", expr.value),
                )
                .label("duplicate")
                .with_secondary(first.span, "first listed here"),
            );
        }
    }
    let tz_of = |s: &Schedule| {
        s.timezone
            .as_ref()
            .map_or("UTC", |t| t.value.as_str())
            .to_string()
    };
    if let Some(first) = schedules.first() {
        let first_tz = tz_of(first);
        if let Some(other) = schedules.iter().find(|s| tz_of(s) != first_tz) {
            let span = other.timezone.as_ref().map_or(other.span, |t| t.span);
            cx.report(
                Diagnostic::new(
                    Code::InvalidSchedule,
                    span,
                    format!(
                        "schedules use several timezones (`{first_tz}` and `{}`)",
                        tz_of(other)
                    ),
                )
                .label("another timezone")
                .help("all schedules of a workflow must use one timezone"),
            );
        }
    }
}
