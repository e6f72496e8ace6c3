//! The error-status check, each rule shown on a planted defect: a failed
//! call whose span ends Unset, a failed span without `error.type`, a
//! client's mistake marked as a server failure, and a hop on the way up
//! from an injected error that lost its status.

mod trees_support;

use tracemesh_harness::checks::error_status::check_error_status;
use tracemesh_harness::model::{SpanKind, SpanRecord, SpanStatus, StatusCode};
use tracemesh_harness::trace::synthetic::{SyntheticTrace, at_ms};
use tracemesh_harness::trace::{TraceTree, TreeOptions};
use tracemesh_runtime::contract::attr;
use trees_support::*;

const USER_RPC: &str = "tracemesh.user.v1.UserService/ValidateUser";

/// A checkout that failed because user answered UNAVAILABLE (injected):
/// gateway 503 > gateway CLIENT UNAVAILABLE > user SERVER UNAVAILABLE.
fn user_outage() -> SyntheticTrace {
    use SpanKind::{Client, Server};
    let mut t = SyntheticTrace::new(7);
    let root = t.span(None, "gateway", "POST /api/checkout", Server, 0.0, 5.0);
    t.attr(root, "http.response.status_code", 503)
        .error(root, "503");
    let call = t.span(Some(root), "gateway", USER_RPC, Client, 1.0, 4.0);
    t.attr(call, "rpc.grpc.status_code", 14)
        .error(call, "UNAVAILABLE");
    let server = t.span(Some(call), "user", USER_RPC, Server, 1.5, 3.5);
    t.attr(server, "rpc.grpc.status_code", 14)
        .error(server, "UNAVAILABLE")
        .attr(server, attr::FAULT_INJECTED, true)
        .attr(server, attr::FAULT_KIND, attr::FAULT_KIND_ERROR);
    t
}

fn tree(t: SyntheticTrace) -> TraceTree {
    t.into_tree(&TreeOptions::default())
}

fn unset(span: &mut SpanRecord) {
    span.status = SpanStatus {
        code: StatusCode::Unset,
        message: String::new(),
    };
    span.attributes.remove("error.type");
}

#[test]
fn a_clean_success_and_a_clean_failure_pass() {
    let ok = tree_of(1, clean_checkout(1));
    let failed = tree(user_outage());
    let verdict = check_error_status([&ok, &failed]);
    assert!(verdict.passed, "{:#?}", verdict.reasons);
    assert_eq!(verdict.examined, 2);
    assert_eq!(verdict.figures["failing_paths"], 1);
    assert_eq!(verdict.figures["broken_paths"], 0);
    assert_eq!(verdict.figures["error_spans"], 3);
}

#[test]
fn a_server_span_that_lost_its_error_status_fails_naming_it() {
    let mut spans = user_outage().into_spans();
    let user = find(&spans, "user", USER_RPC, SpanKind::Server);
    unset(&mut spans[user]);
    let verdict = check_error_status([&tree_of(7, spans)]);
    assert!(!verdict.passed);
    assert_reason(
        &verdict.reasons,
        "user tracemesh.user.v1.UserService/ValidateUser [server] answered UNAVAILABLE but its \
         status is Unset and it has no error.type",
    );
    // And the way up from the injected error is broken at that span.
    assert_reason(
        &verdict.reasons,
        "on the way up user tracemesh.user.v1.UserService/ValidateUser [server] did not end in error",
    );
}

#[test]
fn a_failed_span_without_error_type_fails() {
    let mut spans = user_outage().into_spans();
    let call = find(&spans, "gateway", USER_RPC, SpanKind::Client);
    spans[call].attributes.remove("error.type");
    let verdict = check_error_status([&tree_of(7, spans)]);
    assert_reason(
        &verdict.reasons,
        "answered UNAVAILABLE and is an error, but has no error.type",
    );
}

#[test]
fn a_server_span_marked_failed_for_a_clients_mistake_fails() {
    // NOT_FOUND is a correct answer from a server: not its failure.
    let mut t = SyntheticTrace::new(9);
    let server = t.span(None, "user", USER_RPC, SpanKind::Server, 0.0, 1.0);
    t.attr(server, "rpc.grpc.status_code", 5)
        .error(server, "NOT_FOUND");
    let verdict = check_error_status([&tree(t)]);
    assert_reason(
        &verdict.reasons,
        "answered NOT_FOUND, which is not an error for a server span, yet it is marked failed",
    );
}

#[test]
fn an_http_server_5xx_left_unset_fails() {
    let mut t = SyntheticTrace::new(10);
    let server = t.span(
        None,
        "payment",
        "POST /v1/charges",
        SpanKind::Server,
        0.0,
        1.0,
    );
    t.attr(server, "http.response.status_code", 503);
    let verdict = check_error_status([&tree(t)]);
    assert_reason(
        &verdict.reasons,
        "payment POST /v1/charges [server] answered HTTP 503 but its status is Unset",
    );
}

#[test]
fn a_span_without_an_answer_is_not_judged() {
    // An internal span has no status code to judge it by.
    let mut t = SyntheticTrace::new(11);
    t.span(
        None,
        "inventory",
        "warehouse.check",
        SpanKind::Internal,
        0.0,
        1.0,
    );
    let verdict = check_error_status([&tree(t)]);
    assert!(verdict.passed, "{:#?}", verdict.reasons);
    assert_eq!(verdict.figures["spans_checked"], 0);
    let _ = at_ms(0.0);
}

#[test]
fn no_trace_proves_nothing() {
    let verdict = check_error_status(std::iter::empty());
    assert!(!verdict.passed);
}
