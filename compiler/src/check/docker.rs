//! Docker stages: an `image` does not name its tag (`tag` does), and a volume
//! may only mount a path inside the working directory, never one that holds the
//! engine's socket (see `volume.rs`). What the text of a
//! host path shows is checked here: relative paths that climb out with `..`,
//! absolute paths, the engine's sockets. A templated host path is judged by its
//! text before the first template (`../${{ params.d }}` climbs out whatever the
//! param is); the rest, and symlinks, are checked when the stage runs. Container
//! paths must be absolute, and `/logs` is the stage's own (its `outputs.json`).
//!
//! The volumes of container jobs follow the same rule: `runs-on: {type:
//! container, with: {volumes: [{source, target}]}}` and `runs-on: {type: docker,
//! with: {volume: {host: container}}}`.

use std::path::Path;

use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;
use crate::syntax::expr::ast::Part;
use crate::syntax::model::{Job, Stage, StageKind, Text, ValueKind, Workflow, WrittenValue};
use crate::syntax::visit::{Visitor, walk_job, walk_stage};
use crate::volume::{self, Refusal};
use wfc_plan::vocab::RunsOnKind;

pub(super) fn check(workflow: &Workflow, out: &mut Vec<Diagnostic>) {
    DockerStages(out).visit_workflow(workflow);
}

/// Docker stages' images and volumes, and container jobs' volumes.
struct DockerStages<'a>(&'a mut Vec<Diagnostic>);

impl<'a> Visitor<'a> for DockerStages<'_> {
    fn visit_job(&mut self, job: &'a Job) {
        if let Some(runs_on) = &job.runs_on
            && let Some(args) = runs_on.args.as_ref().and_then(WrittenValue::as_map)
        {
            let arg = |name: &str| args.iter().find(|(k, _)| k.name == name).map(|(_, v)| v);
            match runs_on.kind.value {
                // `volume: {host: container}`: the host paths are keys, as written.
                RunsOnKind::Docker => {
                    for (key, target) in arg("volume").and_then(WrittenValue::as_map).unwrap_or(&[])
                    {
                        refuse(&key.name, &key.name, key.span, self.0);
                        if let ValueKind::Text(text) = &target.kind
                            && text.template.is_literal()
                        {
                            job_container(&text.raw, target.span, self.0);
                        }
                    }
                }
                // `volumes: [{source, target, mode}]`.
                RunsOnKind::Container => {
                    let items = match arg("volumes").map(|v| &v.kind) {
                        Some(ValueKind::Seq(items)) => items.as_slice(),
                        _ => &[],
                    };
                    for item in items {
                        let fields = item.as_map().unwrap_or(&[]);
                        let field = |name: &str| {
                            fields.iter().find(|(k, _)| k.name == name).map(|(_, v)| v)
                        };
                        if let Some(source) = field("source").and_then(WrittenValue::as_text) {
                            host(source, self.0);
                        }
                        if let Some(target) = field("target")
                            && let ValueKind::Text(text) = &target.kind
                            && text.template.is_literal()
                        {
                            job_container(&text.raw, target.span, self.0);
                        }
                    }
                }
                _ => {}
            }
        }
        walk_job(self, job);
    }

    fn visit_stage(&mut self, stage: &'a Stage) {
        if let StageKind::Docker {
            image, tag, volume, ..
        } = &stage.kind
        {
            image_with_tag(image, tag.as_ref(), self.0);
            for entry in volume.iter().flatten() {
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

/// WF107 when a literal `image` names its tag (`busybox:1`): the engine is
/// asked for `image:tag` (`busybox:1:latest`, with the default tag), which is no
/// image reference at all. A registry's port (`host:5000/name`) is not a tag.
fn image_with_tag(image: &Text, tag: Option<&Text>, out: &mut Vec<Diagnostic>) {
    if !image.template.is_literal() {
        return;
    }
    let raw = image.raw.as_str();
    // A digest (`name@sha256:…`) is not a tag either.
    if raw.contains('@') {
        return;
    }
    let name_start = raw.rfind('/').map_or(0, |slash| slash + 1);
    let Some(colon) = raw[name_start..].find(':').map(|c| name_start + c) else {
        return;
    };
    let (name, named_tag) = (&raw[..colon], &raw[colon + 1..]);
    let given = tag.map_or("latest", |t| t.raw.as_str());
    out.push(
        Diagnostic::new(
            Code::InvalidValue,
            image.span,
            format!(
                "`image` names its tag (`{named_tag}`), and the stage's `tag` adds another: the engine would be asked for `{raw}:{given}`"
            ),
        )
        .label("the tag goes in `tag`")
        .help(format!("write `image: {name}` and `tag: '{named_tag}'`")),
    );
}

fn host(text: &Text, out: &mut Vec<Diagnostic>) {
    let Some(known) = static_part(text) else {
        return;
    };
    refuse(&known, &text.raw, text.span, out);
}

/// WF505 when the known part of a host path (`raw` as written, at `span`)
/// already leaves the working directory or names the engine's socket.
fn refuse(known: &str, raw: &str, span: Span, out: &mut Vec<Diagnostic>) {
    let Some(refusal) = volume::static_refusal(known) else {
        return;
    };
    let help = match refusal {
        Refusal::EngineSocket(_) => {
            "a container that needs the engine is not something a workflow stage may get"
        }
        _ => "mount a folder of the working directory, written relative to it (`./data: /data`)",
    };
    out.push(
        Diagnostic::new(Code::UnsafeVolume, span, refusal.message(raw))
            .label("not mountable")
            .help(help),
    );
}

/// A container job's container path: absolute, and not `/.wfc` (wfr's own).
fn job_container(target: &str, span: Span, out: &mut Vec<Diagnostic>) {
    let message = if !target.starts_with('/') {
        format!("container path `{target}` must be absolute")
    } else if volume::normalize(Path::new(target)).starts_with("/.wfc") {
        "`/.wfc` is where wfr mounts its own folders in a container job".to_string()
    } else {
        return;
    };
    out.push(
        Diagnostic::new(Code::UnsafeVolume, span, message)
            .label("not a mount point")
            .help("use an absolute path of your own, e.g. `/data`"),
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
