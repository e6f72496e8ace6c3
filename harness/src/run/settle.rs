//! After the load: wait until the run's traces are in the store, and
//! measure how long each took to be complete (its readiness).
//!
//! Two cases, because the two kinds of store can be watched differently:
//! - [`settle_embedded`]: our own store says when each trace's last span
//!   arrived, so the run waits until nothing new arrives for a quiet
//!   period, then turns arrival instants into readiness per request;
//! - [`settle_remote`]: Tempo and Jaeger can only be polled, and ingest in
//!   batches, so the run waits until the spans of the last sampled traces
//!   stop changing.

use std::time::{Duration, Instant, SystemTime};

use crate::load::LoadOutcome;
use crate::sources::TraceSource;
use crate::store::TraceStore;
use crate::trace::{Readiness, ReadinessPolicy, wait_polling};

/// What the embedded store says once the run's spans have settled.
#[derive(Debug, Clone, Default)]
pub struct Settled {
    /// Spans the store received in all (for the report's loss count).
    pub spans_received: u64,
    /// Per sampled request: milliseconds from the gateway's answer to the
    /// last span of its trace arriving.
    pub readiness_ms: Vec<f64>,
}

/// Waits until no span arrives for `quiet` (at most `deadline`), then
/// measures each sampled request's readiness.
pub async fn settle_embedded(
    store: &TraceStore,
    outcome: &LoadOutcome,
    quiet: Duration,
    deadline: Duration,
) -> Settled {
    if !store.wait_for_quiet(quiet, deadline).await {
        eprintln!("warning: spans still arriving after {deadline:?}; checking what is there");
    }
    // Arrivals are monotonic instants; answers are wall-clock nanoseconds.
    // One reading of both clocks converts the former into the latter.
    let (now_instant, now_system) = (Instant::now(), SystemTime::now());
    let readiness_ms = outcome
        .requests
        .iter()
        .filter(|r| r.sampled() == Some(true))
        .filter_map(|request| {
            let arrival = store.trace_arrival(request.trace_id()?)?;
            let arrived = now_system - now_instant.duration_since(arrival.last);
            let arrived_nanos = arrived
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            Some(arrived_nanos.saturating_sub(request.answered_unix_nanos) as f64 / 1e6)
        })
        .collect();
    Settled {
        spans_received: store.stats().spans_received,
        readiness_ms,
    }
}

/// How many of the last sampled traces a remote wait watches.
const WATCHED_TRACES: usize = 20;

/// Polls `source` until the spans of the last sampled traces stop changing
/// for `quiet` (at most `deadline`).
pub async fn settle_remote(
    source: &dyn TraceSource,
    outcome: &LoadOutcome,
    quiet: Duration,
    deadline: Duration,
) {
    let last: Vec<&str> = outcome
        .requests
        .iter()
        .rev()
        .filter(|r| r.sampled() == Some(true))
        .filter_map(|r| r.trace_id())
        .take(WATCHED_TRACES)
        .collect();
    eprintln!(
        "waiting for {} to ingest the last traces",
        source.describe()
    );
    let policy = ReadinessPolicy {
        expected_spans: None,
        quiet,
        deadline,
    };
    let count = || async {
        let mut spans = 0;
        for id in &last {
            spans += source.trace(id).await.ok().flatten().map_or(0, |s| s.len());
        }
        spans
    };
    if let Readiness::TimedOut { spans } =
        wait_polling(count, &policy, Duration::from_millis(500)).await
    {
        eprintln!(
            "warning: {spans} spans of the last traces after {deadline:?}; checking what is there"
        );
    }
}
