//! `wfc graph` drawn by Graphviz: every workflow of the bundled examples and of the
//! fixtures renders, and a job's cluster is laid out below the clusters of its
//! needs, with an edge long enough to be seen.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{stderr, tests_dir, wfc, write};

/// Runs `dot` with `format` on `source`.
fn dot(source: &str, format: &str) -> Vec<u8> {
    let mut child = Command::new("dot")
        .arg(format!("-T{format}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`dot` (Graphviz; Debian's graphviz package) must be installed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(source.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("dot");
    assert!(
        out.status.success(),
        "dot -T{format}: {}\n{source}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A cluster's box: left, bottom, right, top (Graphviz's y grows upward).
type Box4 = [f64; 4];

fn bounds(text: &str) -> Box4 {
    let v: Vec<f64> = text
        .split(',')
        .map(|n| n.parse().expect("number"))
        .collect();
    [v[0], v[1], v[2], v[3]]
}

/// Checks the layout of one workflow's graph; returns how many job edges it has.
fn check_layout(name: &str, paths: &[&Path], cwd: &Path) -> usize {
    let mut args = vec!["graph", name];
    let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    let out = wfc(&args, cwd);
    assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
    let source = String::from_utf8(out.stdout).expect("utf-8");
    let png = dot(&source, "png");
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");

    let layout: serde_json::Value =
        serde_json::from_slice(&dot(&source, "json")).expect("dot json");
    let clusters: HashMap<&str, Box4> = layout["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter_map(|o| Some((o["name"].as_str()?, bounds(o["bb"].as_str()?))))
        .filter(|(n, _)| n.starts_with("cluster_job_"))
        .collect();
    let mut job_edges = 0;
    for edge in layout["edges"].as_array().into_iter().flatten() {
        let (Some(tail), Some(head)) = (edge["ltail"].as_str(), edge["lhead"].as_str()) else {
            continue;
        };
        if !head.starts_with("cluster_job_") || head.matches('_').count() != 2 {
            continue;
        }
        job_edges += 1;
        let need = clusters[tail];
        let job = clusters[head];
        let gap = need[1] - job[3];
        assert!(
            gap >= 30.0,
            "{name}: {head} (top {}) is not well below its need {tail} (bottom {})\n{source}",
            job[3],
            need[1]
        );
    }
    // A stage comes below the lists nested in the stage before it.
    let nodes: HashMap<&str, f64> = layout["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter_map(|o| {
            let pos = o["pos"].as_str()?;
            Some((o["name"].as_str()?, pos.split(',').nth(1)?.parse().ok()?))
        })
        .collect();
    for (cluster, inner) in &clusters {
        let Some(stage) = cluster
            .strip_prefix("cluster_")
            .and_then(|c| c.rsplit_once('_'))
            .map(|(stage, _)| stage)
        else {
            continue;
        };
        let Some((list, index)) = stage.rsplit_once('_') else {
            continue;
        };
        let Ok(index) = index.parse::<usize>() else {
            continue;
        };
        if stage.matches('_').count() < 2 {
            continue;
        }
        if let Some(next) = nodes.get(format!("{list}_{}", index + 1).as_str()) {
            assert!(
                *next < inner[1],
                "{name}: the stage after {stage} (y {next}) is not below {cluster} (bottom {})",
                inner[1]
            );
        }
    }
    // Nested lists lie inside their job, below the stage they hang from.
    for (cluster, inner) in &clusters {
        let job: String = cluster.splitn(4, '_').take(3).collect::<Vec<_>>().join("_");
        if *cluster != job {
            let outer = clusters[job.as_str()];
            assert!(
                inner[0] >= outer[0]
                    && inner[2] <= outer[2]
                    && inner[1] >= outer[1]
                    && inner[3] <= outer[3],
                "{name}: {cluster} is not inside {job}"
            );
        }
    }
    job_edges
}

#[test]
fn bundled_examples_lay_out_top_to_bottom() {
    let root = tests_dir().join("..");
    let examples = root.join("examples/conf");
    let mut edges = 0;
    for name in ["site-check", "daily-orders"] {
        edges += check_layout(name, &[&examples], &root);
    }
    assert!(
        edges >= 4,
        "the examples have needs: {edges} job edges seen"
    );
}

#[test]
fn every_fixture_workflow_lays_out_top_to_bottom() {
    let ok = tests_dir().join("fixtures/ok");
    let checked = wfc_compiler::check::check_paths(
        std::slice::from_ref(&ok),
        &wfc_compiler::check::Options::default(),
        None,
    )
    .expect("fixtures");
    let names: Vec<String> = checked
        .workflows
        .iter()
        .flatten()
        .map(|w| w.name.value.clone())
        .collect();
    assert!(names.len() >= 5, "{names:?}");
    let root = tests_dir().join("..");
    let edges: usize = names.iter().map(|n| check_layout(n, &[&ok], &root)).sum();
    assert!(edges > 0);
}

#[test]
fn a_diamond_with_empty_jobs_and_lists_lays_out_top_to_bottom() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/dia.yml",
        "dia:\n  type: Workflow\n  jobs:\n    a:\n      stages:\n        - {name: one, echo: x}\n        - name: each\n          foreach: [1, 2]\n          stages: [{name: in, echo: x}]\n    b:\n      needs: [a]\n      stages: [{name: b1, echo: x}]\n    c:\n      needs: [a]\n      stages: []\n    d:\n      needs: [b, c]\n      stages:\n        - name: p\n          parallel:\n            x: [{name: x1, echo: x}]\n            y: []\n    e:\n      needs: [d, a]\n      stages:\n        - name: k\n          case: '1'\n          match:\n            - case: '1'\n              stages: []\n",
    );
    let conf: PathBuf = dir.path().join("conf");
    assert_eq!(check_layout("dia", &[&conf], dir.path()), 6);
}
