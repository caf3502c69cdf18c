//! A walk over a plan for passes that look at parts of it. A pass implements
//! [`Visitor`] and overrides the methods for what it looks at; each method's
//! default goes on into the part's parts through the `walk_*` function of the
//! same name, which an override calls to go on too. The `walk_*` functions are
//! the one place that knows what a plan holds, nested stage lists included.

use crate::expr::ast::{Expr, ExprItem, Filter, Template};
use crate::ir::{
    Axis, Bound, CommandPlan, CondPlan, Items, JobPlan, MatrixPlan, Plan, PlanMap, PlanValue,
    StageKindPlan, StagePlan,
};

/// Where a stage list is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Nest<'a> {
    /// A job's stages.
    Job,
    /// A parallel stage's branch, by name.
    Branch(&'a str),
    /// A foreach stage's body, run for each item.
    ForEach,
    /// An until stage's body, run for each loop.
    Until,
    /// A case stage's arm: the value it matches, `None` for the default arm.
    Arm(Option<&'a PlanValue>),
}

/// A pass over a plan. The defaults visit everything, parents before their
/// parts, in the order the plan holds them.
pub trait Visitor<'a> {
    fn visit_plan(&mut self, plan: &'a Plan) {
        walk_plan(self, plan);
    }
    fn visit_job(&mut self, job: &'a JobPlan) {
        walk_job(self, job);
    }
    fn visit_stage_list(&mut self, stages: &'a [StagePlan], nest: Nest<'a>) {
        let _ = nest;
        walk_stage_list(self, stages);
    }
    fn visit_stage(&mut self, stage: &'a StagePlan) {
        walk_stage(self, stage);
    }
    /// The kind's own fields and nested lists (from [`walk_stage`]).
    fn visit_stage_kind(&mut self, kind: &'a StageKindPlan) {
        walk_stage_kind(self, kind);
    }
    fn visit_cond(&mut self, cond: &'a CondPlan) {
        walk_cond(self, cond);
    }
    fn visit_expr(&mut self, expr: &'a Expr) {
        walk_expr(self, expr);
    }
    fn visit_template(&mut self, template: &'a Template) {
        walk_template(self, template);
    }
    fn visit_value(&mut self, value: &'a PlanValue) {
        walk_value(self, value);
    }
    /// A filter applied in a template or a condition.
    fn visit_filter(&mut self, filter: &'a Filter) {
        let _ = filter;
    }
}

/// Params' defaults and options, the extras, then every job.
pub fn walk_plan<'a, V: Visitor<'a> + ?Sized>(v: &mut V, plan: &'a Plan) {
    for param in &plan.params {
        for value in param.default.iter().chain(&param.options) {
            v.visit_value(value);
        }
    }
    if let Some(extras) = &plan.extras {
        v.visit_value(extras);
    }
    for job in plan.jobs.node_weights() {
        v.visit_job(job);
    }
}

pub fn walk_job<'a, V: Visitor<'a> + ?Sized>(v: &mut V, job: &'a JobPlan) {
    if let Some(args) = &job.runs_on_args {
        v.visit_value(args);
    }
    if let Some(cond) = &job.cond {
        v.visit_cond(cond);
    }
    walk_bound(v, &job.strategy.max_parallel);
    match &job.strategy.matrix {
        MatrixPlan::None => {}
        MatrixPlan::Static(combinations) => {
            for c in combinations {
                walk_map(v, &c.values);
            }
        }
        MatrixPlan::Dynamic {
            axes,
            include,
            exclude,
        } => {
            for (_, axis) in axes {
                match axis {
                    Axis::Values(values) => values.iter().for_each(|x| v.visit_value(x)),
                    Axis::Template(t) => v.visit_template(t),
                }
            }
            for map in include.iter().chain(exclude) {
                walk_map(v, map);
            }
        }
    }
    if let Some(extras) = &job.extras {
        v.visit_value(extras);
    }
    v.visit_stage_list(&job.stages, Nest::Job);
}

pub fn walk_stage_list<'a, V: Visitor<'a> + ?Sized>(v: &mut V, stages: &'a [StagePlan]) {
    for stage in stages {
        v.visit_stage(stage);
    }
}

/// The fields every stage has, then its kind's.
pub fn walk_stage<'a, V: Visitor<'a> + ?Sized>(v: &mut V, stage: &'a StagePlan) {
    v.visit_template(&stage.name);
    if let Some(id) = &stage.id {
        v.visit_template(id);
    }
    if let Some(cond) = &stage.cond {
        v.visit_cond(cond);
    }
    if let Some(extras) = &stage.extras {
        v.visit_value(extras);
    }
    v.visit_stage_kind(&stage.kind);
}

/// Every field of a stage kind, nested stage lists included: adding a kind
/// means adding it here.
pub fn walk_stage_kind<'a, V: Visitor<'a> + ?Sized>(v: &mut V, kind: &'a StageKindPlan) {
    match kind {
        StageKindPlan::Empty { echo, .. } => {
            if let Some(echo) = echo {
                v.visit_template(echo);
            }
        }
        StageKindPlan::Bash { script, env } => {
            v.visit_template(script);
            walk_map(v, env);
        }
        StageKindPlan::Py { run, vars } => {
            v.visit_template(run);
            walk_map(v, vars);
        }
        StageKindPlan::VirtualPy {
            run,
            vars,
            deps,
            version,
        } => {
            v.visit_template(run);
            walk_map(v, vars);
            for t in deps.iter().chain(version) {
                v.visit_template(t);
            }
        }
        StageKindPlan::Call { uses, args } => {
            v.visit_template(uses);
            walk_map(v, args);
        }
        StageKindPlan::Trigger { workflow, params } => {
            v.visit_template(workflow);
            walk_map(v, params);
        }
        StageKindPlan::Parallel {
            branches,
            max_workers,
        } => {
            walk_bound(v, max_workers);
            for (name, stages) in branches {
                v.visit_stage_list(stages, Nest::Branch(name));
            }
        }
        StageKindPlan::ForEach { items, stages, .. } => {
            match items {
                Items::List(values) => values.iter().for_each(|x| v.visit_value(x)),
                Items::Template(t) => v.visit_template(t),
            }
            v.visit_stage_list(stages, Nest::ForEach);
        }
        StageKindPlan::Until {
            item,
            until,
            stages,
            ..
        } => {
            v.visit_value(item);
            v.visit_stage_list(stages, Nest::Until);
            v.visit_cond(until);
        }
        StageKindPlan::Case { case, arms, .. } => {
            v.visit_template(case);
            for arm in arms {
                if let Some(value) = &arm.case {
                    v.visit_value(value);
                }
                v.visit_stage_list(&arm.stages, Nest::Arm(arm.case.as_ref()));
            }
        }
        StageKindPlan::Raise { message } => v.visit_template(message),
        StageKindPlan::Docker(docker) => {
            v.visit_template(&docker.image);
            v.visit_template(&docker.tag);
            walk_map(v, &docker.env);
            walk_map(v, &docker.auth);
            for (host, container) in &docker.volume {
                v.visit_template(host);
                v.visit_value(container);
            }
            match &docker.command {
                Some(CommandPlan::Shell(t)) => v.visit_template(t),
                Some(CommandPlan::Exec(args)) => args.iter().for_each(|t| v.visit_template(t)),
                None => {}
            }
        }
    }
}

pub fn walk_cond<'a, V: Visitor<'a> + ?Sized>(v: &mut V, cond: &'a CondPlan) {
    if let CondPlan::Expr { expr, .. } = cond {
        v.visit_expr(expr);
    }
}

/// The filters an expression applies.
pub fn walk_expr<'a, V: Visitor<'a> + ?Sized>(v: &mut V, expr: &'a Expr) {
    expr.walk(&mut |item| {
        if let ExprItem::Filter(f) = item {
            v.visit_filter(f);
        }
    });
}

/// The filters each interpolation applies.
pub fn walk_template<'a, V: Visitor<'a> + ?Sized>(v: &mut V, template: &'a Template) {
    for interp in template.interps() {
        for filter in &interp.pipeline.filters {
            v.visit_filter(filter);
        }
    }
}

/// The templates in a value, depth first.
pub fn walk_value<'a, V: Visitor<'a> + ?Sized>(v: &mut V, value: &'a PlanValue) {
    match value {
        PlanValue::Str(t) => v.visit_template(t),
        PlanValue::List(items) => items.iter().for_each(|x| v.visit_value(x)),
        PlanValue::Map(map) => walk_map(v, map),
        PlanValue::Null
        | PlanValue::Bool(_)
        | PlanValue::Int(_)
        | PlanValue::Float(_)
        | PlanValue::BigInt(_) => {}
    }
}

fn walk_map<'a, V: Visitor<'a> + ?Sized>(v: &mut V, map: &'a PlanMap) {
    for (_, value) in map.iter() {
        v.visit_value(value);
    }
}

fn walk_bound<'a, V: Visitor<'a> + ?Sized>(v: &mut V, bound: &'a Bound) {
    if let Bound::Template(t) = bound {
        v.visit_template(t);
    }
}
