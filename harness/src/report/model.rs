//! Everything a run's reports show, computed once: the terminal summary,
//! the JSON verdict, JUnit XML and the HTML report all render this
//! [`RunReport`] and compute nothing themselves.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::checks::Verdict;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub tracemesh_version: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_secs: f64,
    /// The run was interrupted (ctrl-c) and the report covers what was done.
    pub partial: bool,
    pub config: RunSettings,
    pub load: LoadSummary,
    pub traces: TraceCounts,
    /// Every check's verdict; the run passes when all passed.
    pub verdicts: Vec<Verdict>,
    /// Self time per service over the run (sorted by critical-path p50, largest first).
    pub attribution: Vec<ServiceAttribution>,
    /// Each service's share of the summed critical paths (sums to 1).
    pub critical_path: Vec<CriticalPathShare>,
    /// The slowest trace, and a failing trace if there is one.
    pub waterfalls: Vec<Waterfall>,
    /// Other files of the run (goose's reports), relative to the report directory.
    pub files: Vec<String>,
}

impl RunReport {
    pub fn passed(&self) -> bool {
        !self.partial && !self.verdicts.is_empty() && self.verdicts.iter().all(|v| v.passed)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    /// The fault scenario's name (`baseline`, `slow-inventory`...).
    pub scenario: String,
    pub users: usize,
    pub run_time_secs: f64,
    /// The gateway sampler's ratio.
    pub sampler_ratio: f64,
    /// The gateway URL the load went to.
    pub target: String,
    /// Where traces were read: `embedded`, or a Tempo / Jaeger URL.
    pub trace_source: String,
    /// The load's seed: `--seed` with this value replays the run's choices
    /// and trace ids.
    #[serde(default)]
    pub seed: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    pub requests: u64,
    /// Answers other than the expected status for their kind, plus no-answers.
    pub failures: u64,
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub by_endpoint: Vec<EndpointLoad>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointLoad {
    /// The request kind (`checkout`, `checkout_declined`...).
    pub name: String,
    pub requests: u64,
    pub failures: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Status code (as a string, "none" for no answer) to count.
    pub statuses: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceCounts {
    /// Traces that should exist: every sampled request's trace.
    pub expected: u64,
    /// Of those, found with at least one span.
    pub found: u64,
    /// Of those, complete (passed the completeness check).
    pub complete: u64,
    /// Requests whose trace was not sampled (and so must leave no span).
    pub unsampled: u64,
    /// Spans received by the store during the run.
    pub spans_received: u64,
    /// Median and p99 time from the gateway's answer to the trace being ready.
    pub readiness_p50_ms: f64,
    pub readiness_p99_ms: f64,
    /// What the services' SDKs did with their spans; `None` when the run
    /// could not ask them (no admin endpoints).
    #[serde(default)]
    pub sdk_export: Option<SdkExportCounts>,
}

/// Spans counted by the services themselves, summed over the mesh, after a
/// flush (each service's `POST /admin/telemetry/flush`). A span missing from
/// the store shows up here as dropped or failed, or it was lost in between.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdkExportCounts {
    /// Sampled spans that ended.
    pub spans_ended: u64,
    /// Acknowledged by the collector.
    pub spans_exported: u64,
    /// In exports that failed after every retry.
    pub spans_failed: u64,
    /// Dropped by the batch processor because its queue was full.
    pub spans_dropped: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceAttribution {
    pub service: String,
    pub self_p50_ms: f64,
    pub self_p90_ms: f64,
    pub self_p99_ms: f64,
    pub critical_p50_ms: f64,
    pub critical_p90_ms: f64,
    pub critical_p99_ms: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CriticalPathShare {
    pub service: String,
    /// Fraction in [0, 1].
    pub share: f64,
    /// Mean critical-path time per trace.
    pub mean_ms: f64,
}

/// One trace laid out for a waterfall chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waterfall {
    /// e.g. "slowest trace" or "a failing trace: checkout answered 503".
    pub title: String,
    pub trace_id: String,
    pub duration_ms: f64,
    /// Depth-first order (parents before children, children by start time).
    pub spans: Vec<WaterfallSpan>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaterfallSpan {
    pub depth: usize,
    pub service: String,
    pub name: String,
    /// `server`, `client`, `internal`...
    pub kind: String,
    /// Offset from the trace's start.
    pub start_ms: f64,
    pub duration_ms: f64,
    pub self_ms: f64,
    pub error: bool,
    /// On the critical path.
    pub critical: bool,
    /// Injected fault on this span (`tracemesh_runtime::contract::attr::FAULT_INJECTED`).
    pub fault: bool,
}
