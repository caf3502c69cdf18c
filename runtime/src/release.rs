//! Releases: a run of a workflow for a logical time (upstream's `release()`),
//! released once per workflow and time (the store claims it).

use jiff::Timestamp;

use crate::eval::{self, EvalError, Scope};
use crate::value::{Map, Value};

/// What a release's `-p` values may read: `release.logical_date`,
/// `release.execute_date` (when it started) and `release.run_id`.
#[must_use]
pub fn context(logical: Timestamp, executed: Timestamp, run_id: &str) -> Value {
    let mut release = Map::default();
    release.insert("logical_date".into(), Value::DateTime(logical));
    release.insert("execute_date".into(), Value::DateTime(executed));
    release.insert("run_id".into(), Value::str(run_id));
    Value::from(release)
}

/// A `-p` value of a release: a template that may read `release` (and nothing
/// else of a run: there is none yet). Rendered as a stage field is: a value that
/// is one `${{ … }}` keeps its type (a datetime stays one).
pub fn render_param(text: &str, release: &Value) -> Result<Value, EvalError> {
    let template = wfc_plan::expr::parse_template(text).map_err(|e| EvalError {
        name: crate::status::ErrorName::UtilError,
        message: format!("the template does not parse: {}", e.message),
    })?;
    let empty = Map::default();
    let frame = eval::Frame::default();
    let no_env = |_: &str| None;
    let scope = Scope {
        params: &empty,
        jobs: &empty,
        matrix: &empty,
        local: &empty,
        frame: &frame,
        retry: None,
        overlay: None,
        env: &no_env,
        pass_env: false,
        release: Some(release),
    };
    eval::render(&scope, &template)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_read_the_release() {
        let logical: Timestamp = "2026-03-01T06:00:00Z".parse().expect("a time");
        let executed: Timestamp = "2026-03-01T06:00:01Z".parse().expect("a time");
        let release = context(logical, executed, "RID");
        assert_eq!(
            render_param("${{ release.logical_date }}", &release).expect("renders"),
            Value::DateTime(logical)
        );
        assert_eq!(
            render_param("run ${{ release.run_id }}", &release).expect("renders"),
            Value::str("run RID")
        );
        assert_eq!(
            render_param("plain", &release).expect("renders"),
            Value::str("plain")
        );
        let error = render_param("${{ release.nope }}", &release).expect_err("fails");
        assert!(error.message.contains("release.nope"), "{error}");
        let error = render_param("${{ params.x }}", &release).expect_err("fails");
        assert!(error.message.contains("params.x"), "{error}");
    }
}
