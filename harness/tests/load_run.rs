//! One short load run (2 users, 2 s) against the stand-in gateway, and
//! what it must have done: record every request the gateway received,
//! with the right kind, status and trace ids; send well-formed trace
//! context in the planned shares; report progress; write goose's reports.
//!
//! The run is shared by the tests of this file (it is the expensive part);
//! each test looks at one property of it.

mod load_support;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use load_support::{FixtureGateway, Received, is_valid_traceparent, within_binomial_bounds};
use tracemesh_harness::load::{LoadOutcome, LoadPlan, LoadProgress, RequestKind, run_load};

struct SharedRun {
    plan: LoadPlan,
    outcome: LoadOutcome,
    received: Vec<Received>,
    progress: Vec<LoadProgress>,
    /// The goose reports, read back before their folder was removed.
    html_report: String,
    json_report: serde_json::Value,
    markdown_report: String,
}

fn shared_run() -> &'static SharedRun {
    static RUN: OnceLock<SharedRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let gateway = FixtureGateway::start().await;
            let folder = tempfile::tempdir().unwrap();
            // A nested folder that does not exist yet: run_load creates it.
            let reports = folder.path().join("goose");
            let mut plan = load_support::plan(&gateway.url);
            plan.goose_reports = vec![
                reports.join("report.html"),
                reports.join("report.json"),
                reports.join("report.md"),
            ];
            let progress = Arc::new(Mutex::new(Vec::new()));
            let seen = progress.clone();
            let outcome = run_load(&plan, move |p| seen.lock().unwrap().push(p))
                .await
                .expect("the load runs");
            let read = |name: &str| std::fs::read_to_string(reports.join(name)).unwrap();
            SharedRun {
                outcome,
                received: gateway.received(),
                progress: progress.lock().unwrap().clone(),
                html_report: read("report.html"),
                json_report: serde_json::from_str(&read("report.json")).unwrap(),
                markdown_report: read("report.md"),
                plan,
            }
        })
    })
}

/// A request as both sides can describe it.
type Seen = (RequestKind, Option<String>, Option<String>, Option<u16>);

#[test]
fn every_request_the_gateway_received_is_recorded_with_its_kind_status_and_trace_ids() {
    let run = shared_run();
    let mut recorded: Vec<Seen> = run
        .outcome
        .requests
        .iter()
        .map(|r| {
            (
                r.kind,
                r.traceparent.clone(),
                r.traceresponse.clone(),
                r.status,
            )
        })
        .collect();
    let mut received: Vec<Seen> = run
        .received
        .iter()
        .map(|r| {
            (
                r.kind,
                r.traceparent.clone(),
                Some(r.traceresponse.clone()),
                Some(r.status),
            )
        })
        .collect();
    recorded.sort();
    received.sort();
    assert!(!recorded.is_empty(), "the run sent nothing");
    assert_eq!(recorded.len(), received.len(), "recorded vs received");
    assert_eq!(recorded, received);
    assert!(!run.outcome.interrupted);
}

#[test]
fn every_kind_of_the_shop_mix_is_sent_and_gets_its_expected_status() {
    let run = shared_run();
    let mut by_kind: BTreeMap<RequestKind, usize> = BTreeMap::new();
    for request in &run.outcome.requests {
        // The stand-in answers like the real gateway: any other status
        // means a wrong user, SKU, card or order id was sent.
        assert_eq!(
            request.status,
            Some(request.kind.expected_status()),
            "{request:?}"
        );
        *by_kind.entry(request.kind).or_default() += 1;
    }
    for kind in RequestKind::ALL {
        assert!(by_kind.contains_key(&kind), "no {kind:?} in {by_kind:?}");
    }
    // Round-robin over the weights: a checkout is 25 of every 100
    // transactions, give or take the cycle a user was in when it stopped.
    let total = run.outcome.requests.len();
    let checkouts = by_kind[&RequestKind::Checkout];
    let expected = total as f64 * 0.25;
    assert!(
        (checkouts as f64 - expected).abs() <= 2.0 * 20.0 + 0.02 * total as f64,
        "{checkouts} checkouts of {total}"
    );
}

#[test]
fn every_traceparent_sent_is_well_formed_with_nonzero_ids_and_every_answer_has_a_traceresponse() {
    let run = shared_run();
    for request in &run.outcome.requests {
        if let Some(traceparent) = &request.traceparent {
            assert!(is_valid_traceparent(traceparent), "{traceparent}");
        }
        let traceresponse = request.traceresponse.as_deref().unwrap_or("missing");
        assert!(is_valid_traceparent(traceresponse), "{traceresponse}");
        assert_eq!(request.trace_id().map(str::len), Some(32));
    }
    // Each request is its own trace: no trace id sent twice.
    let sent: Vec<&str> = run
        .outcome
        .requests
        .iter()
        .filter_map(|r| r.traceparent.as_deref())
        .collect();
    let distinct: HashSet<&str> = sent.iter().map(|t| &t[3..35]).collect();
    assert_eq!(distinct.len(), sent.len(), "a trace id was sent twice");
}

#[test]
fn root_and_sampled_shares_are_near_the_plan() {
    let run = shared_run();
    let requests = &run.outcome.requests;
    let roots = requests.iter().filter(|r| r.traceparent.is_none()).count();
    assert!(
        within_binomial_bounds(roots, requests.len(), run.plan.rootless_share),
        "{roots} root requests of {}",
        requests.len()
    );
    let parented: Vec<_> = requests
        .iter()
        .filter(|r| r.traceparent.is_some())
        .collect();
    let sampled = parented
        .iter()
        .filter(|r| r.sampled() == Some(true))
        .count();
    assert!(
        within_binomial_bounds(sampled, parented.len(), run.plan.parented_sampled_share),
        "{sampled} sampled of {} parented",
        parented.len()
    );
}

#[test]
fn every_checkout_carries_its_own_idempotency_key() {
    let run = shared_run();
    let keys: Vec<&str> = run
        .received
        .iter()
        .filter(|r| r.kind.endpoint() == "POST /api/checkout")
        .map(|r| r.idempotency_key.as_deref().expect("an Idempotency-Key"))
        .collect();
    assert!(!keys.is_empty());
    let distinct: HashSet<&&str> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len(), "a key was reused");
    assert!(keys.iter().all(|k| uuid_shaped(k)), "{keys:?}");
}

fn uuid_shaped(key: &str) -> bool {
    let groups: Vec<usize> = key.split('-').map(str::len).collect();
    groups == [8, 4, 4, 4, 12] && key.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

#[test]
fn times_and_latencies_are_recorded_for_every_request() {
    let run = shared_run();
    for request in &run.outcome.requests {
        assert!(request.sent_unix_nanos > 0, "{request:?}");
        assert!(
            request.answered_unix_nanos >= request.sent_unix_nanos,
            "{request:?}"
        );
        assert!(request.latency_ms >= 0.0, "{request:?}");
    }
}

#[test]
fn progress_is_reported_and_its_last_figures_match_the_outcome() {
    let run = shared_run();
    let last = run.progress.last().expect("at least the final progress");
    assert_eq!(last.requests as usize, run.outcome.requests.len());
    assert_eq!(last.unexpected, 0);
    assert!(last.planned >= run.plan.run_time);
    // Figures only grow.
    for pair in run.progress.windows(2) {
        assert!(pair[0].requests <= pair[1].requests, "{pair:?}");
        assert!(pair[0].elapsed <= pair[1].elapsed, "{pair:?}");
    }
}

#[test]
fn goose_counts_the_same_requests_and_judges_each_by_its_kinds_expected_status() {
    let run = shared_run();
    let requests = &run.json_report["raw_metrics"]["requests"];
    let mut counted = 0;
    for kind in RequestKind::ALL {
        let method = if kind.endpoint().starts_with("POST") {
            "POST"
        } else {
            "GET"
        };
        let metric = &requests[format!("{method} {}", kind.name())];
        let successes = metric["success_count"].as_u64().expect("a success count");
        // A 402 for a declined card, a 409 for no stock: what the shop
        // expects, so no failure in goose's figures.
        assert_eq!(metric["fail_count"].as_u64(), Some(0), "{}", kind.name());
        counted += successes as usize;
    }
    assert_eq!(counted, run.outcome.requests.len());
}

#[test]
fn goose_writes_its_html_json_and_markdown_reports_where_asked_grouped_by_kind() {
    let run = shared_run();
    assert_eq!(run.outcome.goose_reports, run.plan.goose_reports);
    assert!(run.html_report.contains("<html"), "not HTML");
    assert!(run.json_report.is_object(), "not a JSON object");
    let json = run.json_report.to_string();
    for kind in RequestKind::ALL {
        assert!(
            run.html_report.contains(kind.name()),
            "{} not in HTML",
            kind.name()
        );
        assert!(json.contains(kind.name()), "{} not in JSON", kind.name());
        assert!(
            run.markdown_report.contains(kind.name()),
            "{} not in Markdown",
            kind.name()
        );
    }
}
