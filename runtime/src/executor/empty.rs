//! Empty stage: logs `echo`, then sleeps `sleep` seconds (cancellable; not in a
//! dry run).

use std::time::Duration;

use wfc_plan::expr::ast::Template;

use super::{Context, Outcome};
use crate::value::Map;

pub(super) fn run(cx: &impl Context, local: &Map, echo: Option<&Template>, sleep: f64) -> Outcome {
    let scope = cx.scope(local, None);
    if let Err(e) = cx.events().echo(|| cx.at(), &scope, echo) {
        return Outcome::eval_error(e);
    }
    if cx.cancel().is_cancelled() {
        return Outcome::cancelled("Cancel before start empty process.");
    }
    if sleep > 0.0
        && !cx.dry_run()
        && !cx.blocking(|| cx.cancel().sleep(Duration::from_secs_f64(sleep)))
    {
        return Outcome::cancelled("Cancel while the empty stage was sleeping.");
    }
    Outcome::success(Map::default())
}
