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
    /// Critical-path and self time per service and per operation over the
    /// traces without an injected fault: what `--baseline` compares and
    /// budgets judge. Empty in a report written before it existed.
    #[serde(default)]
    pub operations: Vec<OperationAttribution>,
    /// This run against `--baseline`, when one was given.
    #[serde(default)]
    pub baseline: Option<BaselineComparison>,
    /// From a slow bucket to its trace: the highest-valued exemplar that led
    /// to its span, whose trace is among the waterfalls.
    #[serde(default)]
    pub exemplar_jump: Option<ExemplarJump>,
    /// The run was shard I of N of a larger load (`--shard`): which one,
    /// and the samples `tracemesh report merge` needs to combine the
    /// shards exactly. Absent from an unsharded run's verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
    /// The load generator's and the services' CPU during the load, and
    /// which one set the rate. `None` in a report written before it existed.
    #[serde(default)]
    pub bottleneck: Option<BottleneckReport>,
    /// Same-name CLIENT calls repeated under one parent span (an N+1's
    /// shape), most traces affected first, then most repeats: a figure,
    /// not a check (`run::repeated`). Empty in a report written before it
    /// existed.
    #[serde(default)]
    pub repeated_calls: Vec<RepeatedCall>,
}

/// One shard's identity and raw samples, as `verdict.json` keeps them for
/// [`crate::report::merge`]: percentiles do not combine, samples do.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    pub index: u32,
    pub count: u32,
    /// The whole load's seed, from which this shard's (`config.seed`) was
    /// derived (`tracemesh_harness::load::Shard::seed`).
    pub base_seed: u64,
    /// Every trace id the shard's requests carried or were answered with,
    /// sorted: the traces it started (and checked).
    pub trace_ids: Vec<String>,
    /// Each request's latency, by request kind (`EndpointLoad::name`), in
    /// completion order.
    pub latency_ms: BTreeMap<String, Vec<f64>>,
    /// Each trace's readiness (empty when the store was not ours).
    pub readiness_ms: Vec<f64>,
}

/// An exemplar followed to its trace, as a user would from a dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExemplarJump {
    /// The service that recorded the observation.
    pub service: String,
    /// The series, `family{labels}` without the service.
    pub series: String,
    /// The bucket `(lower, upper]`, in seconds.
    pub bucket_s: (f64, f64),
    pub value_ms: f64,
    pub trace_id: String,
    pub span_id: String,
    /// The span's name, as the trace shows it.
    pub span_name: String,
    /// Where the exemplar was read: the services' endpoints or a Prometheus.
    pub origin: String,
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
    /// The learner's expected-tree files (`--expect`), as given; empty in a
    /// report written before they existed.
    #[serde(default)]
    pub expectations: Vec<String>,
    /// The planted bottlenecks the run's mesh was started without, by the
    /// name of their `--fix-*` flag: `inventory-lock`, `catalog-queries`,
    /// `payment-pool`, in that order. Empty when none was fixed, with
    /// `--gateway` (the target's configuration is its own), and in a report
    /// written before it existed.
    #[serde(default)]
    pub fixes: Vec<String>,
}

impl RunSettings {
    /// The fixes as the summary and the HTML report show them.
    pub fn fixes_text(&self) -> String {
        if self.fixes.is_empty() {
            "none".to_owned()
        } else {
            self.fixes.join(", ")
        }
    }
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
    /// 0 in a report written before it existed.
    #[serde(default)]
    pub p90_ms: f64,
    pub p99_ms: f64,
    /// Status code (as a string, "none" for no answer) to count.
    pub statuses: BTreeMap<String, u64>,
    /// Latency of the requests known to be free of injected faults (see
    /// [`LatencySample`]): what `--baseline` compares. `None` in a report
    /// written before it existed.
    #[serde(default)]
    pub fault_free: Option<LatencySample>,
}

/// Latency percentiles over the requests of one endpoint that answered as
/// designed and are known to carry no injected fault: the scenario injects
/// none, or the request's sampled trace holds no `fault.injected` span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySample {
    pub requests: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
}

/// One service (`operation: None`) or one operation (service + span name)
/// over the run's traces without an injected fault. Samples are the traces
/// the service or operation appears in, one per trace: critical-path self
/// time is 0 in a trace where it never held the request up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationAttribution {
    pub service: String,
    /// The span name; `None` for the whole service.
    #[serde(default)]
    pub operation: Option<String>,
    /// Traces it appears in.
    pub traces: u64,
    pub critical_p50_ms: f64,
    pub critical_p90_ms: f64,
    pub self_p50_ms: f64,
    pub self_p90_ms: f64,
}

/// Calls of one service with one span name, repeated under one parent
/// span of one name, over the traces they were repeated in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepeatedCall {
    /// The service making the calls.
    pub service: String,
    /// The parent span's name.
    pub parent: String,
    /// The repeated CLIENT span's name (`SELECT stock`).
    pub name: String,
    /// Traces with the calls repeated under such a parent.
    pub traces: u64,
    /// Median repeats under one parent.
    pub count_p50: u64,
    /// Median, per trace, of the time in the repeated spans (their
    /// durations summed).
    pub time_p50_ms: f64,
}

impl OperationAttribution {
    /// `inventory` or `inventory tracemesh.inventory.v1.InventoryService/Reserve`.
    pub fn label(&self) -> String {
        match &self.operation {
            Some(name) => format!("{} {name}", self.service),
            None => self.service.clone(),
        }
    }
}

/// This run against an earlier run's report (`--baseline`): one row per
/// service, operation and endpoint either run has, judged or not.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BaselineComparison {
    /// The baseline file, as given.
    pub origin: String,
    /// When the baseline run started.
    pub baseline_started_at: String,
    /// Growth fails only beyond both: this many milliseconds...
    pub tolerance_ms: f64,
    /// ...and this many percent of the baseline's figure.
    pub tolerance_pct: f64,
    /// Fewer samples than this on either side: not judged.
    pub min_samples: u64,
    /// Failed rows first, then by growth, largest first.
    pub rows: Vec<ComparisonRow>,
    /// Differences between the two runs' settings worth knowing when
    /// reading the figures (users, sampler ratio, trace source).
    pub notes: Vec<String>,
}

/// What one comparison row measures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComparedMeasure {
    /// Critical-path self time of a service.
    #[default]
    Service,
    /// Critical-path self time of one operation (service + span name).
    Operation,
    /// An endpoint's latency as the load generator measured it.
    Endpoint,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ComparisonRow {
    pub measure: ComparedMeasure,
    /// `inventory`, `inventory <span name>`, or the endpoint's request kind.
    pub subject: String,
    pub baseline_samples: u64,
    pub samples: u64,
    /// `None` when the baseline does not have this row.
    pub baseline_p50_ms: Option<f64>,
    pub baseline_p90_ms: Option<f64>,
    /// `None` when this run does not have this row.
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    /// Why the row was not judged (too few samples, missing on one side);
    /// `None` when it was.
    pub not_judged: Option<String>,
    /// Each growth beyond the tolerance (p50, p90), as a sentence naming
    /// the row; empty when within.
    #[serde(default)]
    pub failures: Vec<String>,
}

impl ComparisonRow {
    pub fn judged(&self) -> bool {
        self.not_judged.is_none()
    }
    pub fn failed(&self) -> bool {
        !self.failures.is_empty()
    }
    /// Now minus baseline at p50, when both have it.
    pub fn delta_p50_ms(&self) -> Option<f64> {
        Some(self.p50_ms? - self.baseline_p50_ms?)
    }
    pub fn delta_p90_ms(&self) -> Option<f64> {
        Some(self.p90_ms? - self.baseline_p90_ms?)
    }
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
    /// When the root span started, nanoseconds since the Unix epoch: the
    /// origin of the log lines' offsets.
    #[serde(default)]
    pub start_unix_nanos: u64,
    /// The trace's log lines from every service, in time order
    /// (`tracemesh_harness::logs::attach_run_logs`); empty when the run had
    /// no log file (a remote mesh) or the trace logged nothing.
    #[serde(default)]
    pub logs: Vec<WaterfallLog>,
}

/// One log line under a waterfall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaterfallLog {
    /// Offset from the trace's start (negative if logged before it).
    pub offset_ms: f64,
    pub service: String,
    pub level: String,
    pub message: String,
    /// The event's other fields, `key=value` separated by spaces.
    pub fields: String,
    pub span_id: Option<String>,
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

/// Who set the load's rate: the CPU each process used over the load
/// window, and what [`crate::load::bottleneck::decide`] made of it. A
/// figure for reading the run's numbers, never a check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BottleneckReport {
    pub verdict: Bottleneck,
    /// The rule's reason, with the figures it used.
    pub reason: String,
    /// The cores this run could use (100% = one core, so the machine's
    /// capacity is `cores` x 100%).
    pub cores: usize,
    /// The load window the shares are taken over.
    pub window_secs: f64,
    /// The load generator: the `tracemesh run` process (goose, plus the
    /// embedded collector when the run started the mesh: one runtime, not
    /// separable).
    pub generator: ProcessCpu,
    /// Each service process of a mesh the run started; `None` when the run
    /// cannot see them (a mesh it did not start, `--gateway`).
    pub services: Option<Vec<ProcessCpu>>,
    /// Every process of the machine (`/proc/stat`), this run's included.
    pub machine_percent: Option<f64>,
}

/// One process's CPU over the load window: utime + stime over wall time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessCpu {
    /// `tracemesh run`, or the service's name.
    pub name: String,
    pub pid: u32,
    /// Percent of one core (200 = two cores busy all along).
    pub cpu_percent: f64,
}

/// What held the load's rate back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bottleneck {
    /// The load generator had the cores: the figures are its ceiling.
    LoadGenerator,
    /// The mesh had the cores: the figures are the mesh's.
    Mesh,
    /// The cores were full, mostly of other processes: a shared machine.
    OtherProcesses,
    /// Cores to spare: users and think time (or waits inside the mesh)
    /// set the rate.
    Neither,
    /// The generator had headroom; the mesh's CPU is unknown (external).
    NotTheLoadGenerator,
}

impl Bottleneck {
    /// How the summary names it.
    pub fn label(self) -> &'static str {
        match self {
            Bottleneck::LoadGenerator => "load generator",
            Bottleneck::Mesh => "mesh",
            Bottleneck::OtherProcesses => "other processes",
            Bottleneck::Neither => "neither",
            Bottleneck::NotTheLoadGenerator => "not the load generator",
        }
    }
}
