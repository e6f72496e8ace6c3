//! The parent-obedience check: requests with a caller-chosen sampled flag.
//! A clean mesh passes; each planted disobedience fails with its reason.

mod sampling_common;

use sampling_common::{all_services, checkout_trace, hex, random_trace_id, seeded, store_trace};
use tracemesh_harness::TraceStore;
use tracemesh_harness::checks::Verdict;
use tracemesh_harness::checks::sampling::{ParentedRequest, TraceParent, check_parent_obedience};
use tracemesh_harness::sources::EmbeddedSource;

/// The caller's (load generator's) span: parent of the gateway's SERVER span.
const CALLER_SPAN: [u8; 8] = [0xca, 0x11, 0xe4, 0, 0, 0, 0, 1];

/// `n` requests alternating sampled=1 / sampled=0, with random trace ids.
fn requests(n: usize, seed: u64) -> Vec<ParentedRequest> {
    let mut rng = seeded(seed);
    (0..n)
        .map(|i| {
            let sent = TraceParent::new(
                hex(&random_trace_id(&mut rng)),
                hex(&CALLER_SPAN),
                i % 2 == 0,
            );
            ParentedRequest::new(format!("#{i}"), sent)
        })
        .collect()
}

fn id_bytes(request: &ParentedRequest) -> [u8; 16] {
    let id = u128::from_str_radix(&request.sent.trace_id, 16).unwrap();
    id.to_be_bytes()
}

/// A mesh that obeys: complete traces for sampled requests, nothing else.
fn obedient_store(requests: &[ParentedRequest]) -> TraceStore {
    let store = TraceStore::default();
    for request in requests.iter().filter(|r| r.sent.sampled()) {
        store_trace(
            &store,
            checkout_trace(id_bytes(request), Some(CALLER_SPAN), &[]),
        );
    }
    store
}

async fn check(requests: &[ParentedRequest], store: &TraceStore) -> Verdict {
    check_parent_obedience(
        requests,
        &EmbeddedSource::new(store.clone()),
        &all_services(),
    )
    .await
}

fn assert_reason(verdict: &Verdict, fragments: &[&str]) {
    assert!(!verdict.passed, "the check should fail: {verdict:#?}");
    assert!(
        verdict
            .reasons
            .iter()
            .any(|r| fragments.iter().all(|f| r.contains(f))),
        "no reason contains all of {fragments:?}: {:#?}",
        verdict.reasons
    );
}

#[tokio::test]
async fn an_obedient_mesh_passes() {
    let requests = requests(40, 1);
    let verdict = check(&requests, &obedient_store(&requests)).await;
    assert!(verdict.passed, "{:#?}", verdict.reasons);
    assert_eq!(verdict.examined, 40);
    assert_eq!(verdict.figures["sampled_requests"], 20);
    assert_eq!(verdict.figures["unsampled_requests"], 20);
}

#[tokio::test]
async fn spans_of_an_unsampled_parent_fail_naming_the_services() {
    let requests = requests(40, 2);
    let store = obedient_store(&requests);
    // order and inventory sampled on their own despite sampled=0.
    let disobeyed = &requests[3];
    store_trace(
        &store,
        checkout_trace(
            id_bytes(disobeyed),
            Some(CALLER_SPAN),
            &["gateway", "user", "payment"],
        ),
    );
    let verdict = check(&requests, &store).await;
    assert_reason(
        &verdict,
        &[
            &disobeyed.sent.trace_id,
            "(request #3) was sent with sampled=0, yet 5 span(s) of it were stored, from inventory, order",
        ],
    );
    assert_eq!(verdict.figures["leaked"], 1);
}

#[tokio::test]
async fn a_sampled_parent_whose_trace_is_missing_fails() {
    let requests = requests(40, 3);
    let store = TraceStore::default();
    for request in requests.iter().skip(1).filter(|r| r.sent.sampled()) {
        store_trace(
            &store,
            checkout_trace(id_bytes(request), Some(CALLER_SPAN), &[]),
        );
    }
    let verdict = check(&requests, &store).await;
    assert_reason(
        &verdict,
        &[
            &requests[0].sent.trace_id,
            "was sent with sampled=1 but the embedded trace store has no span of it",
        ],
    );
}

#[tokio::test]
async fn a_sampled_parent_with_a_service_missing_is_incomplete() {
    let requests = requests(40, 4);
    let store = TraceStore::default();
    for (i, request) in requests
        .iter()
        .enumerate()
        .filter(|(_, r)| r.sent.sampled())
    {
        let without: &[&str] = if i == 2 { &["user"] } else { &[] };
        store_trace(
            &store,
            checkout_trace(id_bytes(request), Some(CALLER_SPAN), without),
        );
    }
    let verdict = check(&requests, &store).await;
    assert_reason(
        &verdict,
        &[
            &requests[2].sent.trace_id,
            "is incomplete: no span from service(s) user",
        ],
    );
}

#[tokio::test]
async fn a_trace_that_does_not_continue_the_callers_span_fails() {
    let requests = requests(40, 5);
    let store = TraceStore::default();
    for (i, request) in requests
        .iter()
        .enumerate()
        .filter(|(_, r)| r.sent.sampled())
    {
        // The gateway kept the trace id but made its SERVER span a root,
        // dropping the link to the caller's span.
        let caller = if i == 4 { None } else { Some(CALLER_SPAN) };
        store_trace(&store, checkout_trace(id_bytes(request), caller, &[]));
    }
    let verdict = check(&requests, &store).await;
    assert_reason(
        &verdict,
        &[
            &requests[4].sent.trace_id,
            "no span is a child of the caller's span ca11e40000000001",
        ],
    );
    assert_eq!(verdict.figures["not_continued"], 1);
}

#[tokio::test]
async fn testing_only_one_flag_fails_as_half_untested() {
    let sampled_only: Vec<ParentedRequest> = requests(40, 6)
        .into_iter()
        .filter(|r| r.sent.sampled())
        .collect();
    let verdict = check(&sampled_only, &obedient_store(&sampled_only)).await;
    assert_reason(&verdict, &["no request was sent with sampled=0"]);

    let unsampled_only: Vec<ParentedRequest> = requests(40, 6)
        .into_iter()
        .filter(|r| !r.sent.sampled())
        .collect();
    let verdict = check(&unsampled_only, &TraceStore::default()).await;
    assert_reason(&verdict, &["no request was sent with sampled=1"]);
}

#[tokio::test]
async fn a_reused_trace_id_and_no_requests_fail() {
    let mut requests = requests(10, 7);
    requests[5].sent.trace_id = requests[1].sent.trace_id.clone();
    let verdict = check(&requests, &obedient_store(&requests)).await;
    assert_reason(&verdict, &["both request #1 and request #5"]);

    let verdict = check(&[], &TraceStore::default()).await;
    assert_reason(&verdict, &["nothing was examined"]);
}
