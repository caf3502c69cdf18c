//! Stages: the kind is decided by which keys are present, as upstream does, but a
//! stage that fits no kind, or several, is an error instead of a silent empty stage.

use super::reader::{Cx, Obj};
use crate::diagnostic::{Applicability, Code, Diagnostic, Fix, did_you_mean};
use crate::kind::{COMMON_KEYS, Kind, RETRY_KEY};
use crate::span::Span;
use crate::syntax::expr::ast::Part;
use crate::syntax::model::{
    Branch, CaseArm, Cond, ForEachItems, Stage, StageKind, Text, ValueKind, WrittenValue,
};
use crate::syntax::yaml::{Entry, Node, NodeKind};

/// The bounds (from, below) of a parallel stage's `max-workers`, a foreach's
/// `concurrent` and an until's `max-loop`: what the check takes and the JSON
/// Schema says (`schema.rs`).
pub(crate) const MAX_WORKERS: (i64, i64) = (1, 20);
pub(crate) const CONCURRENT: (i64, i64) = (1, 10);
pub(crate) const MAX_LOOP: (i64, i64) = (1, 100);

/// The keys of a case stage's arms.
pub(crate) const CASE_ARM_KEYS: &[&str] = &["case", "stages"];
pub(crate) const ELSE_ARM_KEYS: &[&str] = &["else"];

/// Where a stage list sits; until loops cannot hold parallel stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Place {
    Job,
    Nested,
    Until,
}

/// The kinds a stage's keys can select (see `Kind::PRECEDENCE`), then the kind
/// of a stage they do not select.
fn kinds_by_precedence() -> impl Iterator<Item = Kind> {
    Kind::PRECEDENCE.into_iter().chain([Kind::Empty])
}

/// The keys that make a stage `kind` or a kind that refines it.
fn selecting_keys(kind: Kind) -> impl Iterator<Item = &'static str> {
    kind.family().flat_map(Kind::selected_by).copied()
}

/// `kind`, or a kind that refines it, takes `key`.
fn family_takes(kind: Kind, key: &str) -> bool {
    kind.family().any(|k| k.takes(key))
}

/// A key of the virtual-env refinement of python stages that python stages
/// without `deps` do not take.
fn venv_only(key: &str) -> bool {
    Kind::VirtualPy.takes(key) && !Kind::Py.takes(key)
}

pub(super) fn stage_list(cx: &mut Cx<'_>, node: &Node, place: Place) -> Vec<Stage> {
    match &node.kind {
        NodeKind::Seq(items) => items.iter().filter_map(|n| stage(cx, n, place)).collect(),
        NodeKind::Null => Vec::new(),
        _ => {
            cx.wrong_type(node, "`stages` must be a list of stages", "a list");
            Vec::new()
        }
    }
}

/// The names of the kinds that take `key` (a kind's refinements count as it).
fn kinds_taking(key: &str) -> Vec<&'static str> {
    kinds_by_precedence()
        .filter(|&k| family_takes(k, key))
        .map(Kind::name)
        .collect()
}

/// "a bash stage", "an until stage".
fn a_stage(label: &str) -> String {
    let article = if label.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {label} stage")
}

fn join_and(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn stage(cx: &mut Cx<'_>, node: &Node, place: Place) -> Option<Stage> {
    let obj = cx.obj(node, "a stage")?;

    // Which kinds do the keys select?
    let selected: Vec<(Kind, &Entry)> = Kind::PRECEDENCE
        .into_iter()
        .filter_map(|k| {
            selecting_keys(k)
                .find_map(|key| obj.entry(key))
                .map(|e| (k, e))
        })
        .collect();
    if let [(first, first_key), (second, second_key), ..] = selected.as_slice() {
        let names: Vec<String> = selected
            .iter()
            .map(|(k, e)| format!("`{}` ({} stage)", e.key.name, k.name()))
            .collect();
        cx.report(
            Diagnostic::new(
                Code::AmbiguousStage,
                second_key.key.span,
                format!(
                    "this stage has the keys of several kinds: {}",
                    join_and(&names.iter().map(String::as_str).collect::<Vec<_>>())
                ),
            )
            .label(format!("makes it a {} stage", second.name()))
            .with_secondary(
                first_key.key.span,
                format!("makes it a {} stage", first.name()),
            )
            .help("split it into one stage per kind"),
        );
    }
    let kind = selected
        .first()
        .map_or(Kind::Empty, |(k, _)| k.refine(|key| obj.has(key)));
    let label = kind.name();
    let fields: Vec<&str> = kind.keys().collect();
    check_stage_keys(cx, &obj, &selected, &fields, label);

    if place == Place::Until && kind == Kind::Parallel {
        cx.report(
            Diagnostic::new(
                Code::StageNotAllowed,
                obj.key_span("parallel"),
                "a parallel stage cannot be nested directly in an until stage",
            )
            .label("parallel inside until")
            .help("wrap it in a foreach or case stage, or move it out of the loop"),
        );
    }

    let name = if let Some(n) = obj.get("name") {
        cx.text_node(n, "name")
    } else {
        cx.missing_key(
            &obj,
            "name",
            &format!("this {label} stage"),
            "every stage needs a `name`",
        );
        None
    };
    let id = obj.get("id").and_then(|n| cx.text_node(n, "id"));
    let desc = cx.desc(&obj);
    let cond = obj.get("if").and_then(|n| cx.condition(n, "if"));
    let extras = cx.map_value(&obj, "extras");
    let timeout = cx
        .number_in(&obj, "timeout", 0.0, f64::INFINITY)
        .filter(|t| {
            let problem = if t.value <= 0.0 {
                "not a positive number of seconds"
            } else if t.value > crate::limits::MAX_TIMEOUT_SECONDS {
                "longer than the longest timeout"
            } else {
                return true;
            };
            cx.report(
                Diagnostic::new(
                    Code::OutOfBounds,
                    t.span,
                    format!(
                        "`timeout` must be greater than 0 and at most {}",
                        crate::limits::MAX_TIMEOUT_TEXT
                    ),
                )
                .label(problem),
            );
            false
        });
    let built = build_kind(cx, &obj, kind)?;
    let retry = if kind.retries() {
        cx.int_in(&obj, RETRY_KEY, 0, 20)
    } else {
        None
    };
    Some(Stage {
        span: obj.node.span,
        name: name?,
        id,
        desc,
        cond,
        extras,
        timeout,
        retry,
        kind: built,
    })
}

fn check_stage_keys(
    cx: &mut Cx<'_>,
    obj: &Obj<'_>,
    selected: &[(Kind, &Entry)],
    fields: &[&str],
    label: &str,
) {
    for entry in &obj.entries {
        let key = entry.key.name.as_str();
        if COMMON_KEYS.contains(&key) || fields.contains(&key) {
            continue;
        }
        // The deciding keys of other kinds were reported as an ambiguous stage.
        if selected
            .iter()
            .skip(1)
            .any(|&(k, _)| selecting_keys(k).any(|k| k == key))
        {
            continue;
        }
        let owners = kinds_taking(key);
        if owners.is_empty() {
            let mut allowed: Vec<&str> = COMMON_KEYS.to_vec();
            allowed.extend(fields);
            if did_you_mean(key, allowed.iter().copied()).is_some() {
                cx.unknown_key(entry, &a_stage(label), &allowed);
            } else {
                let all: Vec<&str> = kinds_by_precedence()
                    .flat_map(Kind::family)
                    .flat_map(Kind::keys)
                    .collect();
                match did_you_mean(key, all.iter().copied()) {
                    Some(other) => cx.report(
                        Diagnostic::new(
                            Code::UnknownKey,
                            entry.key.span,
                            format!("unknown key `{key}` in {}", a_stage(label)),
                        )
                        .label("unknown key")
                        .help(format!(
                            "did you mean `{other}` (a key of {} stages)?",
                            join_and(&kinds_taking(other))
                        ))
                        // Unsafe: the key makes the stage another kind.
                        .with_fix(Fix::rename(
                            entry.key.span,
                            key,
                            other,
                            Applicability::Unsafe,
                        )),
                    ),
                    None => cx.unknown_key(entry, &a_stage(label), &allowed),
                }
            }
            continue;
        }
        let help = if key == RETRY_KEY {
            let retrying: Vec<&str> = Kind::ALL
                .into_iter()
                .filter(|k| k.retries())
                .map(Kind::name)
                .collect();
            format!("only {} stages retry", join_and(&retrying))
        } else if venv_only(key) {
            "`deps` makes a python stage a virtual python stage; `version` needs `deps` too"
                .to_string()
        } else {
            let needs: Vec<String> = Kind::PRECEDENCE
                .into_iter()
                .filter(|&k| family_takes(k, key))
                .map(|k| format!("`{}`", k.selected_by()[0]))
                .collect();
            if needs.is_empty() {
                format!("remove `{key}`; it belongs to empty stages")
            } else {
                format!(
                    "add {} to make it that kind of stage, or remove `{key}`",
                    needs.join(" or ")
                )
            }
        };
        cx.report(
            Diagnostic::new(
                Code::MisplacedKey,
                entry.key.span,
                format!(
                    "`{key}` is not a key of {label} stages; it belongs to {} stages",
                    join_and(&owners)
                ),
            )
            .label(format!("not used by {}", a_stage(label)))
            .help(help),
        );
    }
}

fn build_kind(cx: &mut Cx<'_>, obj: &Obj<'_>, kind: Kind) -> Option<StageKind> {
    let label = kind.name();
    let required = |cx: &mut Cx<'_>, key: &str| -> Option<Text> {
        if obj.has(key) {
            cx.text(obj, key)
        } else {
            cx.missing_key(
                obj,
                key,
                &format!("this {label} stage"),
                &format!("add `{key}:`"),
            );
            None
        }
    };
    Some(match kind {
        Kind::Empty => StageKind::Empty {
            echo: cx.text(obj, "echo"),
            sleep: cx.number_in(obj, "sleep", 0.0, crate::limits::MAX_SLEEP_SECONDS),
        },
        Kind::Bash => StageKind::Bash {
            bash: required(cx, "bash")?,
            env: env(cx, obj),
        },
        Kind::Py => {
            let run = required(cx, "run");
            let vars = cx.map_value(obj, "vars");
            StageKind::Py { run: run?, vars }
        }
        Kind::VirtualPy => {
            let run = required(cx, "run");
            let vars = cx.map_value(obj, "vars");
            let deps = deps(cx, obj);
            let version = cx.text(obj, "version");
            StageKind::VirtualPy {
                run: run?,
                vars,
                deps,
                version,
            }
        }
        Kind::Call => {
            let uses = required(cx, "uses");
            if let Some(uses) = &uses {
                check_uses(cx, uses);
            }
            let args = cx.map_value(obj, "with");
            if let Some(ValueKind::Map(entries)) = args.as_ref().map(|a| &a.kind) {
                for (key, _) in entries {
                    if key.name == "result" || key.name == "extras" {
                        cx.report(
                            Diagnostic::new(Code::InvalidValue, key.span, format!("`with` cannot pass `{}`", key.name))
                                .label("reserved argument")
                                .help("`result` and `extras` are passed to every call by the engine; rename the function's parameter"),
                        );
                    }
                }
            }
            StageKind::Call { uses: uses?, args }
        }
        Kind::Trigger => StageKind::Trigger {
            trigger: required(cx, "trigger")?,
            params: cx.map_value(obj, "params"),
        },
        Kind::Raise => StageKind::Raise {
            message: required(cx, "raise")?,
        },
        Kind::Docker => StageKind::Docker {
            image: required(cx, "image")?,
            tag: cx.text(obj, "tag"),
            env: cx.map_value(obj, "env"),
            volume: volumes(cx, obj),
            auth: cx.map_value(obj, "auth"),
            command: docker_command(cx, obj),
        },
        Kind::Parallel => {
            let branches = obj
                .get("parallel")
                .map(|n| branches(cx, n))
                .unwrap_or_default();
            StageKind::Parallel {
                branches,
                max_workers: cx.count_in(obj, "max-workers", MAX_WORKERS.0, MAX_WORKERS.1),
            }
        }
        Kind::ForEach => {
            let use_index_as_key = cx.boolean(obj, "use_index_as_key");
            let by_index = use_index_as_key.as_ref().is_some_and(|b| b.value);
            let foreach = foreach_items(cx, obj.get("foreach")?, by_index);
            let stages = obj
                .get("stages")
                .map(|n| stage_list(cx, n, Place::Nested))
                .unwrap_or_default();
            StageKind::ForEach {
                foreach: foreach?,
                stages,
                concurrent: cx.int_in(obj, "concurrent", CONCURRENT.0, CONCURRENT.1),
                use_index_as_key,
            }
        }
        Kind::Until => {
            let until_node = obj.get("until")?;
            let until: Option<Cond> = if let NodeKind::Str(s) = &until_node.kind {
                Some(cx.cond_text(s.clone(), until_node.span))
            } else {
                cx.wrong_type(
                    until_node,
                    "`until` must be a condition (a string)",
                    "a string",
                );
                None
            };
            let item = obj.get("item").and_then(|n| {
                if matches!(
                    n.kind,
                    NodeKind::Str(_) | NodeKind::Int(_) | NodeKind::BigInt(_) | NodeKind::Bool(_)
                ) {
                    Some(cx.value(n))
                } else {
                    cx.wrong_type(
                        n,
                        "`item` must be a string, an integer or a boolean",
                        "a string",
                    );
                    None
                }
            });
            let stages = obj
                .get("stages")
                .map(|n| stage_list(cx, n, Place::Until))
                .unwrap_or_default();
            StageKind::Until {
                item,
                until: until?,
                stages,
                max_loop: cx.int_in(obj, "max-loop", MAX_LOOP.0, MAX_LOOP.1),
            }
        }
        Kind::Case => {
            let case = required(cx, "case");
            let arms = if let Some(n) = obj.get("match") {
                arms(cx, n)
            } else {
                cx.missing_key(
                    obj,
                    "match",
                    "this case stage",
                    "add `match:` with a list of `{case: VALUE, stages: [...]}` arms",
                );
                Vec::new()
            };
            StageKind::Case {
                case: case?,
                arms,
                skip_not_match: cx.boolean(obj, "skip-not-match"),
            }
        }
    })
}

fn env(cx: &mut Cx<'_>, obj: &Obj<'_>) -> Vec<(crate::syntax::yaml::Key, Text)> {
    let Some(node) = obj.get("env") else {
        return Vec::new();
    };
    let NodeKind::Map(entries) = &node.kind else {
        cx.wrong_type(
            node,
            "`env` must be a mapping of names to strings",
            "a mapping",
        );
        return Vec::new();
    };
    let kept = cx.dedup(entries, Code::DuplicateKey, "variable");
    kept.into_iter()
        .filter_map(|e| {
            if let NodeKind::Str(s) = &e.value.kind {
                Some((e.key.clone(), cx.template(s.clone(), e.value.span)))
            } else {
                cx.wrong_type(
                    &e.value,
                    &format!("env value `{}` must be a string", e.key.name),
                    "a string",
                );
                None
            }
        })
        .collect()
}

/// A Docker stage's `command`: a string or a list of strings.
/// A Docker stage's `volume`: a mapping whose keys (host paths) are templates.
fn volumes(cx: &mut Cx<'_>, obj: &Obj<'_>) -> Option<Vec<crate::syntax::model::Volume>> {
    let value = cx.map_value(obj, "volume")?;
    let ValueKind::Map(entries) = value.kind else {
        return None;
    };
    Some(
        entries
            .into_iter()
            .map(|(key, container)| crate::syntax::model::Volume {
                host: cx.template(key.name, key.span),
                container,
            })
            .collect(),
    )
}

fn docker_command(cx: &mut Cx<'_>, obj: &Obj<'_>) -> Option<crate::syntax::model::DockerCommand> {
    use crate::syntax::model::DockerCommand;
    let node = obj.get("command")?;
    match &node.kind {
        NodeKind::Seq(items) => Some(DockerCommand::Exec(
            items
                .iter()
                .filter_map(|n| cx.text_node(n, "command"))
                .collect(),
        )),
        _ => cx.text_node(node, "command").map(DockerCommand::Shell),
    }
}

fn deps(cx: &mut Cx<'_>, obj: &Obj<'_>) -> Vec<Text> {
    let Some(node) = obj.get("deps") else {
        return Vec::new();
    };
    let NodeKind::Seq(items) = &node.kind else {
        cx.wrong_type(node, "`deps` must be a list of requirements", "a list");
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|n| cx.text_node(n, "deps"))
        .collect()
}

/// `uses` must look like `path/function@tag` (templates count as any text).
fn check_uses(cx: &mut Cx<'_>, uses: &Text) {
    let skeleton: String = uses
        .template
        .parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => t.clone(),
            Part::Interp(_) | Part::Env(_) => "x".to_string(),
        })
        .collect();
    let ok = skeleton.split_once('/').is_some_and(|(path, rest)| {
        !path.is_empty()
            && !path.contains('@')
            && rest
                .split_once('@')
                .is_some_and(|(func, tag)| !func.is_empty() && !tag.is_empty())
    });
    if !ok {
        cx.report(
            Diagnostic::new(
                Code::InvalidValue,
                uses.span,
                format!(
                    "`uses: {}` is not of the form `path/function@tag`",
                    uses.raw
                ),
            )
            .label("expected `path/function@tag`")
            .help("for example `uses: tasks/get-items@v1`"),
        );
    }
}

fn branches(cx: &mut Cx<'_>, node: &Node) -> Vec<Branch> {
    let NodeKind::Map(entries) = &node.kind else {
        cx.wrong_type(
            node,
            "`parallel` must be a mapping of branch names to stage lists",
            "a mapping",
        );
        return Vec::new();
    };
    let kept = cx.dedup(entries, Code::DuplicateKey, "branch");
    kept.into_iter()
        .map(|e| Branch {
            name: e.key.clone(),
            stages: stage_list(cx, &e.value, Place::Nested),
        })
        .collect()
}

fn foreach_items(cx: &mut Cx<'_>, node: &Node, by_index: bool) -> Option<ForEachItems> {
    match &node.kind {
        NodeKind::Seq(items) => {
            let values: Vec<WrittenValue> = items.iter().map(|n| cx.value(n)).collect();
            if !by_index {
                check_unique_items(cx, items);
            }
            Some(ForEachItems::List(values))
        }
        NodeKind::Str(s) => {
            let text = cx.template(s.clone(), node.span);
            if text.template.is_literal() {
                // Upstream reads a plain string as a JSON list.
                match serde_json::from_str::<serde_json::Value>(s) {
                    Ok(serde_json::Value::Array(_)) => {}
                    _ => cx.report(
                        Diagnostic::new(Code::InvalidValue, node.span, "`foreach` must be a list, or a template that gives one")
                            .label("a plain string, not a list")
                            .help("write a YAML list (`foreach: [a, b]`) or a template (`foreach: ${{ params.items }}`)"),
                    ),
                }
            }
            Some(ForEachItems::Template(text))
        }
        _ => {
            cx.wrong_type(node, "`foreach` must be a list or a template", "a list");
            None
        }
    }
}

/// Upstream refuses duplicate items unless `use_index_as_key` is set.
fn check_unique_items(cx: &mut Cx<'_>, items: &[Node]) {
    let mut seen: std::collections::HashMap<String, &Node> = std::collections::HashMap::new();
    for item in items {
        let key = match &item.kind {
            NodeKind::Str(s) => format!("s:{s}"),
            NodeKind::Int(v) => format!("i:{v}"),
            NodeKind::BigInt(digits) => format!("i:{digits}"),
            NodeKind::Bool(b) => format!("i:{}", i64::from(*b)),
            _ => continue,
        };
        if let Some(first) = seen.get(&key).copied() {
            cx.report(
                Diagnostic::new(Code::InvalidValue, item.span, format!("duplicate foreach item `{}`", cx.source.slice(item.span)))
                    .label("duplicate")
                    .with_secondary(first.span, "first listed here")
                    .help("items are the keys of the foreach output; remove the duplicate or set `use_index_as_key: true`"),
            );
        } else {
            seen.insert(key, item);
        }
    }
}

fn arms(cx: &mut Cx<'_>, node: &Node) -> Vec<CaseArm> {
    let NodeKind::Seq(items) = &node.kind else {
        cx.wrong_type(
            node,
            "`match` must be a list of `{case: VALUE, stages: [...]}` arms",
            "a list",
        );
        return Vec::new();
    };
    let mut arms: Vec<CaseArm> = Vec::new();
    let mut default: Vec<(bool, Span)> = Vec::new();
    for item in items {
        let Some(obj) = cx.obj(item, "a case arm") else {
            continue;
        };
        if obj.has("else") {
            cx.check_keys(&obj, "an else arm", ELSE_ARM_KEYS);
            let stages = obj
                .get("else")
                .map(|n| stage_list(cx, n, Place::Nested))
                .unwrap_or_default();
            note_default(cx, &mut default, true, obj.key_span("else"));
            arms.push(CaseArm {
                span: item.span,
                case: None,
                stages,
            });
            continue;
        }
        cx.check_keys(&obj, "a case arm", CASE_ARM_KEYS);
        let case = match obj.get("case") {
            Some(n)
                if matches!(
                    n.kind,
                    NodeKind::Str(_) | NodeKind::Int(_) | NodeKind::BigInt(_)
                ) =>
            {
                Some(cx.value(n))
            }
            Some(n) => {
                cx.wrong_type(
                    n,
                    "an arm's `case` must be a string or an integer",
                    "a string",
                );
                None
            }
            None => {
                cx.missing_key(
                    &obj,
                    "case",
                    "this case arm",
                    "add `case: VALUE`, or use `else:` for the default arm",
                );
                None
            }
        };
        if let Some(WrittenValue {
            kind: ValueKind::Text(t),
            span,
        }) = &case
            && t.raw == "_"
        {
            note_default(cx, &mut default, false, *span);
        }
        let stages = obj
            .get("stages")
            .map(|n| stage_list(cx, n, Place::Nested))
            .unwrap_or_default();
        if let Some(case) = case {
            arms.push(CaseArm {
                span: item.span,
                case: Some(case),
                stages,
            });
        }
    }
    arms
}

/// A default arm: a second one of the same form (`case: _` twice, `else:` twice) is an
/// error; one of each is upstream's "the last one wins", a warning.
fn note_default(cx: &mut Cx<'_>, seen: &mut Vec<(bool, Span)>, is_else: bool, span: Span) {
    let form = |is_else: bool| if is_else { "`else:`" } else { "`case: _`" };
    if let Some(&(_, first)) = seen.iter().find(|(e, _)| *e == is_else) {
        cx.report(
            Diagnostic::new(
                Code::InvalidValue,
                span,
                format!("a case stage can have only one {} arm", form(is_else)),
            )
            .label("second default arm")
            .with_secondary(first, "first default arm")
            .help("ddeutil-workflow refuses the stage (and runs an empty one instead); keep one"),
        );
    } else if let Some(&(_, other)) = seen.first() {
        cx.report(
            Diagnostic::new(
                Code::TwoDefaultArms,
                span,
                format!(
                    "both `case: _` and `else:`: this {} arm runs when nothing matches, the other never",
                    form(is_else)
                ),
            )
            .label("this default arm wins")
            .with_secondary(other, "never runs")
            .help("`case: _` and `else:` both mean \"anything else\"; keep one"),
        );
    }
    seen.push((is_else, span));
}
