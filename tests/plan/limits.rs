//! Plans beyond wfc's limits: the compiler never writes one, and loading one (made
//! by other means) is refused with an error, not a crash.

use std::path::Path;

use sha2::{Digest, Sha256};
use wfc_compiler::compile;
use wfc_compiler::plan::{self, Plan, PlanValue};
use wfc_compiler::syntax::expr::ast::{Expr, Literal, Template};

use crate::support::fixture_plans;

/// `n` nested one-item lists around a null, as postcard writes a `PlanValue`
/// (variant 5 is a list, then its length; variant 0 is null).
fn nested_value_bytes(n: usize) -> Vec<u8> {
    let mut bytes = [5u8, 1].repeat(n);
    bytes.push(0);
    bytes
}

#[test]
fn deeply_nested_values_are_refused_not_a_stack_overflow() {
    for n in [1_000, 1_000_000] {
        let bytes = nested_value_bytes(n);
        assert!(postcard::from_bytes::<PlanValue>(&bytes).is_err());
        assert!(wfc_compiler::limits::decode_depth_exceeded());
    }
    // `not not … True` as postcard writes an `Expr`: variant 5 is `Unary`, then
    // `Not` (0); the literal True; each node's range (two zero varints).
    let n = 1_000_000;
    let mut bytes = [5u8, 0].repeat(n);
    bytes.extend([0, 1, 1, 0, 0]);
    bytes.extend([0u8, 0].repeat(n));
    assert!(postcard::from_bytes::<Expr>(&bytes).is_err());
    // A literal list of lists (a filter argument).
    let mut bytes = [5u8, 1].repeat(n);
    bytes.push(0);
    assert!(postcard::from_bytes::<Literal>(&bytes).is_err());
    // Within the limit, values decode.
    assert!(postcard::from_bytes::<PlanValue>(&nested_value_bytes(100)).is_ok());
}

/// The file of `plan` with `extras` replaced by `extras` as raw postcard bytes,
/// with a correct checksum: a plan only a hand (or another tool) could make.
fn with_raw_extras(plan: &Plan, extras: &[u8]) -> Vec<u8> {
    let mut marked = plan.clone();
    let tag = "MARKER-7f3a9c-EXTRAS";
    marked.extras = Some(PlanValue::Str(Template::literal(tag)));
    let header = postcard::to_stdvec(&compile::header(&marked, "hash".into())).expect("header");
    let body = postcard::to_stdvec(&marked).expect("body");
    // `Some`, the `Str` variant, the template's one text part: then the marker.
    let at = body
        .windows(tag.len())
        .position(|w| w == tag.as_bytes())
        .expect("marker in the body");
    let start = at - 5;
    assert_eq!(&body[start..at - 1], &[1, 4, 1, 0], "Some(Str([Text(..)]))");
    let mut new_body = body[..start].to_vec();
    new_body.push(1);
    new_body.extend_from_slice(extras);
    new_body.extend_from_slice(&body[at + tag.len()..]);
    let mut digest = Sha256::new();
    digest.update(&header);
    digest.update(&new_body);
    let mut out = b"WFCPLAN\0".to_vec();
    out.extend(plan::FORMAT_VERSION.to_le_bytes());
    out.extend(u32::try_from(header.len()).expect("len").to_le_bytes());
    out.extend(&header);
    out.extend((new_body.len() as u64).to_le_bytes());
    out.extend(&new_body);
    out.extend(digest.finalize());
    out
}

#[test]
fn a_plan_nested_beyond_the_limit_is_refused_at_load() {
    let plan = fixture_plans().remove(0);
    let fine = with_raw_extras(&plan, &nested_value_bytes(10));
    let (_, decoded) = plan::decode(Path::new("p.wfp"), &fine).expect("a shallow value loads");
    assert!(matches!(decoded.extras, Some(PlanValue::List(_))));
    let deep = with_raw_extras(&plan, &nested_value_bytes(2_000_000));
    let error = plan::decode(Path::new("p.wfp"), &deep)
        .expect_err("refused")
        .to_string();
    assert!(
        error.contains("nested") && error.contains("recompile with `wfc compile`"),
        "{error}"
    );
}

#[test]
fn a_plan_with_a_timeout_beyond_the_bound_is_refused_at_load() {
    let mut plan = fixture_plans().remove(0);
    let job = plan.jobs.node_weights_mut().next().expect("a job");
    job.stages[0].timeout = Some(1.0e20);
    let bytes = plan::encode(&compile::header(&plan, "hash".into()), &plan).expect("encode");
    let error = plan::decode(Path::new("p.wfp"), &bytes)
        .expect_err("refused")
        .to_string();
    assert!(error.contains("timeout"), "{error}");
}
