//! A one-route load plan (`Workload::Get`, what `tracemesh bench --only
//! loadgen` runs against a hello world): the same goose users, trace
//! context and record as the shop, every request a `GET` of that route.

mod load_support;

use load_support::{FixtureGateway, is_valid_traceparent};
use tracemesh_harness::load::{LoadError, RequestKind, Workload, run_load};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_route_plan_sends_only_that_get_and_records_each_one() {
    let gateway = FixtureGateway::start().await;
    let mut plan = load_support::plan(&gateway.url);
    plan.workload = Workload::Get {
        path: "/api/products".to_owned(),
    };
    let outcome = run_load(&plan, |_| {}).await.expect("the load runs");
    let received = gateway.received();

    assert!(outcome.requests.len() > 20, "{}", outcome.requests.len());
    assert!(outcome.requests.iter().all(|r| r.kind == RequestKind::Get));
    assert!(outcome.requests.iter().all(|r| r.status == Some(200)));
    // The fixture judges a request by its route: all of them browsed the
    // products, the up-front check of the route included.
    assert!(
        received
            .iter()
            .all(|r| r.kind == RequestKind::BrowseProducts),
        "{received:?}"
    );
    assert_eq!(received.len(), outcome.requests.len() + 1);
    // Trace context as the shop sends it: some requests with a valid
    // traceparent, some without.
    let parented: Vec<&str> = outcome
        .requests
        .iter()
        .filter_map(|r| r.traceparent.as_deref())
        .collect();
    assert!(!parented.is_empty() && parented.len() < outcome.requests.len());
    assert!(parented.iter().all(|t| is_valid_traceparent(t)));
}

#[tokio::test]
async fn a_route_without_a_leading_slash_is_refused_before_any_load() {
    let mut plan = load_support::plan("http://127.0.0.1:9");
    plan.workload = Workload::Get {
        path: "api/products".to_owned(),
    };
    match run_load(&plan, |_| {}).await {
        Err(LoadError::Config { option, .. }) => assert_eq!(option, "workload path"),
        other => panic!("expected a config error, got {other:?}"),
    }
}
