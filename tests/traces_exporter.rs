//! End to end: `OTEL_TRACES_EXPORTER=console` on a real mesh prints each
//! span as one line on the services' stdout and sends nothing to the
//! collector (`otlp` is not listed).

mod common;

use std::time::Duration;

use common::Mesh;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_prints_one_line_per_span_and_sends_nothing_over_otlp() {
    let mut mesh = Mesh::start_with(&[("OTEL_TRACES_EXPORTER", "console")]).await;
    let response = reqwest::get(mesh.url("/api/products")).await.unwrap();
    assert_eq!(response.status(), 200);
    let trace_id = common::trace_id_of(&response);

    // The simple processor prints a span as it ends: both SERVER spans of
    // the request are there once the services stop.
    assert!(mesh.stop().await, "a service did not stop cleanly");
    let logs = mesh.log_text();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.starts_with(&format!("span trace={trace_id} ")))
        .collect();
    for expected in [
        "SERVER \"GET /api/products\"",
        "service=gateway",
        "service=inventory",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(expected)),
            "no console line with {expected:?} in {lines:#?}"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        mesh.collector
            .store()
            .trace(&trace_id)
            .unwrap_or_default()
            .len(),
        0,
        "spans reached the collector"
    );
}
