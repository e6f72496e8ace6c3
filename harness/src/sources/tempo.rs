//! Grafana Tempo's HTTP query API as a [`TraceSource`]; the embedded
//! collector serves the same API (`collector/query.rs`), which is what the
//! tests run this client against.
//!
//! From Tempo's API docs (grafana/tempo `docs/sources/tempo/api_docs`):
//!
//! - `GET /api/traces/{id}`: `{"batches": [ResourceSpans..]}` (v1). Newer
//!   Tempo and `GET /api/v2/traces/{id}` answer
//!   `{"trace": {"resourceSpans": [..]}}`; plain `{"resourceSpans": [..]}`
//!   is accepted too. Ids are base64 and enums are names (`otlp_json.rs`
//!   reads both that and plain OTLP/JSON). Unknown trace: 404.
//! - `GET /api/search?tags=k=v ..&limit=&start=&end=`: tags in logfmt,
//!   start/end in unix seconds; answers
//!   `{"traces": [{"traceID", "rootServiceName", "rootTraceName",
//!   "startTimeUnixNano", "durationMs"}]}`. Tempo leaves out empty and zero
//!   fields (protobuf JSON), and shortens trace ids by dropping leading zeros.

use async_trait::async_trait;
use reqwest::{Client, Url};
use serde_json::Value;

use super::http::{client_with_timeout, endpoint, get, malformed, parse_json};
use super::otlp_json::{kind_of, records_from_resource_spans};
use super::{DEFAULT_HTTP_TIMEOUT, SourceError, TraceHit, TraceQuery, TraceSource, trace_key};
use crate::model::{SERVICE_NAME_KEY, SpanRecord, normalize_trace_id};

/// Tempo's tag for the span name in search.
const SPAN_NAME_TAG: &str = "name";

#[derive(Debug, Clone)]
pub struct TempoSource {
    /// Where Tempo's HTTP API listens, e.g. `http://localhost:3200`.
    pub base_url: String,
    client: Client,
}

impl TempoSource {
    pub fn new(base_url: impl Into<String>) -> TempoSource {
        TempoSource::with_client(base_url, client_with_timeout(DEFAULT_HTTP_TIMEOUT))
    }

    /// With a client of your own (timeouts, proxies, default headers such as
    /// a tenant's `X-Scope-OrgID`).
    pub fn with_client(base_url: impl Into<String>, client: Client) -> TempoSource {
        TempoSource {
            base_url: base_url.into(),
            client,
        }
    }

    /// `GET /api/search` with the query as Tempo parameters.
    fn search_url(&self, query: &TraceQuery) -> Result<Url, SourceError> {
        let mut url = endpoint(&self.base_url, "/api/search")?;
        let mut tags = Vec::new();
        if let Some(service) = &query.service_name {
            tags.push(logfmt_pair(SERVICE_NAME_KEY, service));
        }
        if let Some(name) = &query.span_name {
            tags.push(logfmt_pair(SPAN_NAME_TAG, name));
        }
        tags.extend(query.attributes.iter().map(|(k, v)| logfmt_pair(k, v)));
        {
            let mut params = url.query_pairs_mut();
            if !tags.is_empty() {
                params.append_pair("tags", &tags.join(" "));
            }
            if let Some(q) = &query.traceql {
                params.append_pair("q", q);
            }
            if query.limit > 0 {
                params.append_pair("limit", &query.limit.to_string());
            }
            if let Some(start) = query.start_unix_secs {
                params.append_pair("start", &start.to_string());
            }
            if let Some(end) = query.end_unix_secs {
                params.append_pair("end", &end.to_string());
            }
        }
        Ok(url)
    }
}

#[async_trait]
impl TraceSource for TempoSource {
    fn describe(&self) -> String {
        format!("tempo at {}", self.base_url)
    }

    async fn trace(&self, trace_id: &str) -> Result<Option<Vec<SpanRecord>>, SourceError> {
        let key = trace_key(trace_id)?;
        let url = endpoint(&self.base_url, &format!("/api/traces/{key}"))?;
        let Some(body) = get(&self.client, &url).await? else {
            return Ok(None);
        };
        let json = parse_json(&url, &body)?;
        let records = trace_records(&json).map_err(|reason| malformed(&url, reason))?;
        // A trace with no spans is not a trace: say "not found" the same way
        // whether Tempo answered 404 or an empty list.
        Ok((!records.is_empty()).then_some(records))
    }

    /// Tag search, or with `traceql` Tempo's TraceQL search (same `traces`
    /// list; each hit's `spanSets` are not read here). A query Tempo refuses
    /// (400 `{"error": ".."}`) is [`SourceError::QueryRefused`].
    async fn find(&self, query: &TraceQuery) -> Result<Vec<TraceHit>, SourceError> {
        let url = self.search_url(query)?;
        match self.search_at(url).await {
            Err(e) if query.traceql.is_some() && query_error_message(&e).is_some() => {
                Err(SourceError::QueryRefused {
                    source_name: self.describe(),
                    message: query_error_message(&e).unwrap_or_default(),
                })
            }
            other => other,
        }
    }
}

impl TempoSource {
    async fn search_at(&self, url: Url) -> Result<Vec<TraceHit>, SourceError> {
        let Some(body) = get(&self.client, &url).await? else {
            // 404 on the search endpoint means no such API, not "no traces".
            return Err(SourceError::HttpStatus {
                url: url.to_string(),
                status: 404,
                body: "no search endpoint here (is this Tempo's HTTP port?)".into(),
            });
        };
        let json = parse_json(&url, &body)?;
        search_hits(&json).map_err(|reason| malformed(&url, reason))
    }
}

/// The message of a refused query: the `error` of a 400 `{"error": ".."}`
/// body (the store's and Tempo's), or `None` for any other failure.
fn query_error_message(error: &SourceError) -> Option<String> {
    match error {
        SourceError::HttpStatus {
            status: 400, body, ..
        } => {
            // Tempo itself answers a plain-text message.
            let json: Option<Value> = serde_json::from_str(body).ok();
            match json.as_ref().and_then(|j| j.get("error")?.as_str()) {
                Some(message) => Some(message.to_owned()),
                None => Some(body.clone()),
            }
        }
        _ => None,
    }
}

/// The spans of a trace-by-id body, in whichever shape this Tempo uses.
fn trace_records(body: &Value) -> Result<Vec<SpanRecord>, String> {
    let (path, resource_spans) = if let Some(batches) = body.get("batches") {
        ("batches", batches)
    } else if let Some(trace) = body.get("trace") {
        // v2 leaves out `resourceSpans` when the trace is empty.
        (
            "trace.resourceSpans",
            trace.get("resourceSpans").unwrap_or(&Value::Null),
        )
    } else if let Some(resource_spans) = body.get("resourceSpans") {
        ("resourceSpans", resource_spans)
    } else {
        return Err(format!(
            "expected an object with `batches`, `trace.resourceSpans` or `resourceSpans`, found {}",
            describe_shape(body)
        ));
    };
    records_from_resource_spans(resource_spans).map_err(|e| format!("{path}{e}"))
}

/// The hits of a search body. `traces` is absent when nothing matched.
fn search_hits(body: &Value) -> Result<Vec<TraceHit>, String> {
    let Some(object) = body.as_object() else {
        return Err(format!(
            "expected a search result object, found {}",
            kind_of(body)
        ));
    };
    let traces = match object.get("traces") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(traces)) => traces,
        Some(other) => {
            return Err(format!(
                "traces: expected an array, found {}",
                kind_of(other)
            ));
        }
    };
    traces
        .iter()
        .enumerate()
        .map(|(i, hit)| search_hit(hit).map_err(|e| format!("traces[{i}].{e}")))
        .collect()
}

fn search_hit(hit: &Value) -> Result<TraceHit, String> {
    let raw_id = hit
        .get("traceID")
        .and_then(Value::as_str)
        .ok_or("traceID: missing or not a string")?;
    let trace_id = normalize_trace_id(raw_id)
        .ok_or_else(|| format!("traceID: {raw_id:?} is not a hex trace id"))?;
    let text = |key: &str| {
        hit.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let start_unix_nanos = number_or_string(hit, "startTimeUnixNano")?;
    let duration_ms = number_or_string(hit, "durationMs")?;
    Ok(TraceHit {
        trace_id,
        root_service_name: text("rootServiceName"),
        root_span_name: text("rootTraceName"),
        start_unix_nanos,
        duration_nanos: duration_ms.saturating_mul(1_000_000),
    })
}

/// A non-negative integer field that protobuf JSON may write either way;
/// absent means zero (protobuf JSON leaves zeros out).
fn number_or_string(object: &Value, key: &str) -> Result<u64, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| format!("{key}: {n} is not a whole non-negative number")),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| format!("{key}: {s:?} is not a whole non-negative number")),
        Some(other) => Err(format!(
            "{key}: expected a number, found {}",
            kind_of(other)
        )),
    }
}

/// `key=value` for Tempo's logfmt `tags`, quoting values that would
/// otherwise be split or misread (spaces, quotes, `=`), as Tempo documents.
fn logfmt_pair(key: &str, value: &str) -> String {
    let needs_quotes = value.is_empty()
        || value
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '=' | '\\'));
    if needs_quotes {
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        format!("{key}=\"{escaped}\"")
    } else {
        format!("{key}={value}")
    }
}

/// "an object with keys a, b" or "an array": enough to recognise what came back.
fn describe_shape(body: &Value) -> String {
    match body.as_object() {
        Some(object) if object.is_empty() => "an empty object".to_string(),
        Some(object) => format!(
            "an object with keys {}",
            object
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => kind_of(body).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::parse_logfmt_tags;

    #[test]
    fn logfmt_pairs_round_trip_through_the_collectors_parser() {
        let values = [
            "order",
            "POST /api/checkout",
            "say \"hi\"",
            "a=b",
            "back\\slash",
            "",
        ];
        let joined: Vec<String> = values.iter().map(|v| logfmt_pair("k", v)).collect();
        let parsed = parse_logfmt_tags(&joined.join(" ")).unwrap();
        let parsed_values: Vec<&str> = parsed.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(parsed_values, values);
    }

    #[test]
    fn search_ids_shortened_by_tempo_are_padded_back() {
        let body = serde_json::json!({"traces": [{"traceID": "2f3e0cee77ae5dc9c17ade3689eb2e"}]});
        let hits = search_hits(&body).unwrap();
        assert_eq!(hits[0].trace_id, "002f3e0cee77ae5dc9c17ade3689eb2e");
        assert_eq!(hits[0].duration_nanos, 0);
    }
}
