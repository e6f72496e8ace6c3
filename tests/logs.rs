//! Logs tied to traces, end to end: the five services export their log
//! records over OTLP (gRPC, and HTTP with the logs' own variables) to the
//! collector in the test, each record carrying the trace and span id of a
//! real span; `OTEL_LOGS_EXPORTER=none` exports none; `tracemesh logs`
//! prints a trace's lines from the run's log file and from the collector,
//! and names the flag of a mistake with exit 2.

mod common;

use std::collections::HashMap;

use common::{Export, GOOD_CARD, Mesh, checkout_body, output_text as text, tracemesh};
use tracemesh_harness::SpanRecord;
use tracemesh_harness::logs::LogLine;

/// The services whose access-log line of a checkout is logged inside their
/// SERVER span (the HTTP ones, at debug, which the test mesh's `RUST_LOG`
/// lets through).
const LOGGING: [&str; 2] = ["gateway", "payment"];

/// A checkout, its spans, and its log records once every service flushed.
async fn checkout_and_its_logs(mesh: &Mesh) -> (String, Vec<SpanRecord>, Vec<LogLine>) {
    let client = reqwest::Client::new();
    let (status, body, trace_id) = mesh
        .checkout(&client, checkout_body("u-1001", "KEY-001", 1, GOOD_CARD))
        .await;
    assert_eq!(status, 201, "checkout answered {body}");
    let spans = mesh.wait_for_trace(&trace_id, &LOGGING).await;
    // Every line of the checkout was logged before the gateway answered,
    // and a flush returns once the collector has answered the export.
    mesh.flush().await;
    let records = mesh.collector.log_store().trace(&trace_id);
    (trace_id, spans, records)
}

/// Each record names a span of its trace, of its own service, and every
/// service of [`LOGGING`] logged.
fn assert_tied_to_spans(records: &[LogLine], spans: &[SpanRecord]) {
    let by_id: HashMap<&str, &SpanRecord> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    for record in records {
        let span_id = record.span_id.as_deref().expect("a record in a span");
        let span = by_id
            .get(span_id)
            .unwrap_or_else(|| panic!("{record:?} names no span of its trace"));
        assert_eq!(span.service_name, record.service, "{record:?}");
        assert_eq!(span.trace_id, record.trace_id);
    }
    for service in LOGGING {
        assert!(
            records.iter().any(|r| r.service == service),
            "no record of {service}: {records:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_reach_the_collector_over_grpc_and_tracemesh_logs_prints_them() {
    let _turn = common::one_load_at_a_time().await;
    let mut mesh = Mesh::start().await;
    let (trace_id, spans, records) = checkout_and_its_logs(&mesh).await;
    assert_tied_to_spans(&records, &spans);
    // The stderr JSON lines stay as they were, with the same ids.
    let stderr_lines = tracemesh_harness::logs::lines_of_trace(&mesh.log_text(), &trace_id);
    for record in &records {
        assert!(
            stderr_lines
                .iter()
                .any(|l| l.span_id == record.span_id && l.body == record.body),
            "{record:?} is not among the stderr lines"
        );
    }

    // From the collector: one line per record, in the same order.
    let output = tracemesh(
        &[
            "logs",
            &trace_id,
            "--collector",
            &mesh.collector.http_endpoint(),
        ],
        &[],
    )
    .await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let printed: Vec<&str> = stdout.lines().collect();
    assert_eq!(printed.len(), records.len(), "{stdout}");
    for (line, record) in printed.iter().zip(&records) {
        let span = format!("span={}", record.span_id.as_deref().unwrap());
        assert!(
            line.contains(&record.service) && line.contains(&span),
            "{line}"
        );
    }

    // From a run's report directory: the same `services.log` file.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(mesh.log_path(), dir.path().join("services.log")).unwrap();
    let output = tracemesh(
        &["logs", &trace_id, "--dir", dir.path().to_str().unwrap()],
        &[],
    )
    .await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), stderr_lines.len(), "{stdout}");
    for service in LOGGING {
        assert!(stdout.contains(service), "{stdout}");
    }
    assert!(mesh.stop().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_their_own_variables_over_otlp_http() {
    let _turn = common::one_load_at_a_time().await;
    // Traces over http/protobuf, logs over http/json and gzip: the
    // `_LOGS_` variables win over the generic ones for logs only.
    let mut mesh = Mesh::start_exporting(
        Export::Http("http/protobuf"),
        &[
            ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "gzip"),
        ],
    )
    .await;
    let (_, spans, records) = checkout_and_its_logs(&mesh).await;
    assert_tied_to_spans(&records, &spans);
    assert_eq!(mesh.collector.log_store().stats().records_rejected, 0);
    assert!(mesh.stop().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_logs_exporter_none_exports_no_record_and_keeps_stderr() {
    let _turn = common::one_load_at_a_time().await;
    let mut mesh = Mesh::start_with(&[("OTEL_LOGS_EXPORTER", "none")]).await;
    let (trace_id, _, records) = checkout_and_its_logs(&mesh).await;
    assert!(records.is_empty(), "{records:#?}");
    assert_eq!(mesh.collector.log_store().stats().records_received, 0);
    assert!(!tracemesh_harness::logs::lines_of_trace(&mesh.log_text(), &trace_id).is_empty());
    assert!(mesh.stop().await);
}

#[tokio::test]
async fn tracemesh_logs_mistakes_exit_2_naming_the_flag() {
    let empty = tempfile::tempdir().unwrap();
    let empty = empty.path().to_str().unwrap().to_owned();
    let id = "4bf92f3577b34da6a3ce929d0e0e4736";
    for (args, named) in [
        (vec!["logs", "not-hex", "--dir", &empty], "TRACE_ID"),
        (vec!["logs", id], "--dir"),
        (
            vec!["logs", id, "--dir", &empty, "--collector", "http://x"],
            "--collector",
        ),
        (
            vec!["logs", id, "--dir", "/nonexistent/run"],
            "--dir /nonexistent/run",
        ),
        (vec!["logs", id, "--dir", &empty], "services.log"),
        (vec!["logs", id, "--collector", "ftp://x"], "--collector"),
    ] {
        let output = tracemesh(&args, &[]).await;
        let (_, stderr) = text(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}
