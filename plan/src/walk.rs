//! Questions about a whole plan, answered by walks over it (`visit`): its stages,
//! nested ones included, the filters it applies, numbers beyond wfc's bounds.

use std::collections::BTreeSet;

use crate::expr::ast::Filter;
use crate::ir::{MatrixPlan, Plan, StageKindPlan, StagePlan};
use crate::visit::{Nest, Visitor, walk_stage, walk_stage_kind};

impl Plan {
    /// Calls `visit` with every stage of every job, parents before their children.
    pub fn visit_stages<'a>(&'a self, visit: &mut impl FnMut(&'a StagePlan)) {
        struct Stages<'v, F>(&'v mut F);
        impl<'a, F: FnMut(&'a StagePlan)> Visitor<'a> for Stages<'_, F> {
            fn visit_stage(&mut self, stage: &'a StagePlan) {
                (self.0)(stage);
                walk_stage(self, stage);
            }
        }
        Stages(visit).visit_plan(self);
    }

    /// Every stage of every job, nested ones included.
    #[must_use]
    pub fn stage_count(&self) -> usize {
        let mut count = 0;
        self.visit_stages(&mut |_| count += 1);
        count
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
        #[derive(Default)]
        struct Filters<'a>(BTreeSet<&'a str>);
        impl<'a> Visitor<'a> for Filters<'a> {
            fn visit_filter(&mut self, filter: &'a Filter) {
                self.0.insert(filter.name.as_str());
            }
        }
        let mut filters = Filters::default();
        filters.visit_plan(self);
        filters.0
    }
}

impl StagePlan {
    /// The stage lists nested directly in this one (branches, loop bodies, arms),
    /// each with where it is.
    #[must_use]
    pub fn nested(&self) -> Vec<(Nest<'_>, &[StagePlan])> {
        struct Lists<'a>(Vec<(Nest<'a>, &'a [StagePlan])>);
        impl<'a> Visitor<'a> for Lists<'a> {
            fn visit_stage_list(&mut self, stages: &'a [StagePlan], nest: Nest<'a>) {
                self.0.push((nest, stages));
            }
            fn visit_value(&mut self, _: &'a crate::ir::PlanValue) {}
            fn visit_template(&mut self, _: &'a crate::expr::ast::Template) {}
            fn visit_cond(&mut self, _: &'a crate::ir::CondPlan) {}
        }
        let mut lists = Lists(Vec::new());
        walk_stage_kind(&mut lists, &self.kind);
        lists.0
    }

    /// The stage lists nested directly in this one.
    #[must_use]
    pub fn children(&self) -> Vec<&[StagePlan]> {
        self.nested()
            .into_iter()
            .map(|(_, stages)| stages)
            .collect()
    }
}
