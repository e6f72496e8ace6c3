//! Trace search with the semantics of Tempo's tag-based search, so the
//! `/api/search` endpoint and harness code agree on what "matches" means,
//! and the one walk over the store ([`TraceStore::scan_newest_first`]) that
//! the TraceQL search and the tag listings share.

use std::cmp::Reverse;
use std::collections::HashSet;
use std::ops::{Bound, ControlFlow};
use std::time::Duration;

use serde::Serialize;

use super::encoding::{TraceKey, TraceSpans, key_to_hex};
use super::{SearchPosition, TraceStore, TraceTimes, records};
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
    /// Whether a trace from `start` to `end` (unix nanoseconds) is inside.
    fn admits(&self, start: u64, end: u64) -> bool {
        let duration = Duration::from_nanos(end.saturating_sub(start));
        let long_enough = self.min_duration.is_none_or(|min| duration >= min);
        let short_enough = self.max_duration.is_none_or(|max| duration <= max);
        let after_start = self
            .start_unix_secs
            .is_none_or(|secs| end.max(start) >= secs.saturating_mul(NANOS_PER_SEC));
        long_enough && short_enough && after_start && start <= self.latest_start_nanos()
    }

    /// The latest start a trace inside may have: `end` is a whole second,
    /// so a trace starting anywhere in it counts.
    fn latest_start_nanos(&self) -> u64 {
        self.end_unix_secs.map_or(u64::MAX, |secs| {
            secs.saturating_add(1)
                .saturating_mul(NANOS_PER_SEC)
                .saturating_sub(1)
        })
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
    /// The store keeps its traces in this order with their times and root
    /// (kept up to date on insert), so the walk decodes only the traces it
    /// hands to `visit`: a search that stops after `limit` hits costs what
    /// it visited, not the size of the store. The lock is held to read the
    /// next few positions, then once per trace to copy its bytes, never
    /// while decoding or while `visit` runs: a slow query (TraceQL over
    /// every trace) does not hold up the receivers. A trace whose start
    /// moves earlier during the walk is visited once.
    pub fn scan_newest_first(
        &self,
        window: &TraceWindow,
        mut visit: impl FnMut(&TraceSummary, &[SpanRecord]) -> ControlFlow<()>,
    ) -> ScanMetrics {
        let mut metrics = ScanMetrics::default();
        let mut visited: HashSet<TraceKey> = HashSet::new();
        let mut after: Bound<SearchPosition> =
            Bound::Included((Reverse(window.latest_start_nanos()), TraceKey::default()));
        loop {
            let positions = self.positions_after(after);
            let Some(&last) = positions.last() else {
                return metrics;
            };
            after = Bound::Excluded(last);
            for (_, key) in positions {
                if visited.contains(&key) {
                    continue;
                }
                // Evicted since its position was read: nothing to inspect.
                let Some((times, spans)) = self.copy_with_times(&key) else {
                    continue;
                };
                if !window.admits(times.start, times.end) {
                    continue;
                }
                visited.insert(key);
                let records = records(&key, &spans);
                metrics.inspected_traces += 1;
                metrics.inspected_spans += records.len();
                metrics.inspected_bytes += spans.protobuf_bytes();
                if visit(&summarize(&key, &times, &records), &records).is_break() {
                    return metrics;
                }
            }
        }
    }

    /// The next [`SCAN_BATCH`] search positions after `after`.
    fn positions_after(&self, after: Bound<SearchPosition>) -> Vec<SearchPosition> {
        let state = self.lock();
        state
            .newest_first
            .range((after, Bound::Unbounded))
            .take(SCAN_BATCH)
            .copied()
            .collect()
    }

    /// One trace's times and a copy of its spans, under one short lock.
    fn copy_with_times(&self, key: &TraceKey) -> Option<(TraceTimes, TraceSpans)> {
        let state = self.lock();
        let trace = state.traces.get(key)?;
        Some((trace.times, trace.spans.snapshot()))
    }
}

/// Search positions read per lock: enough that a walk takes the lock
/// rarely, few enough that it never holds it long.
const SCAN_BATCH: usize = 256;

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

/// 0 means Tempo's default (20).
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

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The search result for one trace, from its cached times and its decoded
/// spans (the root's name and service).
fn summarize(key: &TraceKey, times: &TraceTimes, spans: &[SpanRecord]) -> TraceSummary {
    let root = times.root.and_then(|root| spans.get(root.index));
    let root_field = |field: fn(&SpanRecord) -> &String| {
        root.map_or(ROOT_SPAN_NOT_YET_RECEIVED.to_string(), |r| field(r).clone())
    };
    TraceSummary {
        trace_id: key_to_hex(key),
        root_service_name: root_field(|r| &r.service_name),
        root_span_name: root_field(|r| &r.name),
        start_unix_nanos: times.start,
        duration_nanos: times.end.saturating_sub(times.start),
        span_count: spans.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{batch, trace_hex};
    use opentelemetry_proto::tonic::trace::v1::ResourceSpans;

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

    /// One span of trace `trace` starting at `start` (ns), lasting 10 ns.
    fn span_at(trace: u8, span: u8, start: u64, parent: Option<u8>) -> ResourceSpans {
        let mut rs = batch("svc", &[(trace, span)]);
        let otlp = &mut rs.scope_spans[0].spans[0];
        otlp.start_time_unix_nano = start;
        otlp.end_time_unix_nano = start + 10;
        otlp.parent_span_id = parent.map(|p| vec![p; 8]).unwrap_or_default();
        rs
    }

    fn ids(hits: &[TraceSummary]) -> Vec<String> {
        hits.iter().map(|h| h.trace_id.clone()).collect()
    }

    #[test]
    fn results_are_newest_start_first_and_see_later_inserts() {
        let store = TraceStore::new(100);
        // Arrival order differs from start order on purpose.
        store.insert(vec![span_at(1, 1, 300, None), span_at(2, 1, 100, None)]);
        store.insert(vec![span_at(3, 1, 200, None)]);
        let all = SearchQuery::default();
        assert_eq!(
            ids(&store.search(&all)),
            [trace_hex(1), trace_hex(3), trace_hex(2)]
        );
        store.insert(vec![span_at(4, 1, 400, None)]);
        assert_eq!(store.search(&all)[0].trace_id, trace_hex(4));
        // Equal starts: the trace id breaks the tie, smallest first.
        store.insert(vec![span_at(6, 1, 500, None), span_at(5, 1, 500, None)]);
        assert_eq!(ids(&store.search(&all))[..2], [trace_hex(5), trace_hex(6)]);
    }

    #[test]
    fn a_search_visits_only_what_its_limit_needs() {
        let store = TraceStore::new(10_000);
        for trace in 1..=200u8 {
            store.insert(vec![span_at(trace, 1, u64::from(trace) * 100, None)]);
        }
        let query = SearchQuery {
            limit: 5,
            ..Default::default()
        };
        let hits = store.search(&query);
        assert_eq!(
            ids(&hits),
            (196..=200u8).rev().map(trace_hex).collect::<Vec<_>>()
        );
        let mut visited = 0;
        let metrics = store.scan_newest_first(&TraceWindow::default(), |_, _| {
            visited += 1;
            if visited == 5 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        assert_eq!(metrics.inspected_traces, 5);
        assert_eq!(metrics.inspected_spans, 5);
        // More traces than one batch of positions: the walk goes on to the end.
        let all =
            store.scan_newest_first(&TraceWindow::default(), |_, _| ControlFlow::Continue(()));
        assert_eq!(all.inspected_traces, 200);
    }

    #[test]
    fn a_late_span_updates_the_summary_and_the_order() {
        let store = TraceStore::new(100);
        // Trace 1's child arrives first; trace 2 starts before it.
        store.insert(vec![span_at(1, 2, 500, Some(1)), span_at(2, 1, 400, None)]);
        let first = store.search(&SearchQuery::default());
        assert_eq!(ids(&first), [trace_hex(1), trace_hex(2)]);
        assert_eq!(first[0].root_service_name, ROOT_SPAN_NOT_YET_RECEIVED);

        // Its root arrives late and starts earliest of all.
        store.insert(vec![span_at(1, 1, 100, None)]);
        let after = store.search(&SearchQuery::default());
        assert_eq!(ids(&after), [trace_hex(2), trace_hex(1)]);
        let late = &after[1];
        assert_eq!(late.root_span_name, "span-1");
        assert_eq!(late.root_service_name, "svc");
        assert_eq!(late.start_unix_nanos, 100);
        assert_eq!(late.duration_nanos, 410);
        assert_eq!(late.span_count, 2);
    }

    #[test]
    fn the_earliest_of_several_roots_names_the_trace() {
        let store = TraceStore::new(100);
        let mut later_root = span_at(1, 2, 300, None);
        later_root.scope_spans[0].spans[0].name = "second root".into();
        store.insert(vec![later_root, span_at(1, 1, 200, None)]);
        assert_eq!(
            store.search(&SearchQuery::default())[0].root_span_name,
            "span-1"
        );
    }

    #[test]
    fn evicted_traces_leave_the_search_order() {
        let store = TraceStore::new(2);
        for trace in 1..=4u8 {
            store.insert(vec![span_at(trace, 1, u64::from(trace), None)]);
        }
        assert_eq!(
            ids(&store.search(&SearchQuery::default())),
            [trace_hex(4), trace_hex(3)]
        );
        store.clear();
        assert!(store.search(&SearchQuery::default()).is_empty());
    }
}
