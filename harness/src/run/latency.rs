//! The run's latency without injected faults: per service, per operation
//! and per endpoint, recorded in the report (what a later run's
//! `--baseline` compares), then judged against the scenario's budgets and
//! the baseline, if any.
//!
//! Only what is known to be free of injected faults counts: traces of
//! requests that answered as designed and hold no `fault.injected` span,
//! and for endpoints those requests' latencies, plus, when the scenario
//! injects nothing, the requests whose trace was not sampled. See
//! [`crate::checks::baseline`] for why whole traces are left out rather
//! than only the operations a fault lands on.

use std::collections::{BTreeMap, BTreeSet};

use super::figures;
use crate::SpanRecord;
use crate::checks::Verdict;
use crate::checks::attribution::{TraceAttribution, self_times};
use crate::checks::baseline::{self, Baseline};
use crate::checks::budget::{self, Budget, Observed};
use crate::load::SentRequest;
use crate::report::RunReport;
use crate::report::model::{LatencySample, OperationAttribution};
use crate::scenario::Scenario;
use crate::stats::percentile;
use crate::trace::TraceTree;
use crate::trace::label::nanos_to_ms;

/// Critical-path and self time samples of one service or operation, one
/// per trace it appears in, in nanoseconds.
#[derive(Debug, Default, Clone)]
struct Samples {
    critical: Vec<u64>,
    self_time: Vec<u64>,
}

/// The fault-free figures of a run, before they go into its report.
#[derive(Debug, Default, Clone)]
pub struct LatencyProfile {
    /// Key: (service, span name or `None` for the whole service).
    operations: BTreeMap<(String, Option<String>), Samples>,
    /// Fault-free latencies of the requests, per request kind name.
    endpoints: BTreeMap<&'static str, Vec<f64>>,
    /// Traces used, and traces left out for holding an injected fault.
    traces_used: u64,
    traces_with_faults: u64,
}

/// A span marked by an injected fault of any kind.
fn injected(span: &SpanRecord) -> bool {
    span.injected_fault().is_some()
}

/// Gathers the fault-free figures from the run's requests and the trees
/// the analysis built of their traces (each with whether its request
/// answered other than designed).
pub fn profile(
    scenario: &Scenario,
    requests: &[SentRequest],
    trees: &[(TraceTree, bool)],
) -> LatencyProfile {
    let mut profile = LatencyProfile::default();
    // Per trace id: whether its trace was found free of injected faults.
    let mut clean_traces: BTreeMap<&str, bool> = BTreeMap::new();
    for (tree, unexpected) in trees {
        let faulted = tree.spans().iter().any(injected);
        clean_traces.insert(tree.trace_id(), !faulted);
        if *unexpected {
            continue;
        }
        if faulted {
            profile.traces_with_faults += 1;
            continue;
        }
        if profile.add_trace(tree) {
            profile.traces_used += 1;
        }
    }
    let no_faults = scenario.faults.is_empty();
    for request in requests {
        if figures::is_unexpected(request) {
            continue;
        }
        let clean = match request.trace_id().and_then(|id| clean_traces.get(id)) {
            Some(&clean) => clean,
            // Not sampled or not found: no evidence either way, so only
            // when the scenario injects nothing.
            None => no_faults,
        };
        if clean {
            profile
                .endpoints
                .entry(request.kind.name())
                .or_default()
                .push(request.latency_ms);
        }
    }
    profile
}

impl LatencyProfile {
    /// Adds one fault-free trace; `false` when it has no root.
    fn add_trace(&mut self, tree: &TraceTree) -> bool {
        let Some(attribution) = TraceAttribution::of(tree) else {
            return false;
        };
        let self_nanos = self_times(tree);
        let mut per_trace: BTreeMap<(String, Option<String>), (u64, u64)> = BTreeMap::new();
        for (index, span) in tree.spans().iter().enumerate() {
            for key in [
                (span.service_name.clone(), None),
                (span.service_name.clone(), Some(span.name.clone())),
            ] {
                per_trace.entry(key).or_default().1 += self_nanos[index];
            }
        }
        for ((service, name), nanos) in &attribution.critical_by_operation {
            per_trace
                .entry((service.clone(), Some(name.clone())))
                .or_default()
                .0 += nanos;
        }
        for (service, nanos) in &attribution.critical_by_service {
            per_trace.entry((service.clone(), None)).or_default().0 += nanos;
        }
        for (key, (critical, self_time)) in per_trace {
            let samples = self.operations.entry(key).or_default();
            samples.critical.push(critical);
            samples.self_time.push(self_time);
        }
        true
    }

    /// The report's rows: each service, then its operations.
    pub fn operations(&self) -> Vec<OperationAttribution> {
        let ms = |samples: &[u64], p: f64| nanos_to_ms(percentile(samples, p));
        self.operations
            .iter()
            .map(|((service, operation), s)| OperationAttribution {
                service: service.clone(),
                operation: operation.clone(),
                traces: s.critical.len() as u64,
                critical_p50_ms: ms(&s.critical, 50.0),
                critical_p90_ms: ms(&s.critical, 90.0),
                self_p50_ms: ms(&s.self_time, 50.0),
                self_p90_ms: ms(&s.self_time, 90.0),
            })
            .collect()
    }

    /// Fault-free latency of one request kind.
    fn endpoint(&self, kind: &str) -> Option<LatencySample> {
        let latencies = self.endpoints.get(kind)?;
        Some(LatencySample {
            requests: latencies.len() as u64,
            p50_ms: percentile(latencies, 50.0),
            p90_ms: percentile(latencies, 90.0),
        })
    }

    /// What a budget is judged against, or what was seen instead.
    fn observe(&self, budget: &Budget) -> (Option<Observed>, Vec<String>) {
        if let Some(endpoint) = &budget.endpoint {
            let latencies: Vec<f64> = budget::kinds_of(endpoint)
                .iter()
                .filter_map(|k| self.endpoints.get(k.name()))
                .flatten()
                .copied()
                .collect();
            let observed = (!latencies.is_empty()).then(|| Observed {
                samples: latencies.len() as u64,
                p50_ms: percentile(&latencies, 50.0),
                p90_ms: percentile(&latencies, 90.0),
            });
            return (
                observed,
                self.endpoints.keys().map(|k| k.to_string()).collect(),
            );
        }
        let service = budget.service.clone().unwrap_or_default();
        let key = (service.clone(), budget.operation.clone());
        let observed = self.operations.get(&key).map(|s| Observed {
            samples: s.critical.len() as u64,
            p50_ms: nanos_to_ms(percentile(&s.critical, 50.0)),
            p90_ms: nanos_to_ms(percentile(&s.critical, 90.0)),
        });
        let seen = self
            .operations
            .keys()
            .filter(|(s, o)| *s == service && o.is_some())
            .filter_map(|(_, o)| o.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        (observed, seen)
    }
}

/// Puts the profile into the report, then appends one verdict per budget
/// and, with a baseline, the comparison and its verdict.
pub fn finish(
    report: &mut RunReport,
    profile: &LatencyProfile,
    scenario: &Scenario,
    baseline: Option<&Baseline<'_>>,
) {
    report.operations = profile.operations();
    for endpoint in &mut report.load.by_endpoint {
        endpoint.fault_free = profile.endpoint(&endpoint.name);
    }
    for budget in &scenario.expect.budgets {
        let (observed, seen) = profile.observe(budget);
        let mut verdict = budget::check_budget(budget, observed, &seen, baseline::MIN_SAMPLES);
        verdict.figure("traces_fault_free", profile.traces_used);
        report.verdicts.push(verdict);
    }
    if let Some(baseline) = baseline {
        let (comparison, mut verdict): (_, Verdict) = baseline::compare(report, baseline);
        verdict.figure("traces_fault_free", profile.traces_used);
        verdict.figure(
            "traces_left_out_for_injected_faults",
            profile.traces_with_faults,
        );
        report.baseline = Some(comparison);
        report.verdicts.push(verdict);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::completeness::Fetched;
    use crate::load::RequestKind;
    use crate::model::SpanKind;
    use crate::trace::TreeOptions;
    use crate::trace::synthetic::SyntheticTrace;
    use tracemesh_runtime::contract::attr;

    const RESERVE: &str = "tracemesh.inventory.v1.InventoryService/Reserve";

    /// A checkout trace: gateway 0..(reserve + 4) ms, inventory's Reserve
    /// inside it; with `fault`, Reserve carries an injected latency.
    fn checkout(n: u128, reserve_ms: u64, fault: bool) -> (SentRequest, String, Fetched) {
        let mut trace = SyntheticTrace::new(n + 1);
        let reserve_end = 2.0 + reserve_ms as f64;
        let gateway = trace.span(
            None,
            "gateway",
            "POST /api/checkout",
            SpanKind::Server,
            0.0,
            reserve_end + 2.0,
        );
        let reserve = trace.span(
            Some(gateway),
            "inventory",
            RESERVE,
            SpanKind::Server,
            2.0,
            reserve_end,
        );
        if fault {
            trace.attr(reserve, attr::FAULT_INJECTED, true).attr(
                reserve,
                attr::FAULT_KIND,
                attr::FAULT_KIND_LATENCY,
            );
        }
        let trace_id = trace.trace_id().to_owned();
        let request = SentRequest {
            kind: RequestKind::Checkout,
            traceparent: Some(format!("00-{trace_id}-00000000000000aa-01")),
            traceresponse: None,
            status: Some(201),
            latency_ms: (reserve_ms + 5) as f64,
            sent_unix_nanos: 0,
            answered_unix_nanos: 0,
        };
        (request, trace_id, Fetched::Found(trace.into_spans()))
    }

    /// The trees the analysis would build of these traces.
    fn trees_of(fetched: &[(SentRequest, String, Fetched)]) -> Vec<(TraceTree, bool)> {
        fetched
            .iter()
            .filter_map(|(request, trace_id, fetched)| match fetched {
                Fetched::Found(spans) => Some((
                    TraceTree::build(trace_id, spans.clone(), &TreeOptions::default()),
                    figures::is_unexpected(request),
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn traces_with_injected_latency_are_left_out_and_the_rest_recorded() {
        let scenario = Scenario::parse(
            "name: slow\nfaults: {inventory: {operations: {Reserve: {latency: {distribution: fixed, ms: 40}}}}}\n",
            "t",
        )
        .unwrap();
        let mut fetched = Vec::new();
        for n in 0..30 {
            fetched.push(checkout(n, 1, false));
            fetched.push(checkout(100 + n, 41, true));
        }
        let requests: Vec<SentRequest> = fetched.iter().map(|(r, _, _)| r.clone()).collect();
        let refs = trees_of(&fetched);
        let profile = profile(&scenario, &requests, &refs);
        assert_eq!((profile.traces_used, profile.traces_with_faults), (30, 30));
        let ops = profile.operations();
        let reserve = ops
            .iter()
            .find(|o| o.operation.as_deref() == Some(RESERVE))
            .unwrap();
        assert_eq!(reserve.traces, 30);
        assert_eq!(reserve.critical_p50_ms, 1.0);
        let gateway = ops
            .iter()
            .find(|o| o.service == "gateway" && o.operation.is_none())
            .unwrap();
        assert_eq!(gateway.critical_p90_ms, 4.0);
        let checkout = profile.endpoint("checkout").unwrap();
        assert_eq!((checkout.requests, checkout.p90_ms), (30, 6.0));
    }

    /// A baseline run, and a run whose faulted traces are 40 ms slower:
    /// the comparison passes, the growth is explained. 30 ms more in
    /// Reserve with no fault marker fails, naming it.
    #[test]
    fn injected_growth_passes_and_uninjected_growth_fails() {
        let scenario = Scenario::parse(
            "name: slow\nfaults: {inventory: {operations: {Reserve: {latency: {distribution: fixed, ms: 40}}}}}\n",
            "t",
        )
        .unwrap();
        let run = |clean_ms: u64| {
            let mut fetched = Vec::new();
            for n in 0..30 {
                fetched.push(checkout(n, clean_ms, false));
                fetched.push(checkout(100 + n, clean_ms + 40, true));
            }
            let requests: Vec<SentRequest> = fetched.iter().map(|(r, _, _)| r.clone()).collect();
            let refs = trees_of(&fetched);
            let mut report = crate::checks::baseline::tests::report(1.0, 6.0);
            report.config.scenario = "slow".into();
            report.load.by_endpoint =
                crate::run::figures::load_summary(&requests, 20.0).by_endpoint;
            let p = profile(&scenario, &requests, &refs);
            (report, p)
        };
        let (mut before, p) = run(1);
        finish(&mut before, &p, &scenario, None);
        assert!(before.baseline.is_none());

        let (mut same, p) = run(1);
        let b = Baseline::new(&before, "before");
        finish(&mut same, &p, &scenario, Some(&b));
        let verdict = same.verdicts.last().unwrap();
        assert!(verdict.passed, "{:#?}", verdict.reasons);
        assert_eq!(verdict.figures["traces_left_out_for_injected_faults"], 30);

        let (mut slower, p) = run(31);
        finish(&mut slower, &p, &scenario, Some(&b));
        let verdict = slower.verdicts.last().unwrap();
        assert!(!verdict.passed);
        assert!(
            verdict.reasons.iter().any(|r| r.starts_with(&format!(
                "inventory {RESERVE}: critical-path self time p50 31.0 ms against 1.0 ms"
            ))),
            "{:#?}",
            verdict.reasons
        );
    }
}
