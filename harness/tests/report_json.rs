//! The verdict file: the whole report, round-tripping, with `passed` on top.

mod report_support;

use report_support::*;
use tracemesh_harness::report::json::{from_json, to_json};

#[test]
fn verdict_json_round_trips_to_an_equal_report() {
    let report = realistic_report();
    let text = to_json(&report).unwrap();
    assert_eq!(from_json(&text).unwrap(), report);
}

#[test]
fn passed_is_the_first_top_level_key_and_follows_the_report() {
    let failed = to_json(&realistic_report()).unwrap();
    assert!(failed.starts_with("{\n  \"passed\": false,"), "{failed}");
    let value: serde_json::Value = serde_json::from_str(&failed).unwrap();
    assert_eq!(value["verdicts"][1]["check"], "completeness");
    assert_eq!(value["verdicts"][1]["reasons"][0], HOSTILE_REASON);
    assert_eq!(value["config"]["scenario"], "slow-inventory");

    let passed = to_json(&passing_report()).unwrap();
    assert!(passed.starts_with("{\n  \"passed\": true,"), "{passed}");

    let mut partial = passing_report();
    partial.partial = true;
    let partial = to_json(&partial).unwrap();
    assert!(partial.starts_with("{\n  \"passed\": false,"), "{partial}");
}
