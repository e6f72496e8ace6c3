//! Trace search with the semantics of Tempo's tag-based search, so the
//! `/api/search` endpoint and harness code agree on what "matches" means,
//! and the one walk over the store ([`TraceStore::scan_newest_first`]) that
//! the TraceQL search and the tag listings share.

use std::ops::ControlFlow;
use std::time::Duration;

use serde::Serialize;

use super::{StoredSpan, StoredTrace, TraceStore};
use crate::model::{SERVICE_NAME_KEY, SpanRecord, StatusCode};
use crate::traceql::{Query, SpanSet};

/// Tempo's default result count for `/api/search`.
pub const DEFAULT_SEARCH_LIMIT: usize = 20;

/// What Tempo reports as the root service/name when the root span is missing.
pub const ROOT_SPAN_NOT_YET_RECEIVED: &str = "<root span not yet received>";

/// A search over stored traces. All conditions must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// `key=value` conditions that must all hold on one span. A key is looked
    /// up in the span's attributes, then its resource's attributes; `name`
    /// and `status` (`ok`/`error`/`unset`) are the span's own fields. As in
    /// Tempo, values match as case-insensitive substrings.
    pub tags: Vec<(String, String)>,
    /// Trace duration (earliest start to latest end) at least this.
    pub min_duration: Option<Duration>,
    /// Trace duration at most this.
    pub max_duration: Option<Duration>,
    /// Only traces that overlap `[start, end]`, unix seconds.
    pub start_unix_secs: Option<u64>,
    pub end_unix_secs: Option<u64>,
    /// At most this many results, newest first; 0 means the default (20).
    pub limit: usize,
}

impl Default for SearchQuery {
    fn default() -> Self {
        SearchQuery {
            tags: Vec::new(),
            min_duration: None,
            max_duration: None,
            start_unix_secs: None,
            end_unix_secs: None,
            limit: DEFAULT_SEARCH_LIMIT,
        }
    }
}

/// One search hit: the fields of a Tempo search result, in our units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceSummary {
    pub trace_id: String,
    pub root_service_name: String,
    pub root_span_name: String,
    pub start_unix_nanos: u64,
    pub duration_nanos: u64,
    pub span_count: usize,
}

/// The trace-level conditions every search shares: Tempo's `start`/`end`
/// window and trace duration bounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TraceWindow {
    pub min_duration: Option<Duration>,
    pub max_duration: Option<Duration>,
    /// Only traces that overlap `[start, end]`, unix seconds.
    pub start_unix_secs: Option<u64>,
    pub end_unix_secs: Option<u64>,
}

impl SearchQuery {
    pub fn window(&self) -> TraceWindow {
        TraceWindow {
            min_duration: self.min_duration,
            max_duration: self.max_duration,
            start_unix_secs: self.start_unix_secs,
            end_unix_secs: self.end_unix_secs,
        }
    }
}

impl TraceWindow {
    fn admits(&self, summary: &TraceSummary) -> bool {
        within_duration(summary, self) && within_window(summary, self)
    }
}

/// What one scan looked at: the `metrics` of Tempo's answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanMetrics {
    pub inspected_traces: usize,
    pub inspected_spans: usize,
    /// The stored (protobuf) size of the inspected spans.
    pub inspected_bytes: u64,
}

impl TraceStore {
    /// Traces matching `query`, most recent start first.
    pub fn search(&self, query: &SearchQuery) -> Vec<TraceSummary> {
        let limit = effective_limit(query.limit);
        let wanted: Vec<(&str, String)> = query
            .tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_lowercase()))
            .collect();
        let mut hits = Vec::new();
        self.scan_newest_first(&query.window(), |summary, spans| {
            if wanted.is_empty() || spans.iter().any(|s| span_matches(s, &wanted)) {
                hits.push(summary.clone());
            }
            if hits.len() >= limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        hits
    }

    /// Hands `visit` each trace inside `window` with its spans, most recent
    /// start first (trace id breaks ties, so results are stable), until it
    /// breaks. Every search walks the store this one way.
    ///
    /// The lock is held to summarize the traces, then once per trace to
    /// decode its spans, never while `visit` runs: a slow query (TraceQL over
    /// every trace) does not hold up the receivers.
    pub fn scan_newest_first(
        &self,
        window: &TraceWindow,
        mut visit: impl FnMut(&TraceSummary, &[SpanRecord]) -> ControlFlow<()>,
    ) -> ScanMetrics {
        let mut candidates: Vec<TraceSummary> = {
            let state = self.lock();
            state
                .traces
                .iter()
                .map(|(id, trace)| summarize(id, trace))
                .filter(|summary| window.admits(summary))
                .collect()
        };
        candidates.sort_by(|a, b| {
            b.start_unix_nanos
                .cmp(&a.start_unix_nanos)
                .then(a.trace_id.cmp(&b.trace_id))
        });
        let mut metrics = ScanMetrics::default();
        for summary in &candidates {
            // Evicted since the summaries were taken: nothing to inspect.
            let Some((spans, bytes)) = self.decoded(&summary.trace_id) else {
                continue;
            };
            metrics.inspected_traces += 1;
            metrics.inspected_spans += spans.len();
            metrics.inspected_bytes += bytes;
            if visit(summary, &spans).is_break() {
                break;
            }
        }
        metrics
    }

    /// One trace's spans and their stored size, under one short lock.
    fn decoded(&self, trace_id: &str) -> Option<(Vec<SpanRecord>, u64)> {
        let state = self.lock();
        let trace = state.traces.get(trace_id)?;
        let bytes = trace.spans.iter().map(|s| s.encoded.len() as u64).sum();
        Some((trace.spans.iter().map(StoredSpan::record).collect(), bytes))
    }
}

/// 0 means Tempo's default (20).
/// One trace a TraceQL query matched.
#[derive(Debug, Clone)]
pub struct TraceqlHit {
    pub summary: TraceSummary,
    pub spans: Vec<SpanRecord>,
    /// What the query returned for it (never empty).
    pub sets: Vec<SpanSet>,
}

impl TraceStore {
    /// The newest traces in `window` that `query` matches, at most `limit`
    /// (0: the default), with what the scan inspected. The API's TraceQL
    /// search and the collector's page both search this one way.
    pub fn traceql(
        &self,
        query: &Query,
        window: &TraceWindow,
        limit: usize,
    ) -> (Vec<TraceqlHit>, ScanMetrics) {
        let limit = effective_limit(limit);
        let mut hits = Vec::new();
        let metrics = self.scan_newest_first(window, |summary, spans| {
            let sets = query.evaluate(spans);
            if !sets.is_empty() {
                hits.push(TraceqlHit {
                    summary: summary.clone(),
                    spans: spans.to_vec(),
                    sets,
                });
            }
            if hits.len() >= limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        (hits, metrics)
    }
}

pub fn effective_limit(limit: usize) -> usize {
    if limit == 0 {
        DEFAULT_SEARCH_LIMIT
    } else {
        limit
    }
}

fn span_matches(span: &SpanRecord, wanted: &[(&str, String)]) -> bool {
    wanted.iter().all(|(key, value)| {
        tag_value(span, key).is_some_and(|found| found.to_lowercase().contains(value))
    })
}

/// The value a tag-based search (and `/api/search/tag/{tag}/values`) sees
/// for `key` on one span: `name` and `status` (`ok`/`error`/`unset`) are the
/// span's own fields; any other key is looked up in the span's attributes,
/// then its resource's.
pub fn tag_value(span: &SpanRecord, key: &str) -> Option<String> {
    match key {
        "name" => Some(span.name.clone()),
        "status" => Some(status_name(span.status.code).to_string()),
        // The record already resolved the fallback for a missing service.name.
        SERVICE_NAME_KEY => Some(span.service_name.clone()),
        _ => span
            .attributes
            .get(key)
            .or_else(|| span.resource_attributes.get(key))
            .map(ToString::to_string),
    }
}

/// TraceQL's and Tempo's name for a status code.
pub fn status_name(code: StatusCode) -> &'static str {
    match code {
        StatusCode::Unset => "unset",
        StatusCode::Ok => "ok",
        StatusCode::Error => "error",
    }
}

fn summarize(trace_id: &str, trace: &StoredTrace) -> TraceSummary {
    let spans = trace.spans.iter();
    let start = spans.clone().map(|s| s.start_unix_nanos).min().unwrap_or(0);
    let end = spans.clone().map(|s| s.end_unix_nanos).max().unwrap_or(0);
    // Several parentless spans can exist (a broken propagation hop makes a
    // second root); the earliest one is the trace's entry point. Only it is
    // decoded.
    let root = spans
        .filter(|s| s.is_root)
        .min_by_key(|s| s.start_unix_nanos)
        .map(StoredSpan::record);
    TraceSummary {
        trace_id: trace_id.to_string(),
        root_service_name: root
            .as_ref()
            .map_or(ROOT_SPAN_NOT_YET_RECEIVED.to_string(), |r| {
                r.service_name.clone()
            }),
        root_span_name: root.map_or(ROOT_SPAN_NOT_YET_RECEIVED.to_string(), |r| r.name),
        start_unix_nanos: start,
        duration_nanos: end.saturating_sub(start),
        span_count: trace.spans.len(),
    }
}

fn within_duration(summary: &TraceSummary, query: &TraceWindow) -> bool {
    let duration = Duration::from_nanos(summary.duration_nanos);
    query.min_duration.is_none_or(|min| duration >= min)
        && query.max_duration.is_none_or(|max| duration <= max)
}

fn within_window(summary: &TraceSummary, query: &TraceWindow) -> bool {
    const NANOS_PER_SEC: u64 = 1_000_000_000;
    let trace_end = summary
        .start_unix_nanos
        .saturating_add(summary.duration_nanos);
    let after_start = query
        .start_unix_secs
        .is_none_or(|start| trace_end >= start.saturating_mul(NANOS_PER_SEC));
    // `end` is a whole second; count a trace starting anywhere in it.
    let before_end = query.end_unix_secs.is_none_or(|end| {
        summary.start_unix_nanos < end.saturating_add(1).saturating_mul(NANOS_PER_SEC)
    });
    after_start && before_end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{batch, trace_hex};

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn matches_service_name_and_span_name_case_insensitively() {
        let store = TraceStore::new(100);
        store.insert(vec![
            batch("order-service", &[(1, 1)]),
            batch("user", &[(2, 1)]),
        ]);
        let query = SearchQuery {
            tags: tags(&[("service.name", "ORDER")]),
            ..Default::default()
        };
        let hits = store.search(&query);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].trace_id, trace_hex(1));
        assert_eq!(hits[0].root_service_name, "order-service");
        assert_eq!(hits[0].root_span_name, "span-1");

        let query = SearchQuery {
            tags: tags(&[("name", "span-1"), ("service.name", "user")]),
            ..Default::default()
        };
        assert_eq!(store.search(&query)[0].trace_id, trace_hex(2));

        let query = SearchQuery {
            tags: tags(&[("no.such.key", "x")]),
            ..Default::default()
        };
        assert!(store.search(&query).is_empty());
    }

    #[test]
    fn filters_on_duration_window_and_limit() {
        let store = TraceStore::new(100);
        store.insert(vec![batch("a", &[(1, 1), (2, 1), (3, 1)])]);
        // Every test span lasts 1000ns and starts at 1000ns after the epoch.
        let longer = SearchQuery {
            min_duration: Some(Duration::from_micros(2)),
            ..Default::default()
        };
        assert!(store.search(&longer).is_empty());
        let shorter = SearchQuery {
            max_duration: Some(Duration::from_micros(1)),
            ..Default::default()
        };
        assert_eq!(store.search(&shorter).len(), 3);
        let later = SearchQuery {
            start_unix_secs: Some(10),
            ..Default::default()
        };
        assert!(store.search(&later).is_empty());
        let epoch = SearchQuery {
            start_unix_secs: Some(0),
            end_unix_secs: Some(0),
            limit: 2,
            ..Default::default()
        };
        assert_eq!(store.search(&epoch).len(), 2);
    }

    #[test]
    fn reports_missing_root_like_tempo() {
        let store = TraceStore::new(100);
        let mut rs = batch("a", &[(1, 2)]);
        rs.scope_spans[0].spans[0].parent_span_id = vec![7; 8];
        store.insert(vec![rs]);
        let hits = store.search(&SearchQuery::default());
        assert_eq!(hits[0].root_service_name, ROOT_SPAN_NOT_YET_RECEIVED);
    }
}
