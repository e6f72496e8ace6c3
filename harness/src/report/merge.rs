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
//!   shards run side by side); the shards' waterfalls, titled by shard.
//!   Not combined, so left out: per-service attribution, critical-path
//!   shares, operations and fault-free latency (a shard keeps no per-trace
//!   samples of them), the services' SDK export counts (each shard read
//!   the whole mesh's), the baseline comparison and the exemplar.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

use super::model::{
    Bottleneck, BottleneckReport, EndpointLoad, LoadSummary, RunReport, RunSettings, ShardRecord,
    TraceCounts,
};
use crate::checks::Verdict;
use crate::checks::orphans;
use crate::checks::sampling::{self, RatioCounts, RatioSampler};
use crate::load::{SentRequest, Shard};
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
    })
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
fn shards_verdict(shards: &[ShardReport], count: u32) -> Verdict {
    let mut verdict = Verdict::new(SHARDS_CHECK);
    let present: BTreeSet<u32> = shards
        .iter()
        .filter_map(|s| s.report.shard.as_ref().map(|r| r.index))
        .collect();
    let missing: Vec<String> = (0..count)
        .filter(|i| !present.contains(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        verdict.fail(format!(
            "shard(s) {} missing: their share of the load was not checked",
            missing.join(", ")
        ));
    }
    let mut owner: BTreeMap<&str, String> = BTreeMap::new();
    let mut shared: BTreeMap<(String, String), Vec<&str>> = BTreeMap::new();
    for shard in shards {
        verdict.examine();
        let Some(record) = &shard.report.shard else {
            continue;
        };
        for trace_id in &record.trace_ids {
            if let Some(first) = owner.insert(trace_id, label(shard)) {
                shared
                    .entry((first, label(shard)))
                    .or_default()
                    .push(trace_id);
            }
        }
    }
    for ((a, b), ids) in &shared {
        verdict.fail(format!(
            "shards {a} and {b} both started {} trace(s) (e.g. {}): their checks read the same \
             traces; give every shard the same --seed and its own index",
            ids.len(),
            ids[0]
        ));
    }
    let rows: Vec<Value> = shards
        .iter()
        .map(|s| {
            let r = &s.report;
            serde_json::json!({
                "shard": label(s),
                "report": s.origin,
                "seed": r.config.seed,
                "base_seed": r.shard.as_ref().map(|x| x.base_seed),
                "users": r.config.users,
                "requests": r.load.requests,
                "trace_ids": r.shard.as_ref().map_or(0, |x| x.trace_ids.len()),
                "passed": r.passed(),
            })
        })
        .collect();
    verdict.figure("shard_count", count);
    verdict.figure("shards", rows);
    verdict.figure("missing", &missing);
    verdict.figure(
        "traces_started_twice",
        shared.values().map(Vec::len).sum::<usize>(),
    );
    verdict.finish()
}

/// Every check of any shard, in first-seen order, combined.
fn merged_verdicts(shards: &[ShardReport]) -> Vec<Verdict> {
    let mut order: Vec<&str> = Vec::new();
    for shard in shards {
        for verdict in &shard.report.verdicts {
            if !order.contains(&verdict.check.as_str()) {
                order.push(&verdict.check);
            }
        }
    }
    order
        .into_iter()
        .map(|check| {
            let of_check: Vec<(String, &Verdict)> = shards
                .iter()
                .flat_map(|s| {
                    s.report
                        .verdicts
                        .iter()
                        .filter(move |v| v.check == check)
                        .map(move |v| (label(s), v))
                })
                .collect();
            if check == sampling::RATIO_CHECK {
                rejudge_ratio(&of_check)
            } else if check == orphans::CHECK {
                rejudge_orphans(combine(check, &of_check), shards)
            } else {
                combine(check, &of_check)
            }
        })
        .collect()
}

/// One check's verdicts from several shards: failed if any failed, with
/// the shard named in each reason.
pub fn combine(check: &str, verdicts: &[(String, &Verdict)]) -> Verdict {
    let mut merged = Verdict::new(check);
    for (shard, verdict) in verdicts {
        merged.examined += verdict.examined;
        if !verdict.passed {
            merged.passed = false;
            if verdict.reasons.is_empty() {
                merged.reasons.push(format!("shard {shard}: failed"));
            }
            for reason in &verdict.reasons {
                merged.reasons.push(format!("shard {shard}: {reason}"));
            }
        }
    }
    merged.figures = merge_figures(verdicts);
    merged
}

/// Figures of several shards' verdicts of one check, key by key
/// ([`merge_values`]); a key some shards lack is merged over those that
/// have it.
pub fn merge_figures(verdicts: &[(String, &Verdict)]) -> BTreeMap<String, Value> {
    let keys: BTreeSet<&String> = verdicts
        .iter()
        .flat_map(|(_, v)| v.figures.keys())
        .collect();
    keys.into_iter()
        .map(|key| {
            let values: Vec<(String, &Value)> = verdicts
                .iter()
                .filter_map(|(shard, v)| v.figures.get(key).map(|value| (shard.clone(), value)))
                .collect();
            (key.clone(), merge_values(key, &values))
        })
        .collect()
}

/// One figure from several shards: whole numbers (counts) summed, objects
/// merged key by key, lists joined, equal values kept once, and anything
/// else kept per shard (`{"0/3": .., "1/3": ..}`).
pub fn merge_values(key: &str, values: &[(String, &Value)]) -> Value {
    let all = |test: fn(&Value) -> bool| values.iter().all(|(_, v)| test(v));
    if !NOT_ADDITIVE.contains(&key) && all(|v| v.is_u64()) {
        return Value::from(values.iter().filter_map(|(_, v)| v.as_u64()).sum::<u64>());
    }
    if all(Value::is_object) {
        let keys: BTreeSet<&String> = values
            .iter()
            .filter_map(|(_, v)| v.as_object())
            .flat_map(Map::keys)
            .collect();
        return Value::Object(
            keys.into_iter()
                .map(|k| {
                    let inner: Vec<(String, &Value)> = values
                        .iter()
                        .filter_map(|(shard, v)| v.get(k).map(|x| (shard.clone(), x)))
                        .collect();
                    (k.clone(), merge_values(k, &inner))
                })
                .collect(),
        );
    }
    if all(Value::is_array) {
        return Value::Array(
            values
                .iter()
                .filter_map(|(_, v)| v.as_array())
                .flatten()
                .cloned()
                .collect(),
        );
    }
    if values.iter().all(|(_, v)| *v == values[0].1) {
        return values[0].1.clone();
    }
    Value::Object(
        values
            .iter()
            .map(|(shard, v)| (shard.clone(), (*v).clone()))
            .collect(),
    )
}

/// `sampling.root.ratio` judged again on the shards' summed counts.
fn rejudge_ratio(verdicts: &[(String, &Verdict)]) -> Verdict {
    let count = |v: &Verdict, key: &str| v.figures.get(key).and_then(Value::as_u64).unwrap_or(0);
    let number = |v: &Verdict, key: &str| v.figures.get(key).and_then(Value::as_f64);
    let mut counts = RatioCounts::default();
    for (_, v) in verdicts {
        counts.requests += count(v, "requests");
        counts.trials += v.examined as u64;
        counts.sampled += count(v, "sampled");
        counts.expected_sampled += count(v, "expected_sampled");
    }
    let ratios: BTreeSet<String> = verdicts
        .iter()
        .filter_map(|(_, v)| number(v, "ratio").map(|r| r.to_string()))
        .collect();
    let ratio = verdicts.iter().find_map(|(_, v)| number(v, "ratio"));
    let confidence = verdicts.iter().find_map(|(_, v)| number(v, "confidence"));
    let mut sampler = RatioSampler::new(ratio.unwrap_or(f64::NAN));
    if let Some(confidence) = confidence {
        sampler = sampler.with_confidence(confidence);
    }
    let mut verdict = sampling::judge_ratio(counts, sampler);
    if ratios.len() > 1 {
        verdict.fail(format!(
            "the shards were run with different sampler ratios ({}): their counts do not add up \
             to one ratio",
            ratios.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let by_shard: Map<String, Value> = verdicts
        .iter()
        .map(|(shard, v)| (shard.clone(), Value::from(v.passed)))
        .collect();
    verdict.figure("by_shard", by_shard);
    verdict
}

/// The traces the shards left to the merge (`unclaimed_trace_ids`) that
/// no shard started are the load's orphans.
fn rejudge_orphans(mut verdict: Verdict, shards: &[ShardReport]) -> Verdict {
    let started: BTreeSet<&str> = shards
        .iter()
        .filter_map(|s| s.report.shard.as_ref())
        .flat_map(|r| r.trace_ids.iter().map(String::as_str))
        .collect();
    // Trace id to the first shard that found it.
    let mut orphans: BTreeMap<&str, String> = BTreeMap::new();
    for shard in shards {
        for trace_id in unclaimed(&shard.report) {
            if !started.contains(trace_id) {
                orphans.entry(trace_id).or_insert_with(|| label(shard));
            }
        }
    }
    if !orphans.is_empty() {
        let listed: Vec<String> = orphans
            .iter()
            .take(LISTED)
            .map(|(id, shard)| format!("{id} (found by shard {shard})"))
            .collect();
        verdict.fail(format!(
            "{} trace(s) in the load's window that no shard started: {}{}",
            orphans.len(),
            listed.join(", "),
            if orphans.len() > LISTED { ", ..." } else { "" }
        ));
    }
    // Replaced by its judgement: the list is every other shard's traces.
    verdict.figures.remove(orphans::UNCLAIMED_FIGURE);
    verdict.figure("orphan_traces_between_shards", orphans.len());
    verdict
}

/// The trace ids a shard's orphans check left to the merge.
fn unclaimed(report: &RunReport) -> impl Iterator<Item = &str> {
    report
        .verdicts
        .iter()
        .filter(|v| v.check == orphans::CHECK)
        .filter_map(|v| v.figures.get(orphans::UNCLAIMED_FIGURE))
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_str)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::report::model::ProcessCpu;

    fn verdict(check: &str, passed: bool, reasons: &[&str], figures: Value) -> Verdict {
        let mut v = Verdict::new(check);
        v.examined = 1;
        for reason in reasons {
            v.fail(*reason);
        }
        v.passed = passed;
        if let Value::Object(map) = figures {
            v.figures = map.into_iter().collect();
        }
        v
    }

    /// Shard `index` of `count` with these checkout latencies and trace ids.
    fn shard(index: u32, count: u32, latencies: &[f64], trace_ids: &[&str]) -> ShardReport {
        let requests = latencies.len() as u64;
        let report = RunReport {
            tracemesh_version: "0.1.0".into(),
            started_at: format!("2026-12-01T07:0{index}:00Z"),
            duration_secs: 5.0 + f64::from(index),
            partial: false,
            config: RunSettings {
                scenario: "baseline".into(),
                users: 2,
                run_time_secs: 5.0,
                sampler_ratio: 1.0,
                target: "http://gateway".into(),
                trace_source: "http://tempo".into(),
                seed: Shard::new(index, count).unwrap().seed(7),
            },
            load: LoadSummary {
                requests,
                failures: 1,
                requests_per_sec: 10.0,
                // What a shard's own percentiles say; the merge must not use them.
                p50_ms: -1.0,
                p99_ms: -1.0,
                by_endpoint: vec![EndpointLoad {
                    name: "checkout".into(),
                    requests,
                    failures: 1,
                    statuses: BTreeMap::from([("201".into(), requests - 1), ("503".into(), 1)]),
                    ..EndpointLoad::default()
                }],
            },
            traces: TraceCounts {
                expected: requests,
                found: requests,
                complete: requests,
                ..TraceCounts::default()
            },
            verdicts: vec![verdict("full_tree", true, &[], json!({"traces": requests}))],
            attribution: Vec::new(),
            critical_path: Vec::new(),
            waterfalls: Vec::new(),
            files: Vec::new(),
            operations: Vec::new(),
            baseline: None,
            exemplar_jump: None,
            bottleneck: None,
            shard: Some(ShardRecord {
                index,
                count,
                base_seed: 7,
                trace_ids: trace_ids.iter().map(|s| s.to_string()).collect(),
                latency_ms: BTreeMap::from([("checkout".into(), latencies.to_vec())]),
                readiness_ms: latencies.iter().map(|l| l * 2.0).collect(),
            }),
        };
        ShardReport {
            origin: format!("reports/shard-{index}"),
            report,
        }
    }

    fn check<'a>(report: &'a RunReport, name: &str) -> &'a Verdict {
        report
            .verdicts
            .iter()
            .find(|v| v.check == name)
            .unwrap_or_else(|| panic!("no {name} verdict in {:#?}", report.verdicts))
    }

    #[test]
    fn the_merged_report_names_a_shard_whose_load_generator_was_full() {
        let with = |mut shard: ShardReport, verdict: Bottleneck| {
            shard.report.bottleneck = Some(BottleneckReport {
                verdict,
                reason: format!("{verdict:?}"),
                cores: 2,
                window_secs: 5.0,
                generator: ProcessCpu {
                    name: "tracemesh run".into(),
                    pid: 1,
                    cpu_percent: 190.0,
                },
                services: None,
                machine_percent: Some(195.0),
            });
            shard
        };
        let mesh_bound = || with(shard(0, 2, &[1.0], &["a"]), Bottleneck::Mesh);
        let merged = merge(vec![
            mesh_bound(),
            with(shard(1, 2, &[2.0], &["b"]), Bottleneck::LoadGenerator),
        ])
        .unwrap();
        let named = merged.bottleneck.expect("the full generator is named");
        assert_eq!(named.verdict, Bottleneck::LoadGenerator);
        assert!(named.reason.starts_with("shard 1/2: "), "{}", named.reason);

        let merged = merge(vec![mesh_bound(), shard(1, 2, &[2.0], &["b"])]).unwrap();
        assert_eq!(merged.bottleneck, None, "no shard's generator was full");
    }

    #[test]
    fn percentiles_are_recomputed_exactly_from_every_shards_samples() {
        // 1..=100 dealt to two shards (odd, even) and 1000 to a third: the
        // nearest-rank percentiles of all 101 samples, not of the shards'.
        let odd: Vec<f64> = (1..=100).filter(|n| n % 2 == 1).map(f64::from).collect();
        let even: Vec<f64> = (1..=100).filter(|n| n % 2 == 0).map(f64::from).collect();
        let merged = merge(vec![
            shard(2, 3, &[1000.0], &["c"]),
            shard(0, 3, &odd, &["a"]),
            shard(1, 3, &even, &["b"]),
        ])
        .unwrap();
        let load = &merged.load;
        assert_eq!(load.requests, 101);
        assert_eq!(load.failures, 3);
        assert_eq!((load.p50_ms, load.p99_ms), (51.0, 100.0));
        let checkout = &load.by_endpoint[0];
        assert_eq!(checkout.requests, 101);
        assert_eq!(
            (checkout.p50_ms, checkout.p90_ms, checkout.p99_ms),
            (51.0, 91.0, 100.0)
        );
        assert_eq!(checkout.statuses["201"], 98);
        assert_eq!(checkout.statuses["503"], 3);
        assert_eq!(load.requests_per_sec, 30.0);
        assert_eq!(merged.traces.expected, 101);
        assert_eq!(
            (
                merged.traces.readiness_p50_ms,
                merged.traces.readiness_p99_ms
            ),
            (102.0, 200.0)
        );
        assert_eq!(merged.config.users, 6);
        assert_eq!(merged.config.seed, 7, "the base seed");
        assert_eq!(merged.started_at, "2026-12-01T07:00:00Z");
        assert_eq!(merged.duration_secs, 7.0);
        assert!(merged.passed(), "{:#?}", merged.verdicts);
        assert_eq!(check(&merged, "full_tree").figures["traces"], 101);
        assert_eq!(check(&merged, "full_tree").examined, 3);
    }

    #[test]
    fn a_check_failed_in_one_shard_fails_the_load_naming_the_shard() {
        let mut one = shard(1, 2, &[1.0], &["b"]);
        one.report.verdicts = vec![verdict(
            "full_tree",
            false,
            &["trace b has no payment span"],
            json!({"traces": 1}),
        )];
        let merged = merge(vec![shard(0, 2, &[1.0], &["a"]), one]).unwrap();
        let tree = check(&merged, "full_tree");
        assert!(!tree.passed);
        assert_eq!(tree.reasons, ["shard 1/2: trace b has no payment span"]);
        assert!(!merged.passed());
    }

    fn ratio_shard(index: u32, sampled: u64, trials: u64) -> ShardReport {
        let mut s = shard(index, 2, &[1.0], &[["a", "b"][index as usize]]);
        s.report.verdicts = vec![sampling::judge_ratio(
            RatioCounts {
                requests: trials,
                trials,
                sampled,
                expected_sampled: sampled,
            },
            RatioSampler::new(0.5),
        )];
        s
    }

    #[test]
    fn the_sampling_ratio_is_judged_again_on_the_summed_counts() {
        // 64 of 100 is within each shard's 99.9% interval around 0.5; 128
        // of 200 is not.
        let (a, b) = (ratio_shard(0, 64, 100), ratio_shard(1, 64, 100));
        assert!(a.report.verdicts[0].passed && b.report.verdicts[0].passed);
        let merged = merge(vec![a, b]).unwrap();
        let ratio = check(&merged, sampling::RATIO_CHECK);
        assert!(!ratio.passed);
        assert!(
            ratio.reasons[0].contains("128 of 200"),
            "{:?}",
            ratio.reasons
        );
        assert_eq!(ratio.figures["sampled"], 128);
        assert_eq!(ratio.examined, 200);
        // Each shard's own interval missed, the sum's holds the ratio.
        let (a, b) = (ratio_shard(0, 70, 100), ratio_shard(1, 30, 100));
        assert!(!a.report.verdicts[0].passed && !b.report.verdicts[0].passed);
        let merged = merge(vec![a, b]).unwrap();
        let ratio = check(&merged, sampling::RATIO_CHECK);
        assert!(ratio.passed, "{:?}", ratio.reasons);
        assert_eq!(
            ratio.figures["by_shard"],
            json!({"0/2": false, "1/2": false})
        );
    }

    #[test]
    fn traces_one_shard_left_unclaimed_are_orphans_only_if_no_shard_started_them() {
        let orphans_of = |unclaimed: &[&str]| {
            verdict(
                orphans::CHECK,
                true,
                &[],
                json!({"orphan_traces": 0, orphans::UNCLAIMED_FIGURE: unclaimed}),
            )
        };
        let mut a = shard(0, 2, &[1.0], &["a"]);
        a.report.verdicts = vec![orphans_of(&["b"])];
        let mut b = shard(1, 2, &[1.0], &["b"]);
        b.report.verdicts = vec![orphans_of(&["a"])];
        let merged = merge(vec![a.clone(), b.clone()]).unwrap();
        assert!(check(&merged, orphans::CHECK).passed);
        b.report.verdicts = vec![orphans_of(&["a", "f00d"])];
        let merged = merge(vec![a, b]).unwrap();
        let orphans = check(&merged, orphans::CHECK);
        assert!(!orphans.passed);
        assert_eq!(
            orphans.reasons,
            ["1 trace(s) in the load's window that no shard started: f00d (found by shard 1/2)"]
        );
        assert_eq!(orphans.figures["orphan_traces_between_shards"], 1);
        assert!(!orphans.figures.contains_key(orphans::UNCLAIMED_FIGURE));
    }

    #[test]
    fn a_missing_shard_or_a_trace_started_twice_fails_the_shards_check() {
        let merged = merge(vec![
            shard(0, 3, &[1.0], &["a"]),
            shard(2, 3, &[1.0], &["c"]),
        ])
        .unwrap();
        let shards = check(&merged, SHARDS_CHECK);
        assert!(!shards.passed);
        assert_eq!(
            shards.reasons,
            ["shard(s) 1/3 missing: their share of the load was not checked"]
        );
        assert_eq!(shards.figures["missing"], json!(["1/3"]));
        assert!(!merged.passed());

        let merged = merge(vec![
            shard(0, 2, &[1.0], &["a", "b"]),
            shard(1, 2, &[1.0], &["b"]),
        ])
        .unwrap();
        let shards = check(&merged, SHARDS_CHECK);
        assert!(!shards.passed);
        assert!(
            shards.reasons[0].starts_with("shards 0/2 and 1/2 both started 1 trace(s) (e.g. b)"),
            "{:?}",
            shards.reasons
        );
    }

    #[test]
    fn duplicates_other_counts_and_unsharded_reports_are_refused() {
        let one = shard(1, 3, &[1.0], &["b"]);
        let mut again = one.clone();
        again.origin = "copy".into();
        assert_eq!(
            merge(vec![one.clone(), again]).unwrap_err().to_string(),
            "shard 1/3 given twice: reports/shard-1 and copy (each shard once)"
        );
        let error = merge(vec![one.clone(), shard(0, 2, &[1.0], &["a"])]).unwrap_err();
        assert!(
            matches!(error, MergeError::CountsDisagree { .. }),
            "{error}"
        );
        let mut plain = shard(0, 3, &[1.0], &["a"]);
        plain.report.shard = None;
        assert_eq!(
            merge(vec![one, plain]).unwrap_err(),
            MergeError::NotSharded {
                origin: "reports/shard-0".into()
            }
        );
        assert_eq!(merge(Vec::new()).unwrap_err(), MergeError::NoShards);
    }

    #[test]
    fn a_shard_keeps_its_trace_ids_once_and_its_latencies_by_kind() {
        use crate::load::RequestKind;
        let sent = |kind, trace: u128, latency_ms| SentRequest {
            kind,
            traceparent: Some(crate::load::format_traceparent(trace, 1, true)),
            traceresponse: None,
            status: Some(200),
            latency_ms,
            sent_unix_nanos: 0,
            answered_unix_nanos: 1,
        };
        let requests = [
            sent(RequestKind::Checkout, 2, 30.0),
            sent(RequestKind::BrowseProducts, 1, 5.0),
            sent(RequestKind::Checkout, 2, 10.0),
        ];
        let record = ShardRecord::of(Shard::new(1, 2).unwrap(), 9, &requests, &[4.0]);
        assert_eq!((record.index, record.count, record.base_seed), (1, 2, 9));
        assert_eq!(
            record.trace_ids,
            [format!("{:032x}", 1), format!("{:032x}", 2)]
        );
        assert_eq!(record.latency_ms["checkout"], [30.0, 10.0]);
        assert_eq!(record.latency_ms["browse_products"], [5.0]);
        assert_eq!(record.readiness_ms, [4.0]);
    }

    #[test]
    fn figures_merge_counts_by_sum_and_keep_the_rest_per_shard() {
        let merge_of = |key: &str, a: Value, b: Value| {
            merge_values(key, &[("0/2".into(), &a), ("1/2".into(), &b)])
        };
        assert_eq!(merge_of("traces", json!(3), json!(4)), json!(7));
        assert_eq!(
            merge_of(
                "categories",
                json!({"complete": 3}),
                json!({"complete": 4, "missing": 1})
            ),
            json!({"complete": 7, "missing": 1})
        );
        assert_eq!(merge_of("min_samples", json!(5), json!(5)), json!(5));
        assert_eq!(
            merge_of("traces_in_window", json!(9), json!(8)),
            json!({"0/2": 9, "1/2": 8})
        );
        assert_eq!(merge_of("ratio", json!(0.5), json!(0.5)), json!(0.5));
        assert_eq!(
            merge_of("backend", json!("x"), json!("y")),
            json!({"0/2": "x", "1/2": "y"})
        );
        assert_eq!(
            merge_of("incomplete", json!([1]), json!([2])),
            json!([1, 2])
        );
    }
}
