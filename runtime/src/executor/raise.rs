//! Raise stage: fails with the rendered message.

use wfc_plan::expr::ast::Template;

use super::{Context, Outcome};
use crate::eval;
use crate::status::ErrorName;
use crate::value::Map;

pub(super) fn run(cx: &impl Context, local: &Map, message: &Template) -> Outcome {
    // Upstream renders the message without `pass_env`: `null` stays text.
    match eval::render_text(&cx.scope(local, None).plain(), message) {
        Ok(text) => Outcome::failed(ErrorName::StageError, text),
        Err(e) => Outcome::eval_error(e),
    }
}
