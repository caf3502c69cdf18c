//! References in templates and conditions: every name a template reads must exist
//! where the template is evaluated.

use std::collections::{HashMap, HashSet};

use wfc_plan::filters::{BuiltinFilter, FILTERS};

use super::{Options, cond_span, text_span};
use crate::diagnostic::{Code, Diagnostic};
use crate::ids::hash_id;
use crate::source::SourceFile;
use crate::span::Span;
use crate::syntax::expr::ast::{ExprItem, Filter, Path, TextRange};
use crate::syntax::model::{
    AxisValues, Cond, Condition, Count, Job, Stage, StageKind, Text, Workflow,
};
use crate::syntax::visit::{CondOf, Nest, Visitor, each_stage, walk_stage_kind};

/// Names a template path can start with.
const ROOTS: &[&str] = &[
    "params", "matrix", "stages", "jobs", "item", "loop", "branch", "case", "retry",
];

/// Fields of a stage's result.
const RESULT_FIELDS: &[&str] = &["outputs", "status", "errors", "info"];

/// What a template can see at the place it is evaluated. One flag per context
/// name that only some places have. Made for every template, so it only borrows.
#[allow(clippy::struct_excessive_bools)]
#[derive(Clone, Copy)]
struct Env<'a> {
    source: &'a SourceFile,
    workflow: &'a Workflow,
    job: &'a Job,
    /// The job's place in the workflow, for `upstream` and `ids`.
    job_index: usize,
    upstream: &'a Upstream<'a>,
    ids: &'a StageIds<'a>,
    /// The workflow's declared params.
    params: &'a HashSet<&'a str>,
    options: &'a Options,
    /// Matrix keys, when the matrix is visible (inside stages).
    matrix: Option<&'a [&'a str]>,
    /// Earlier stages' ids, when stages are visible.
    stages: Option<&'a Visible>,
    /// Some earlier stage has a templated id: any id might exist.
    dynamic_ids: bool,
    item: bool,
    branch: bool,
    case: bool,
    retry: bool,
    /// Stage `name` / `id`: only `matrix.*` may be used.
    only_matrix: bool,
}

/// The stage ids visible at a point: a level per enclosing list, outermost
/// first, each with the ids of its stages before this point. A list of
/// thousands of stages costs one entry per stage.
#[derive(Default)]
struct Visible {
    levels: Vec<Level>,
}

#[derive(Default)]
struct Level {
    ids: Vec<String>,
    set: HashSet<String>,
}

impl Visible {
    /// Itself, inside a stage list; `None` before the job's stages.
    fn in_stages(&self) -> Option<&Self> {
        (!self.levels.is_empty()).then_some(self)
    }

    fn enter(&mut self) {
        self.levels.push(Level::default());
    }

    fn leave(&mut self) {
        self.levels.pop();
    }

    /// Adds an id to the innermost level.
    fn push(&mut self, id: String) {
        if let Some(level) = self.levels.last_mut()
            && level.set.insert(id.clone())
        {
            level.ids.push(id);
        }
    }

    fn contains(&self, id: &str) -> bool {
        self.levels.iter().any(|l| l.set.contains(id))
    }

    /// Every visible id, outermost first.
    fn iter(&self) -> impl Iterator<Item = &str> {
        self.levels
            .iter()
            .flat_map(|l| l.ids.iter().map(String::as_str))
    }
}

/// Where each literal stage id of the workflow is, for the advice of a wrong
/// `stages.<id>`: made once, at the first such finding.
struct StageIds<'a> {
    workflow: &'a Workflow,
    // Owned keys: a cell is invariant in what it holds, and `Env` must stay
    // covariant to borrow each list's `Visible` for a shorter time.
    jobs: std::cell::OnceCell<HashMap<String, Vec<usize>>>,
}

impl StageIds<'_> {
    /// The jobs (by index, in order) that have a stage with this id.
    fn jobs_with(&self, id: &str) -> &[usize] {
        let map = self.jobs.get_or_init(|| {
            let mut map: HashMap<String, Vec<usize>> = HashMap::new();
            for (index, job) in self.workflow.jobs.iter().enumerate() {
                each_stage(&job.stages, |s| {
                    if let Some(id) = s.literal_id() {
                        let jobs = map.entry(id.to_string()).or_default();
                        if jobs.last() != Some(&index) {
                            jobs.push(index);
                        }
                    }
                });
            }
            map
        });
        map.get(id).map_or(&[], Vec::as_slice)
    }
}

pub(super) fn check(
    source: &SourceFile,
    workflow: &Workflow,
    options: &Options,
    out: &mut Vec<Diagnostic>,
) {
    let upstream = Upstream::new(workflow);
    let ids = StageIds {
        workflow,
        jobs: std::cell::OnceCell::new(),
    };
    let params: HashSet<&str> = workflow
        .params
        .iter()
        .map(|p| p.name.value.as_str())
        .collect();
    let mut checks = Vec::new();
    for (job_index, job) in workflow.jobs.iter().enumerate() {
        let keys: Vec<&str> = job
            .strategy
            .iter()
            .flat_map(|s| s.matrix.iter().map(|a| a.key.name.as_str()))
            .collect();
        let mut refs = Refs {
            env: Env {
                source,
                workflow,
                job,
                job_index,
                upstream: &upstream,
                ids: &ids,
                params: &params,
                options,
                matrix: None,
                stages: None,
                dynamic_ids: false,
                item: false,
                branch: false,
                case: false,
                retry: false,
                only_matrix: false,
            },
            visible: Visible::default(),
            found: Found::default(),
        };
        refs.job(job, &keys);
        out.append(&mut refs.found.diagnostics);
        checks.append(&mut refs.found.jobs);
    }
    // `jobs.<id>` that are not direct needs: answered together, once every
    // question is known.
    let answers = upstream.answer(&checks);
    for (check, is_upstream) in checks.iter().zip(answers) {
        if !is_upstream {
            out.push(check.diagnostic(workflow, &upstream));
        }
    }
}

/// What the walk over one job found: findings, and `jobs.<id>` references whose
/// answer waits for [`Upstream::answer`].
#[derive(Default)]
struct Found {
    diagnostics: Vec<Diagnostic>,
    jobs: Vec<JobRef>,
}

impl Found {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }
}

/// A `jobs.<id>` reference from job `from` that is not one of its direct needs.
struct JobRef {
    from: usize,
    id: String,
    span: Span,
}

impl JobRef {
    fn diagnostic(&self, workflow: &Workflow, upstream: &Upstream<'_>) -> Diagnostic {
        let id = self.id.as_str();
        let job = &workflow.jobs[self.from];
        let exists = upstream.index.contains_key(id);
        let message = if exists {
            format!(
                "job `{id}` is not upstream of job `{}`, so it may not have run yet",
                job.id.value
            )
        } else {
            format!("workflow `{}` has no job `{id}`", workflow.name.value)
        };
        let diagnostic =
            Diagnostic::new(Code::JobNotUpstream, self.span, message).label(if exists {
                "not in `needs`"
            } else {
                "no such job"
            });
        if exists {
            diagnostic.help(format!(
                "add `{id}` to the `needs` of job `{}`",
                job.id.value
            ))
        } else {
            diagnostic.did_you_mean_or(
                id,
                workflow.jobs.iter().map(|j| j.id.value.as_str()),
                || {
                    Some(format!(
                        "jobs are: {}",
                        list_names(workflow.jobs.iter().map(|j| j.id.value.as_str()))
                    ))
                },
            )
        }
    }
}

/// The walk over one job: what templates may read where they are (`env`, and
/// the stage ids in `visible`), and what they read that does not exist.
struct Refs<'a> {
    /// `stages` is `None` here: it borrows `visible` for each template.
    env: Env<'a>,
    visible: Visible,
    found: Found,
}

impl<'a> Refs<'a> {
    /// A job's `if` and templated strategy, before its matrix and stages exist;
    /// then its stages.
    fn job(&mut self, job: &'a Job, keys: &'a [&'a str]) {
        if let Some(Condition::Expr(cond)) = &job.cond {
            self.visit_cond(cond, CondOf::Job);
        }
        if let Some(strategy) = &job.strategy {
            if let Some(Count::Template(t)) = &strategy.max_parallel {
                self.visit_text(t);
            }
            for axis in &strategy.matrix {
                if let AxisValues::Template(t) = &axis.values {
                    self.visit_text(t);
                }
            }
        }
        self.env.matrix = Some(keys);
        self.visit_stage_list(&job.stages, Nest::Job);
    }

    fn check_cond(&mut self, cond: &Cond) {
        let env = Env {
            stages: self.visible.in_stages(),
            ..self.env
        };
        check_cond(&env, cond, &mut self.found);
    }
}

impl<'a> Visitor<'a> for Refs<'a> {
    fn visit_stage_list(&mut self, stages: &'a [Stage], nest: Nest<'a>) {
        let outer = self.env;
        match nest {
            Nest::Job => {}
            Nest::Branch(_) => self.env.branch = true,
            Nest::ForEach | Nest::Until => self.env.item = true,
            Nest::Arm(_) => self.env.case = true,
        }
        self.visible.enter();
        for stage in stages {
            self.visit_stage(stage);
            match (&stage.id, stage.literal_id()) {
                (_, Some(id)) => self.visible.push(id.to_string()),
                (Some(_), None) => self.env.dynamic_ids = true,
                (None, _) if stage.name.template.is_literal() => {
                    // With default ids switched on, an id-less stage is stored under its name's hash.
                    self.visible.push(hash_id(&stage.name.raw));
                }
                (None, _) => self.env.dynamic_ids = true,
            }
        }
        self.visible.leave();
        self.env = outer;
    }

    /// A stage's `name` and `id` (matrix only), its `if`, its kind's fields.
    /// (`extras` are not templates the stage renders.)
    fn visit_stage(&mut self, stage: &'a Stage) {
        let outer = self.env;
        self.env.only_matrix = true;
        self.visit_text(&stage.name);
        if let Some(id) = &stage.id {
            self.visit_text(id);
        }
        self.env = outer;
        if let Some(Condition::Expr(cond)) = &stage.cond {
            self.visit_cond(cond, CondOf::Stage);
        }
        self.visit_stage_kind(&stage.kind);
    }

    fn visit_stage_kind(&mut self, kind: &'a StageKind) {
        let outer = self.env;
        self.env.retry = kind.kind().retries();
        walk_stage_kind(self, kind);
        self.env = outer;
    }

    fn visit_cond(&mut self, cond: &'a Cond, of: CondOf<'a>) {
        let CondOf::Until { body } = of else {
            self.check_cond(cond);
            return;
        };
        // `until` is evaluated after the body ran: the body's stages are visible.
        let outer = self.env;
        self.env.item = true;
        self.visible.enter();
        for s in body {
            match s.literal_id() {
                Some(id) => self.visible.push(id.to_string()),
                None => self.env.dynamic_ids = true,
            }
        }
        self.check_cond(cond);
        self.visible.leave();
        self.env = outer;
    }

    fn visit_text(&mut self, text: &'a Text) {
        let env = Env {
            stages: self.visible.in_stages(),
            ..self.env
        };
        check_text(&env, text, &mut self.found);
    }
}

fn check_text(env: &Env<'_>, text: &Text, out: &mut Found) {
    let at = |r: TextRange| text_span(env.source, text, r);
    for interp in text.template.interps() {
        check_path(env, &interp.pipeline.path, &at, out);
        for filter in &interp.pipeline.filters {
            check_filter(env, filter, &at, out);
        }
    }
}

fn check_cond(env: &Env<'_>, cond: &Cond, out: &mut Found) {
    let Some(expr) = &cond.expr else { return };
    let at = |r: TextRange| cond_span(env.source, cond, r);
    expr.walk(&mut |item| match item {
        ExprItem::Path(path) => check_path(env, path, &at, out),
        ExprItem::Filter(filter) => check_filter(env, filter, &at, out),
        ExprItem::Env => {}
    });
}

/// Which jobs a job needs, directly or through others: what `jobs.<id>` may read.
struct Upstream<'a> {
    index: HashMap<&'a str, usize>,
    /// Each job's needs, by index (needs that are not jobs are left out: WF301).
    needs: Vec<Vec<usize>>,
}

impl<'a> Upstream<'a> {
    fn new(workflow: &'a Workflow) -> Self {
        let index = workflow.job_index();
        let needs = workflow
            .jobs
            .iter()
            .map(|j| {
                j.needs
                    .iter()
                    .filter_map(|n| index.get(n.value.as_str()).copied())
                    .collect()
            })
            .collect();
        Upstream { index, needs }
    }

    /// `id` is among the needs of job `job`.
    fn direct(&self, job: usize, id: &str) -> bool {
        self.index
            .get(id)
            .is_some_and(|target| self.needs[job].contains(target))
    }

    /// For each reference, whether its job needs the job it reads through others.
    /// Most read a job a few needs away, found by a short search; the others are
    /// answered together: jobs are visited in needs order once per 64 jobs read,
    /// each carrying a bit per such job.
    fn answer(&self, refs: &[JobRef]) -> Vec<bool> {
        let n = self.needs.len();
        let mut answers = vec![false; refs.len()];
        let targets: Vec<Option<usize>> = refs
            .iter()
            .zip(&mut answers)
            .map(|(r, answer)| {
                let target = self.index.get(r.id.as_str()).copied()?;
                match self.near(r.from, target) {
                    Some(found) => {
                        *answer = found;
                        None
                    }
                    None => Some(target),
                }
            })
            .collect();
        if targets.iter().all(Option::is_none) {
            return answers;
        }
        let Some(order) = self.order() else {
            // A needs cycle (WF302): search from each reference instead.
            for ((r, t), answer) in refs.iter().zip(&targets).zip(&mut answers) {
                if let Some(t) = t {
                    *answer = self.reaches(r.from, *t);
                }
            }
            return answers;
        };
        let mut distinct: Vec<usize> = targets.iter().flatten().copied().collect();
        distinct.sort_unstable();
        distinct.dedup();
        let mut bit_of: Vec<Option<u32>> = vec![None; n];
        for chunk in distinct.chunks(64) {
            for (bit, &t) in (0u32..).zip(chunk) {
                bit_of[t] = Some(bit);
            }
            let mut reach = vec![0u64; n];
            for &job in &order {
                let mut bits = 0u64;
                for &need in &self.needs[job] {
                    bits |= reach[need];
                    if let Some(bit) = bit_of[need] {
                        bits |= 1 << bit;
                    }
                }
                reach[job] = bits;
            }
            for ((r, t), answer) in refs.iter().zip(&targets).zip(&mut answers) {
                if let Some(bit) = t.and_then(|t| bit_of[t]) {
                    *answer = reach[r.from] & (1 << bit) != 0;
                }
            }
            for &t in chunk {
                bit_of[t] = None;
            }
        }
        answers
    }

    /// Jobs with every need before them; `None` when needs loop.
    fn order(&self) -> Option<Vec<usize>> {
        let n = self.needs.len();
        let mut waiting: Vec<usize> = self.needs.iter().map(Vec::len).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (job, needs) in self.needs.iter().enumerate() {
            for &need in needs {
                dependents[need].push(job);
            }
        }
        let mut order: Vec<usize> = (0..n).filter(|&j| waiting[j] == 0).collect();
        let mut at = 0;
        while at < order.len() {
            let job = order[at];
            at += 1;
            for &next in &dependents[job] {
                waiting[next] -= 1;
                if waiting[next] == 0 {
                    order.push(next);
                }
            }
        }
        (order.len() == n).then_some(order)
    }

    /// `from` needs `target` through others, when a search of a few jobs tells:
    /// `None` when it would have to look further.
    fn near(&self, from: usize, target: usize) -> Option<bool> {
        const LOOK: usize = 32;
        let mut seen: Vec<usize> = Vec::new();
        let mut stack: Vec<usize> = self.needs[from].clone();
        while let Some(job) = stack.pop() {
            if job == target {
                return Some(true);
            }
            if seen.contains(&job) {
                continue;
            }
            if seen.len() == LOOK {
                return None;
            }
            seen.push(job);
            stack.extend(&self.needs[job]);
        }
        Some(false)
    }

    /// `from` needs `target` through others (a search, for graphs with cycles).
    fn reaches(&self, from: usize, target: usize) -> bool {
        let mut seen = vec![false; self.needs.len()];
        let mut stack = self.needs[from].clone();
        while let Some(job) = stack.pop() {
            if job == target {
                return true;
            }
            if !std::mem::replace(&mut seen[job], true) {
                stack.extend(&self.needs[job]);
            }
        }
        false
    }
}

fn list_names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    crate::diagnostic::name_list(names)
}

fn check_path(env: &Env<'_>, path: &Path, at: &dyn Fn(TextRange) -> Span, out: &mut Found) {
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
            if optional || env.params.contains(name) {
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
                .did_you_mean_or(name, declared.clone(), || {
                    Some(format!(
                        "declare it under `params:` (declared: {})",
                        list_names(declared)
                    ))
                }),
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
                    .did_you_mean_or(key, keys.iter().copied(), || {
                        Some(if keys.is_empty() {
                            "add a `strategy.matrix` to the job".to_string()
                        } else {
                            format!("matrix keys are: {}", list_names(keys.iter().copied()))
                        })
                    }),
            );
        }
        "stages" => check_stage_ref(env, path, at, out),
        "jobs" => {
            let (Some(id), Some(next)) = (next_name, next) else {
                return;
            };
            if optional || env.upstream.direct(env.job_index, id) {
                return;
            }
            out.jobs.push(JobRef {
                from: env.job_index,
                id: id.to_string(),
                span: at(next.range),
            });
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
            .did_you_mean_or(root, ROOTS.iter().copied(), || {
                Some(format!(
                    "templates start from one of {}",
                    list_names(ROOTS.iter().copied())
                ))
            }),
        ),
    }
}

fn check_stage_ref(env: &Env<'_>, path: &Path, at: &dyn Fn(TextRange) -> Span, out: &mut Found) {
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
    if !visible.contains(id) {
        if env.dynamic_ids {
            return;
        }
        let jobs = env.ids.jobs_with(id);
        let later = jobs.contains(&env.job_index);
        let elsewhere = jobs
            .iter()
            .find(|&&j| j != env.job_index)
            .map(|&j| &env.workflow.jobs[j]);
        let otherwise = || {
            Some(if let Some(other) = elsewhere {
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
                    list_names(visible.iter().filter(|v| !is_hash(v)))
                )
            })
        };
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
            .did_you_mean_or(id, visible.iter(), otherwise),
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
            .did_you_mean_or(field, RESULT_FIELDS.iter().copied(), || {
                Some(format!(
                    "a stage result has {}",
                    list_names(RESULT_FIELDS.iter().copied())
                ))
            }),
        );
    }
}

fn is_hash(id: &str) -> bool {
    id.len() == 10 && id.bytes().all(|b| b.is_ascii_digit())
}

fn check_filter(env: &Env<'_>, filter: &Filter, at: &dyn Fn(TextRange) -> Span, out: &mut Found) {
    let name = filter.name.as_str();
    let Some(def) = filter.builtin.map(BuiltinFilter::def) else {
        if env.options.extra_filters.iter().any(|f| f == name) {
            return;
        }
        let names = FILTERS
            .iter()
            .map(|f| f.name)
            .chain(env.options.extra_filters.iter().map(String::as_str));
        let diagnostic = Diagnostic::new(
            Code::UnknownFilter,
            at(filter.name_range),
            format!("unknown filter `{name}`"),
        )
        .label("no such filter");
        out.push(if name.chars().count() <= 2 {
            // Upstream's pattern wants a name of 3 or more characters.
            diagnostic.help(format!(
                "ddeutil-workflow leaves a template with a filter name this short as \
                 literal text, `${{{{ … | {name} }}}}` included; filters are {}",
                list_names(names)
            ))
        } else {
            diagnostic.did_you_mean_or(name, names.clone(), || {
                Some(format!(
                    "filters are {}; declare Python filters with `wfc check --filter NAME`",
                    list_names(names)
                ))
            })
        });
        return;
    };
    let given = filter.args.len() + filter.kwargs.len();
    let bad_keyword = filter.kwargs.iter().find(|(k, _)| def.param(k).is_none());
    let problem = if let Some((k, _)) = bad_keyword {
        Some(format!("filter `{name}` has no argument `{k}`"))
    } else if given < def.min_args() || given > def.max_args() {
        let wanted = match (def.min_args(), def.max_args()) {
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
        out.push(
            Diagnostic::new(Code::FilterArguments, at(filter.range), message)
                .label("wrong arguments")
                .help(format!("write `{}`", def.usage)),
        );
    }
}
