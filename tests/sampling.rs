//! Sampling on the real mesh: with `parentbased_traceidratio` at 0.25, every
//! root decision the gateway took matches the SDK's decision recomputed from
//! the trace id, the observed ratio is inside its 99.9% interval, sampled
//! traces are complete and unsampled ones left no span; and requests that
//! arrive with a traceparent are obeyed by every service.

mod common;

use std::time::Duration;

use common::Mesh;
use futures::StreamExt;
use tracemesh_harness::checks::sampling::{
    ParentedRequest, RatioSampler, RequiredServices, RootRequest, TraceParent,
    check_parent_obedience, check_root_sampling,
};
use tracemesh_harness::sources::EmbeddedSource;

const RATIO: f64 = 0.25;
const ROOT_REQUESTS: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ratio_sampler_decides_exactly_and_every_service_obeys_its_parent() {
    let mesh = Mesh::start_with(&[
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
    ])
    .await;
    let http = reqwest::Client::new();
    let url = mesh.url("/api/products");

    // Root requests: no traceparent, so the gateway decides. 16 in flight.
    let roots: Vec<RootRequest> = futures::stream::iter(0..ROOT_REQUESTS)
        .map(|i| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let response = http.get(&url).send().await.expect("answer");
                assert_eq!(response.status(), 200);
                let header = response
                    .headers()
                    .get("traceresponse")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                RootRequest::new(format!("#{i} GET /api/products"), header.as_deref())
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;

    // Parented requests: the caller decides, half sampled, half not.
    let mut parented = Vec::new();
    for i in 0..40u32 {
        let sampled = i % 2 == 0;
        let sent = TraceParent::new(
            format!(
                "{:032x}",
                0x5a5a_0000_0000_0000_0000_0000_0000_0000u128 + u128::from(i)
            ),
            format!("{:016x}", 0x1000 + u64::from(i)),
            sampled,
        );
        let response = http
            .get(&url)
            .header("traceparent", sent.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        parented.push(ParentedRequest::new(format!("parented #{i}"), sent));
    }

    // Everything sampled has been exported once nothing arrives for a while.
    let store = mesh.collector.store();
    store
        .wait_for_quiet(Duration::from_secs(1), Duration::from_secs(30))
        .await;
    let source = EmbeddedSource::new(store.clone());
    let complete = RequiredServices::new(["gateway", "inventory"]);

    let sampling = check_root_sampling(&roots, RatioSampler::new(RATIO), &source, &complete).await;
    eprintln!("root sampling figures: {:#?}", sampling.ratio.figures);
    for verdict in [&sampling.ratio, &sampling.decisions, &sampling.stored] {
        assert!(
            verdict.passed,
            "{}: {:#?}\n{:#?}",
            verdict.check, verdict.reasons, verdict.figures
        );
    }
    assert_eq!(
        sampling.ratio.figures["requests"],
        serde_json::json!(ROOT_REQUESTS)
    );

    let verdict = check_parent_obedience(&parented, &source, &complete).await;
    assert!(
        verdict.passed,
        "{:#?}\n{:#?}",
        verdict.reasons, verdict.figures
    );
}
