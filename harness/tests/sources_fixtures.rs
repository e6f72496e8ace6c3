//! Tempo's and Jaeger's clients against sample responses written from the
//! documented formats (tests/fixtures/), served by a small axum server.
//!
//! The fixtures hold one checkout trace (gateway SERVER -> gateway CLIENT ->
//! order SERVER with an error) in three encodings: Tempo v1 (`batches`,
//! base64 ids, enum names, one batch still in pre-0.15 OTLP naming),
//! Tempo v2 (`trace.resourceSpans`) and Jaeger api_v3 (`result`, hex ids,
//! integer enums). All three must read as the same records.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use reqwest::Url;
use tracemesh_harness::model::{AttrValue, SpanKind, SpanRecord, StatusCode as SpanStatusCode};
use tracemesh_harness::sources::{JaegerSource, SourceError, TempoSource, TraceQuery, TraceSource};

const TRACE: &str = "5b8efff798038103d269b633813fc700";
const NEWER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const START: u64 = 1_700_000_000_000_000_000;

/// path -> (status, body); every request's path and query is remembered.
#[derive(Clone, Default)]
struct Fixtures {
    routes: Arc<HashMap<&'static str, (StatusCode, &'static str)>>,
    seen: Arc<Mutex<Vec<Uri>>>,
}

impl Fixtures {
    /// The query parameters of the last request to `path`.
    fn last_query(&self, path: &str) -> HashMap<String, String> {
        let seen = self.seen.lock().unwrap();
        let uri = seen
            .iter()
            .rev()
            .find(|u| u.path() == path)
            .expect("a request to that path");
        let url = Url::parse(&format!("http://fixtures{uri}")).unwrap();
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

/// Serves `routes` on an ephemeral port; answers 404 elsewhere.
async fn serve(routes: Vec<(&'static str, StatusCode, &'static str)>) -> (String, Fixtures) {
    let fixtures = Fixtures {
        routes: Arc::new(
            routes
                .into_iter()
                .map(|(path, status, body)| (path, (status, body)))
                .collect(),
        ),
        seen: Arc::default(),
    };
    let app = Router::new()
        .fallback(|State(fixtures): State<Fixtures>, uri: Uri| async move {
            fixtures.seen.lock().unwrap().push(uri.clone());
            match fixtures.routes.get(uri.path()) {
                Some((status, body)) => (*status, *body),
                None => (StatusCode::NOT_FOUND, "no fixture here"),
            }
        })
        .with_state(fixtures.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base_url, fixtures)
}

const TEMPO_V1: &str = include_str!("fixtures/tempo_v1_batches.json");
const TEMPO_V2: &str = include_str!("fixtures/tempo_v2_trace.json");
const TEMPO_SEARCH: &str = include_str!("fixtures/tempo_search.json");
const JAEGER_V3: &str = include_str!("fixtures/jaeger_v3_trace.json");
const JAEGER_V3_SEARCH: &str = include_str!("fixtures/jaeger_v3_search.json");
const JAEGER_V3_NOT_FOUND: &str = include_str!("fixtures/jaeger_v3_not_found.json");
const JAEGER_V1_API: &str = include_str!("fixtures/jaeger_v1_api_trace.json");

fn trace_path(prefix: &str) -> &'static str {
    Box::leak(format!("{prefix}/{TRACE}").into_boxed_str())
}

async fn fetch(source: &dyn TraceSource) -> Vec<SpanRecord> {
    let mut spans = source.trace(TRACE).await.unwrap().expect("trace found");
    spans.sort_by_key(|s| s.start_unix_nanos);
    spans
}

#[tokio::test]
async fn tempo_v1_batches_with_base64_ids_and_enum_names_are_read() {
    let (base, _) = serve(vec![(trace_path("/api/traces"), StatusCode::OK, TEMPO_V1)]).await;
    let spans = fetch(&TempoSource::new(base)).await;
    assert_eq!(spans.len(), 3);

    let [server, client, order] = [&spans[0], &spans[1], &spans[2]];
    assert_eq!(server.trace_id, TRACE);
    assert_eq!(server.span_id, "eee19b7ec3c1b100");
    assert_eq!(server.parent_span_id, None);
    assert_eq!(
        (server.service_name.as_str(), server.kind),
        ("gateway", SpanKind::Server)
    );
    assert_eq!(server.name, "POST /api/checkout");
    assert_eq!(server.attr_i64("http.response.status_code"), Some(409));
    assert_eq!(server.attr_str("http.route"), Some("/api/checkout"));
    assert_eq!(server.duration_nanos(), 40_000_000);
    assert_eq!(server.status.code, SpanStatusCode::Unset);

    assert_eq!(client.parent_span_id.as_deref(), Some("eee19b7ec3c1b100"));
    assert_eq!(client.kind, SpanKind::Client);

    assert_eq!(
        order.service_name, "order",
        "read from an instrumentationLibrarySpans batch"
    );
    assert_eq!(order.scope_name, "tracemesh");
    assert_eq!(order.parent_span_id.as_deref(), Some("1111111111111111"));
    assert_eq!(order.status.code, SpanStatusCode::Error);
    assert_eq!(order.status.message, "out of stock");
    assert_eq!(order.attr_str("error.type"), Some("OutOfStock"));
    assert_eq!(order.attributes["fault.injected"], AttrValue::Bool(false));
    assert_eq!(order.events[0].name, "exception");
    assert_eq!(order.events[0].time_unix_nanos, START + 37_000_000);
}

#[tokio::test]
async fn tempo_v2_and_jaeger_v3_read_as_the_same_records_as_tempo_v1() {
    let (base, _) = serve(vec![
        (trace_path("/v1/api/traces"), StatusCode::OK, TEMPO_V1),
        (trace_path("/v2/api/traces"), StatusCode::OK, TEMPO_V2),
        (trace_path("/api/v3/traces"), StatusCode::OK, JAEGER_V3),
    ])
    .await;
    let v1 = fetch(&TempoSource::new(format!("{base}/v1/"))).await;
    let v2 = fetch(&TempoSource::new(format!("{base}/v2"))).await;
    let jaeger = fetch(&JaegerSource::new(base.clone())).await;
    assert_eq!(v1.len(), 3);
    assert_eq!(v1, v2);
    assert_eq!(v1, jaeger);
}

#[tokio::test]
async fn not_found_is_none_for_both_backends() {
    let (base, _) = serve(vec![(
        trace_path("/api/v3/traces"),
        StatusCode::NOT_FOUND,
        JAEGER_V3_NOT_FOUND,
    )])
    .await;
    // The fixture server answers 404 for any other path, as Tempo does for an unknown id.
    assert_eq!(TempoSource::new(base.clone()).trace(TRACE).await, Ok(None));
    assert_eq!(JaegerSource::new(base).trace(TRACE).await, Ok(None));
}

#[tokio::test]
async fn a_server_error_is_an_error_quoting_the_body() {
    let body = r#"{"error":{"httpCode":500,"message":"storage unavailable"}}"#;
    let (base, _) = serve(vec![
        (
            trace_path("/api/traces"),
            StatusCode::INTERNAL_SERVER_ERROR,
            "querier: context deadline exceeded",
        ),
        (
            trace_path("/api/v3/traces"),
            StatusCode::INTERNAL_SERVER_ERROR,
            body,
        ),
    ])
    .await;
    for (source, message) in [
        (
            Box::new(TempoSource::new(base.clone())) as Box<dyn TraceSource>,
            "context deadline exceeded",
        ),
        (
            Box::new(JaegerSource::new(base.clone())),
            "storage unavailable",
        ),
    ] {
        match source.trace(TRACE).await {
            Err(SourceError::HttpStatus {
                status: 500,
                body,
                url,
            }) => {
                assert!(body.contains(message), "{body}");
                assert!(url.ends_with(TRACE), "{url}");
            }
            other => panic!("{}: expected HTTP 500, got {other:?}", source.describe()),
        }
    }
}

fn malformed_reason(result: Result<Option<Vec<SpanRecord>>, SourceError>) -> String {
    match result {
        Err(SourceError::Malformed { reason, .. }) => reason,
        other => panic!("expected a malformed-response error, got {other:?}"),
    }
}

#[tokio::test]
async fn garbage_is_an_error_with_a_reason() {
    let bad_span_id = JAEGER_V3.replacen("1111111111111111", "11111111111111zz", 1);
    let bad_span_id: &'static str = Box::leak(bad_span_id.into_boxed_str());
    let (base, _) = serve(vec![
        (
            trace_path("/garbage/api/traces"),
            StatusCode::OK,
            "<html>502 Bad Gateway</html>",
        ),
        (
            trace_path("/jaeger-v1/api/traces"),
            StatusCode::OK,
            JAEGER_V1_API,
        ),
        (
            trace_path("/garbage/api/v3/traces"),
            StatusCode::OK,
            "{\"result\": ",
        ),
        (
            trace_path("/bad-id/api/v3/traces"),
            StatusCode::OK,
            bad_span_id,
        ),
    ])
    .await;

    let reason = malformed_reason(
        TempoSource::new(format!("{base}/garbage"))
            .trace(TRACE)
            .await,
    );
    assert!(
        reason.contains("not JSON") && reason.contains("<html>502 Bad Gateway</html>"),
        "{reason}"
    );

    // Pointing the Tempo client at Jaeger's legacy API is a classic mistake.
    let reason = malformed_reason(
        TempoSource::new(format!("{base}/jaeger-v1"))
            .trace(TRACE)
            .await,
    );
    assert!(
        reason.contains(
            "expected an object with `batches`, `trace.resourceSpans` or `resourceSpans`"
        ) && reason.contains("keys data, errors"),
        "{reason}"
    );

    let reason = malformed_reason(
        JaegerSource::new(format!("{base}/garbage"))
            .trace(TRACE)
            .await,
    );
    assert!(reason.contains("not JSON"), "{reason}");

    let reason = malformed_reason(
        JaegerSource::new(format!("{base}/bad-id"))
            .trace(TRACE)
            .await,
    );
    assert!(
        reason.contains("result.resourceSpans[0].scopeSpans[0].spans[1].spanId")
            && reason.contains("\"11111111111111zz\" is neither 16 hex digits"),
        "{reason}"
    );
}

#[tokio::test]
async fn an_unreachable_backend_and_a_bad_id_are_errors() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    match JaegerSource::new(base.clone()).trace(TRACE).await {
        Err(SourceError::Unreachable { url, reason }) => {
            assert!(url.starts_with(&base), "{url}");
            assert!(!reason.is_empty());
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
    assert_eq!(
        TempoSource::new(base).trace("not-a-trace-id").await,
        Err(SourceError::InvalidTraceId("not-a-trace-id".into()))
    );
}

#[tokio::test]
async fn tempo_search_sends_logfmt_tags_and_reads_the_hits() {
    let (base, fixtures) = serve(vec![("/api/search", StatusCode::OK, TEMPO_SEARCH)]).await;
    let query = TraceQuery::service("gateway")
        .named("POST /api/checkout")
        .with_attribute("http.route", "/api/checkout")
        .between(1_700_000_000, 1_700_000_600)
        .limit(5);
    let hits = TempoSource::new(base).find(&query).await.unwrap();

    let sent = fixtures.last_query("/api/search");
    assert_eq!(
        sent["tags"],
        r#"service.name=gateway name="POST /api/checkout" http.route=/api/checkout"#
    );
    assert_eq!(
        (
            sent["limit"].as_str(),
            sent["start"].as_str(),
            sent["end"].as_str()
        ),
        ("5", "1700000000", "1700000600")
    );

    assert_eq!(hits.len(), 2);
    assert_eq!(
        hits[0].trace_id, NEWER_TRACE,
        "Tempo drops leading zeros; we pad them back"
    );
    assert_eq!(hits[0].root_service_name, "payment");
    assert_eq!(hits[0].duration_nanos, 12_000_000);
    assert_eq!(hits[1].trace_id, TRACE);
    assert_eq!(hits[1].root_span_name, "POST /api/checkout");
    assert_eq!(hits[1].start_unix_nanos, START);
}

#[tokio::test]
async fn jaeger_search_sends_api_v3_parameters_and_summarizes_each_trace() {
    let (base, fixtures) = serve(vec![("/api/v3/traces", StatusCode::OK, JAEGER_V3_SEARCH)]).await;
    let query = TraceQuery::service("gateway")
        .named("POST /api/checkout")
        .with_attribute("http.route", "/api/checkout")
        .between(1_700_000_000, 1_700_000_600)
        .limit(5);
    let hits = JaegerSource::new(base.clone()).find(&query).await.unwrap();

    let sent = fixtures.last_query("/api/v3/traces");
    assert_eq!(sent["query.service_name"], "gateway");
    assert_eq!(sent["query.operation_name"], "POST /api/checkout");
    assert_eq!(
        sent["query.attributes"],
        r#"{"http.route":"/api/checkout"}"#
    );
    assert_eq!(sent["query.start_time_min"], "2023-11-14T22:13:20Z");
    assert_eq!(sent["query.start_time_max"], "2023-11-14T22:23:20Z");
    assert_eq!(sent["query.num_traces"], "5");

    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].trace_id, NEWER_TRACE, "newest first");
    assert_eq!(hits[0].duration_nanos, 12_500_000);
    assert_eq!(hits[1].trace_id, TRACE);
    assert_eq!(hits[1].root_service_name, "gateway");
    assert_eq!(hits[1].root_span_name, "POST /api/checkout");
    assert_eq!(hits[1].duration_nanos, 40_000_000);

    let one = JaegerSource::new(base.clone())
        .find(&query.clone().limit(1))
        .await
        .unwrap();
    assert_eq!(one.len(), 1);

    // The gateway answers 404 when nothing matched: that is an empty result.
    let none = JaegerSource::new(format!("{base}/elsewhere"))
        .find(&query)
        .await
        .unwrap();
    assert!(none.is_empty());
}
