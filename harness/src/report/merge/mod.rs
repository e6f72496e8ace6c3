//! The shards of one load combined into one report (`tracemesh report
//! merge`): pure functions over the shards' parsed `verdict.json`s.
//!
//! A load scaled out runs as N processes of `tracemesh run --shard I/N`,
//! each checking the traces it started. [`merge`] makes one [`RunReport`]
//! of their reports, which the usual renderers then write:
//!
//! - **Refused** (a [`MergeError`], exit 2): a report of no sharded run,
//!   shards that disagree on N, or the same index twice. Those are mistakes
//!   in what was handed to the command (a directory given twice, reports of
//!   two different loads), and no report of them would mean anything.
//! - **A failed `shards` check**: a missing index, or trace ids started by
//!   two shards. Both are outcomes of the load itself (a pod that never
//!   reported, shards given the same seed), so the merged report is still
//!   written, for CI to show, and fails.
//! - **Verdicts**, check by check: failed if it failed in any shard, every
//!   reason prefixed with its shard (`shard 1/3: ...`); `examined` summed;
//!   figures combined by [`merge_figures`] (counts summed). Two checks are
//!   judged again on the whole load: `sampling.root.ratio` on the summed
//!   counts with its interval (a shard's own interval is N times likelier
//!   to miss than one over the sum, so its shard marks are kept as the
//!   `by_shard` figure only), and `orphans`, whose shards leave the traces
//!   they did not start to the merge: those no shard started are orphans.
//! - **Figures**: request, failure, trace and status counts summed;
//!   latency and readiness percentiles recomputed exactly from the samples
//!   each shard keeps (`ShardRecord`); requests per second summed (the
//!   shards run side by side); the shards' waterfalls, titled by shard;
//!   repeated calls with their traces summed and the largest shard's
//!   median counts and times (medians do not combine; see
//!   [`merged_repeated`]).
//!   Not combined, so left out: per-service attribution, critical-path
//!   shares, operations and fault-free latency (a shard keeps no per-trace
//!   samples of them), the services' SDK export counts (each shard read
//!   the whole mesh's), the baseline comparison and the exemplar.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::model::{
    Bottleneck, BottleneckReport, EndpointLoad, LoadSummary, RepeatedCall, RunReport, RunSettings,
    ShardRecord, TraceCounts,
};
use crate::load::{SentRequest, Shard};
use crate::run::repeated;
use crate::stats::percentile;

/// The check the merge adds: were the shards one whole load?
pub const SHARDS_CHECK: &str = "shards";

/// Integer figures that do not add up across shards: settings, and counts
/// of the shared mesh that every shard saw whole. Kept per shard.
const NOT_ADDITIVE: &[&str] = &["min_samples", "traces_in_window", "backend_matched"];

/// Orphans named in the merged verdict's reasons before the rest are counted.
const LISTED: usize = 5;

/// One shard's report and where it was read.
#[derive(Debug, Clone)]
pub struct ShardReport {
    /// The file or directory, as given: errors and figures name it.
    pub origin: String,
    pub report: RunReport,
}

/// Why shards cannot be merged at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeError {
    /// Nothing to merge.
    NoShards,
    /// A report of a run without `--shard`.
    NotSharded { origin: String },
    /// Shards of loads split differently.
    CountsDisagree { counts: Vec<(String, String)> },
    /// One shard index twice.
    DuplicateShard {
        shard: String,
        first: String,
        second: String,
    },
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::NoShards => write!(f, "no shard report to merge"),
            MergeError::NotSharded { origin } => write!(
                f,
                "{origin}: not the report of a sharded run (run it with --shard I/N)"
            ),
            MergeError::CountsDisagree { counts } => {
                let listed: Vec<String> = counts
                    .iter()
                    .map(|(origin, shard)| format!("{origin} is shard {shard}"))
                    .collect();
                write!(
                    f,
                    "the shards disagree on the shard count N: {}",
                    listed.join(", ")
                )
            }
            MergeError::DuplicateShard {
                shard,
                first,
                second,
            } => write!(
                f,
                "shard {shard} given twice: {first} and {second} (each shard once)"
            ),
        }
    }
}

impl std::error::Error for MergeError {}

impl ShardRecord {
    /// What a shard keeps for the merge: its identity, every trace id its
    /// requests carried or were answered with, each request's latency by
    /// kind, and each trace's readiness.
    pub fn of(
        shard: Shard,
        base_seed: u64,
        requests: &[SentRequest],
        readiness_ms: &[f64],
    ) -> ShardRecord {
        let trace_ids: BTreeSet<String> = requests
            .iter()
            .filter_map(|r| r.trace_id().map(str::to_owned))
            .collect();
        let mut latency_ms: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for request in requests {
            latency_ms
                .entry(request.kind.name().to_owned())
                .or_default()
                .push(request.latency_ms);
        }
        ShardRecord {
            index: shard.index,
            count: shard.count,
            base_seed,
            trace_ids: trace_ids.into_iter().collect(),
            latency_ms,
            readiness_ms: readiness_ms.to_vec(),
        }
    }
}

/// The shards' reports as one report of the whole load.
pub fn merge(mut shards: Vec<ShardReport>) -> Result<RunReport, MergeError> {
    let first = shards.first().ok_or(MergeError::NoShards)?;
    let count = shard_of(first)?.count;
    for shard in &shards {
        if shard_of(shard)?.count != count {
            return Err(MergeError::CountsDisagree {
                counts: shards
                    .iter()
                    .map(|s| (s.origin.clone(), label(s)))
                    .collect(),
            });
        }
    }
    shards.sort_by_key(|s| s.report.shard.as_ref().map(|r| r.index));
    for pair in shards.windows(2) {
        if label(&pair[0]) == label(&pair[1]) {
            return Err(MergeError::DuplicateShard {
                shard: label(&pair[0]),
                first: pair[0].origin.clone(),
                second: pair[1].origin.clone(),
            });
        }
    }

    let mut verdicts = vec![shards_verdict(&shards, count)];
    verdicts.extend(merged_verdicts(&shards));
    let reports: Vec<&RunReport> = shards.iter().map(|s| &s.report).collect();
    let first = reports[0];
    Ok(RunReport {
        tracemesh_version: distinct(reports.iter().map(|r| r.tracemesh_version.clone())),
        started_at: reports
            .iter()
            .map(|r| r.started_at.clone())
            .min()
            .unwrap_or_default(),
        duration_secs: reports.iter().map(|r| r.duration_secs).fold(0.0, f64::max),
        partial: reports.iter().any(|r| r.partial),
        config: RunSettings {
            scenario: distinct(reports.iter().map(|r| r.config.scenario.clone())),
            users: reports.iter().map(|r| r.config.users).sum(),
            run_time_secs: reports
                .iter()
                .map(|r| r.config.run_time_secs)
                .fold(0.0, f64::max),
            sampler_ratio: first.config.sampler_ratio,
            target: distinct(reports.iter().map(|r| r.config.target.clone())),
            trace_source: distinct(reports.iter().map(|r| r.config.trace_source.clone())),
            // The seed the shards' seeds derive from.
            seed: first
                .shard
                .as_ref()
                .map_or(first.config.seed, |s| s.base_seed),
            // The shards of one load are given the same files.
            expectations: first.config.expectations.clone(),
            // A fix counts for the whole load only when every shard used it.
            fixes: first
                .config
                .fixes
                .iter()
                .filter(|fix| reports.iter().all(|r| r.config.fixes.contains(fix)))
                .cloned()
                .collect(),
        },
        load: merged_load(&reports),
        traces: merged_traces(&reports),
        verdicts,
        attribution: Vec::new(),
        critical_path: Vec::new(),
        waterfalls: shards
            .iter()
            .flat_map(|s| {
                let shard = label(s);
                s.report.waterfalls.iter().map(move |w| {
                    let mut w = w.clone();
                    w.title = format!("shard {shard}: {}", w.title);
                    w
                })
            })
            .collect(),
        files: Vec::new(),
        operations: Vec::new(),
        baseline: None,
        exemplar_jump: None,
        shard: None,
        bottleneck: generator_bound(&shards),
        repeated_calls: merged_repeated(&reports),
    })
}

/// The shards' repeated calls, by (service, parent, call): traces summed
/// (each shard counted the traces it started, so none twice). A shard
/// keeps medians, not samples, and medians do not combine: the largest
/// shard's median stands for the load, an upper bound of the true median
/// that is exact when the shards agree (an N+1 repeats as often in each).
fn merged_repeated(reports: &[&RunReport]) -> Vec<RepeatedCall> {
    let mut by_key: BTreeMap<(String, String, String), RepeatedCall> = BTreeMap::new();
    for call in reports.iter().flat_map(|r| &r.repeated_calls) {
        let key = (call.service.clone(), call.parent.clone(), call.name.clone());
        match by_key.get_mut(&key) {
            Some(merged) => {
                merged.traces += call.traces;
                merged.count_p50 = merged.count_p50.max(call.count_p50);
                merged.time_p50_ms = merged.time_p50_ms.max(call.time_p50_ms);
            }
            None => {
                by_key.insert(key, call.clone());
            }
        }
    }
    let mut calls: Vec<RepeatedCall> = by_key.into_values().collect();
    repeated::rank(&mut calls);
    calls
}

/// What set the rate is judged per pod, over its own cores. The merged
/// figures are the mesh's only if no shard's load generator was full, so
/// the merged report names the first shard whose generator was; otherwise
/// it says nothing (each shard's verdict.json keeps its own).
fn generator_bound(shards: &[ShardReport]) -> Option<BottleneckReport> {
    shards.iter().find_map(|s| {
        let mut found = s.report.bottleneck.clone()?;
        if found.verdict != Bottleneck::LoadGenerator {
            return None;
        }
        found.reason = format!("shard {}: {}", label(s), found.reason);
        Some(found)
    })
}

fn shard_of(shard: &ShardReport) -> Result<&ShardRecord, MergeError> {
    shard
        .report
        .shard
        .as_ref()
        .ok_or_else(|| MergeError::NotSharded {
            origin: shard.origin.clone(),
        })
}

/// The load table of the whole load: counts summed, percentiles over
/// every shard's samples.
fn merged_load(reports: &[&RunReport]) -> LoadSummary {
    let samples = |kind: Option<&str>| -> Vec<f64> {
        reports
            .iter()
            .filter_map(|r| r.shard.as_ref())
            .flat_map(|s| &s.latency_ms)
            .filter(|(name, _)| kind.is_none_or(|k| k == name.as_str()))
            .flat_map(|(_, latencies)| latencies.iter().copied())
            .collect()
    };
    let mut by_name: BTreeMap<String, EndpointLoad> = BTreeMap::new();
    for endpoint in reports.iter().flat_map(|r| &r.load.by_endpoint) {
        let merged = by_name
            .entry(endpoint.name.clone())
            .or_insert_with(|| EndpointLoad {
                name: endpoint.name.clone(),
                ..EndpointLoad::default()
            });
        merged.requests += endpoint.requests;
        merged.failures += endpoint.failures;
        for (status, n) in &endpoint.statuses {
            *merged.statuses.entry(status.clone()).or_default() += n;
        }
    }
    for endpoint in by_name.values_mut() {
        let latencies = samples(Some(&endpoint.name));
        endpoint.p50_ms = percentile(&latencies, 50.0);
        endpoint.p90_ms = percentile(&latencies, 90.0);
        endpoint.p99_ms = percentile(&latencies, 99.0);
    }
    let all = samples(None);
    LoadSummary {
        requests: reports.iter().map(|r| r.load.requests).sum(),
        failures: reports.iter().map(|r| r.load.failures).sum(),
        // The shards run side by side: their rates add up.
        requests_per_sec: reports.iter().map(|r| r.load.requests_per_sec).sum(),
        p50_ms: percentile(&all, 50.0),
        p99_ms: percentile(&all, 99.0),
        by_endpoint: by_name.into_values().collect(),
    }
}

/// Trace counts summed, readiness over every shard's samples.
fn merged_traces(reports: &[&RunReport]) -> TraceCounts {
    let sum = |field: fn(&TraceCounts) -> u64| reports.iter().map(|r| field(&r.traces)).sum();
    let readiness: Vec<f64> = reports
        .iter()
        .filter_map(|r| r.shard.as_ref())
        .flat_map(|s| s.readiness_ms.iter().copied())
        .collect();
    TraceCounts {
        expected: sum(|t| t.expected),
        found: sum(|t| t.found),
        complete: sum(|t| t.complete),
        unsampled: sum(|t| t.unsampled),
        spans_received: sum(|t| t.spans_received),
        readiness_p50_ms: percentile(&readiness, 50.0),
        readiness_p99_ms: percentile(&readiness, 99.0),
        // Each shard read the whole mesh's counters: they do not add up.
        sdk_export: None,
    }
}

/// `I/N` of a shard known to have its record.
fn label(shard: &ShardReport) -> String {
    shard
        .report
        .shard
        .as_ref()
        .map_or_else(|| "?".to_owned(), |r| format!("{}/{}", r.index, r.count))
}

/// The values, once each, in first-seen order, joined by ", ".
fn distinct(values: impl Iterator<Item = String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen.join(", ")
}

/// Every index present once, and no trace started by two shards.
mod verdicts;

pub use verdicts::{combine, merge_figures, merge_values};
use verdicts::{merged_verdicts, shards_verdict};

#[cfg(test)]
mod tests;
