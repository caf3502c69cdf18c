//! Empty stage: logs `echo`, then sleeps `sleep` seconds (cancellable).

use std::time::Duration;

use wfc_plan::expr::ast::Template;

use super::{Context, Outcome};
use crate::eval;
use crate::value::{Map, Text};

pub(super) fn run(cx: &impl Context, local: &Map, echo: Option<&Template>, sleep: f64) -> Outcome {
    let scope = cx.scope(local, None);
    if tracing::enabled!(target: "wfr::echo", tracing::Level::INFO) {
        let text = match echo {
            Some(template) => match eval::render_short(&scope, template) {
                Ok(text) => text,
                Err(e) => return Outcome::eval_error(e),
            },
            None => Text::const_new("..."),
        };
        tracing::info!(target: "wfr::echo", run = cx.run_id(), at = cx.at(), message = text.as_str());
    } else if let Some(template) = echo
        && let Err(e) = eval::check(&scope, template)
    {
        // Not logged, but a template that fails still fails the stage.
        return Outcome::eval_error(e);
    }
    if cx.cancel().is_cancelled() {
        return Outcome::cancelled("Cancel before start empty process.");
    }
    if sleep > 0.0 && !cx.blocking(|| cx.cancel().sleep(Duration::from_secs_f64(sleep))) {
        return Outcome::cancelled("Cancel while the empty stage was sleeping.");
    }
    Outcome::success(Map::default())
}
