//! Helpers shared by the `trees_*` tests: the clean checkout trace, the
//! expectation files, and finding a span to plant a defect into.

// Each test file uses a different subset.
#![allow(dead_code)]

use std::path::PathBuf;

use tracemesh_harness::checks::expect::ExpectedTree;
use tracemesh_harness::model::{SpanKind, SpanRecord};
use tracemesh_harness::trace::synthetic::{CheckoutDelays, checkout};
use tracemesh_harness::trace::{TraceTree, TreeOptions};

pub const ORDER_RPC: &str = "tracemesh.order.v1.OrderService/PlaceOrder";
pub const RESERVE_RPC: &str = "tracemesh.inventory.v1.InventoryService/Reserve";

/// The spans of a clean, successful checkout.
pub fn clean_checkout(number: u128) -> Vec<SpanRecord> {
    checkout(number, CheckoutDelays::default()).into_spans()
}

pub fn trace_id(number: u128) -> String {
    format!("{number:032x}")
}

pub fn tree_of(number: u128, spans: Vec<SpanRecord>) -> TraceTree {
    TraceTree::build(&trace_id(number), spans, &TreeOptions::default())
}

/// Position of the one span with this service, name and kind.
pub fn find(spans: &[SpanRecord], service: &str, name: &str, kind: SpanKind) -> usize {
    let found: Vec<usize> = spans
        .iter()
        .enumerate()
        .filter(|(_, s)| s.service_name == service && s.name == name && s.kind == kind)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(found.len(), 1, "exactly one {service} {name} {kind:?}");
    found[0]
}

pub fn expectations_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("expectations")
}

pub fn expectation(file: &str) -> ExpectedTree {
    ExpectedTree::load(&expectations_dir().join(file)).unwrap()
}

/// Asserts that some reason contains `needle`, showing all reasons if not.
pub fn assert_reason(reasons: &[String], needle: &str) {
    assert!(
        reasons.iter().any(|r| r.contains(needle)),
        "no reason contains {needle:?}; reasons:\n{}",
        reasons.join("\n")
    );
}
