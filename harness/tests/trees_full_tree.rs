//! The full-tree check and its expectation files. A clean checkout passes
//! `expectations/checkout-succeeds.yaml`; every planted defect fails it
//! with a reason that says where the trace parts from the expectation.

mod trees_support;

use tracemesh_harness::checks::expect::{Count, ExpectedSpan, ExpectedStatus, ExpectedTree};
use tracemesh_harness::checks::full_tree::{check_tree, check_trees};
use tracemesh_harness::model::{AttrValue, SpanKind, SpanRecord};
use tracemesh_harness::trace::TreeOptions;
use tracemesh_harness::trace::synthetic::SyntheticTrace;
use trees_support::*;

const CHECKOUT: &str = "checkout-succeeds.yaml";

fn check(spans: Vec<SpanRecord>) -> tracemesh_harness::checks::Verdict {
    check_tree(&expectation(CHECKOUT), &tree_of(1, spans))
}

#[test]
fn a_clean_checkout_passes_its_expected_tree() {
    let verdict = check(clean_checkout(1));
    assert!(verdict.passed, "{:#?}", verdict.reasons);
    assert_eq!(verdict.examined, 1);
}

#[test]
fn every_expectation_file_loads() {
    let all = ExpectedTree::load_dir(&expectations_dir()).unwrap();
    assert!(!all.is_empty());
    for (path, tree) in all {
        assert!(tree.validate().is_ok(), "{}", path.display());
        // The file format round-trips: what to_yaml writes, from_yaml reads.
        let again = ExpectedTree::from_yaml(&tree.to_yaml(), "round trip").unwrap();
        assert_eq!(again, tree, "{}", path.display());
    }
}

#[test]
fn a_dropped_context_fails_with_the_split_and_the_missing_server_child() {
    let mut spans = clean_checkout(1);
    let payment = find(&spans, "payment", "POST /v1/charges", SpanKind::Server);
    spans[payment].parent_span_id = None;
    let verdict = check(spans);
    assert!(!verdict.passed);
    assert_reason(&verdict.reasons, "structure: 2 root spans");
    assert_reason(
        &verdict.reasons,
        &format!(
            "gateway POST /api/checkout [server] > gateway {ORDER_RPC} [client] > \
             order {ORDER_RPC} [server] > order POST [client]: \
             expected child payment POST /v1/charges [server] ×1, found 0"
        ),
    );
    assert_reason(
        &verdict.reasons,
        "order POST [client]: remote call has 0 SERVER children in another service",
    );
    // What was found is in the verdict, for a reader.
    let found = verdict.figures["found"].as_str().unwrap();
    assert!(found.contains("order POST [client]"), "{found}");
}

#[test]
fn a_missing_span_fails_naming_the_expected_child() {
    let mut spans = clean_checkout(1);
    let insert = find(&spans, "order", "INSERT orders", SpanKind::Client);
    spans.remove(insert);
    let verdict = check(spans);
    assert!(!verdict.passed);
    assert_reason(
        &verdict.reasons,
        &format!(
            "order {ORDER_RPC} [server]: expected child order INSERT orders [client] ×1, found 0"
        ),
    );
}

#[test]
fn a_missing_service_fails_the_remote_call_rule() {
    let mut spans = clean_checkout(1);
    // The user service exported nothing: its server span and DB span are gone.
    spans.retain(|s| s.service_name != "user");
    let verdict = check(spans);
    assert!(!verdict.passed);
    assert_reason(
        &verdict.reasons,
        "expected child user tracemesh.user.v1.UserService/ValidateUser [server] ×1, found 0",
    );
    assert_reason(
        &verdict.reasons,
        "gateway tracemesh.user.v1.UserService/ValidateUser [client]: remote call has 0 SERVER children",
    );
}

#[test]
fn a_wrong_parent_within_the_parents_time_fails_on_both_sides() {
    let mut spans = clean_checkout(1);
    // BATCH stock re-parented to order's server span (which covers its time):
    // structurally sound, but not where it belongs.
    let batch = find(&spans, "inventory", "BATCH stock", SpanKind::Client);
    let order = find(&spans, "order", ORDER_RPC, SpanKind::Server);
    spans[batch].parent_span_id = Some(spans[order].span_id.clone());
    let verdict = check(spans);
    assert!(!verdict.passed);
    assert_reason(
        &verdict.reasons,
        &format!("order {ORDER_RPC} [server]: unexpected child inventory BATCH stock [client] ×1"),
    );
    assert_reason(
        &verdict.reasons,
        &format!(
            "inventory {RESERVE_RPC} [server]: expected child inventory BATCH stock [client] ×1, found 0"
        ),
    );
    assert!(
        !verdict.reasons.iter().any(|r| r.starts_with("structure:")),
        "the tree itself is sound: {:#?}",
        verdict.reasons
    );
}

#[test]
fn a_span_from_another_trace_fails_as_a_structural_defect() {
    let mut spans = clean_checkout(1);
    spans.push(clean_checkout(2).remove(3));
    let verdict = check(spans);
    assert!(!verdict.passed);
    assert_reason(
        &verdict.reasons,
        "structure: span user SELECT users [client]",
    );
    assert_reason(&verdict.reasons, "belongs to another trace");
    assert_eq!(verdict.reasons.len(), 1, "{:#?}", verdict.reasons);
}

#[test]
fn a_duplicate_span_id_fails_as_a_structural_defect() {
    let mut spans = clean_checkout(1);
    spans.push(spans[4].clone());
    let verdict = check(spans);
    assert!(!verdict.passed);
    assert_reason(&verdict.reasons, "appears 2 times, identical copies");
}

#[test]
fn a_child_outside_its_parent_fails_as_a_structural_defect() {
    let mut spans = clean_checkout(1);
    // provider.authorize keeps running 30 ms after the charge was answered.
    let authorize = find(&spans, "payment", "provider.authorize", SpanKind::Internal);
    spans[authorize].end_unix_nanos += 30_000_000;
    let verdict = check(spans);
    assert!(!verdict.passed);
    assert_reason(
        &verdict.reasons,
        "child payment provider.authorize [internal] ends 29.500 ms after its parent payment POST /v1/charges [server]",
    );
}

#[test]
fn wrong_status_and_attributes_fail_with_expected_and_found() {
    let mut spans = clean_checkout(1);
    let root = find(&spans, "gateway", "POST /api/checkout", SpanKind::Server);
    spans[root].status.code = tracemesh_harness::model::StatusCode::Error;
    // The right number with the wrong type: a string, not an int.
    spans[root].attributes.insert(
        "http.response.status_code".into(),
        AttrValue::String("201".into()),
    );
    spans[root].attributes.remove("url.path");
    let verdict = check(spans);
    assert!(!verdict.passed);
    assert_reason(
        &verdict.reasons,
        "gateway POST /api/checkout [server]: expected status unset, found error",
    );
    assert_reason(
        &verdict.reasons,
        "attribute http.response.status_code: expected 201, found \"201\"",
    );
    assert_reason(
        &verdict.reasons,
        "gateway POST /api/checkout [server]: missing attribute url.path",
    );
}

#[test]
fn a_different_root_fails_before_anything_else_is_compared() {
    let mut spans = clean_checkout(1);
    spans[0].name = "POST /api/cart".into();
    let verdict = check(spans);
    assert_eq!(
        verdict.reasons,
        [
            "expected root gateway POST /api/checkout [server], found root(s): gateway POST /api/cart [server]"
        ]
    );
}

#[test]
fn a_call_served_twice_breaks_the_remote_call_rule() {
    let mut spans = clean_checkout(1);
    let charge = find(&spans, "payment", "POST /v1/charges", SpanKind::Server);
    let mut second = spans[charge].clone();
    second.span_id = "00000000ffffffff".into();
    spans.push(second);
    let verdict = check(spans);
    assert_reason(
        &verdict.reasons,
        "order POST [client]: remote call has 2 SERVER children",
    );
    assert_reason(
        &verdict.reasons,
        "expected child payment POST /v1/charges [server] ×1, found 2",
    );
}

#[test]
fn a_failed_call_to_a_service_that_is_down_needs_no_server_child() {
    let mut t = SyntheticTrace::new(5);
    let root = t.span(
        None,
        "gateway",
        "POST /api/checkout",
        SpanKind::Server,
        0.0,
        10.0,
    );
    let call = t.span(Some(root), "gateway", ORDER_RPC, SpanKind::Client, 1.0, 9.0);
    t.attr(call, "rpc.system", "grpc")
        .error(call, "UNAVAILABLE");
    let expected = ExpectedTree::new(
        "checkout, order down",
        ExpectedSpan::server("gateway", "POST /api/checkout")
            .child(ExpectedSpan::client("gateway", ORDER_RPC).status(ExpectedStatus::Error)),
    );
    let verdict = check_tree(&expected, &t.into_tree(&TreeOptions::default()));
    assert!(verdict.passed, "{:#?}", verdict.reasons);
}

#[test]
fn extra_children_fail_unless_allowed() {
    let mut t = SyntheticTrace::new(6);
    let root = t.span(
        None,
        "gateway",
        "GET /api/products",
        SpanKind::Server,
        0.0,
        10.0,
    );
    t.span(
        Some(root),
        "gateway",
        "cache.get",
        SpanKind::Internal,
        1.0,
        2.0,
    );
    t.span(
        Some(root),
        "gateway",
        "cache.get",
        SpanKind::Internal,
        3.0,
        4.0,
    );
    let tree = t.into_tree(&TreeOptions::default());
    let strict = ExpectedTree::new(
        "products",
        ExpectedSpan::server("gateway", "GET /api/products"),
    );
    let verdict = check_tree(&strict, &tree);
    assert_eq!(
        verdict.reasons,
        ["gateway GET /api/products [server]: unexpected child gateway cache.get [internal] ×2"]
    );
    let lenient = ExpectedTree::new(
        "products",
        ExpectedSpan::server("gateway", "GET /api/products").allow_extra_children(),
    );
    assert!(check_tree(&lenient, &tree).passed);
    let counted = ExpectedTree::new(
        "products",
        ExpectedSpan::server("gateway", "GET /api/products")
            .child(ExpectedSpan::internal("gateway", "cache.get").count(Count::between(1, 3))),
    );
    assert!(check_tree(&counted, &tree).passed);
}

#[test]
fn the_rust_builder_and_the_yaml_file_say_the_same_thing() {
    let built = ExpectedTree::new(
        "user lookup",
        ExpectedSpan::server("user", "tracemesh.user.v1.UserService/ValidateUser")
            .status(ExpectedStatus::Unset)
            .attr("rpc.system", "grpc")
            .attr("rpc.grpc.status_code", 0)
            .child(
                ExpectedSpan::client("user", "SELECT users")
                    .attr_present("db.query.text")
                    .count(Count::between(1, 3))
                    .optional(),
            ),
    );
    let written = ExpectedTree::from_yaml(
        r#"
name: user lookup
root:
  service: user
  name: tracemesh.user.v1.UserService/ValidateUser
  kind: server
  status: unset
  attributes:
    rpc.system: grpc
    rpc.grpc.status_code: 0
  children:
    - service: user
      name: SELECT users
      kind: client
      attributes_present: [db.query.text]
      count: "1..3"
      optional: true
"#,
        "inline",
    )
    .unwrap();
    assert_eq!(built, written);
}

#[test]
fn yaml_errors_name_the_file_and_the_place() {
    let unknown_field = ExpectedTree::from_yaml(
        "name: x\nroot:\n  service: a\n  name: b\n  kind: server\n  atributes: {}\n",
        "expectations/typo.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        unknown_field
            .starts_with("expectations/typo.yaml: root.atributes: unknown field `atributes`"),
        "{unknown_field}"
    );
    assert!(unknown_field.contains("line 6"), "{unknown_field}");

    let bad_kind = ExpectedTree::from_yaml(
        "name: x\nroot:\n  service: a\n  name: b\n  kind: sever\n",
        "k.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad_kind.contains("k.yaml: root.kind: unknown span kind \"sever\""),
        "{bad_kind}"
    );

    let bad_count = ExpectedTree::from_yaml(
        "name: x\nroot:\n  service: a\n  name: b\n  kind: server\n  children:\n    - {service: a, name: c, kind: client, count: \"3..1\"}\n",
        "c.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad_count.contains("c.yaml: root.children[0]: count 3..1 is an empty range"),
        "{bad_count}"
    );

    let twice = ExpectedTree::from_yaml(
        "name: x\nroot:\n  service: a\n  name: b\n  kind: server\n  children:\n    - {service: a, name: c, kind: client}\n    - {service: a, name: c, kind: client}\n",
        "d.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        twice.contains("d.yaml: root.children[1]: a c [client] is listed twice"),
        "{twice}"
    );

    let missing_file = ExpectedTree::load(&expectations_dir().join("no-such.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        missing_file.contains("no-such.yaml: cannot read"),
        "{missing_file}"
    );
}

#[test]
fn many_traces_are_checked_each_and_an_empty_set_proves_nothing() {
    let good = tree_of(1, clean_checkout(1));
    let mut broken = clean_checkout(2);
    broken.retain(|s| s.name != "provider.authorize");
    let bad = tree_of(2, broken);
    let verdict = check_trees(&expectation(CHECKOUT), &[good, bad]);
    assert!(!verdict.passed);
    assert_eq!(verdict.examined, 2);
    assert_reason(&verdict.reasons, &format!("trace {}: ", trace_id(2)));
    assert_reason(
        &verdict.reasons,
        "expected child payment provider.authorize [internal] ×1, found 0",
    );
    assert_eq!(verdict.figures["traces_failed"], 1);

    let none = check_trees(&expectation(CHECKOUT), &[]);
    assert!(!none.passed);
    assert_reason(&none.reasons, "nothing was examined");
    let empty = check_trees(&expectation(CHECKOUT), &[tree_of(3, Vec::new())]);
    assert!(!empty.passed);
    assert_reason(&empty.reasons, "no spans to check");
}
