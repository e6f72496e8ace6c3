//! The in-memory trace store every received span lands in.
//!
//! - `mod.rs` (this file): [`TraceStore`] itself — insert with validation,
//!   the per-trace index and its search order, the memory bound with counted
//!   eviction, and lookups.
//! - `encoding.rs`: how a trace's spans are held — one byte buffer per
//!   trace, each span as OTLP protobuf without its trace id, beside a short
//!   list of shared resources and scopes, interned store-wide; compressed
//!   (sealed) once the trace is quiet.
//! - `search.rs`: Tempo-style search ([`SearchQuery`] -> [`TraceSummary`]),
//!   and [`TraceStore::scan_newest_first`], the one walk every search shares.
//! - `tags.rs`: tag names and typed values ([`TagRef`] -> [`TypedValue`]),
//!   bounded by [`MAX_TAG_SCAN_SPANS`] and [`MAX_TAG_LIMIT`].
//! - `wait.rs`: async waits that tests use instead of sleeping
//!   ([`TraceStore::wait_until`], [`TraceStore::wait_for_quiet`]).
//! - `logs.rs`: [`LogStore`], the OTLP log records by trace id, bounded by
//!   a record count with counted eviction.
//!
//! A store that must hold minutes of traffic is bounded by its bytes per
//! span, and queries are rare next to inserts, so spans are kept encoded
//! (`encoding.rs`) and decoded on the way out: checks get a flattened
//! [`SpanRecord`], the query API the original OTLP `Span`. Per trace the
//! store keeps only what ordering and summarising a search result needs
//! without decoding ([`TraceTimes`]: earliest start, latest end, the root),
//! kept up to date on insert, and an index of traces by start time, newest
//! first, so a search that stops after `limit` hits decodes only the traces
//! it visits. Figures and the commands that repeat them: BENCHMARKS.md,
//! "Store encoding".

mod encoding;
mod logs;
mod search;
mod tags;
mod wait;

pub use logs::{DEFAULT_MAX_LOG_RECORDS, LogInsertOutcome, LogStore, LogStoreStats};

pub use search::{
    DEFAULT_SEARCH_LIMIT, ROOT_SPAN_NOT_YET_RECEIVED, ScanMetrics, SearchQuery, TraceSummary,
    TraceWindow, TraceqlHit, effective_limit, status_name, tag_value,
};
pub use tags::{
    INTRINSIC_TAGS, Intrinsic, MAX_TAG_LIMIT, MAX_TAG_SCAN_SPANS, TagNames, TagRef, TagValues,
    TypedValue,
};

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use serde::Serialize;
use tokio::sync::Notify;

use crate::model::{InvalidSpan, SpanRecord, check_ids};
use encoding::{
    EncodedSpan, ExportEncoding, Origins, SpanOrigin, TraceKey, TraceSpans, key_from_hex,
    key_to_hex,
};

/// Default memory bound, in spans. At a few hundred bytes per span this
/// keeps the store under a few hundred MiB.
pub const DEFAULT_MAX_SPANS: usize = 1_000_000;

/// Shared, cheaply cloneable handle to the store. All clones see the same data.
///
/// A std `Mutex` is enough: every critical section is short and never awaits,
/// so there is nothing for an async mutex to buy us.
#[derive(Clone)]
pub struct TraceStore {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Woken on every insert, so waiters re-check instead of polling on a timer.
    inserted: Notify,
    created_at: Instant,
}

/// Where a trace stands in the search order: newest start first, trace id
/// breaking ties (so results are stable).
type SearchPosition = (Reverse<u64>, TraceKey);

struct State {
    max_spans: usize,
    traces: HashMap<TraceKey, StoredTrace>,
    /// Trace ids in order of first arrival. Because a trace's first arrival
    /// never changes, the front is always the oldest trace: eviction is a pop.
    arrival_order: VecDeque<TraceKey>,
    /// Every stored trace by its [`SearchPosition`], the order searches
    /// visit, updated when a span moves a trace's start earlier.
    newest_first: BTreeSet<SearchPosition>,
    origins: Origins,
    /// Traces to seal (compress) once the store has received this many
    /// spans, oldest first: see [`State::seal_quiet_traces`].
    to_seal: VecDeque<(u64, TraceKey)>,
    span_total: usize,
    last_accepted_at: Option<Instant>,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    spans_received: u64,
    spans_rejected: u64,
    spans_evicted: u64,
    traces_evicted: u64,
}

struct StoredTrace {
    spans: TraceSpans,
    times: TraceTimes,
    /// When to seal the trace (in spans received by the store), while it
    /// waits in `State::to_seal`.
    seal_at: Option<u64>,
    first_arrival: Instant,
    last_arrival: Instant,
}

/// What a search needs of a trace before decoding it: its extent in time
/// (to order and filter it) and where its root is (to summarise it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TraceTimes {
    /// Earliest span start; `u64::MAX` until the first span is added.
    start: u64,
    /// Latest span end.
    end: u64,
    /// Several parentless spans can exist (a broken propagation hop makes a
    /// second root); the earliest one is the trace's entry point.
    root: Option<RootSpan>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RootSpan {
    start: u64,
    /// Its place in the trace's arrival order.
    index: usize,
}

impl TraceTimes {
    const NONE: TraceTimes = TraceTimes {
        start: u64::MAX,
        end: 0,
        root: None,
    };

    /// Takes in the span that will be the trace's `index`th.
    fn add(&mut self, span: &EncodedSpan, index: usize) {
        self.start = self.start.min(span.start_unix_nanos);
        self.end = self.end.max(span.end_unix_nanos);
        let earlier_root = self
            .root
            .is_none_or(|root| span.start_unix_nanos < root.start);
        if span.is_root && earlier_root {
            self.root = Some(RootSpan {
                start: span.start_unix_nanos,
                index,
            });
        }
    }
}

/// What happened to one export request. Maps onto OTLP's `partial_success`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InsertOutcome {
    pub accepted: u64,
    pub rejected: u64,
    /// Why spans were rejected; `None` when all were accepted.
    pub error_message: Option<String>,
}

/// Counters and sizes, as served by `GET /api/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Spans accepted since the store was created (evicted ones included).
    pub spans_received: u64,
    /// Spans refused for invalid ids.
    pub spans_rejected: u64,
    /// Spans dropped to stay under `max_spans`.
    pub spans_evicted: u64,
    pub traces_evicted: u64,
    pub spans_stored: usize,
    pub traces_stored: usize,
    pub max_spans: usize,
}

/// When the spans of one trace arrived at the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceArrival {
    pub first: Instant,
    pub last: Instant,
}

impl Default for TraceStore {
    fn default() -> Self {
        TraceStore::new(DEFAULT_MAX_SPANS)
    }
}

impl std::fmt::Debug for TraceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceStore")
            .field("stats", &self.stats())
            .finish()
    }
}

impl TraceStore {
    /// A store that holds at most `max_spans` spans, evicting whole oldest
    /// traces beyond that.
    pub fn new(max_spans: usize) -> TraceStore {
        TraceStore {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    max_spans,
                    traces: HashMap::new(),
                    arrival_order: VecDeque::new(),
                    newest_first: BTreeSet::new(),
                    origins: Origins::default(),
                    to_seal: VecDeque::new(),
                    span_total: 0,
                    last_accepted_at: None,
                    counters: Counters::default(),
                }),
                inserted: Notify::new(),
                created_at: Instant::now(),
            }),
        }
    }

    /// Validates and stores the spans of one export request.
    ///
    /// Spans with an invalid trace or span id are rejected and counted; the
    /// valid rest of the request is kept (OTLP's "partial success").
    pub fn insert(&self, resource_spans: Vec<ResourceSpans>) -> InsertOutcome {
        // Encode before taking the lock: encoding is the expensive part, and
        // queries should not wait behind it.
        let mut export = ExportEncoding::default();
        let (mut bad_trace_ids, mut bad_span_ids) = (0u64, 0u64);
        for rs in resource_spans {
            let ResourceSpans {
                resource,
                scope_spans,
                schema_url,
            } = rs;
            for ScopeSpans {
                scope,
                spans,
                schema_url: scope_schema_url,
            } in scope_spans
            {
                export.origins.push(SpanOrigin::new(
                    resource.clone(),
                    schema_url.clone(),
                    scope,
                    scope_schema_url,
                ));
                for span in spans {
                    match check_ids(&span) {
                        Ok(()) => export.push(span),
                        Err(InvalidSpan::TraceId) => bad_trace_ids += 1,
                        Err(InvalidSpan::SpanId) => bad_span_ids += 1,
                    }
                }
            }
        }
        let accepted = export.spans.len() as u64;
        let rejected = bad_trace_ids + bad_span_ids;

        if accepted > 0 || rejected > 0 {
            let now = Instant::now();
            let mut state = self.lock();
            state.counters.spans_received += accepted;
            state.counters.spans_rejected += rejected;
            if accepted > 0 {
                state.last_accepted_at = Some(now);
                state.add(export, now);
                state.evict_oldest_traces_over_bound();
                state.seal_quiet_traces();
                state.origins.sweep_unused();
            }
        }
        // Outside the lock: woken waiters immediately want to read the store.
        self.shared.inserted.notify_waiters();

        InsertOutcome {
            accepted,
            rejected,
            error_message: rejection_message(bad_trace_ids, bad_span_ids),
        }
    }

    /// The spans of one trace, in arrival order. Accepts any-case hex and,
    /// like Tempo, short ids (left-padded with zeros).
    pub fn trace(&self, trace_id: &str) -> Option<Vec<SpanRecord>> {
        let (key, spans) = self.copy_of(trace_id)?;
        Some(records(&key, &spans))
    }

    /// One trace as OTLP, grouped by resource and then scope (spans sent under
    /// equal resources are merged into one `ResourceSpans`). Used by the
    /// query API to re-emit what was received.
    pub fn trace_otlp(&self, trace_id: &str) -> Option<Vec<ResourceSpans>> {
        let (key, spans) = self.copy_of(trace_id)?;
        Some(group_as_otlp(spans.decode(&key)))
    }

    /// All stored trace ids, oldest first.
    pub fn trace_ids(&self) -> Vec<String> {
        self.lock().arrival_order.iter().map(key_to_hex).collect()
    }

    /// Number of stored spans of one trace (0 if unknown).
    pub fn span_count(&self, trace_id: &str) -> usize {
        let Some(key) = key_from_hex(trace_id) else {
            return 0;
        };
        self.lock().traces.get(&key).map_or(0, |t| t.spans.len())
    }

    /// Number of spans currently stored, over all traces.
    pub fn total_spans(&self) -> usize {
        self.lock().span_total
    }

    /// Every stored span: traces oldest first, spans in arrival order.
    pub fn all_spans(&self) -> Vec<SpanRecord> {
        let state = self.lock();
        state
            .arrival_order
            .iter()
            .filter_map(|key| Some((key, state.traces.get(key)?)))
            .flat_map(|(key, trace)| records(key, &trace.spans))
            .collect()
    }

    /// First and last arrival time of one trace's spans.
    pub fn trace_arrival(&self, trace_id: &str) -> Option<TraceArrival> {
        let key = key_from_hex(trace_id)?;
        let state = self.lock();
        let trace = state.traces.get(&key)?;
        Some(TraceArrival {
            first: trace.first_arrival,
            last: trace.last_arrival,
        })
    }

    pub fn stats(&self) -> StoreStats {
        let state = self.lock();
        StoreStats {
            spans_received: state.counters.spans_received,
            spans_rejected: state.counters.spans_rejected,
            spans_evicted: state.counters.spans_evicted,
            traces_evicted: state.counters.traces_evicted,
            spans_stored: state.span_total,
            traces_stored: state.traces.len(),
            max_spans: state.max_spans,
        }
    }

    /// Forgets all stored traces (between scenarios, say). The counters are
    /// cumulative and stay as they are; cleared spans are not "evicted".
    pub fn clear(&self) {
        let mut state = self.lock();
        state.traces.clear();
        state.arrival_order.clear();
        state.newest_first.clear();
        state.origins.clear();
        state.to_seal.clear();
        state.span_total = 0;
    }

    /// A copy of one trace's encoded spans, taken under the lock, so the
    /// caller decodes them without holding it.
    fn copy_of(&self, trace_id: &str) -> Option<(TraceKey, TraceSpans)> {
        let key = key_from_hex(trace_id)?;
        let spans = self.lock().traces.get(&key)?.spans.snapshot();
        Some((key, spans))
    }

    /// The lock never stays poisoned: nothing panics while holding it, and if
    /// something ever did, the data is still consistent enough to read.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Appends the spans of one export to their traces.
    fn add(&mut self, export: ExportEncoding, now: Instant) {
        let ExportEncoding {
            origins,
            bytes,
            spans,
        } = export;
        let origins: Vec<Arc<SpanOrigin>> = origins
            .into_iter()
            .map(|(encoding, origin)| self.origins.intern(encoding, origin))
            .collect();
        // An export holds each trace's spans under several resources: group
        // them, so each trace is looked up once and its buffer grows once.
        // Within a group spans keep their order; groups are visited in
        // order of their first span, so new traces join the arrival order
        // as they arrived.
        let mut order: Vec<usize> = (0..spans.len()).collect();
        order.sort_unstable_by_key(|&i| (spans[i].trace_id, i));
        let mut groups: Vec<&[usize]> = order
            .chunk_by(|&a, &b| spans[a].trace_id == spans[b].trace_id)
            .collect();
        groups.sort_unstable_by_key(|group| group[0]);

        for group in groups {
            let key = spans[group[0]].trace_id;
            let trace = match self.traces.entry(key) {
                Entry::Occupied(entry) => entry.into_mut(),
                Entry::Vacant(entry) => {
                    self.arrival_order.push_back(key);
                    entry.insert(StoredTrace {
                        spans: TraceSpans::default(),
                        times: TraceTimes::NONE,
                        seal_at: None,
                        first_arrival: now,
                        last_arrival: now,
                    })
                }
            };
            let old_start = trace.times.start;
            trace
                .spans
                .reserve_exact(group.iter().map(|&i| spans[i].len));
            for &i in group {
                let span = &spans[i];
                trace.times.add(span, trace.spans.len());
                trace
                    .spans
                    .push(&origins[span.origin as usize], span.bytes(&bytes));
            }
            trace.last_arrival = now;
            let seal_at = self.counters.spans_received + seal_lag(self.max_spans);
            if trace.seal_at.replace(seal_at).is_none() {
                self.to_seal.push_back((seal_at, key));
            }
            if trace.times.start != old_start {
                self.newest_first.remove(&(Reverse(old_start), key));
                self.newest_first.insert((Reverse(trace.times.start), key));
            }
        }
        self.span_total += spans.len();
    }

    /// Compresses the traces that received no span for the last
    /// [`seal_lag`] spans the store received. Counted in spans, not time,
    /// so the same inserts always seal the same traces. A span arriving
    /// later unseals its trace, which waits its turn again.
    fn seal_quiet_traces(&mut self) {
        while let Some(&(seal_at, key)) = self.to_seal.front() {
            if seal_at > self.counters.spans_received {
                break;
            }
            self.to_seal.pop_front();
            // Evicted meanwhile: nothing to seal.
            let Some(trace) = self.traces.get_mut(&key) else {
                continue;
            };
            match trace.seal_at {
                // Spans arrived since it was queued: it waits again, behind
                // every trace queued before them.
                Some(later) if later > seal_at => self.to_seal.push_back((later, key)),
                Some(_) => {
                    trace.seal_at = None;
                    trace.spans.seal();
                }
                None => {}
            }
        }
    }

    /// Drops whole traces, oldest first arrival first, until the bound holds.
    /// Whole traces, because half a trace would fail every structural check
    /// with a misleading "missing parent" instead of an honest "evicted".
    fn evict_oldest_traces_over_bound(&mut self) {
        let (mut spans, mut traces) = (0u64, 0u64);
        while self.span_total > self.max_spans {
            let Some(oldest) = self.arrival_order.pop_front() else {
                break;
            };
            if let Some(trace) = self.traces.remove(&oldest) {
                self.newest_first
                    .remove(&(Reverse(trace.times.start), oldest));
                self.span_total -= trace.spans.len();
                spans += trace.spans.len() as u64;
                traces += 1;
            }
        }
        if traces > 0 {
            self.counters.spans_evicted += spans;
            self.counters.traces_evicted += traces;
            tracing::debug!(
                spans,
                traces,
                max_spans = self.max_spans,
                "evicted oldest traces"
            );
        }
    }
}

/// Spans the store receives after a trace's last one before sealing it: an
/// eighth of the bound, so about seven eighths of a full store is
/// compressed, while a trace's spans arriving within that many spans of
/// each other (one exporter delay at the mesh's rates) are appended raw.
fn seal_lag(max_spans: usize) -> u64 {
    (max_spans as u64 / 8).max(1)
}

fn rejection_message(bad_trace_ids: u64, bad_span_ids: u64) -> Option<String> {
    let mut reasons = Vec::new();
    if bad_trace_ids > 0 {
        reasons.push(format!("{bad_trace_ids} with {}", InvalidSpan::TraceId));
    }
    if bad_span_ids > 0 {
        reasons.push(format!("{bad_span_ids} with {}", InvalidSpan::SpanId));
    }
    if reasons.is_empty() {
        return None;
    }
    Some(format!(
        "rejected {} span(s): {}",
        bad_trace_ids + bad_span_ids,
        reasons.join(", ")
    ))
}

/// One trace's spans as records, in arrival order.
fn records(key: &TraceKey, spans: &TraceSpans) -> Vec<SpanRecord> {
    spans
        .decode(key)
        .map(|(origin, span)| {
            SpanRecord::from_otlp(origin.resource.as_ref(), origin.scope.as_ref(), &span)
                .expect("ids were validated on insert")
        })
        .collect()
}

/// Rebuilds the OTLP nesting for a trace's spans. Linear search over the
/// groups is fine: a trace touches a handful of resources and scopes.
fn group_as_otlp<'a>(
    spans: impl Iterator<Item = (&'a Arc<SpanOrigin>, Span)>,
) -> Vec<ResourceSpans> {
    let mut batches: Vec<ResourceSpans> = Vec::new();
    for (origin, span) in spans {
        let batch_index = match batches.iter().position(|b| {
            b.resource == origin.resource && b.schema_url == origin.resource_schema_url
        }) {
            Some(index) => index,
            None => {
                batches.push(ResourceSpans {
                    resource: origin.resource.clone(),
                    scope_spans: Vec::new(),
                    schema_url: origin.resource_schema_url.clone(),
                });
                batches.len() - 1
            }
        };
        let scopes = &mut batches[batch_index].scope_spans;
        let scope_index = match scopes
            .iter()
            .position(|s| s.scope == origin.scope && s.schema_url == origin.scope_schema_url)
        {
            Some(index) => index,
            None => {
                scopes.push(ScopeSpans {
                    scope: origin.scope.clone(),
                    spans: Vec::new(),
                    schema_url: origin.scope_schema_url.clone(),
                });
                scopes.len() - 1
            }
        };
        scopes[scope_index].spans.push(span);
    }
    batches
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{
        AnyValue, InstrumentationScope, KeyValue, any_value,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;

    /// One `ResourceSpans` for `service` holding `(trace_byte, span_byte)` spans.
    pub(crate) fn batch(service: &str, ids: &[(u8, u8)]) -> ResourceSpans {
        ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(service.into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "test".into(),
                    ..Default::default()
                }),
                spans: ids
                    .iter()
                    .map(|(t, s)| Span {
                        trace_id: vec![*t; 16],
                        span_id: vec![*s; 8],
                        name: format!("span-{s}"),
                        start_time_unix_nano: 1_000,
                        end_time_unix_nano: 2_000,
                        ..Default::default()
                    })
                    .collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }
    }

    pub(crate) fn trace_hex(byte: u8) -> String {
        format!("{byte:02x}").repeat(16)
    }

    #[test]
    fn indexes_spans_by_trace_and_keeps_arrival_order() {
        let store = TraceStore::new(100);
        store.insert(vec![batch("a", &[(1, 1), (2, 1), (1, 2)])]);
        assert_eq!(store.trace_ids(), vec![trace_hex(1), trace_hex(2)]);
        assert_eq!(store.span_count(&trace_hex(1)), 2);
        assert_eq!(store.span_count(&trace_hex(1).to_uppercase()), 2);
        assert_eq!(store.span_count("not hex"), 0);
        assert_eq!(store.total_spans(), 3);
        let arrival = store.trace_arrival(&trace_hex(1)).unwrap();
        assert!(arrival.first <= arrival.last);
    }

    #[test]
    fn rejects_spans_with_all_zero_trace_id_and_keeps_the_rest() {
        let store = TraceStore::new(100);
        let outcome = store.insert(vec![batch("a", &[(0, 1), (1, 1), (1, 0)])]);
        assert_eq!(outcome.accepted, 1);
        assert_eq!(outcome.rejected, 2);
        let message = outcome.error_message.unwrap();
        assert!(message.contains("1 with invalid trace_id"), "{message}");
        assert!(message.contains("1 with invalid span_id"), "{message}");
        let stats = store.stats();
        assert_eq!((stats.spans_received, stats.spans_rejected), (1, 2));
    }

    #[test]
    fn evicts_whole_oldest_traces_and_counts_them() {
        let store = TraceStore::new(3);
        store.insert(vec![batch("a", &[(1, 1), (1, 2)])]);
        store.insert(vec![batch("a", &[(2, 1)])]);
        // A fourth span breaks the bound: the whole oldest trace (2 spans) goes.
        store.insert(vec![batch("a", &[(3, 1)])]);
        assert_eq!(store.trace_ids(), vec![trace_hex(2), trace_hex(3)]);
        let stats = store.stats();
        assert_eq!(stats.spans_evicted, 2);
        assert_eq!(stats.traces_evicted, 1);
        assert_eq!(stats.spans_stored, 2);
        assert_eq!(stats.spans_received, 4);
    }

    #[test]
    fn re_emits_otlp_grouped_by_resource_and_scope() {
        let store = TraceStore::new(100);
        store.insert(vec![batch("a", &[(1, 1)]), batch("b", &[(1, 2)])]);
        store.insert(vec![batch("a", &[(1, 3)])]);
        let otlp = store.trace_otlp(&trace_hex(1)).unwrap();
        assert_eq!(otlp.len(), 2, "two services -> two resources");
        assert_eq!(otlp[0].scope_spans.len(), 1);
        assert_eq!(
            otlp[0].scope_spans[0].spans.len(),
            2,
            "equal resources merged"
        );
        assert_eq!(otlp[1].scope_spans[0].spans.len(), 1);
    }

    #[test]
    fn clear_forgets_traces_but_keeps_counters() {
        let store = TraceStore::new(100);
        store.insert(vec![batch("a", &[(1, 1)])]);
        store.clear();
        assert!(store.all_spans().is_empty());
        assert_eq!(store.stats().spans_received, 1);
    }
}
