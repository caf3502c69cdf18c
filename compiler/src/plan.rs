//! Lowering checked workflows to plans (the plan itself is `wfc_plan`'s), and what
//! the compiler does with plans: static matrix expansion and their graph.

pub mod graph;
mod lower;
pub mod matrix;
#[cfg(test)]
mod walk_tests;

pub use lower::lower;
pub use wfc_plan::{
    ArmPlan, Axis, Bound, Combination, CommandPlan, CondPlan, DockerPlan, FORMAT_VERSION, Header,
    Items, JobPlan, MatrixPlan, ParamSpec, Plan, PlanError, PlanMap, PlanValue, ScheduleSpec,
    StageKindPlan, StagePlan, StrategyPlan, decode, encode, file_name, read, read_header, verify,
    write, write_bytes,
};
