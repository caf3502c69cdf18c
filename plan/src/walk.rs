//! Walks over a whole plan: every stage, nested ones included, and every filter
//! its templates and conditions apply.

use std::collections::BTreeSet;

use crate::expr::ast::{ExprItem, Template};
use crate::ir::{
    Axis, CommandPlan, CondPlan, Count, Items, JobPlan, MatrixPlan, PMap, PValue, Plan,
    StageKindPlan, StagePlan,
};

impl Plan {
    /// Calls `visit` with every stage of every job, parents before their children.
    pub fn visit_stages<'a>(&'a self, visit: &mut impl FnMut(&'a StagePlan)) {
        fn list<'a>(stages: &'a [StagePlan], visit: &mut impl FnMut(&'a StagePlan)) {
            for stage in stages {
                visit(stage);
                for child in stage.children() {
                    list(child, visit);
                }
            }
        }
        for job in self.jobs.node_weights() {
            list(&job.stages, visit);
        }
    }

    /// The first number beyond wfc's bounds (a stage `timeout` or `sleep`, a
    /// static matrix's size), as a message: the compiler never writes one, and the
    /// runtime must not meet one in a plan made by other means.
    #[must_use]
    pub fn out_of_bounds(&self) -> Option<String> {
        use crate::limits::{MAX_MATRIX_COMBINATIONS, MAX_SLEEP_SECONDS, MAX_TIMEOUT_SECONDS};
        for job in self.jobs.node_weights() {
            if let MatrixPlan::Static(combinations) = &job.strategy.matrix
                && combinations.len() as u64 > MAX_MATRIX_COMBINATIONS
            {
                return Some(format!(
                    "job `{}` has {} matrix combinations",
                    job.id,
                    combinations.len()
                ));
            }
        }
        let mut found = None;
        self.visit_stages(&mut |stage| {
            if found.is_some() {
                return;
            }
            if let Some(t) = stage.timeout
                && !(t > 0.0 && t <= MAX_TIMEOUT_SECONDS)
            {
                found = Some(format!("a stage `timeout` of {t} seconds"));
            }
            if let StageKindPlan::Empty { sleep, .. } = &stage.kind
                && !(0.0..MAX_SLEEP_SECONDS).contains(sleep)
            {
                found = Some(format!("a stage `sleep` of {sleep} seconds"));
            }
        });
        found
    }

    /// The names of the filters the plan's templates and conditions apply.
    #[must_use]
    pub fn filter_names(&self) -> BTreeSet<&str> {
        let mut names = Filters::default();
        for param in &self.params {
            names.values(param.default.iter().chain(&param.options));
        }
        names.value(self.extras.as_ref());
        for job in self.jobs.node_weights() {
            names.job(job);
        }
        names.0
    }
}

#[derive(Default)]
struct Filters<'a>(BTreeSet<&'a str>);

impl<'a> Filters<'a> {
    fn template(&mut self, template: &'a Template) {
        for interp in template.interps() {
            self.0
                .extend(interp.pipeline.filters.iter().map(|f| f.name.as_str()));
        }
    }

    fn cond(&mut self, cond: Option<&'a CondPlan>) {
        if let Some(CondPlan::Expr { expr, .. }) = cond {
            expr.walk(&mut |item| {
                if let ExprItem::Filter(f) = item {
                    self.0.insert(f.name.as_str());
                }
            });
        }
    }

    fn value(&mut self, value: Option<&'a PValue>) {
        match value {
            Some(PValue::Str(t)) => self.template(t),
            Some(PValue::List(items)) => self.values(items),
            Some(PValue::Map(map)) => self.map(map),
            _ => {}
        }
    }

    fn values(&mut self, values: impl IntoIterator<Item = &'a PValue>) {
        for v in values {
            self.value(Some(v));
        }
    }

    fn map(&mut self, map: &'a PMap) {
        self.values(map.0.iter().map(|(_, v)| v));
    }

    fn count(&mut self, count: &'a Count) {
        if let Count::Template(t) = count {
            self.template(t);
        }
    }

    fn job(&mut self, job: &'a JobPlan) {
        self.value(job.runs_on_args.as_ref());
        self.cond(job.cond.as_ref());
        self.count(&job.strategy.max_parallel);
        match &job.strategy.matrix {
            MatrixPlan::None => {}
            MatrixPlan::Static(combinations) => {
                for c in combinations {
                    self.map(&c.values);
                }
            }
            MatrixPlan::Dynamic {
                axes,
                include,
                exclude,
            } => {
                for (_, axis) in axes {
                    match axis {
                        Axis::Values(values) => self.values(values),
                        Axis::Template(t) => self.template(t),
                    }
                }
                for map in include.iter().chain(exclude) {
                    self.map(map);
                }
            }
        }
        self.value(job.extras.as_ref());
        for stage in &job.stages {
            self.stage(stage);
        }
    }

    fn stage(&mut self, stage: &'a StagePlan) {
        self.template(&stage.name);
        if let Some(id) = &stage.id {
            self.template(id);
        }
        self.cond(stage.cond.as_ref());
        self.value(stage.extras.as_ref());
        match &stage.kind {
            StageKindPlan::Empty { echo, .. } => {
                if let Some(echo) = echo {
                    self.template(echo);
                }
            }
            StageKindPlan::Bash { script, env } => {
                self.template(script);
                self.map(env);
            }
            StageKindPlan::Py { run, vars } => {
                self.template(run);
                self.map(vars);
            }
            StageKindPlan::VirtualPy {
                run,
                vars,
                deps,
                version,
            } => {
                self.template(run);
                self.map(vars);
                for t in deps.iter().chain(version) {
                    self.template(t);
                }
            }
            StageKindPlan::Call { uses, args } => {
                self.template(uses);
                self.map(args);
            }
            StageKindPlan::Trigger { workflow, params } => {
                self.template(workflow);
                self.map(params);
            }
            StageKindPlan::Parallel {
                branches,
                max_workers,
            } => {
                self.count(max_workers);
                for (_, stages) in branches {
                    self.stages(stages);
                }
            }
            StageKindPlan::ForEach { items, stages, .. } => {
                match items {
                    Items::List(values) => self.values(values),
                    Items::Template(t) => self.template(t),
                }
                self.stages(stages);
            }
            StageKindPlan::Until {
                item,
                until,
                stages,
                ..
            } => {
                self.value(Some(item));
                self.cond(Some(until));
                self.stages(stages);
            }
            StageKindPlan::Case { case, arms, .. } => {
                self.template(case);
                for arm in arms {
                    self.value(arm.case.as_ref());
                    self.stages(&arm.stages);
                }
            }
            StageKindPlan::Raise { message } => self.template(message),
            StageKindPlan::Docker(docker) => {
                self.template(&docker.image);
                self.template(&docker.tag);
                for map in [&docker.env, &docker.auth] {
                    self.map(map);
                }
                for (host, container) in &docker.volume {
                    self.template(host);
                    self.value(Some(container));
                }
                match &docker.command {
                    Some(CommandPlan::Shell(t)) => self.template(t),
                    Some(CommandPlan::Exec(args)) => args.iter().for_each(|t| self.template(t)),
                    None => {}
                }
            }
        }
    }

    fn stages(&mut self, stages: &'a [StagePlan]) {
        for stage in stages {
            self.stage(stage);
        }
    }
}
