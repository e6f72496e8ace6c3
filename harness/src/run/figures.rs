//! Figures of a run computed from its requests and traces: the load table,
//! percentiles, critical-path shares and waterfalls for the report.

use std::collections::BTreeMap;

use crate::checks::attribution::{self, RunAttribution, TraceAttribution};
use crate::load::SentRequest;
use crate::model::StatusCode;
use crate::report::model::{
    CriticalPathShare, EndpointLoad, LoadSummary, ServiceAttribution, Waterfall, WaterfallSpan,
};
use crate::stats::percentile;
use crate::trace::TraceTree;
use crate::trace::label::{kind_label, nanos_to_ms};

/// A request answered other than the mesh answers it without faults.
pub fn is_unexpected(request: &SentRequest) -> bool {
    request.status != Some(request.kind.expected_status())
}

/// The load table: totals and one row per request kind.
pub fn load_summary(requests: &[SentRequest], duration_secs: f64) -> LoadSummary {
    let mut by_kind: BTreeMap<String, Vec<&SentRequest>> = BTreeMap::new();
    for request in requests {
        let name = serde_json::to_value(request.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        by_kind.entry(name).or_default().push(request);
    }
    let all_latencies: Vec<f64> = requests.iter().map(|r| r.latency_ms).collect();
    let by_endpoint = by_kind
        .into_iter()
        .map(|(name, requests)| {
            let latencies: Vec<f64> = requests.iter().map(|r| r.latency_ms).collect();
            let mut statuses = BTreeMap::new();
            for r in &requests {
                let key = r.status.map_or("none".to_owned(), |s| s.to_string());
                *statuses.entry(key).or_insert(0) += 1;
            }
            EndpointLoad {
                name,
                requests: requests.len() as u64,
                failures: requests.iter().filter(|r| is_unexpected(r)).count() as u64,
                p50_ms: percentile(&latencies, 50.0),
                p90_ms: percentile(&latencies, 90.0),
                p99_ms: percentile(&latencies, 99.0),
                statuses,
                fault_free: None,
            }
        })
        .collect();
    LoadSummary {
        requests: requests.len() as u64,
        failures: requests.iter().filter(|r| is_unexpected(r)).count() as u64,
        requests_per_sec: if duration_secs > 0.0 {
            requests.len() as f64 / duration_secs
        } else {
            0.0
        },
        p50_ms: percentile(&all_latencies, 50.0),
        p99_ms: percentile(&all_latencies, 99.0),
        by_endpoint,
    }
}

/// Per-service percentiles, largest critical-path median first.
pub fn attribution_table(run: &RunAttribution) -> Vec<ServiceAttribution> {
    let mut rows: Vec<ServiceAttribution> = run
        .summary()
        .into_iter()
        .map(|(service, l)| ServiceAttribution {
            service,
            self_p50_ms: l.self_time.p50_ms,
            self_p90_ms: l.self_time.p90_ms,
            self_p99_ms: l.self_time.p99_ms,
            critical_p50_ms: l.critical_path_self_time.p50_ms,
            critical_p90_ms: l.critical_path_self_time.p90_ms,
            critical_p99_ms: l.critical_path_self_time.p99_ms,
        })
        .collect();
    rows.sort_by(|a, b| b.critical_p50_ms.total_cmp(&a.critical_p50_ms));
    rows
}

/// Each service's share of all critical-path time in the run.
pub fn critical_path_shares(traces: &[TraceAttribution]) -> Vec<CriticalPathShare> {
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for t in traces {
        for (service, nanos) in &t.critical_by_service {
            *totals.entry(service).or_default() += nanos;
        }
    }
    let sum: u64 = totals.values().sum();
    let mut shares: Vec<CriticalPathShare> = totals
        .into_iter()
        .map(|(service, nanos)| CriticalPathShare {
            service: service.to_owned(),
            share: if sum > 0 {
                nanos as f64 / sum as f64
            } else {
                0.0
            },
            mean_ms: nanos as f64 / 1e6 / traces.len().max(1) as f64,
        })
        .collect();
    shares.sort_by(|a, b| b.share.total_cmp(&a.share));
    shares
}

/// The operation (service, span name) that costs the traces it appears in
/// the most critical-path time, on average per trace. Per trace and not in
/// total, so a cheap operation that every request runs does not outrank a
/// slow one: what a request waiting on it feels.
pub fn dominant_operation(traces: &[TraceAttribution]) -> Option<((String, String), f64)> {
    let mut totals: BTreeMap<&(String, String), (u64, u64)> = BTreeMap::new();
    for t in traces {
        for (operation, nanos) in &t.critical_by_operation {
            let entry = totals.entry(operation).or_default();
            entry.0 += nanos;
            entry.1 += 1;
        }
    }
    totals
        .into_iter()
        .map(|(op, (nanos, traces))| (op.clone(), nanos as f64 / traces as f64 / 1e6))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// A trace laid out for a waterfall chart.
pub fn waterfall(title: String, tree: &TraceTree) -> Option<Waterfall> {
    let root = tree.top()?;
    let start = tree.span(root).start_unix_nanos;
    let self_times = attribution::self_times(tree);
    let critical: Vec<usize> = attribution::critical_path(tree, root)
        .iter()
        .map(|s| s.span)
        .collect();
    let spans = tree
        .depth_first()
        .into_iter()
        .map(|(index, depth)| {
            let span = tree.span(index);
            WaterfallSpan {
                depth,
                service: span.service_name.clone(),
                name: span.name.clone(),
                kind: kind_label(span.kind).to_owned(),
                start_ms: nanos_to_ms(span.start_unix_nanos.saturating_sub(start)),
                duration_ms: nanos_to_ms(span.duration_nanos()),
                self_ms: nanos_to_ms(self_times[index]),
                error: span.status.code == StatusCode::Error,
                critical: critical.contains(&index),
                fault: span.injected_fault().is_some(),
            }
        })
        .collect();
    Some(Waterfall {
        title,
        trace_id: tree.trace_id().to_owned(),
        duration_ms: nanos_to_ms(tree.span(root).duration_nanos()),
        spans,
        start_unix_nanos: start,
        // Filled from the run's log file, which only the caller knows.
        logs: Vec::new(),
    })
}
