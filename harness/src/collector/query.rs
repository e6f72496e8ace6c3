//! A read-only subset of Tempo's HTTP query API over the store, so `curl`,
//! scripts written for Tempo, or Grafana's Tempo data source (connection
//! test, trace view, TraceQL and tag search, query editor autocomplete) can
//! read what the harness received.
//!
//! Shapes follow the Tempo HTTP API docs (grafana/tempo
//! `docs/sources/tempo/api_docs/_index.md`); the tests hold them against the
//! docs' example responses (`harness/tests/fixtures/tempo_docs/`).
//!
//! | Endpoint                             | Answer                                                    |
//! |--------------------------------------|-----------------------------------------------------------|
//! | `GET /ready`                         | 200 `ready`                                               |
//! | `GET /api/echo`                      | 200 `echo` (Grafana's connection test)                    |
//! | `GET /api/status/buildinfo`          | `{version, revision, branch, buildDate, buildUser, goVersion}`: our version, the Go build's fields empty |
//! | `GET /api/traces/{id}`               | `{"batches":[ResourceSpans]}` (v1)                        |
//! | `GET /api/v2/traces/{id}`            | `{"trace":{"resourceSpans":[...]}}`                       |
//! | `GET /api/search?q=..`               | TraceQL: `{"traces":[{traceID, .., spanSet, spanSets}],"metrics":{..}}` (`search_traceql.rs`; `limit`, `spss`, `start`, `end`) |
//! | `GET /api/search?tags=..`            | `{"traces":[{traceID, rootServiceName, ..}],"metrics":{..}}` (`minDuration`, `maxDuration`, `limit`, `start`, `end`) |
//! | `GET /api/search/tags`, `/api/v2/search/tags` | `{"tagNames":[..]}`, `{"scopes":[{name, tags}]}` (`tags_api.rs`) |
//! | `GET /api/search/tag/{tag}/values`, `/api/v2/search/tag/{tag}/values` | `{"tagValues":["a"]}`, `{"tagValues":[{type, value}]}` |
//! | `GET /api/stats` (ours)              | [`StoreStats`](crate::store::StoreStats) plus [`IngestCounters`](super::IngestCounters) |
//! | `/api/metrics/query_range`, `/api/metrics/query`, `/api/metrics/summary`, `/api/overrides` | 501 `{"error": ".. is not supported by the embedded store; use Tempo"}` |
//! | `/tempopb.StreamingQuerier/*`        | gRPC UNIMPLEMENTED: Grafana's streaming search (turn streaming off) |
//!
//! Trace JSON uses Tempo's encoding (base64 ids, enum names): see
//! `tempo_json.rs`. With `Accept: application/protobuf` the trace endpoints
//! answer protobuf as Tempo does (v1: `tempopb.Trace`, v2:
//! `tempopb.TraceByIDResponse`), which is what Grafana's Tempo backend asks for.
//! Unknown ids answer 404, malformed ids and parameters 400, a TraceQL
//! query refused by `traceql::parse` 400 with its column, all with
//! `{"error": ".."}`.

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, TracesData};
use prost::Message;
use serde::Deserialize;

use super::error::ApiError;
use super::limits::IngestStats;
use super::query_params::{count_param, duration_param, limit_param, tags_param};
use super::search_traceql::{TraceqlSearch, traceql_search};
use super::tags_api::{tag_names_v1, tag_names_v2, tag_values_v1, tag_values_v2};
use super::tempo_json::{tempo_v1_trace, tempo_v2_trace};
use crate::model::normalize_trace_id;
use crate::store::{SearchQuery, TraceStore, TraceSummary};

/// The content type Tempo uses for protobuf responses.
const PROTOBUF_ACCEPT: &str = "application/protobuf";

/// The router with the query endpoints. `ingest` holds the counters the
/// receivers keep beside the store's, served together by `/api/stats`.
pub fn router(store: TraceStore, ingest: IngestStats) -> Router {
    Router::new()
        .route("/ready", get(|| async { "ready" }))
        .route("/api/echo", get(|| async { "echo" }))
        .route(
            "/api/stats",
            get(move |State(store): State<TraceStore>| stats(store, ingest.clone())),
        )
        .route("/api/traces/{trace_id}", get(trace_v1))
        .route("/api/v2/traces/{trace_id}", get(trace_v2))
        .route("/api/search", get(search))
        .route("/api/search/tags", get(tag_names_v1))
        .route("/api/v2/search/tags", get(tag_names_v2))
        .route("/api/search/tag/{tag}/values", get(tag_values_v1))
        .route("/api/v2/search/tag/{tag}/values", get(tag_values_v2))
        .route("/api/status/buildinfo", get(build_info))
        .route(
            "/api/metrics/query_range",
            any(|| not_served("TraceQL metrics (/api/metrics/query_range)")),
        )
        .route(
            "/api/metrics/query",
            any(|| not_served("TraceQL metrics (/api/metrics/query)")),
        )
        .route(
            "/api/metrics/summary",
            any(|| not_served("the metrics summary (/api/metrics/summary)")),
        )
        .route(
            "/api/overrides",
            any(|| not_served("the overrides API (/api/overrides)")),
        )
        .route(
            "/tempopb.StreamingQuerier/{method}",
            any(streaming_not_served),
        )
        .with_state(store)
}

/// Tempo's build information. The version is ours (Tempo's own numbers
/// would claim features we lack); the fields only Tempo's Go build fills
/// are empty rather than made up.
async fn build_info() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "revision": "",
        "branch": "",
        "buildDate": "",
        "buildUser": "",
        "goVersion": "",
    }))
}

async fn not_served(what: &'static str) -> Response {
    ApiError::NotImplemented(what.to_string()).into_response()
}

/// Grafana streams searches over gRPC on the query port when told Tempo
/// can (`stream_over_http_enabled`). A gRPC client reads the status from
/// the trailers, not the HTTP code, so the refusal is a trailers-only gRPC
/// answer: UNIMPLEMENTED (12) with the reason.
async fn streaming_not_served(Path(method): Path<String>) -> Response {
    let message = format!(
        "streaming {method} is not supported by the embedded store; turn streaming off in the data source or use Tempo"
    );
    let message = HeaderValue::from_str(&message).unwrap_or_else(|_| {
        HeaderValue::from_static("streaming is not supported by the embedded store")
    });
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", HeaderValue::from_static("12"));
    headers.insert("grpc-message", message);
    response
}

/// The store's counters and the receivers' in one flat object, so a client
/// reads `attributes_truncated` beside `spans_evicted`.
async fn stats(store: TraceStore, ingest: IngestStats) -> Response {
    let merged = serde_json::to_value(store.stats()).and_then(|mut stats| {
        let ingest = serde_json::to_value(ingest.snapshot())?;
        if let (Some(stats), Some(ingest)) = (stats.as_object_mut(), ingest.as_object()) {
            stats.extend(ingest.clone());
        }
        Ok(stats)
    });
    match merged {
        Ok(stats) => Json(stats).into_response(),
        Err(error) => {
            ApiError::Internal(format!("could not render stats: {error}")).into_response()
        }
    }
}

async fn trace_v1(
    State(store): State<TraceStore>,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = lookup(&store, &raw_id).and_then(|batches| {
        if wants_protobuf(&headers) {
            // tempopb.Trace is `repeated ResourceSpans batches = 1`: the same
            // bytes as OTLP's TracesData.
            Ok(protobuf(
                TracesData {
                    resource_spans: batches,
                }
                .encode_to_vec(),
            ))
        } else {
            tempo_v1_trace(&batches)
                .map(|json| Json(json).into_response())
                .map_err(internal)
        }
    });
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn trace_v2(
    State(store): State<TraceStore>,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = lookup(&store, &raw_id).and_then(|batches| {
        if wants_protobuf(&headers) {
            let response = TempoTraceByIdResponse {
                trace: Some(TracesData {
                    resource_spans: batches,
                }),
            };
            Ok(protobuf(response.encode_to_vec()))
        } else {
            tempo_v2_trace(&batches)
                .map(|json| Json(json).into_response())
                .map_err(internal)
        }
    });
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `tempopb.TraceByIDResponse`, reduced to the field we fill
/// (`Trace trace = 1`; metrics, status and message stay at their defaults).
#[derive(Clone, PartialEq, Message)]
struct TempoTraceByIdResponse {
    #[prost(message, optional, tag = "1")]
    trace: Option<TracesData>,
}

fn lookup(store: &TraceStore, raw_id: &str) -> Result<Vec<ResourceSpans>, ApiError> {
    let id = normalize_trace_id(raw_id).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "malformed trace id {raw_id:?}: expected 1 to 32 hex characters"
        ))
    })?;
    store
        .trace_otlp(&id)
        .ok_or_else(|| ApiError::NotFound(format!("trace {id} not found")))
}

fn wants_protobuf(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains(PROTOBUF_ACCEPT))
}

fn protobuf(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, PROTOBUF_ACCEPT)], bytes).into_response()
}

fn internal(error: serde_json::Error) -> ApiError {
    ApiError::Internal(format!("could not render trace as JSON: {error}"))
}

/// Tempo's search parameters, all optional and all parsed by hand, so a bad
/// value gets a 400 naming the parameter rather than a generic rejection.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchParams {
    tags: Option<String>,
    limit: Option<String>,
    start: Option<String>,
    end: Option<String>,
    min_duration: Option<String>,
    max_duration: Option<String>,
    q: Option<String>,
    /// Spans per spanset (TraceQL only).
    #[serde(rename = "spss")]
    spans_per_spanset: Option<String>,
}

/// One search request: TraceQL when `q` is given, tag-based otherwise.
#[derive(Debug, PartialEq, Eq)]
enum Search {
    Tags(SearchQuery),
    Traceql(TraceqlSearch),
}

async fn search(
    State(store): State<TraceStore>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Response {
    let result = params
        .map_err(|e| ApiError::BadRequest(format!("invalid query string: {e}")))
        .and_then(|Query(params)| parse_search(params))
        .and_then(|search| match search {
            Search::Traceql(search) => traceql_search(&store, &search),
            Search::Tags(query) => {
                let hits = store.search(&query);
                let inspected = store.stats().traces_stored;
                Ok(serde_json::json!({
                    "traces": hits.iter().map(tempo_search_hit).collect::<Vec<_>>(),
                    "metrics": { "inspectedTraces": inspected, "completedJobs": 1, "totalJobs": 1 },
                }))
            }
        });
    match result {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

fn parse_search(params: SearchParams) -> Result<Search, ApiError> {
    let limit = limit_param(params.limit.as_deref())?;
    let query = SearchQuery {
        tags: tags_param(params.tags.as_deref())?,
        min_duration: duration_param("minDuration", params.min_duration.as_deref())?,
        max_duration: duration_param("maxDuration", params.max_duration.as_deref())?,
        start_unix_secs: count_param("start", params.start.as_deref())?,
        end_unix_secs: count_param("end", params.end.as_deref())?,
        // 0 (or absent) means Tempo's default of 20; see SearchQuery::limit.
        limit,
    };
    let spss = count_param("spss", params.spans_per_spanset.as_deref())?;
    let Some(text) = params.q.filter(|q| !q.trim().is_empty()) else {
        return Ok(Search::Tags(query));
    };
    if !query.tags.is_empty() {
        // Answering one and ignoring the other would be a wrong result.
        return Err(ApiError::BadRequest(
            "give either q (TraceQL) or tags (logfmt), not both".into(),
        ));
    }
    Ok(Search::Traceql(TraceqlSearch {
        query: text,
        window: query.window(),
        limit,
        spans_per_spanset: spss.map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX)),
    }))
}

/// One entry of Tempo's search response. `startTimeUnixNano` is a string
/// (protobuf JSON renders uint64 that way), `durationMs` a number.
fn tempo_search_hit(hit: &TraceSummary) -> serde_json::Value {
    serde_json::json!({
        "traceID": hit.trace_id,
        "rootServiceName": hit.root_service_name,
        "rootTraceName": hit.root_span_name,
        "startTimeUnixNano": hit.start_unix_nanos.to_string(),
        "durationMs": hit.duration_nanos / 1_000_000,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_params_become_a_query() {
        let search = parse_search(SearchParams {
            tags: Some("service.name=order".into()),
            limit: Some("5".into()),
            min_duration: Some("100ms".into()),
            start: Some("".into()),
            ..Default::default()
        })
        .unwrap();
        let Search::Tags(query) = search else {
            panic!("tags make a tag search: {search:?}");
        };
        assert_eq!(
            query.tags,
            vec![("service.name".to_string(), "order".to_string())]
        );
        assert_eq!(query.limit, 5);
        assert_eq!(
            query.min_duration,
            Some(std::time::Duration::from_millis(100))
        );
        assert_eq!(query.start_unix_secs, None);
    }

    #[test]
    fn q_makes_a_traceql_search_with_spss() {
        let search = parse_search(SearchParams {
            q: Some("{ status = error }".into()),
            spans_per_spanset: Some("7".into()),
            end: Some("100".into()),
            ..Default::default()
        })
        .unwrap();
        let Search::Traceql(search) = search else {
            panic!("q makes a TraceQL search: {search:?}");
        };
        assert_eq!(search.query, "{ status = error }");
        assert_eq!(search.spans_per_spanset, 7);
        assert_eq!(search.window.end_unix_secs, Some(100));
    }

    #[test]
    fn bad_search_params_name_the_parameter() {
        let error = parse_search(SearchParams {
            limit: Some("many".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(error.to_string().contains("limit"), "{error}");
        let error = parse_search(SearchParams {
            q: Some("{ }".into()),
            spans_per_spanset: Some("-1".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(error.to_string().contains("spss"), "{error}");
        let error = parse_search(SearchParams {
            q: Some("{ }".into()),
            tags: Some("a=b".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(error.to_string().contains("not both"), "{error}");
    }
}
