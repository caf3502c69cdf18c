//! YAML nodes to the typed model, with a diagnostic for every problem found.

pub(crate) mod edits;
pub(crate) mod job;
mod reader;
pub(crate) mod stage;
pub(crate) mod workflow;

use crate::diagnostic::Diagnostic;
use crate::source::SourceFile;
use crate::span::FileId;
use crate::syntax::model::FileModel;
use crate::syntax::yaml::Node;

/// Reads the workflows of one parsed file.
#[must_use]
pub fn build_file(file: FileId, source: &SourceFile, root: &Node) -> (FileModel, Vec<Diagnostic>) {
    crate::diagnostic::reset_suggestion_budget();
    let mut cx = reader::Cx::new(source);
    let workflows = workflow::file(&mut cx, root);
    (FileModel { file, workflows }, cx.diags)
}
