//! What Grafana's Tempo data source calls, black-box: OTLP posted over HTTP
//! to a real collector, then its query API read with reqwest. Shapes are
//! checked field by field against the example responses printed in Tempo's
//! API docs (`fixtures/tempo_docs/`, see its README for where each is from).
//!
//! The TraceQL tests run real queries through `traceql::parse`; they pass
//! once the TraceQL engine is in (until then `parse` refuses every query
//! and they fail on that refusal, not on the API).

mod common;

use common::*;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tracemesh_harness::RunningCollector;

const DOC_TRACEQL_SEARCH: &str = include_str!("fixtures/tempo_docs/search_traceql.json");
const DOC_TAG_SEARCH: &str = include_str!("fixtures/tempo_docs/search_tags.json");
const DOC_TAG_NAMES_V1: &str = include_str!("fixtures/tempo_docs/search_tag_names_v1.json");
const DOC_TAG_NAMES_V2: &str = include_str!("fixtures/tempo_docs/search_tag_names_v2.json");
const DOC_TAG_VALUES_V1: &str = include_str!("fixtures/tempo_docs/search_tag_values_v1.json");
const DOC_TAG_VALUES_V2: &str = include_str!("fixtures/tempo_docs/search_tag_values_v2.json");
const DOC_BUILDINFO: &str = include_str!("fixtures/tempo_docs/buildinfo.json");

fn attr(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn started(mut span: Span, offset_millis: u64) -> Span {
    span.start_time_unix_nano += offset_millis * 1_000_000;
    span.end_time_unix_nano += offset_millis * 1_000_000;
    span
}

/// Three traces, posted as OTLP/HTTP protobuf:
/// 1. gateway `POST /api/checkout` (40 ms) -> order `order.Create` (error)
///    and -> payment `POST /v1/charges` (402);
/// 2. payment `POST /v1/charges` alone (12 ms), starting 1 s later;
/// 3. user `user.Get` (2 ms), starting 2 s later.
async fn collector_with_checkouts() -> RunningCollector {
    let collector = start_collector().await;
    let mut gateway = server_span(1, 1, "POST /api/checkout", 40);
    gateway.attributes = vec![
        string_attr("http.route", "/api/checkout"),
        int_attr("http.response.status_code", 200),
    ];
    let mut order = span(1, 2, Some(1), "order.Create", 20);
    order.status = error_status("out of stock");
    order.attributes = vec![string_attr("rpc.method", "Create")];
    let mut charge = span(1, 3, Some(1), "POST /v1/charges", 10);
    charge.kind = 2; // SERVER
    charge.attributes = vec![
        int_attr("http.response.status_code", 402),
        attr("payment.amount", any_value::Value::DoubleValue(12.5)),
        attr("payment.retry", any_value::Value::BoolValue(true)),
    ];
    let mut lone_charge = started(server_span(2, 1, "POST /v1/charges", 12), 1_000);
    lone_charge.attributes = vec![int_attr("http.response.status_code", 201)];
    let body = request(vec![
        resource_spans("gateway", vec![gateway]),
        resource_spans("order", vec![order]),
        resource_spans("payment", vec![charge, lone_charge]),
        resource_spans(
            "user",
            vec![started(server_span(3, 1, "user.Get", 2), 2_000)],
        ),
    ])
    .encode_to_vec();
    let response = reqwest::Client::new()
        .post(url(&collector, "/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .expect("OTLP/HTTP export sent");
    assert_eq!(response.status(), StatusCode::OK);
    collector
}

async fn get_json(collector: &RunningCollector, path_and_query: &str) -> (StatusCode, Value) {
    let response = reqwest::get(url(collector, path_and_query))
        .await
        .expect("request sent");
    let status = response.status();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

/// Percent-encodes a query parameter value (everything but unreserved bytes).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET path` with `q` and `rest` URL-encoded.
async fn get_with_q(
    collector: &RunningCollector,
    path: &str,
    q: &str,
    rest: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut query = format!("q={}", encode(q));
    for (key, value) in rest {
        query.push_str(&format!("&{key}={}", encode(value)));
    }
    get_json(collector, &format!("{path}?{query}")).await
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Compares `ours` with Tempo's documented example: every documented field
/// is there with the same JSON type, and every field of ours is documented
/// or named in `extra` (fields Tempo sends that its printed example leaves
/// out). Arrays: each of our items against the example's first item.
fn shape_errors(
    ours: &Value,
    documented: &Value,
    path: &str,
    extra: &[&str],
    errors: &mut Vec<String>,
) {
    match (ours, documented) {
        (Value::Object(ours), Value::Object(documented)) => {
            for (key, doc_value) in documented {
                match ours.get(key) {
                    Some(value) => {
                        shape_errors(value, doc_value, &format!("{path}.{key}"), extra, errors)
                    }
                    None => errors.push(format!("{path}.{key}: documented, missing")),
                }
            }
            for key in ours.keys() {
                if !documented.contains_key(key) && !extra.contains(&key.as_str()) {
                    errors.push(format!("{path}.{key}: not in Tempo's example"));
                }
            }
        }
        (Value::Array(ours), Value::Array(documented)) => {
            match (ours.first(), documented.first()) {
                (Some(_), Some(doc_item)) => {
                    for (i, item) in ours.iter().enumerate() {
                        shape_errors(item, doc_item, &format!("{path}[{i}]"), extra, errors);
                    }
                }
                (None, Some(_)) => {
                    errors.push(format!("{path}: empty, so its items' shape is unchecked"))
                }
                _ => {}
            }
        }
        _ if json_type(ours) != json_type(documented) => errors.push(format!(
            "{path}: {} where Tempo has {}",
            json_type(ours),
            json_type(documented)
        )),
        _ => {}
    }
}

fn assert_shape(ours: &Value, documented_text: &str, extra: &[&str]) {
    let documented: Value = serde_json::from_str(documented_text).expect("fixture is JSON");
    let mut errors = Vec::new();
    shape_errors(ours, &documented, "$", extra, &mut errors);
    assert!(errors.is_empty(), "{errors:#?}\nours: {ours:#}");
}

/// Search `metrics` differ per Tempo version and example; ours must only
/// use fields one of the documented examples has, with its type, or
/// `completedJobs`/`totalJobs`, which the examples leave out but Tempo's
/// `SearchMetrics` (`pkg/tempopb/tempo.proto`, `uint32`, so JSON numbers)
/// has and Tempo sends.
fn assert_metrics_documented(metrics: &Value) {
    let mut documented = serde_json::Map::new();
    documented.insert("completedJobs".into(), json!(1));
    documented.insert("totalJobs".into(), json!(1));
    for text in [DOC_TAG_SEARCH, DOC_TRACEQL_SEARCH] {
        let example: Value = serde_json::from_str(text).unwrap();
        documented.extend(example["metrics"].as_object().unwrap().clone());
    }
    for (key, value) in metrics.as_object().expect("metrics object") {
        let doc = documented
            .get(key)
            .unwrap_or_else(|| panic!("metrics.{key} is in no Tempo example"));
        assert_eq!(json_type(value), json_type(doc), "metrics.{key}");
    }
}

fn values_of(body: &Value) -> Vec<(String, String)> {
    body["tagValues"]
        .as_array()
        .expect("tagValues array")
        .iter()
        .map(|v| {
            (
                v["type"].as_str().unwrap().to_string(),
                v["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn typed(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(t, v)| (t.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn tag_names_v1_list_span_and_resource_attributes_of_real_spans() {
    let collector = collector_with_checkouts().await;
    let (status, body) = get_json(&collector, "/api/search/tags").await;
    assert_eq!(status, StatusCode::OK);
    assert_shape(&body, DOC_TAG_NAMES_V1, &[]);
    assert_eq!(
        body["tagNames"],
        json!([
            "http.response.status_code",
            "http.route",
            "payment.amount",
            "payment.retry",
            "rpc.method",
            "service.name"
        ])
    );
    let (_, spans_only) = get_json(&collector, "/api/search/tags?scope=span").await;
    assert!(
        !spans_only["tagNames"]
            .as_array()
            .unwrap()
            .contains(&json!("service.name"))
    );
    let (_, intrinsics) = get_json(&collector, "/api/search/tags?scope=intrinsic").await;
    assert!(
        intrinsics["tagNames"]
            .as_array()
            .unwrap()
            .contains(&json!("status"))
    );
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn tag_names_v2_answer_by_scope_with_the_intrinsics() {
    let collector = collector_with_checkouts().await;
    let (status, body) = get_json(&collector, "/api/v2/search/tags").await;
    assert_eq!(status, StatusCode::OK);
    assert_shape(&body, DOC_TAG_NAMES_V2, &[]);
    let scopes = body["scopes"].as_array().unwrap();
    let names: Vec<&str> = scopes.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["resource", "span", "intrinsic"]);
    assert_eq!(scopes[0]["tags"], json!(["service.name"]));
    assert_eq!(scopes[1]["tags"][0], "http.response.status_code");
    assert_eq!(
        scopes[2]["tags"],
        json!([
            "duration",
            "kind",
            "name",
            "rootName",
            "rootServiceName",
            "status",
            "statusMessage",
            "traceDuration"
        ])
    );

    let (_, resource) = get_json(&collector, "/api/v2/search/tags?scope=resource&limit=5").await;
    assert_eq!(
        resource["scopes"],
        json!([{ "name": "resource", "tags": ["service.name"] }])
    );
    let (_, limited) = get_json(&collector, "/api/v2/search/tags?scope=span&limit=2").await;
    assert_eq!(limited["scopes"][0]["tags"].as_array().unwrap().len(), 2);
    // A window with none of the traces lists no attribute.
    let (_, empty) = get_json(
        &collector,
        "/api/v2/search/tags?scope=span&start=4000000000&end=4000000100",
    )
    .await;
    assert_eq!(empty["scopes"][0]["tags"], json!([]));

    let (status, body) = get_json(&collector, "/api/v2/search/tags?scope=event").await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not supported by the embedded store"),
        "{body}"
    );
    let (status, body) = get_json(&collector, "/api/v2/search/tags?scope=everything").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("scope"), "{body}");
    let (status, body) = get_json(&collector, "/api/v2/search/tags?limit=lots").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("limit"), "{body}");
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn tag_values_v2_are_typed_like_tempo() {
    let collector = collector_with_checkouts().await;
    let values = |tag: &'static str| {
        let collector = &collector;
        async move {
            let (status, body) =
                get_json(collector, &format!("/api/v2/search/tag/{tag}/values")).await;
            assert_eq!(status, StatusCode::OK, "{tag}: {body}");
            assert_shape(&body, DOC_TAG_VALUES_V2, &[]);
            values_of(&body)
        }
    };
    assert_eq!(
        values("resource.service.name").await,
        typed(&[
            ("string", "gateway"),
            ("string", "order"),
            ("string", "payment"),
            ("string", "user")
        ])
    );
    assert_eq!(
        values("span.http.response.status_code").await,
        typed(&[("int", "200"), ("int", "201"), ("int", "402")])
    );
    assert_eq!(values(".payment.amount").await, typed(&[("float", "12.5")]));
    assert_eq!(
        values("span.payment.retry").await,
        typed(&[("bool", "true")])
    );
    assert_eq!(
        values("status").await,
        typed(&[("keyword", "error"), ("keyword", "unset")])
    );
    assert_eq!(
        values("kind").await,
        typed(&[("keyword", "internal"), ("keyword", "server")])
    );
    assert_eq!(
        values("rootServiceName").await,
        typed(&[
            ("string", "gateway"),
            ("string", "payment"),
            ("string", "user")
        ])
    );
    assert_eq!(
        values("statusMessage").await,
        typed(&[("string", "out of stock")])
    );

    let (_, limited) = get_json(
        &collector,
        "/api/v2/search/tag/resource.service.name/values?limit=2",
    )
    .await;
    assert_eq!(limited["tagValues"].as_array().unwrap().len(), 2);
    // v2 takes TraceQL identifiers: a bare key is a client mistake.
    let (status, body) = get_json(&collector, "/api/v2/search/tag/service.name/values").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("TraceQL identifier"),
        "{body}"
    );
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn tag_values_v1_are_plain_strings() {
    let collector = collector_with_checkouts().await;
    let (status, body) = get_json(&collector, "/api/search/tag/service.name/values").await;
    assert_eq!(status, StatusCode::OK);
    assert_shape(&body, DOC_TAG_VALUES_V1, &[]);
    assert_eq!(
        body["tagValues"],
        json!(["gateway", "order", "payment", "user"])
    );
    let (_, codes) = get_json(
        &collector,
        "/api/search/tag/http.response.status_code/values",
    )
    .await;
    assert_eq!(codes["tagValues"], json!(["200", "201", "402"]));
    let (_, none) = get_json(&collector, "/api/search/tag/no.such.key/values").await;
    assert_eq!(none["tagValues"], json!([]));
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn tag_search_keeps_its_documented_shape() {
    let collector = collector_with_checkouts().await;
    let (status, body) = get_json(&collector, "/api/search?tags=service.name%3Dpayment").await;
    assert_eq!(status, StatusCode::OK);
    assert_shape(
        &body["traces"],
        &serde_json::from_str::<Value>(DOC_TAG_SEARCH).unwrap()["traces"].to_string(),
        &[],
    );
    assert_metrics_documented(&body["metrics"]);
    let ids: Vec<&str> = body["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["traceID"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [trace_hex(2), trace_hex(1)], "newest first");
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_bad_traceql_query_is_a_400_naming_its_column() {
    let collector = collector_with_checkouts().await;
    let (status, body) = get_with_q(
        &collector,
        "/api/search",
        "{ resource.service.name = }",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let error = body["error"].as_str().expect("a JSON error");
    assert!(error.contains("column"), "{error}");
    assert!(error.contains("TraceQL"), "{error}");
    // q and tags together would answer one and ignore the other.
    let (status, body) = get_with_q(
        &collector,
        "/api/search",
        "{ }",
        &[("tags", "service.name=payment")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("not both"),
        "{body}"
    );
    let (status, body) = get_with_q(&collector, "/api/search", "{ }", &[("spss", "few")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("spss"), "{body}");
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn traceql_search_answers_spansets_shaped_like_tempo() {
    let collector = collector_with_checkouts().await;
    let (status, body) = get_with_q(
        &collector,
        "/api/search",
        r#"{ resource.service.name = "payment" }"#,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let documented: Value = serde_json::from_str(DOC_TRACEQL_SEARCH).unwrap();
    // Tempo sends `spanSet` (the first spanset) and each span's `name`
    // beside what its printed example shows.
    assert_shape(
        &body["traces"],
        &documented["traces"].to_string(),
        &["spanSet", "name"],
    );
    assert_metrics_documented(&body["metrics"]);

    let traces = body["traces"].as_array().unwrap();
    let ids: Vec<&str> = traces
        .iter()
        .map(|t| t["traceID"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [trace_hex(2), trace_hex(1)], "newest first");
    let checkout = &traces[1];
    assert_eq!(checkout["rootServiceName"], "gateway");
    assert_eq!(checkout["rootTraceName"], "POST /api/checkout");
    assert_eq!(checkout["startTimeUnixNano"], START.to_string());
    assert_eq!(checkout["durationMs"], 40);
    let set = &checkout["spanSets"][0];
    assert_eq!(set["matched"], 1);
    assert_eq!(checkout["spanSet"], *set);
    let span = &set["spans"][0];
    assert_eq!(span["spanID"], "03".repeat(8));
    assert_eq!(span["name"], "POST /v1/charges");
    assert_eq!(span["durationNanos"], "10000000");
    assert!(
        span["attributes"]
            .as_array()
            .unwrap()
            .contains(&json!({ "key": "service.name", "value": { "stringValue": "payment" } })),
        "{span}"
    );
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn traceql_search_honours_limit_spss_and_the_window() {
    let collector = collector_with_checkouts().await;
    let (_, one) = get_with_q(
        &collector,
        "/api/search",
        r#"{ resource.service.name = "payment" }"#,
        &[("limit", "1")],
    )
    .await;
    assert_eq!(one["traces"].as_array().map(Vec::len), Some(1), "{one}");
    assert_eq!(one["traces"][0]["traceID"], trace_hex(2));

    // Trace 1 has three spans; spss=2 lists two and counts three.
    let (_, all) = get_with_q(&collector, "/api/search", "{ }", &[("spss", "2")]).await;
    let checkout = all["traces"]
        .as_array()
        .expect("traces")
        .iter()
        .find(|t| t["traceID"] == trace_hex(1))
        .expect("trace 1 matches { }");
    assert_eq!(checkout["spanSets"][0]["matched"], 3);
    assert_eq!(
        checkout["spanSets"][0]["spans"].as_array().unwrap().len(),
        2
    );
    let (_, default_spss) = get_with_q(&collector, "/api/search", "{ }", &[]).await;
    let checkout = default_spss["traces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["traceID"] == trace_hex(1))
        .unwrap();
    assert_eq!(
        checkout["spanSets"][0]["spans"].as_array().unwrap().len(),
        3
    );

    let (_, later) = get_with_q(
        &collector,
        "/api/search",
        "{ }",
        &[("start", "4000000000"), ("end", "4000000100")],
    )
    .await;
    assert_eq!(later["traces"], json!([]));
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn tag_values_v2_filtered_by_traceql() {
    let collector = collector_with_checkouts().await;
    let (status, body) = get_with_q(
        &collector,
        "/api/v2/search/tag/span.http.response.status_code/values",
        r#"{ resource.service.name = "payment" }"#,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(values_of(&body), typed(&[("int", "201"), ("int", "402")]));
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn buildinfo_names_our_version_and_no_go_build() {
    let collector = start_collector().await;
    let (status, body) = get_json(&collector, "/api/status/buildinfo").await;
    assert_eq!(status, StatusCode::OK);
    assert_shape(&body, DOC_BUILDINFO, &[]);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["goVersion"], "");
    let echo = reqwest::get(url(&collector, "/api/echo")).await.unwrap();
    assert_eq!(echo.text().await.unwrap(), "echo");
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn what_only_tempo_serves_answers_501_with_the_reason() {
    let collector = start_collector().await;
    for path in [
        "/api/metrics/query_range?q=%7B%7D%7Crate()",
        "/api/metrics/query?q=%7B%7D%7Ccount_over_time()",
        "/api/metrics/summary",
        "/api/overrides",
    ] {
        let (status, body) = get_json(&collector, path).await;
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{path}");
        let error = body["error"].as_str().unwrap();
        assert!(
            error.contains("not supported by the embedded store; use Tempo"),
            "{path}: {error}"
        );
    }
    // Grafana's streaming search is gRPC on this port: a gRPC refusal.
    let response = reqwest::Client::new()
        .post(url(&collector, "/tempopb.StreamingQuerier/Search"))
        .header("content-type", "application/grpc")
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["grpc-status"], "12", "UNIMPLEMENTED");
    let message = response.headers()["grpc-message"].to_str().unwrap();
    assert!(
        message.contains("not supported by the embedded store"),
        "{message}"
    );
    collector.shutdown().await.unwrap();
}
