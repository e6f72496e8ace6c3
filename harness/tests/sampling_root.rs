//! The root sampling check, fed a simulated gateway that decides with the
//! real SDK sampler: clean runs pass, and each planted defect fails with
//! the reason that names it.

mod sampling_common;

use rand::rngs::StdRng;
use sampling_common::{
    all_services, checkout_trace, hex, random_trace_id, sdk_decides, seeded, store_trace,
};
use tracemesh_harness::TraceStore;
use tracemesh_harness::checks::Verdict;
use tracemesh_harness::checks::sampling::{
    RatioSampler, RootRequest, RootSampling, check_root_sampling,
};
use tracemesh_harness::collector::{self, CollectorConfig};
use tracemesh_harness::sources::{EmbeddedSource, TempoSource, TraceSource};

const RATIO: f64 = 0.25;
/// The gateway's span id in every traceresponse; the check ignores it.
const GATEWAY_SPAN: &str = "00f067aa0ba902b7";

/// One root request as the simulated gateway handled it.
#[derive(Clone, Copy)]
struct Handled {
    trace_id: [u8; 16],
    sampled: bool,
}

/// `n` root requests: ids from `new_id`, decided by the SDK at `gateway_ratio`.
fn gateway(
    n: usize,
    gateway_ratio: f64,
    rng: &mut StdRng,
    new_id: fn(&mut StdRng) -> [u8; 16],
) -> Vec<Handled> {
    (0..n)
        .map(|_| {
            let trace_id = new_id(rng);
            Handled {
                trace_id,
                sampled: sdk_decides(trace_id, gateway_ratio),
            }
        })
        .collect()
}

fn traceresponse(handled: &Handled) -> String {
    format!(
        "00-{}-{GATEWAY_SPAN}-{:02x}",
        hex(&handled.trace_id),
        u8::from(handled.sampled)
    )
}

fn root_requests(handled: &[Handled]) -> Vec<RootRequest> {
    handled
        .iter()
        .enumerate()
        .map(|(i, h)| RootRequest::new(format!("#{i}"), Some(&traceresponse(h))))
        .collect()
}

/// What a correct mesh exports: the complete trace of every sampled request.
fn export_sampled(store: &TraceStore, handled: &[Handled]) {
    for h in handled.iter().filter(|h| h.sampled) {
        store_trace(store, checkout_trace(h.trace_id, None, &[]));
    }
}

async fn check(requests: &[RootRequest], store: &TraceStore, ratio: f64) -> RootSampling {
    check_root_sampling(
        requests,
        RatioSampler::new(ratio),
        &EmbeddedSource::new(store.clone()),
        &all_services(),
    )
    .await
}

/// A clean run of `n` requests at `ratio`, already exported.
fn clean_run(n: usize, ratio: f64, seed: u64) -> (Vec<Handled>, TraceStore) {
    let handled = gateway(n, ratio, &mut seeded(seed), random_trace_id);
    let store = TraceStore::default();
    export_sampled(&store, &handled);
    (handled, store)
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
async fn a_clean_run_at_a_quarter_passes_and_reports_its_figures() {
    let (handled, store) = clean_run(2_000, RATIO, 1);
    let sampling = check(&root_requests(&handled), &store, RATIO).await;
    assert!(sampling.passed(), "{sampling:#?}");
    let sampled = handled.iter().filter(|h| h.sampled).count();
    assert!(sampled > 0 && sampled < 2_000);
    assert_eq!(sampling.decisions.examined, 2_000);
    assert_eq!(sampling.decisions.figures["mismatches"], 0);
    assert_eq!(sampling.stored.figures["leaked"], 0);
    let verdict = sampling.ratio;
    assert_eq!(verdict.check, "sampling.root.ratio");
    assert_eq!(verdict.figures["requests"], 2_000);
    assert_eq!(verdict.figures["sampled"], sampled);
    assert_eq!(verdict.figures["expected_sampled"], sampled);
    let z = verdict.figures["z"].as_f64().unwrap();
    assert!((z - 3.2905).abs() < 1e-4, "{z}");
    let (low, high) = (
        verdict.figures["interval"]["low"].as_f64().unwrap(),
        verdict.figures["interval"]["high"].as_f64().unwrap(),
    );
    assert!(
        low < RATIO && RATIO < high && high - low < 0.07,
        "[{low}, {high}]"
    );
}

#[tokio::test]
async fn clean_runs_at_ratios_0_and_1_pass() {
    for ratio in [0.0, 1.0] {
        let (handled, store) = clean_run(300, ratio, 2);
        let sampling = check(&root_requests(&handled), &store, ratio).await;
        assert!(sampling.passed(), "ratio {ratio}: {sampling:#?}");
        let expected = if ratio == 1.0 { 300 } else { 0 };
        assert_eq!(sampling.ratio.figures["sampled"], expected);
    }
}

#[tokio::test]
async fn a_gateway_sampling_at_another_ratio_fails_naming_each_trace() {
    // The gateway was configured with 0.3; the run claims 0.25.
    let handled = gateway(2_000, 0.3, &mut seeded(3), random_trace_id);
    let store = TraceStore::default();
    export_sampled(&store, &handled);
    let verdict = check(&root_requests(&handled), &store, RATIO)
        .await
        .decisions;

    let wrong: Vec<&Handled> = handled
        .iter()
        .filter(|h| h.sampled != sdk_decides(h.trace_id, RATIO))
        .collect();
    assert!(
        wrong.len() > 10,
        "0.3 vs 0.25 over 2,000 ids disagrees often"
    );
    assert_reason(
        &verdict,
        &[
            &hex(&wrong[0].trace_id),
            "says sampled=1",
            "TraceIdRatioBased(0.25) decides sampled=0",
        ],
    );
    assert_eq!(verdict.figures["mismatches"], wrong.len());
    let rest = format!("... and {} more mismatches", wrong.len() - 10);
    assert!(verdict.reasons.contains(&rest), "{:#?}", verdict.reasons);
}

#[tokio::test]
async fn biased_trace_ids_fail_the_interval_although_every_decision_matches() {
    // A broken id generator that always clears the top bit of the low half:
    // the sampler still decides "correctly", but on ids that are not
    // uniform, so half of them fall under the 0.25 bound instead of a quarter.
    fn biased(rng: &mut StdRng) -> [u8; 16] {
        let mut id = random_trace_id(rng);
        id[8] &= 0x7f;
        id
    }
    let handled = gateway(2_000, RATIO, &mut seeded(4), biased);
    let store = TraceStore::default();
    export_sampled(&store, &handled);
    let sampling = check(&root_requests(&handled), &store, RATIO).await;
    assert!(sampling.decisions.passed, "{:#?}", sampling.decisions);
    assert_eq!(sampling.decisions.figures["mismatches"], 0);
    assert_reason(
        &sampling.ratio,
        &[
            "observed ratio 0.4",
            "the configured ratio 0.25 lies outside its 99.9% interval",
        ],
    );
}

#[tokio::test]
async fn a_sampled_trace_missing_from_the_store_fails() {
    let handled = gateway(400, RATIO, &mut seeded(5), random_trace_id);
    let lost = handled.iter().position(|h| h.sampled).unwrap();
    let store = TraceStore::default();
    for (i, h) in handled.iter().enumerate() {
        if h.sampled && i != lost {
            store_trace(&store, checkout_trace(h.trace_id, None, &[]));
        }
    }
    let verdict = check(&root_requests(&handled), &store, RATIO).await.stored;
    assert_reason(
        &verdict,
        &[
            &hex(&handled[lost].trace_id),
            &format!(
                "(request #{lost}) was sampled but the embedded trace store has no span of it"
            ),
        ],
    );
    assert_eq!(verdict.figures["missing"], 1);
}

#[tokio::test]
async fn a_sampled_trace_with_a_service_missing_is_incomplete() {
    let handled = gateway(400, RATIO, &mut seeded(6), random_trace_id);
    let broken = handled.iter().position(|h| h.sampled).unwrap();
    let store = TraceStore::default();
    for (i, h) in handled.iter().enumerate().filter(|(_, h)| h.sampled) {
        // payment dropped the sampled flag on this one: no payment spans.
        let without: &[&str] = if i == broken { &["payment"] } else { &[] };
        store_trace(&store, checkout_trace(h.trace_id, None, without));
    }
    let sampling = check(&root_requests(&handled), &store, RATIO).await;
    assert_reason(
        &sampling.stored,
        &[
            &hex(&handled[broken].trace_id),
            "is incomplete: no span from service(s) payment",
        ],
    );
    assert_eq!(sampling.stored.figures["incomplete"], 1);
    // An incomplete trace says nothing about the ratio or the decisions:
    // those keep their own marks (the summary must not cross them out).
    assert!(sampling.ratio.passed, "{:#?}", sampling.ratio);
    assert!(sampling.decisions.passed, "{:#?}", sampling.decisions);
}

#[tokio::test]
async fn an_unsampled_trace_that_leaked_spans_fails() {
    let (handled, store) = clean_run(400, RATIO, 7);
    let leak = handled.iter().position(|h| !h.sampled).unwrap();
    // inventory ignored the unsampled flag and exported its span anyway.
    let others = ["gateway", "user", "order", "payment"];
    store_trace(
        &store,
        checkout_trace(handled[leak].trace_id, None, &others),
    );
    let verdict = check(&root_requests(&handled), &store, RATIO).await.stored;
    assert_reason(
        &verdict,
        &[
            &hex(&handled[leak].trace_id),
            "was not sampled, yet 1 span(s) of it were stored, from inventory",
        ],
    );
    assert_eq!(verdict.figures["leaked"], 1);
}

#[tokio::test]
async fn missing_and_malformed_headers_fail_with_the_reason() {
    let (handled, store) = clean_run(50, RATIO, 8);
    let mut requests = root_requests(&handled);
    requests[3].traceresponse = None;
    requests[4].traceresponse = Some(traceresponse(&handled[4]).to_uppercase());
    requests[5].traceresponse = Some("00-abc-def-01".into());
    let verdict = check(&requests, &store, RATIO).await.decisions;
    assert_reason(&verdict, &["request #3: no traceresponse header"]);
    assert_reason(&verdict, &["request #4", "is not 32 lowercase hex digits"]);
    assert_reason(
        &verdict,
        &[
            "request #5",
            "trace id \"abc\" is not 32 lowercase hex digits",
        ],
    );
    assert_eq!(verdict.figures["malformed_headers"], 3);
    assert_eq!(
        verdict.examined, 50,
        "a malformed header was examined and failed"
    );
}

#[tokio::test]
async fn a_trace_id_returned_twice_fails() {
    let (mut handled, store) = clean_run(50, RATIO, 9);
    handled[7] = handled[2];
    let verdict = check(&root_requests(&handled), &store, RATIO)
        .await
        .decisions;
    assert_reason(
        &verdict,
        &[&hex(&handled[2].trace_id), "both request #2 and request #7"],
    );
}

#[tokio::test]
async fn no_requests_proves_nothing_and_fails() {
    let sampling = check(&[], &TraceStore::default(), RATIO).await;
    for verdict in sampling.into_verdicts() {
        assert_reason(&verdict, &["nothing was examined"]);
    }
}

#[tokio::test]
async fn a_confidence_outside_0_to_1_fails() {
    let (handled, store) = clean_run(50, RATIO, 10);
    let sampler = RatioSampler::new(RATIO).with_confidence(99.9);
    let verdict = check_root_sampling(
        &root_requests(&handled),
        sampler,
        &EmbeddedSource::new(store),
        &all_services(),
    )
    .await
    .ratio;
    assert_reason(&verdict, &["confidence 99.9 is not between 0 and 1"]);
}

#[tokio::test]
async fn an_unreachable_source_fails_rather_than_finding_no_leaks() {
    // At ratio 0 nothing should be stored: a check that took "cannot ask"
    // for "nothing there" would pass. It must fail.
    let (handled, _store) = clean_run(20, 0.0, 11);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let source = TempoSource::new(url.clone());
    let verdict = check_root_sampling(
        &root_requests(&handled),
        RatioSampler::new(0.0),
        &source,
        &all_services(),
    )
    .await
    .stored;
    assert_reason(
        &verdict,
        &[
            "could not read trace",
            &format!("from tempo at {url}"),
            "is unreachable",
        ],
    );
}

#[tokio::test]
async fn the_check_reads_traces_through_tempos_api_as_well() {
    let collector = collector::start(CollectorConfig::ephemeral())
        .await
        .unwrap();
    let handled = gateway(200, RATIO, &mut seeded(12), random_trace_id);
    export_sampled(collector.store(), &handled);
    let source: Box<dyn TraceSource> = Box::new(TempoSource::new(collector.http_endpoint()));
    let verdict = check_root_sampling(
        &root_requests(&handled),
        RatioSampler::new(RATIO),
        source.as_ref(),
        &all_services(),
    )
    .await;
    assert!(verdict.passed(), "{verdict:#?}");

    // And a leak is seen through Tempo too.
    let leak = handled.iter().find(|h| !h.sampled).unwrap();
    store_trace(collector.store(), checkout_trace(leak.trace_id, None, &[]));
    let verdict = check_root_sampling(
        &root_requests(&handled),
        RatioSampler::new(RATIO),
        source.as_ref(),
        &all_services(),
    )
    .await
    .stored;
    assert_reason(
        &verdict,
        &[&hex(&leak.trace_id), "was not sampled, yet 10 span(s)"],
    );
    collector.shutdown().await.unwrap();
}
