//! What lowering produces: defaults applied, matrices expanded, graphs built.

use wfc_compiler::plan::{Bound, Items, MatrixPlan, PlanValue, StageKindPlan};

use crate::support::fixture_plans;

fn plan(name: &str) -> wfc_compiler::plan::Plan {
    fixture_plans()
        .into_iter()
        .find(|p| p.name == name)
        .expect("fixture workflow")
}

#[test]
fn job_graph_has_need_edges() {
    let plan = plan("sales-pipeline");
    let ids: Vec<&str> = plan.jobs.node_weights().map(|j| j.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["prepare", "extract", "transform", "load", "report"]
    );
    let edges: Vec<(&str, &str)> = plan
        .jobs
        .raw_edges()
        .iter()
        .map(|e| {
            (
                plan.jobs[e.source()].id.as_str(),
                plan.jobs[e.target()].id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        edges,
        vec![
            ("prepare", "extract"),
            ("extract", "transform"),
            ("transform", "load"),
            ("load", "report")
        ]
    );
    assert_eq!(plan.triggers, vec!["notify-team"]);
}

#[test]
fn static_matrix_is_expanded_with_include_and_exclude() {
    let plan = plan("sales-pipeline");
    let (_, extract) = plan.job("extract").expect("job");
    assert!(extract.strategy.fail_fast);
    assert_eq!(extract.strategy.max_parallel, Bound::Fixed(3));
    let MatrixPlan::Static(combos) = &extract.strategy.matrix else {
        panic!("static matrix expected: {:?}", extract.strategy.matrix)
    };
    let shown: Vec<String> = combos
        .iter()
        .map(|c| {
            c.values
                .iter()
                .map(|(k, v)| match v {
                    PlanValue::Str(t) => format!("{k}={t}"),
                    other => format!("{k}={other:?}"),
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            "region=th,table=orders",
            "region=th,table=refunds",
            "region=sg,table=orders",
            "region=sg,table=refunds",
            "region=vn,table=orders",
            "region=th,table=customers",
        ]
    );
    assert!(
        combos
            .iter()
            .all(|c| c.id.len() == 10 && c.id.bytes().all(|b| b.is_ascii_digit()))
    );
}

#[test]
fn defaults_are_applied() {
    let plan = plan("sales-pipeline");
    let (_, prepare) = plan.job("prepare").expect("job");
    assert_eq!(prepare.strategy.matrix, MatrixPlan::None);
    assert_eq!(prepare.strategy.max_parallel, Bound::Fixed(1));
    let (_, transform) = plan.job("transform").expect("job");
    let StageKindPlan::ForEach {
        concurrent,
        use_index_as_key,
        items,
        ..
    } = &transform.stages[0].kind
    else {
        panic!("foreach expected")
    };
    assert_eq!((*concurrent, *use_index_as_key), (2, false));
    assert!(matches!(items, Items::Template(_)));
    let StageKindPlan::Parallel { max_workers, .. } = &transform.stages[1].kind else {
        panic!("parallel expected")
    };
    assert_eq!(*max_workers, Bound::Fixed(2));
    let (_, report) = plan.job("report").expect("job");
    let docker = report
        .stages
        .iter()
        .find(|s| matches!(s.kind, StageKindPlan::Docker(_)))
        .expect("docker");
    assert_eq!(docker.retry, 1);
    let StageKindPlan::Empty { sleep, .. } = &report.stages.last().expect("stage").kind else {
        panic!("empty expected")
    };
    assert!((sleep - 0.5).abs() < f64::EPSILON);
    let mode = plan
        .params
        .iter()
        .find(|p| p.name == "mode")
        .expect("param");
    assert!(
        !mode.required,
        "`required: false` wins over choice's default"
    );
    let notify = fixture_plans()
        .into_iter()
        .find(|p| p.name == "notify-team")
        .expect("notify");
    let channel = notify
        .params
        .iter()
        .find(|p| p.name == "channel")
        .expect("param");
    assert!(
        channel.required,
        "choice params are required by default, as upstream"
    );
}

#[test]
fn conditions_and_templates_are_parsed() {
    let plan = plan("notify-team");
    let (_, post) = plan.job("post").expect("job");
    let send = &post.stages[1];
    match &send.cond {
        Some(wfc_compiler::plan::CondPlan::Expr { source, expr }) => {
            assert!(source.contains("params.urgent"));
            assert_eq!(
                expr.to_string(),
                "params.urgent == 'yes' or '${{ params.channel }}' == 'ops'"
            );
        }
        other => panic!("condition expected: {other:?}"),
    }
}

/// Lowering keeps each stage's kind, in the same walk order on both sides, and
/// the plan names each kind as the table does.
#[test]
fn every_stage_keeps_its_kind() {
    use wfc_compiler::kind::Kind;
    use wfc_compiler::project::Project;
    use wfc_compiler::syntax::visit::each_stage;
    let loaded =
        Project::load(&[crate::support::tests_dir().join("fixtures/ok")]).expect("fixtures load");
    let mut seen = std::collections::BTreeSet::new();
    for file in &loaded.project.files {
        for workflow in &file.workflows {
            let mut model = Vec::new();
            for job in &workflow.jobs {
                each_stage(&job.stages, |s| model.push(s.kind.kind()));
            }
            let plan = wfc_compiler::plan::lower(workflow, "flow.yml");
            let mut lowered = Vec::new();
            plan.visit_stages(&mut |s| {
                assert_eq!(s.kind.name(), s.kind.kind().name());
                lowered.push(s.kind.kind());
            });
            assert_eq!(model, lowered, "workflow {}", workflow.name.value);
            seen.extend(lowered);
        }
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), Kind::ALL);
}
