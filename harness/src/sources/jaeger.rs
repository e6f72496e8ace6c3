//! Jaeger v2's `api_v3` HTTP API as a [`TraceSource`].
//!
//! From `jaeger.api_v3.QueryService` (jaegertracing/jaeger-idl
//! `proto/api_v3/query_service.proto`) and its HTTP gateway:
//!
//! - `GET /api/v3/traces/{trace_id}`: OTLP `TracesData` wrapped in a result
//!   envelope, `{"result": {"resourceSpans": [..]}}`, in plain OTLP/JSON
//!   (hex ids, integer enums, 64-bit integers as strings). Unknown trace: 404
//!   with `{"error": {"httpCode": 404, "message": ..}}`.
//! - `GET /api/v3/traces?query.service_name=..&query.operation_name=..
//!   &query.start_time_min=..&query.start_time_max=..&query.num_traces=..`:
//!   the spans of every matching trace in one envelope, 404 when none
//!   matched. Both times are required, in RFC 3339 with nanoseconds.
//!   `query.num_traces` is the older name of `query.search_depth`; newer
//!   Jaeger still accepts it, older Jaeger knows only it. Attributes go in
//!   `query.attributes` as a JSON object (newer Jaeger only).
//!
//! The gateway answers a stream with one envelope per message; today it
//! sends one, but the proto warns it may send several, so we read a sequence
//! of JSON values and merge them.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use reqwest::{Client, Url};
use serde_json::Value;
use tracemesh_runtime::time_format::rfc3339_utc;

use super::http::{client_with_timeout, endpoint, get, malformed};
use super::otlp_json::{kind_of, records_from_resource_spans};
use super::{DEFAULT_HTTP_TIMEOUT, SourceError, TraceHit, TraceQuery, TraceSource, trace_key};
use crate::model::SpanRecord;
use crate::store::ROOT_SPAN_NOT_YET_RECEIVED;

/// Jaeger requires a time window; without one we search the last hour, the
/// Jaeger UI's default lookback.
const DEFAULT_LOOKBACK: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct JaegerSource {
    /// Where Jaeger's query HTTP API listens, e.g. `http://localhost:16686`.
    pub base_url: String,
    client: Client,
}

impl JaegerSource {
    pub fn new(base_url: impl Into<String>) -> JaegerSource {
        JaegerSource::with_client(base_url, client_with_timeout(DEFAULT_HTTP_TIMEOUT))
    }

    pub fn with_client(base_url: impl Into<String>, client: Client) -> JaegerSource {
        JaegerSource {
            base_url: base_url.into(),
            client,
        }
    }

    /// `GET /api/v3/traces` with the query as `query.*` parameters.
    fn search_url(&self, query: &TraceQuery) -> Result<Url, SourceError> {
        let mut url = endpoint(&self.base_url, "/api/v3/traces")?;
        let (start, end) = time_window(query, SystemTime::now());
        {
            let mut params = url.query_pairs_mut();
            if let Some(service) = &query.service_name {
                params.append_pair("query.service_name", service);
            }
            if let Some(name) = &query.span_name {
                params.append_pair("query.operation_name", name);
            }
            if !query.attributes.is_empty() {
                let attributes: BTreeMap<&str, &str> = query
                    .attributes
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let json = serde_json::to_string(&attributes).unwrap_or_default();
                params.append_pair("query.attributes", &json);
            }
            params.append_pair("query.start_time_min", &rfc3339(start));
            params.append_pair("query.start_time_max", &rfc3339(end));
            if query.limit > 0 {
                params.append_pair("query.num_traces", &query.limit.to_string());
            }
        }
        Ok(url)
    }

    /// GETs an api_v3 trace endpoint: `None` on 404, else all spans returned.
    async fn fetch_spans(&self, url: &Url) -> Result<Option<Vec<SpanRecord>>, SourceError> {
        let Some(body) = get(&self.client, url).await? else {
            return Ok(None);
        };
        spans_from_envelopes(&body)
            .map(Some)
            .map_err(|reason| malformed(url, reason))
    }
}

#[async_trait]
impl TraceSource for JaegerSource {
    fn describe(&self) -> String {
        format!("jaeger at {}", self.base_url)
    }

    async fn trace(&self, trace_id: &str) -> Result<Option<Vec<SpanRecord>>, SourceError> {
        let key = trace_key(trace_id)?;
        let url = endpoint(&self.base_url, &format!("/api/v3/traces/{key}"))?;
        let spans = self.fetch_spans(&url).await?;
        Ok(spans.filter(|spans| !spans.is_empty()))
    }

    async fn find(&self, query: &TraceQuery) -> Result<Vec<TraceHit>, SourceError> {
        if query.traceql.is_some() {
            return Err(SourceError::Unsupported {
                source_name: self.describe(),
                what: "evaluate TraceQL (its API has none; read the traces from Tempo)".into(),
            });
        }
        let url = self.search_url(query)?;
        // 404 is how the gateway says "no traces matched".
        let spans = self.fetch_spans(&url).await?.unwrap_or_default();
        let mut hits = summarize_traces(&spans);
        // `num_traces` is a search depth, not a strict limit.
        if query.limit > 0 {
            hits.truncate(query.limit);
        }
        Ok(hits)
    }
}

/// All spans from a body of one or more `{"result": TracesData}` envelopes.
fn spans_from_envelopes(body: &[u8]) -> Result<Vec<SpanRecord>, String> {
    let mut spans = Vec::new();
    let mut envelopes = 0;
    for (i, envelope) in serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .enumerate()
    {
        let envelope = envelope.map_err(|e| format!("not JSON: {e}"))?;
        let result = envelope.get("result").ok_or_else(|| {
            format!(
                "envelope {i}: expected {{\"result\": {{\"resourceSpans\": ..}}}}, found {}",
                match envelope.as_object() {
                    Some(o) => format!(
                        "an object with keys {}",
                        o.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                    None => kind_of(&envelope).to_string(),
                }
            )
        })?;
        let resource_spans = result.get("resourceSpans").unwrap_or(&Value::Null);
        let records = records_from_resource_spans(resource_spans)
            .map_err(|e| format!("envelope {i}: result.resourceSpans{e}"))?;
        spans.extend(records);
        envelopes += 1;
    }
    if envelopes == 0 {
        return Err("empty body: expected {\"result\": {\"resourceSpans\": ..}}".into());
    }
    Ok(spans)
}

/// Groups spans by trace and summarizes each trace as a search hit, newest
/// first (ties broken by trace id, so the order is stable).
fn summarize_traces(spans: &[SpanRecord]) -> Vec<TraceHit> {
    let mut by_trace: BTreeMap<&str, Vec<&SpanRecord>> = BTreeMap::new();
    for span in spans {
        by_trace.entry(&span.trace_id).or_default().push(span);
    }
    let mut hits: Vec<TraceHit> = by_trace
        .into_iter()
        .map(|(trace_id, spans)| {
            let start = spans.iter().map(|s| s.start_unix_nanos).min().unwrap_or(0);
            let end = spans.iter().map(|s| s.end_unix_nanos).max().unwrap_or(0);
            let root = spans.iter().find(|s| s.is_root());
            let root_field = |field: fn(&SpanRecord) -> &str| {
                root.map_or(ROOT_SPAN_NOT_YET_RECEIVED.to_string(), |r| {
                    field(r).to_string()
                })
            };
            TraceHit {
                trace_id: trace_id.to_string(),
                root_service_name: root_field(|r| &r.service_name),
                root_span_name: root_field(|r| &r.name),
                start_unix_nanos: start,
                duration_nanos: end.saturating_sub(start),
            }
        })
        .collect();
    hits.sort_by(|a, b| {
        b.start_unix_nanos
            .cmp(&a.start_unix_nanos)
            .then(a.trace_id.cmp(&b.trace_id))
    });
    hits
}

/// The query's window as unix seconds, filling in what Jaeger requires:
/// no end means now, no start means one lookback before the end.
fn time_window(query: &TraceQuery, now: SystemTime) -> (u64, u64) {
    let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // Jaeger's maximum is exclusive: one second past "now" keeps a trace
    // that started this very second.
    let end = query.end_unix_secs.unwrap_or(now_secs + 1);
    let start = query
        .start_unix_secs
        .unwrap_or_else(|| end.saturating_sub(DEFAULT_LOOKBACK.as_secs()));
    (start, end)
}

/// RFC 3339 in UTC, which Go's `time.RFC3339Nano` parser accepts.
fn rfc3339(unix_secs: u64) -> String {
    // Beyond year 9999 RFC 3339 has no form; the far future is what was meant.
    const LAST_RFC3339_SECOND: u64 = 253_402_300_799;
    rfc3339_utc(UNIX_EPOCH + Duration::from_secs(unix_secs.min(LAST_RFC3339_SECOND)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_utc_with_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(u64::MAX), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn a_missing_window_defaults_to_the_last_hour() {
        let now = UNIX_EPOCH + Duration::from_secs(10_000);
        assert_eq!(
            time_window(&TraceQuery::default(), now),
            (10_001 - 3600, 10_001)
        );
        let query = TraceQuery::default().between(5, 6);
        assert_eq!(time_window(&query, now), (5, 6));
    }

    #[test]
    fn an_empty_body_or_a_missing_envelope_is_malformed() {
        assert!(
            spans_from_envelopes(b"")
                .unwrap_err()
                .contains("empty body")
        );
        let error = spans_from_envelopes(br#"{"resourceSpans": []}"#).unwrap_err();
        assert!(error.contains("keys resourceSpans"), "{error}");
    }
}
