//! Docker stages: a volume may only mount a path inside the working directory,
//! never one that holds the engine's socket (see `volume.rs`). What the text of a
//! host path shows is checked here: relative paths that climb out with `..`,
//! absolute paths, the engine's sockets. A templated host path is judged by its
//! text before the first template (`../${{ params.d }}` climbs out whatever the
//! param is); the rest, and symlinks, are checked when the stage runs. Container
//! paths must be absolute, and `/logs` is the stage's own (its `outputs.json`).

use std::path::Path;

use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;
use crate::syntax::expr::ast::Part;
use crate::syntax::model::{Stage, StageKind, Text, ValueKind, Workflow};
use crate::syntax::visit::{Visitor, walk_stage};
use crate::volume::{self, Refusal};

pub(super) fn check(workflow: &Workflow, out: &mut Vec<Diagnostic>) {
    Volumes(out).visit_workflow(workflow);
}

/// Docker stages' volumes.
struct Volumes<'a>(&'a mut Vec<Diagnostic>);

impl<'a> Visitor<'a> for Volumes<'_> {
    fn visit_stage(&mut self, stage: &'a Stage) {
        if let StageKind::Docker {
            volume: Some(volume),
            ..
        } = &stage.kind
        {
            for entry in volume {
                host(&entry.host, self.0);
                if let ValueKind::Text(text) = &entry.container.kind
                    && text.template.is_literal()
                {
                    container(&text.raw, entry.container.span, self.0);
                }
            }
        }
        walk_stage(self, stage);
    }
}

fn host(text: &Text, out: &mut Vec<Diagnostic>) {
    let Some(known) = static_part(text) else {
        return;
    };
    let Some(refusal) = volume::static_refusal(&known) else {
        return;
    };
    let help = match refusal {
        Refusal::EngineSocket(_) => {
            "a container that needs the engine is not something a workflow stage may get"
        }
        _ => "mount a folder of the working directory, written relative to it (`./data: /data`)",
    };
    out.push(
        Diagnostic::new(Code::UnsafeVolume, text.span, refusal.message(&text.raw))
            .label("not mountable")
            .help(help),
    );
}

/// The part of a host path that is known before the stage runs: all of it when
/// it is literal, else its text up to the last `/` before the first template
/// (whole path components only), none when that is empty.
fn static_part(text: &Text) -> Option<String> {
    let mut known = String::new();
    for part in &text.template.parts {
        match part {
            Part::Text(t) => known.push_str(t),
            Part::Interp(_) | Part::Env(_) => {
                let cut = known.rfind('/')?;
                known.truncate(cut + 1);
                return Some(known);
            }
        }
    }
    Some(known)
}

fn container(target: &str, span: Span, out: &mut Vec<Diagnostic>) {
    let message = if !target.starts_with('/') {
        format!("container path `{target}` must be absolute")
    } else if volume::normalize(Path::new(target)) == Path::new("/logs") {
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
