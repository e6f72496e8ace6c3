//! A read-only subset of Tempo's HTTP query API over the store, so `curl`,
//! scripts written for Tempo, or Grafana's Tempo data source can read what
//! the harness received.
//!
//! Shapes follow the Tempo HTTP API docs (grafana/tempo
//! `docs/sources/tempo/api_docs/_index.md`, Tempo 2.x):
//!
//! | Endpoint                        | Answer                                              |
//! |---------------------------------|-----------------------------------------------------|
//! | `GET /ready`                    | 200 `ready`                                         |
//! | `GET /api/echo`                 | 200 `echo`                                          |
//! | `GET /api/traces/{id}`          | `{"batches":[ResourceSpans]}` (v1)                  |
//! | `GET /api/v2/traces/{id}`       | `{"trace":{"resourceSpans":[...]}}`                 |
//! | `GET /api/search?tags=..`       | `{"traces":[{traceID, rootServiceName, ..}],"metrics":{..}}` |
//! | `GET /api/stats` (ours)         | [`StoreStats`](crate::store::StoreStats) plus [`IngestCounters`](super::IngestCounters) |
//!
//! Trace JSON uses Tempo's encoding (base64 ids, enum names): see
//! `tempo_json.rs`. With `Accept: application/protobuf` the trace endpoints
//! answer protobuf as Tempo does (v1: `tempopb.Trace`, v2:
//! `tempopb.TraceByIDResponse`), which is what Grafana's Tempo backend asks for.
//! Unknown ids answer 404, malformed ids 400, both with `{"error": ".."}`.
//! Not implemented: TraceQL (`q=`, answered 400 rather than ignored), tag
//! name/value listing, metrics.

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, TracesData};
use prost::Message;
use serde::Deserialize;

use super::error::ApiError;
use super::limits::IngestStats;
use super::query_params::{parse_go_duration, parse_logfmt_tags};
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
        .with_state(store)
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
}

async fn search(
    State(store): State<TraceStore>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Response {
    let result = params
        .map_err(|e| ApiError::BadRequest(format!("invalid query string: {e}")))
        .and_then(|Query(params)| search_query(params));
    match result {
        Ok(query) => {
            let hits = store.search(&query);
            let inspected = store.stats().traces_stored;
            Json(serde_json::json!({
                "traces": hits.iter().map(tempo_search_hit).collect::<Vec<_>>(),
                "metrics": { "inspectedTraces": inspected, "completedJobs": 1, "totalJobs": 1 },
            }))
            .into_response()
        }
        Err(error) => error.into_response(),
    }
}

fn search_query(params: SearchParams) -> Result<SearchQuery, ApiError> {
    if params.q.as_deref().is_some_and(|q| !q.trim().is_empty()) {
        return Err(ApiError::BadRequest(
            "TraceQL (q=) is not supported by the harness; use tags=key=value".into(),
        ));
    }
    let bad =
        |name: &str, error: String| ApiError::BadRequest(format!("parameter {name}: {error}"));
    let number = |name: &str, value: Option<String>| -> Result<Option<u64>, ApiError> {
        value
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|e| bad(name, format!("{v:?}: {e}")))
            })
            .transpose()
    };
    let duration = |name: &str, value: Option<String>| {
        value
            .filter(|v| !v.is_empty())
            .map(|v| parse_go_duration(&v).map_err(|e| bad(name, e)))
            .transpose()
    };
    let tags = match params.tags {
        Some(tags) => parse_logfmt_tags(&tags).map_err(|e| bad("tags", e))?,
        None => Vec::new(),
    };
    let limit = number("limit", params.limit)?.unwrap_or(0);
    Ok(SearchQuery {
        tags,
        min_duration: duration("minDuration", params.min_duration)?,
        max_duration: duration("maxDuration", params.max_duration)?,
        start_unix_secs: number("start", params.start)?,
        end_unix_secs: number("end", params.end)?,
        // 0 (or absent) means Tempo's default of 20; see SearchQuery::limit.
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
    })
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
        let query = search_query(SearchParams {
            tags: Some("service.name=order".into()),
            limit: Some("5".into()),
            min_duration: Some("100ms".into()),
            start: Some("".into()),
            ..Default::default()
        })
        .unwrap();
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
    fn bad_search_params_name_the_parameter() {
        let error = search_query(SearchParams {
            limit: Some("many".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(error.to_string().contains("limit"), "{error}");
        let error = search_query(SearchParams {
            q: Some("{ }".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(error.to_string().contains("TraceQL"), "{error}");
    }
}
