//! Runs repeat: the same seed sends the same trace context, request after
//! request, so a run can be replayed id for id.
//!
//! With one goose user the record is that user's sequence in sending
//! order. Two runs stop after different numbers of requests (time decides),
//! so the shorter sequence must be a prefix of the longer one.

mod load_support;

use std::time::Duration;

use load_support::{FixtureGateway, ONE_RUN_AT_A_TIME};
use tracemesh_harness::load::{RequestKind, run_load};

/// What one user sent, in order: kind and traceparent.
async fn one_user_run(seed: u64) -> Vec<(RequestKind, Option<String>)> {
    let _turn = ONE_RUN_AT_A_TIME.lock().await;
    let gateway = FixtureGateway::start().await;
    let mut plan = load_support::plan(&gateway.url);
    plan.users = 1;
    plan.run_time = Duration::from_secs(1);
    plan.seed = seed;
    let outcome = run_load(&plan, |_| {}).await.expect("the load runs");
    outcome
        .requests
        .into_iter()
        .map(|r| (r.kind, r.traceparent))
        .collect()
}

fn is_prefix<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_seed_sends_the_same_kinds_and_traceparents_in_the_same_order() {
    let first = one_user_run(2024).await;
    let second = one_user_run(2024).await;
    assert!(first.len().min(second.len()) > 0, "a run sent nothing");
    assert!(is_prefix(&first, &second), "the runs parted");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_seed_sends_other_trace_ids() {
    let first = one_user_run(1).await;
    let second = one_user_run(2).await;
    let ids = |run: &[(RequestKind, Option<String>)]| -> Vec<String> {
        run.iter().filter_map(|(_, t)| t.clone()).collect()
    };
    let (first, second) = (ids(&first), ids(&second));
    assert!(
        !first.is_empty() && !second.is_empty(),
        "no traceparent sent"
    );
    assert!(first.iter().all(|t| !second.contains(t)));
}
