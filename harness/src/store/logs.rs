//! The log store: OTLP log records received by the embedded collector,
//! indexed by trace id, for `GET /api/logs/{trace_id}` and `tracemesh logs
//! --collector`.
//!
//! Bounded by a count of records: past it the oldest record goes first
//! (one queue of arrival order), and every eviction is counted, so a reader
//! can tell "this trace logged nothing" from "its lines were pushed out".
//! A record without a trace id is counted and dropped: nobody can ask for it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use serde::Serialize;

use crate::logs::{LogLine, sort_by_time};

/// Default bound, in records: a few hundred bytes each.
pub const DEFAULT_MAX_LOG_RECORDS: usize = 200_000;

/// Shared, cheaply cloneable handle; all clones see the same records.
#[derive(Clone)]
pub struct LogStore {
    state: Arc<Mutex<State>>,
}

struct State {
    max_records: usize,
    by_trace: HashMap<String, VecDeque<LogLine>>,
    /// The trace id of every stored record, oldest first. A trace's records
    /// are queued in arrival order too, so the oldest record of the whole
    /// store is the front of its trace's queue.
    arrival_order: VecDeque<String>,
    stats: LogStoreStats,
}

/// What the store has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LogStoreStats {
    pub records_received: u64,
    pub records_rejected: u64,
    /// Valid records without a trace id, not kept.
    pub records_untraced: u64,
    pub records_evicted: u64,
    pub records_stored: usize,
}

/// What one insert did, for the OTLP response's `partial_success`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogInsertOutcome {
    pub accepted: usize,
    pub rejected: usize,
    /// The first rejection's reason.
    pub error_message: Option<String>,
}

impl LogStore {
    pub fn new(max_records: usize) -> LogStore {
        LogStore {
            state: Arc::new(Mutex::new(State {
                max_records: max_records.max(1),
                by_trace: HashMap::new(),
                arrival_order: VecDeque::new(),
                stats: LogStoreStats::default(),
            })),
        }
    }

    /// Validates and stores every record of one export.
    pub fn insert(&self, resource_logs: &[ResourceLogs]) -> LogInsertOutcome {
        let mut outcome = LogInsertOutcome::default();
        let mut lines = Vec::new();
        for resource in resource_logs {
            for scope in &resource.scope_logs {
                for record in &scope.log_records {
                    match LogLine::from_otlp(resource.resource.as_ref(), record) {
                        Ok(line) => {
                            outcome.accepted += 1;
                            lines.push(line);
                        }
                        Err(e) => {
                            outcome.rejected += 1;
                            outcome.error_message.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
            }
        }
        let mut state = self.lock();
        state.stats.records_received += (outcome.accepted + outcome.rejected) as u64;
        state.stats.records_rejected += outcome.rejected as u64;
        for line in lines {
            match line {
                Some(line) => state.push(line),
                None => state.stats.records_untraced += 1,
            }
        }
        outcome
    }

    /// The records of `trace_id` (32 lowercase hex digits), in time order.
    pub fn trace(&self, trace_id: &str) -> Vec<LogLine> {
        let mut lines: Vec<LogLine> = self
            .lock()
            .by_trace
            .get(trace_id)
            .map(|queue| queue.iter().cloned().collect())
            .unwrap_or_default();
        sort_by_time(&mut lines);
        lines
    }

    pub fn stats(&self) -> LogStoreStats {
        let state = self.lock();
        LogStoreStats {
            records_stored: state.arrival_order.len(),
            ..state.stats
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section is a few pushes and pops: a panic in one
        // leaves the maps consistent enough to keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn push(&mut self, line: LogLine) {
        if self.arrival_order.len() >= self.max_records {
            self.evict_oldest();
        }
        self.arrival_order.push_back(line.trace_id.clone());
        self.by_trace
            .entry(line.trace_id.clone())
            .or_default()
            .push_back(line);
    }

    fn evict_oldest(&mut self) {
        let Some(trace_id) = self.arrival_order.pop_front() else {
            return;
        };
        if let Some(queue) = self.by_trace.get_mut(&trace_id) {
            queue.pop_front();
            if queue.is_empty() {
                self.by_trace.remove(&trace_id);
            }
        }
        self.stats.records_evicted += 1;
    }
}

impl std::fmt::Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore")
            .field("stats", &self.stats())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ScopeLogs};

    fn export(records: Vec<LogRecord>) -> Vec<ResourceLogs> {
        vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }]
    }

    fn record(trace: u8, time: u64) -> LogRecord {
        LogRecord {
            trace_id: vec![trace; 16],
            span_id: vec![1; 8],
            time_unix_nano: time,
            ..Default::default()
        }
    }

    #[test]
    fn records_come_back_by_trace_in_time_order() {
        let store = LogStore::new(10);
        let outcome = store.insert(&export(vec![record(1, 30), record(2, 5), record(1, 10)]));
        assert_eq!(outcome.accepted, 3);
        let times: Vec<u64> = store
            .trace(&"01".repeat(16))
            .iter()
            .map(|l| l.time_unix_nano)
            .collect();
        assert_eq!(times, [10, 30]);
        assert!(store.trace(&"03".repeat(16)).is_empty());
    }

    #[test]
    fn the_bound_evicts_the_oldest_and_counts_it() {
        let store = LogStore::new(2);
        store.insert(&export(vec![record(1, 1), record(2, 2), record(2, 3)]));
        assert!(store.trace(&"01".repeat(16)).is_empty());
        assert_eq!(store.trace(&"02".repeat(16)).len(), 2);
        let stats = store.stats();
        assert_eq!((stats.records_evicted, stats.records_stored), (1, 2));
    }

    #[test]
    fn bad_ids_are_rejected_with_a_reason_and_untraced_records_counted() {
        let store = LogStore::new(10);
        let mut bad = record(1, 1);
        bad.trace_id = vec![1; 5];
        let untraced = LogRecord::default();
        let outcome = store.insert(&export(vec![bad, untraced, record(1, 2)]));
        assert_eq!((outcome.accepted, outcome.rejected), (2, 1));
        assert!(outcome.error_message.unwrap().contains("trace_id"));
        let stats = store.stats();
        assert_eq!((stats.records_untraced, stats.records_stored), (1, 1));
    }
}
