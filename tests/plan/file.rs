//! The plan file: round trips, and refusal of anything that is not a current,
//! whole plan — never a panic.

use std::path::Path;

use proptest::prelude::*;
use wfc_compiler::compile;
use wfc_compiler::plan::{self, FORMAT_VERSION, PlanError};

use crate::support::fixture_plans;

fn encoded(plan: &wfc_compiler::plan::Plan) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p.wfp");
    plan::write(&path, &compile::header(plan, "hash".into()), plan).expect("write");
    std::fs::read(path).expect("read")
}

#[test]
fn every_fixture_plan_round_trips() {
    for original in fixture_plans() {
        let bytes = encoded(&original);
        let (header, decoded) = plan::decode(Path::new("p.wfp"), &bytes).expect("decodes");
        assert_eq!(header.workflow, original.name);
        assert_eq!(header.format, FORMAT_VERSION);
        assert_eq!(decoded, original, "{}", original.name);
        // The JSON form (`wfc plan show`) reads back to the same plan too.
        let json = serde_json::to_string(&original).expect("json");
        let from_json: wfc_compiler::plan::Plan =
            serde_json::from_str(&json).expect("json reads back");
        assert_eq!(
            serde_json::to_value(&from_json).expect("json"),
            serde_json::to_value(&original).expect("json"),
            "{}",
            original.name
        );
    }
}

fn refusal(bytes: &[u8]) -> String {
    match plan::decode(Path::new("x.wfp"), bytes) {
        Ok(_) => panic!("damaged plan accepted"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn damaged_plans_are_refused_with_advice() {
    let plan = fixture_plans().remove(0);
    let good = encoded(&plan);

    let mut flipped = good.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x55;
    let message = refusal(&flipped);
    assert!(
        message.contains("damaged") && message.contains("recompile with `wfc compile`"),
        "{message}"
    );

    for cut in [0, 5, 12, 20, good.len() / 2, good.len() - 1] {
        let message = refusal(&good[..cut]);
        assert!(
            message.contains("recompile with `wfc compile`") || message.contains("not a wfc plan"),
            "{cut}: {message}"
        );
    }

    let mut other_format = good.clone();
    other_format[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let message = refusal(&other_format);
    assert!(
        message.contains(&format!("format {}", FORMAT_VERSION + 1)),
        "{message}"
    );
    assert!(
        message.contains("recompile with `wfc compile`"),
        "{message}"
    );

    assert!(refusal(b"name: not a plan\n").contains("not a wfc plan"));
}

#[test]
fn header_alone_is_read() {
    let plan = fixture_plans().remove(0);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p.wfp");
    plan::write(&path, &compile::header(&plan, "abc".into()), &plan).expect("write");
    let header = plan::read_header(&path).expect("header");
    assert_eq!(header.source_hash, "abc");
    assert!(matches!(
        plan::read_header(&dir.path().join("missing.wfp")),
        Err(PlanError::Io { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_damage_never_panics(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>()) {
        let plans = fixture_plans();
        let mut bytes = encoded(&plans[0]);
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let cut = cut.index(bytes.len() + 1);
        let _ = plan::decode(Path::new("x.wfp"), &bytes[..cut]);
    }
}
