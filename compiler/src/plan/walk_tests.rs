//! The plan walker (`visit_stages`, `filter_names`) over workflows lowered from YAML.

use crate::plan::lower;
use crate::project;
use crate::source::SourceFile;

fn plan(yaml: &str) -> crate::plan::Plan {
    let source = SourceFile::new("flow.yml".into(), yaml.to_string());
    let (model, _) = project::load_file(project::file_id(0), &source, None);
    lower(&model.workflows[0], "flow.yml")
}

#[test]
fn filters_are_found_in_every_kind_of_place() {
    let plan = plan(
        "flow:
  type: Workflow
  params:
    day: {type: str, default: '${{ params.x | lower }}'}
  jobs:
    a:
      if: params.day | upper == 'X'
      stages:
        - name: Each
          foreach: '${{ params.items | mine }}'
          stages:
            - name: Pick
              case: '${{ item | str }}'
              match:
                - case: '1'
                  stages:
                    - name: Deep
                      bash: echo ${{ item | shout(2) }}
        - name: Env
          bash: echo
          env:
            A: ${{ params.a | title }}
",
    );
    let names: Vec<&str> = plan.filter_names().into_iter().collect();
    assert_eq!(names, ["lower", "mine", "shout", "str", "title", "upper"]);
    let mut stages = Vec::new();
    plan.visit_stages(&mut |s| stages.push(s.name.to_string()));
    assert_eq!(stages, ["Each", "Pick", "Deep", "Env"]);
}
