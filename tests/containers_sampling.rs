//! Sampling on the mesh as containers: every service runs
//! `parentbased_traceidratio` at 0.25. For a few hundred requests without a
//! `traceparent`, each root decision the gateway announced in
//! `traceresponse` must match the SDK's decision recomputed from the trace
//! id, the observed ratio must lie in its 99.9% interval, every sampled trace
//! must reach the backend complete (gateway and inventory, across the
//! network), and no unsampled trace may leave a span. Requests that carry a
//! `traceparent` must be obeyed by every service.
//!
//! The traces are read back through a `TempoSource` on the collector
//! container's mapped query port, as a remote Tempo would be.

mod containers_support;

use std::time::Duration;

use containers_support::ContainerMesh;
use futures::StreamExt;
use tracemesh_harness::checks::sampling::{
    ParentedRequest, RatioSampler, RequiredServices, RootRequest, TraceParent,
    check_parent_obedience, check_root_sampling,
};

const RATIO: f64 = 0.25;
/// Enough for the interval to mean something (about 100 sampled), few
/// enough to stay well inside a minute on two cores.
const ROOT_REQUESTS: usize = 400;
const PARENTED_REQUESTS: u32 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_container_samples_by_the_ratio_and_obeys_its_parent() {
    let Some(mesh) = ContainerMesh::builder()
        .sampler("parentbased_traceidratio", "0.25")
        .start()
        .await
    else {
        return;
    };
    let url = mesh.url("/api/products");

    // Root requests: no traceparent, so the gateway decides. 8 in flight.
    let roots: Vec<RootRequest> = futures::stream::iter(0..ROOT_REQUESTS)
        .map(|i| {
            let (http, url) = (mesh.http.clone(), url.clone());
            async move {
                let response = http.get(&url).send().await.expect("the gateway answers");
                assert_eq!(response.status(), 200, "request #{i}");
                let header = response
                    .headers()
                    .get("traceresponse")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                RootRequest::new(format!("#{i} GET /api/products"), header.as_deref())
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;

    // Parented requests: the caller decides, half sampled, half not.
    let mut parented = Vec::new();
    for i in 0..PARENTED_REQUESTS {
        let sent = TraceParent::new(
            format!(
                "{:032x}",
                0x7c7c_0000_0000_0000_0000_0000_0000_0000u128 + u128::from(i)
            ),
            format!("{:016x}", 0x2000 + u64::from(i)),
            i % 2 == 0,
        );
        let response = mesh
            .http
            .get(&url)
            .header("traceparent", sent.to_string())
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(response.status(), 200, "parented #{i}");
        parented.push(ParentedRequest::new(format!("parented #{i}"), sent));
    }

    // Wait for what should arrive (every sampled trace, complete), then for
    // the backend's trace count to settle: spans that should never have
    // been sent would have arrived by then too. No fixed sleep.
    let complete = RequiredServices::new(["gateway", "inventory"]);
    let mut sampled_ids: Vec<String> = roots
        .iter()
        .filter_map(|r| TraceParent::parse(r.traceresponse.as_deref()?).ok())
        .filter(TraceParent::sampled)
        .map(|c| c.trace_id)
        .collect();
    sampled_ids.extend(
        parented
            .iter()
            .filter(|p| p.sent.sampled())
            .map(|p| p.sent.trace_id.clone()),
    );
    let late = mesh
        .wait_until_complete(&sampled_ids, &complete, Duration::from_secs(30))
        .await;
    eprintln!(
        "{} sampled traces, {} still incomplete after the wait",
        sampled_ids.len(),
        late.len()
    );
    let settled = mesh.wait_for_quiet(&["gateway", "inventory"]).await;
    eprintln!("backend settled: {settled:?}");

    let sampling =
        check_root_sampling(&roots, RatioSampler::new(RATIO), mesh.source(), &complete).await;
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

    let verdict = check_parent_obedience(&parented, mesh.source(), &complete).await;
    assert!(
        verdict.passed,
        "{:#?}\n{:#?}",
        verdict.reasons, verdict.figures
    );
}
