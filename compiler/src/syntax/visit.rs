//! A walk over the model for the checks. A check implements [`Visitor`] and
//! overrides the methods for what it looks at; each method's default goes on
//! into the part's parts through the `walk_*` function of the same name, which
//! an override calls to go on too. The `walk_*` functions are the one place that
//! knows what a workflow holds, nested stage lists included.

use crate::syntax::model::{
    AxisValues, Branch, CaseArm, Cond, Condition, Count, DockerCommand, ForEachItems, Job, Stage,
    StageKind, Text, ValueKind, Workflow, WrittenValue,
};

/// Where a stage list is.
#[derive(Clone, Copy, Debug)]
pub enum Nest<'a> {
    /// A job's stages.
    Job,
    /// A parallel stage's branch.
    Branch(&'a Branch),
    /// A foreach stage's body, run for each item.
    ForEach,
    /// An until stage's body, run for each loop.
    Until,
    /// A case stage's arm.
    Arm(&'a CaseArm),
}

/// Whose condition a [`Cond`] is.
#[derive(Clone, Copy, Debug)]
pub enum CondOf<'a> {
    /// A job's `if`.
    Job,
    /// A stage's `if`.
    Stage,
    /// An until stage's `until`, evaluated after each run of its body.
    Until { body: &'a [Stage] },
}

/// A pass over a workflow. The defaults visit everything, parents before their
/// parts, in the order the model holds them.
pub trait Visitor<'a> {
    fn visit_workflow(&mut self, workflow: &'a Workflow) {
        walk_workflow(self, workflow);
    }
    fn visit_job(&mut self, job: &'a Job) {
        walk_job(self, job);
    }
    fn visit_stage_list(&mut self, stages: &'a [Stage], nest: Nest<'a>) {
        let _ = nest;
        walk_stage_list(self, stages);
    }
    fn visit_stage(&mut self, stage: &'a Stage) {
        walk_stage(self, stage);
    }
    /// The kind's own fields and nested lists (from [`walk_stage`]).
    fn visit_stage_kind(&mut self, kind: &'a StageKind) {
        walk_stage_kind(self, kind);
    }
    /// A condition expression (an `if: true` has none).
    fn visit_cond(&mut self, cond: &'a Cond, of: CondOf<'a>) {
        let _ = (cond, of);
    }
    /// A string that may hold templates.
    fn visit_text(&mut self, text: &'a Text) {
        let _ = text;
    }
    fn visit_value(&mut self, value: &'a WrittenValue) {
        walk_value(self, value);
    }
}

/// Params' defaults and options, the extras, then every job.
pub fn walk_workflow<'a, V: Visitor<'a> + ?Sized>(v: &mut V, workflow: &'a Workflow) {
    for param in &workflow.params {
        for value in param.default.iter().chain(&param.options) {
            v.visit_value(value);
        }
    }
    if let Some(extras) = &workflow.extras {
        v.visit_value(extras);
    }
    for job in &workflow.jobs {
        v.visit_job(job);
    }
}

pub fn walk_job<'a, V: Visitor<'a> + ?Sized>(v: &mut V, job: &'a Job) {
    if let Some(args) = job.runs_on.as_ref().and_then(|r| r.args.as_ref()) {
        v.visit_value(args);
    }
    if let Some(Condition::Expr(cond)) = &job.cond {
        v.visit_cond(cond, CondOf::Job);
    }
    if let Some(strategy) = &job.strategy {
        walk_count(v, strategy.max_parallel.as_ref());
        for axis in &strategy.matrix {
            match &axis.values {
                AxisValues::List(values) => values.iter().for_each(|x| v.visit_value(x)),
                AxisValues::Template(t) => v.visit_text(t),
            }
        }
        for row in strategy.include.iter().chain(&strategy.exclude) {
            for (_, value) in &row.entries {
                v.visit_value(value);
            }
        }
    }
    if let Some(extras) = &job.extras {
        v.visit_value(extras);
    }
    v.visit_stage_list(&job.stages, Nest::Job);
}

pub fn walk_stage_list<'a, V: Visitor<'a> + ?Sized>(v: &mut V, stages: &'a [Stage]) {
    for stage in stages {
        v.visit_stage(stage);
    }
}

/// The fields every stage has, then its kind's.
pub fn walk_stage<'a, V: Visitor<'a> + ?Sized>(v: &mut V, stage: &'a Stage) {
    v.visit_text(&stage.name);
    if let Some(id) = &stage.id {
        v.visit_text(id);
    }
    if let Some(Condition::Expr(cond)) = &stage.cond {
        v.visit_cond(cond, CondOf::Stage);
    }
    if let Some(extras) = &stage.extras {
        v.visit_value(extras);
    }
    v.visit_stage_kind(&stage.kind);
}

/// Every field of a stage kind, nested stage lists included (an until's
/// condition after its body): adding a kind means adding it here.
pub fn walk_stage_kind<'a, V: Visitor<'a> + ?Sized>(v: &mut V, kind: &'a StageKind) {
    match kind {
        StageKind::Empty { echo, .. } => {
            if let Some(echo) = echo {
                v.visit_text(echo);
            }
        }
        StageKind::Bash { bash, env } => {
            v.visit_text(bash);
            for (_, t) in env {
                v.visit_text(t);
            }
        }
        StageKind::Py { run, vars } => {
            v.visit_text(run);
            walk_some(v, vars.as_ref());
        }
        StageKind::VirtualPy {
            run,
            vars,
            deps,
            version,
        } => {
            v.visit_text(run);
            walk_some(v, vars.as_ref());
            for t in deps.iter().chain(version) {
                v.visit_text(t);
            }
        }
        StageKind::Call { uses, args } => {
            v.visit_text(uses);
            walk_some(v, args.as_ref());
        }
        StageKind::Trigger { trigger, params } => {
            v.visit_text(trigger);
            walk_some(v, params.as_ref());
        }
        StageKind::Raise { message } => v.visit_text(message),
        StageKind::Docker {
            image,
            tag,
            env,
            volume,
            auth,
            command,
        } => {
            v.visit_text(image);
            if let Some(tag) = tag {
                v.visit_text(tag);
            }
            walk_some(v, env.as_ref());
            for entry in volume.iter().flatten() {
                v.visit_text(&entry.host);
                v.visit_value(&entry.container);
            }
            walk_some(v, auth.as_ref());
            match command {
                Some(DockerCommand::Shell(t)) => v.visit_text(t),
                Some(DockerCommand::Exec(parts)) => parts.iter().for_each(|t| v.visit_text(t)),
                None => {}
            }
        }
        StageKind::Parallel {
            branches,
            max_workers,
        } => {
            walk_count(v, max_workers.as_ref());
            for branch in branches {
                v.visit_stage_list(&branch.stages, Nest::Branch(branch));
            }
        }
        StageKind::ForEach {
            foreach, stages, ..
        } => {
            match foreach {
                ForEachItems::Template(t) => v.visit_text(t),
                ForEachItems::List(items) => items.iter().for_each(|x| v.visit_value(x)),
            }
            v.visit_stage_list(stages, Nest::ForEach);
        }
        StageKind::Until {
            item,
            until,
            stages,
            ..
        } => {
            walk_some(v, item.as_ref());
            v.visit_stage_list(stages, Nest::Until);
            v.visit_cond(until, CondOf::Until { body: stages });
        }
        StageKind::Case { case, arms, .. } => {
            v.visit_text(case);
            for arm in arms {
                walk_some(v, arm.case.as_ref());
                v.visit_stage_list(&arm.stages, Nest::Arm(arm));
            }
        }
    }
}

/// The texts in a value, depth first.
pub fn walk_value<'a, V: Visitor<'a> + ?Sized>(v: &mut V, value: &'a WrittenValue) {
    match &value.kind {
        ValueKind::Text(t) => v.visit_text(t),
        ValueKind::Seq(items) => items.iter().for_each(|x| v.visit_value(x)),
        ValueKind::Map(entries) => entries.iter().for_each(|(_, x)| v.visit_value(x)),
        ValueKind::Null
        | ValueKind::Bool(_)
        | ValueKind::Int(_)
        | ValueKind::BigInt(_)
        | ValueKind::Float(_) => {}
    }
}

fn walk_some<'a, V: Visitor<'a> + ?Sized>(v: &mut V, value: Option<&'a WrittenValue>) {
    if let Some(value) = value {
        v.visit_value(value);
    }
}

fn walk_count<'a, V: Visitor<'a> + ?Sized>(v: &mut V, count: Option<&'a Count>) {
    if let Some(Count::Template(t)) = count {
        v.visit_text(t);
    }
}

/// Calls `visit` with every stage in `stages`, nested ones included, parents
/// before their children.
pub fn each_stage<'a>(stages: &'a [Stage], visit: impl FnMut(&'a Stage)) {
    struct Stages<F>(F);
    impl<'a, F: FnMut(&'a Stage)> Visitor<'a> for Stages<F> {
        fn visit_stage(&mut self, stage: &'a Stage) {
            (self.0)(stage);
            walk_stage(self, stage);
        }
        fn visit_value(&mut self, _: &'a WrittenValue) {}
    }
    walk_stage_list(&mut Stages(visit), stages);
}

impl Stage {
    /// The stage lists nested directly in this one (branches, loop bodies, arms),
    /// each with where it is.
    #[must_use]
    pub fn nested(&self) -> Vec<(Nest<'_>, &[Stage])> {
        struct Lists<'a>(Vec<(Nest<'a>, &'a [Stage])>);
        impl<'a> Visitor<'a> for Lists<'a> {
            fn visit_stage_list(&mut self, stages: &'a [Stage], nest: Nest<'a>) {
                self.0.push((nest, stages));
            }
            fn visit_value(&mut self, _: &'a WrittenValue) {}
        }
        let mut lists = Lists(Vec::new());
        walk_stage_kind(&mut lists, &self.kind);
        lists.0
    }

    /// The stage lists nested directly in this one.
    #[must_use]
    pub fn children(&self) -> Vec<&[Stage]> {
        self.nested()
            .into_iter()
            .map(|(_, stages)| stages)
            .collect()
    }
}
