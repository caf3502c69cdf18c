//! Docker stages: a volume may only mount a path inside the working directory
//! (see `volume.rs`). Static host paths are checked here: relative paths that climb
//! out with `..`, absolute paths and the Docker socket are refused (symlinks and
//! templated paths are checked when the stage runs). Container paths must be
//! absolute, and `/logs` is the stage's own (its `outputs.json`).

use std::path::Path;

use super::walk_stages;
use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::model::{StageKind, ValueKind, Workflow};
use crate::volume::{self, Refusal};

pub(super) fn check(workflow: &Workflow, out: &mut Vec<Diagnostic>) {
    for job in &workflow.jobs {
        walk_stages(&job.stages, &mut |stage| {
            let StageKind::Docker {
                volume: Some(volume),
                ..
            } = &stage.kind
            else {
                return;
            };
            for (key, target) in volume.as_map().unwrap_or(&[]) {
                host(&key.name, key.span, out);
                if let ValueKind::Text(text) = &target.kind
                    && text.template.is_literal()
                {
                    container(&text.raw, target.span, out);
                }
            }
        });
    }
}

fn host(name: &str, span: crate::span::Span, out: &mut Vec<Diagnostic>) {
    if name.contains("${{") {
        return;
    }
    // A stand-in working directory: the rule is lexical here.
    let root = Path::new("/__workdir__");
    let refusal = if Path::new(name).is_absolute() && !name.contains("docker.sock") {
        Some(Refusal::Outside)
    } else {
        volume::host_path(name, root).err()
    };
    let Some(refusal) = refusal else {
        return;
    };
    let help = match refusal {
        Refusal::DockerSocket => {
            "a container that needs the engine is not something a workflow stage may get"
        }
        _ => "mount a folder of the working directory, written relative to it (`./data: /data`)",
    };
    out.push(
        Diagnostic::new(Code::UnsafeVolume, span, refusal.message(name))
            .label("not mountable")
            .help(help),
    );
}

fn container(target: &str, span: crate::span::Span, out: &mut Vec<Diagnostic>) {
    let message = if !target.starts_with('/') {
        format!("container path `{target}` must be absolute")
    } else if Path::new(target) == Path::new("/logs") {
        "`/logs` is where the stage's own folder is mounted (the container writes `/logs/outputs.json` there)".to_string()
    } else {
        return;
    };
    out.push(
        Diagnostic::new(Code::UnsafeVolume, span, message)
            .label("not a mount point")
            .help("use an absolute path other than `/logs`, e.g. `/data`"),
    );
}
