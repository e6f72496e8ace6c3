//! Completeness in Tempo vulture's categories, each shown on a planted
//! defect: not found, missing spans (a sampled trace with a service
//! missing, a lost parent), incorrect result (a span of another trace, a
//! duplicate, a split), request failed; plus spans sent vs received.

mod trees_support;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use tracemesh_harness::TraceStore;
use tracemesh_harness::checks::completeness::{
    Category, ExpectedTrace, Fetched, SpanDelivery, check_completeness, classify,
};
use tracemesh_harness::model::SpanKind;
use trees_support::*;

const SERVICES: [&str; 5] = ["gateway", "user", "order", "inventory", "payment"];

fn expected(number: u128) -> ExpectedTrace {
    ExpectedTrace::new(&trace_id(number))
        .with_spans(16)
        .with_services(SERVICES)
}

#[test]
fn a_complete_checkout_is_complete() {
    let result = classify(&expected(1), Fetched::Found(clean_checkout(1)));
    assert_eq!(result.category, Category::Complete, "{:?}", result.details);
    let verdict = check_completeness(vec![(expected(1), Fetched::Found(clean_checkout(1)))], None);
    assert!(verdict.passed, "{:#?}", verdict.reasons);
    assert_eq!(verdict.figures["categories"]["complete"], 1);
}

#[test]
fn a_trace_with_no_span_at_all_is_not_found() {
    for fetched in [Fetched::NotFound, Fetched::Found(Vec::new())] {
        let result = classify(&expected(1), fetched);
        assert_eq!(result.category, Category::NotFound);
    }
    let verdict = check_completeness(vec![(expected(1), Fetched::NotFound)], None);
    assert_eq!(
        verdict.reasons,
        [
            "1 of 1 traces incomplete: 1 notfound".to_string(),
            format!("trace {} notfound", trace_id(1)),
        ]
    );
}

#[test]
fn a_sampled_trace_with_a_missing_service_has_missing_spans() {
    let mut spans = clean_checkout(1);
    // Payment's exporter lost its batch: both payment spans are gone.
    spans.retain(|s| s.service_name != "payment");
    let result = classify(&expected(1), Fetched::Found(spans));
    assert_eq!(result.category, Category::MissingSpans);
    assert_eq!(
        result.details,
        ["14 of 16 spans arrived", "no span from service payment"]
    );
}

#[test]
fn a_missing_service_is_caught_even_without_an_expected_count() {
    let mut spans = clean_checkout(1);
    spans.retain(|s| s.service_name != "user");
    let only_services = ExpectedTrace::new(&trace_id(1)).with_services(SERVICES);
    let result = classify(&only_services, Fetched::Found(spans));
    assert_eq!(result.category, Category::MissingSpans);
    assert_eq!(result.details, ["no span from service user"]);
}

#[test]
fn a_lost_parent_is_missing_spans_as_in_vulture() {
    let mut spans = clean_checkout(1);
    let reserve = find(&spans, "inventory", RESERVE_RPC, SpanKind::Server);
    spans.remove(reserve);
    // Only what vulture itself knows: no expected count, no services.
    let result = classify(&ExpectedTrace::new(&trace_id(1)), Fetched::Found(spans));
    assert_eq!(result.category, Category::MissingSpans);
    assert_eq!(
        result.details.len(),
        3,
        "one per orphaned child: {:?}",
        result.details
    );
    assert!(
        result.details[0].starts_with("missing parent: inventory warehouse.lock.wait [internal]")
    );
}

#[test]
fn a_span_of_another_trace_is_an_incorrect_result() {
    let mut spans = clean_checkout(1);
    spans.push(clean_checkout(2).remove(2));
    let result = classify(&expected(1), Fetched::Found(spans));
    assert_eq!(result.category, Category::IncorrectResult);
    assert_eq!(
        result.spans_found, 16,
        "the stray span is not counted as ours"
    );
    assert!(
        result.details[0].contains("belongs to another trace"),
        "{:?}",
        result.details
    );
}

#[test]
fn a_duplicate_a_split_or_too_many_spans_are_incorrect_results() {
    let mut duplicated = clean_checkout(1);
    duplicated.push(duplicated[3].clone());
    let result = classify(&expected(1), Fetched::Found(duplicated));
    assert_eq!(result.category, Category::IncorrectResult);
    assert!(
        result.details[0].contains("appears 2 times"),
        "{:?}",
        result.details
    );

    let mut split = clean_checkout(1);
    let payment = find(&split, "payment", "POST /v1/charges", SpanKind::Server);
    split[payment].parent_span_id = None;
    let result = classify(&expected(1), Fetched::Found(split));
    assert_eq!(result.category, Category::IncorrectResult);
    assert!(
        result.details[0].contains("2 root spans"),
        "{:?}",
        result.details
    );

    let fewer_expected = ExpectedTrace::new(&trace_id(1)).with_spans(15);
    let result = classify(&fewer_expected, Fetched::Found(clean_checkout(1)));
    assert_eq!(result.category, Category::IncorrectResult);
    assert_eq!(result.details, ["16 spans, 15 expected"]);
}

#[test]
fn missing_spans_come_before_incorrect_results_as_in_vulture() {
    let mut spans = clean_checkout(1);
    spans.retain(|s| s.service_name != "payment");
    spans.push(clean_checkout(2).remove(2));
    let result = classify(&expected(1), Fetched::Found(spans));
    assert_eq!(result.category, Category::MissingSpans);
    assert!(
        result.details.iter().any(|d| d.contains("another trace")),
        "all details kept"
    );
}

#[test]
fn a_failed_request_is_its_own_category() {
    let result = classify(
        &expected(1),
        Fetched::RequestFailed("connection refused".into()),
    );
    assert_eq!(result.category, Category::RequestFailed);
    assert_eq!(result.details, ["connection refused"]);
}

#[test]
fn the_verdict_counts_every_category_and_names_each_incomplete_trace() {
    let mut missing = clean_checkout(2);
    missing.retain(|s| s.service_name != "inventory");
    let verdict = check_completeness(
        vec![
            (expected(1), Fetched::Found(clean_checkout(1))),
            (expected(2), Fetched::Found(missing)),
            (expected(3), Fetched::NotFound),
        ],
        None,
    );
    assert!(!verdict.passed);
    assert_eq!(verdict.examined, 3);
    assert_eq!(
        verdict.reasons[0],
        "2 of 3 traces incomplete: 1 missingspans, 1 notfound"
    );
    assert_reason(
        &verdict.reasons,
        &format!("trace {} missingspans: 12 of 16 spans arrived", trace_id(2)),
    );
    assert_eq!(verdict.figures["categories"]["notfound"], 1);
    assert_eq!(verdict.figures["categories"]["missingspans"], 1);

    let nothing = check_completeness(Vec::new(), None);
    assert!(!nothing.passed, "an empty check proves nothing");
}

/// `count` spans of trace byte `trace` as one OTLP batch.
fn otlp(trace: u8, count: u8) -> Vec<ResourceSpans> {
    vec![ResourceSpans {
        resource: Some(Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("order".into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans: (1..=count)
                .map(|s| Span {
                    trace_id: vec![trace; 16],
                    span_id: vec![s; 8],
                    // The first span is the root, the others its children.
                    parent_span_id: if s == 1 { Vec::new() } else { vec![1; 8] },
                    name: format!("op-{s}"),
                    start_time_unix_nano: 1_000,
                    end_time_unix_nano: 2_000,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        schema_url: String::new(),
    }]
}

#[test]
fn spans_sent_versus_received_comes_from_the_store_counters() {
    let store = TraceStore::new(1000);
    store.insert(otlp(1, 3));
    let id = "01".repeat(16);
    let fetched = || {
        vec![(
            ExpectedTrace::new(&id).with_spans(3),
            Fetched::from_store(&store, &id),
        )]
    };

    let all_arrived = check_completeness(fetched(), Some(SpanDelivery::from_store(3, &store)));
    assert!(all_arrived.passed, "{:#?}", all_arrived.reasons);
    assert_eq!(all_arrived.figures["delivery"]["received"], 3);

    let some_lost = check_completeness(fetched(), Some(SpanDelivery::from_store(5, &store)));
    assert_eq!(some_lost.reasons, ["2 of 5 spans sent never arrived"]);

    let resent = check_completeness(fetched(), Some(SpanDelivery::from_store(2, &store)));
    assert_eq!(
        resent.reasons,
        ["3 spans arrived but 2 were sent: resends, or another sender"]
    );
}

#[test]
fn evicted_spans_are_reported_not_silently_not_found() {
    let store = TraceStore::new(4);
    store.insert(otlp(1, 3));
    store.insert(otlp(2, 3)); // over the bound: trace 1 is evicted whole
    let id = "01".repeat(16);
    let verdict = check_completeness(
        vec![(ExpectedTrace::new(&id), Fetched::from_store(&store, &id))],
        Some(SpanDelivery::from_store(6, &store)),
    );
    assert!(!verdict.passed);
    assert_reason(&verdict.reasons, "1 notfound");
    assert_reason(
        &verdict.reasons,
        "3 spans evicted by the store's memory bound",
    );
}

#[test]
fn a_lost_db_span_inside_a_service_that_still_appears_has_missing_spans() {
    use tracemesh_harness::checks::completeness::SpanShape;
    let shape = SpanShape::of(&expectation("checkout-succeeds.yaml"));
    let expected = |n| ExpectedTrace::new(&trace_id(n)).with_shape(shape.clone());
    let clean = classify(&expected(1), Fetched::Found(clean_checkout(1)));
    assert_eq!(clean.category, Category::Complete, "{:?}", clean.details);

    // Inventory still answers and still has spans; only its DB span is gone.
    let mut spans = clean_checkout(2);
    spans.retain(|s| s.name != "BATCH stock");
    assert!(spans.iter().any(|s| s.service_name == "inventory"));
    let result = classify(&expected(2), Fetched::Found(spans));
    assert_eq!(result.category, Category::MissingSpans);
    assert_eq!(
        result.details,
        ["inventory BATCH stock: 0 of the 1 span(s) its shape needs"]
    );

    // One span of an operation too many is an incorrect result.
    let mut spans = clean_checkout(3);
    let mut extra = spans[find(&spans, "user", "SELECT users", SpanKind::Client)].clone();
    extra.span_id = "00000000000000ff".into();
    spans.push(extra);
    let result = classify(&expected(3), Fetched::Found(spans));
    assert_eq!(result.category, Category::IncorrectResult);
    assert_eq!(
        result.details,
        ["user SELECT users: 2 span(s), at most 1 expected"]
    );
}
