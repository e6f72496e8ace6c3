//! Verdicts of the shards combined check by check, and the two checks
//! judged again on the whole load: the root sampling ratio (on the summed
//! counts) and orphans (traces no shard started).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::{LISTED, NOT_ADDITIVE, SHARDS_CHECK, ShardReport, label};
use crate::checks::Verdict;
use crate::checks::orphans;
use crate::checks::sampling::{self, RatioCounts, RatioSampler};
use crate::report::model::RunReport;

pub(super) fn shards_verdict(shards: &[ShardReport], count: u32) -> Verdict {
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
pub(super) fn merged_verdicts(shards: &[ShardReport]) -> Vec<Verdict> {
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
