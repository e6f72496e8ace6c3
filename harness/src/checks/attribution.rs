//! Latency attribution: where did the time of a request go, and did
//! injected latency land where it was injected?
//!
//! Three measures, per trace:
//!
//! - **Self time** of a span: its duration minus the time covered by its
//!   children (their union, clipped to the span). A gateway span of 50 ms
//!   whose two calls cover 45 ms did 5 ms of its own work — "the gap is CPU
//!   work" (or waiting that nobody traced). Summed per service.
//! - **The critical path**: the chain of work that determined the end of
//!   the request — Jaeger's algorithm. Start at the root's end; step back to
//!   the last-finishing child that ends before the current point; the time
//!   between that child's end and the point belongs to the parent; descend
//!   into the child the same way, then continue in the parent from the
//!   child's start. Children sticking out of their parent are clipped to it
//!   first. A child that overlaps the next one in time is skipped when it
//!   does not end before that one starts: it ran concurrently and did not
//!   hold the request up.
//! - **Critical-path self time** per service: how long each service was
//!   the one holding the request up. Unlike plain self time, work done in
//!   parallel with something slower does not count.
//!
//! Over a run, [`RunAttribution`] gives percentiles of both per service.
//! [`check_injected_latency`] then compares a baseline run with a treated
//! run (latency X injected into service S): S's median critical-path self
//! time must grow by X within a tolerance, and no other service's may grow
//! by more than the tolerance — otherwise the verdict names the service
//! that absorbed it.
//!
//! All walks are iterative: a 10,000-deep trace must not overflow the stack.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use super::Verdict;
use crate::stats::{median, percentile};
use crate::trace::TraceTree;
use crate::trace::label::{fmt_nanos, nanos_to_ms};

/// The check's name in verdicts.
pub const CHECK: &str = "attribution";

/// A stretch of the critical path and the span that owned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CriticalSegment {
    /// Position of the span in the [`TraceTree`].
    pub span: usize,
    pub service: String,
    pub name: String,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
}

impl CriticalSegment {
    pub fn duration_nanos(&self) -> u64 {
        self.end_unix_nanos - self.start_unix_nanos
    }
}

/// Where the time of one trace went.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceAttribution {
    pub trace_id: String,
    /// Duration of the root span.
    pub duration_nanos: u64,
    /// Self time summed per service, over every span of the trace.
    pub self_by_service: BTreeMap<String, u64>,
    /// The critical path from the root, in time order.
    pub critical_path: Vec<CriticalSegment>,
    /// Critical-path time per service.
    pub critical_by_service: BTreeMap<String, u64>,
    /// Critical-path time per (service, span name).
    pub critical_by_operation: BTreeMap<(String, String), u64>,
}

/// Self time of every span of the tree, indexed like [`TraceTree::spans`].
pub fn self_times(tree: &TraceTree) -> Vec<u64> {
    (0..tree.len())
        .map(|index| {
            let span = tree.span(index);
            let (start, end) = (
                span.start_unix_nanos,
                span.end_unix_nanos.max(span.start_unix_nanos),
            );
            // Children are ordered by start, so one pass merges their
            // intervals: `covered` grows only by the part not yet covered.
            let mut covered = 0u64;
            let mut reach = start;
            for &child in tree.children(index) {
                let c = tree.span(child);
                let c_start = c.start_unix_nanos.clamp(start, end).max(reach);
                let c_end = c.end_unix_nanos.clamp(start, end);
                if c_end > c_start {
                    covered += c_end - c_start;
                    reach = c_end;
                }
            }
            (end - start) - covered
        })
        .collect()
}

/// The critical path below `root`, in time order (Jaeger's algorithm; see
/// the module documentation).
pub fn critical_path(tree: &TraceTree, root: usize) -> Vec<CriticalSegment> {
    /// One span being walked backwards from `cursor` to `start`.
    struct Frame {
        span: usize,
        start: u64,
        cursor: u64,
        /// Children clipped to this span, latest end first: (start, end, index).
        children: Vec<(u64, u64, usize)>,
        next: usize,
    }
    let frame = |span: usize, start: u64, end: u64| {
        let mut children: Vec<(u64, u64, usize)> = tree
            .children(span)
            .iter()
            .filter_map(|&c| {
                let child = tree.span(c);
                let c_start = child.start_unix_nanos.clamp(start, end);
                let c_end = child.end_unix_nanos.clamp(start, end);
                // A child entirely outside its parent (or of zero length)
                // cannot hold the parent up.
                (c_end > c_start).then_some((c_start, c_end, c))
            })
            .collect();
        children.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        Frame {
            span,
            start,
            cursor: end,
            children,
            next: 0,
        }
    };
    let owned = |span: usize, from: u64, to: u64| {
        let s = tree.span(span);
        CriticalSegment {
            span,
            service: s.service_name.clone(),
            name: s.name.clone(),
            start_unix_nanos: from,
            end_unix_nanos: to,
        }
    };

    let root_span = tree.span(root);
    let root_end = root_span.end_unix_nanos.max(root_span.start_unix_nanos);
    let mut path = Vec::new();
    let mut stack = vec![frame(root, root_span.start_unix_nanos, root_end)];
    while let Some(top) = stack.last_mut() {
        // The last-finishing child that ends at or before the cursor.
        // (`<=` rather than Jaeger's `<`: a child ending exactly where the
        // next one starts is sequential work, not something to skip.) The
        // cursor only moves back, so a child that ends after it now never
        // qualifies later: skip it for good.
        while top.next < top.children.len() && top.children[top.next].1 > top.cursor {
            top.next += 1;
        }
        if let Some(&(c_start, c_end, child)) = top.children.get(top.next) {
            top.next += 1;
            // Between the child's end and the cursor, the parent itself
            // held the request up.
            if c_end < top.cursor {
                path.push(owned(top.span, c_end, top.cursor));
            }
            top.cursor = c_start;
            stack.push(frame(child, c_start, c_end));
        } else {
            if top.cursor > top.start {
                path.push(owned(top.span, top.start, top.cursor));
            }
            stack.pop();
        }
    }
    path.reverse();
    path
}

impl TraceAttribution {
    /// Attributes one trace. `None` without a root to start from; with
    /// several roots (a split trace) the earliest is used — the full-tree
    /// check reports the split itself.
    pub fn of(tree: &TraceTree) -> Option<TraceAttribution> {
        let root = *tree.roots().first()?;
        let mut self_by_service: BTreeMap<String, u64> = BTreeMap::new();
        for (index, nanos) in self_times(tree).into_iter().enumerate() {
            *self_by_service
                .entry(tree.span(index).service_name.clone())
                .or_default() += nanos;
        }
        let critical_path = critical_path(tree, root);
        let mut critical_by_service: BTreeMap<String, u64> = BTreeMap::new();
        let mut critical_by_operation: BTreeMap<(String, String), u64> = BTreeMap::new();
        for segment in &critical_path {
            *critical_by_service
                .entry(segment.service.clone())
                .or_default() += segment.duration_nanos();
            *critical_by_operation
                .entry((segment.service.clone(), segment.name.clone()))
                .or_default() += segment.duration_nanos();
        }
        Some(TraceAttribution {
            trace_id: tree.trace_id().to_string(),
            duration_nanos: tree.span(root).duration_nanos(),
            self_by_service,
            critical_path,
            critical_by_service,
            critical_by_operation,
        })
    }
}

/// p50, p90 and p99 of one measure, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
}

/// Both measures of one service over a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ServiceLatency {
    pub self_time: Percentiles,
    pub critical_path_self_time: Percentiles,
}

/// Attribution over a run: per service (and per operation), one sample per
/// trace. A service absent from a trace counts as 0 in that trace, so the
/// percentiles describe the whole run and not only the traces it was in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunAttribution {
    traces: usize,
    durations: Vec<u64>,
    self_samples: BTreeMap<String, Vec<u64>>,
    critical_samples: BTreeMap<String, Vec<u64>>,
    operation_samples: BTreeMap<(String, String), Vec<u64>>,
}

impl RunAttribution {
    pub fn from_traces(traces: &[TraceAttribution]) -> RunAttribution {
        let services: BTreeSet<&String> = traces
            .iter()
            .flat_map(|t| t.self_by_service.keys().chain(t.critical_by_service.keys()))
            .collect();
        let operations: BTreeSet<&(String, String)> = traces
            .iter()
            .flat_map(|t| t.critical_by_operation.keys())
            .collect();
        let mut run = RunAttribution {
            traces: traces.len(),
            durations: traces.iter().map(|t| t.duration_nanos).collect(),
            ..RunAttribution::default()
        };
        for service in services {
            let value = |map: &BTreeMap<String, u64>| map.get(service).copied().unwrap_or(0);
            run.self_samples.insert(
                service.clone(),
                traces.iter().map(|t| value(&t.self_by_service)).collect(),
            );
            run.critical_samples.insert(
                service.clone(),
                traces
                    .iter()
                    .map(|t| value(&t.critical_by_service))
                    .collect(),
            );
        }
        for operation in operations {
            run.operation_samples.insert(
                operation.clone(),
                traces
                    .iter()
                    .map(|t| t.critical_by_operation.get(operation).copied().unwrap_or(0))
                    .collect(),
            );
        }
        run
    }

    /// Attributes every tree that has a root; returns the run and how many
    /// trees had none (and were left out).
    pub fn from_trees(trees: &[TraceTree]) -> (RunAttribution, usize) {
        let attributed: Vec<TraceAttribution> =
            trees.iter().filter_map(TraceAttribution::of).collect();
        let skipped = trees.len() - attributed.len();
        (RunAttribution::from_traces(&attributed), skipped)
    }

    pub fn traces(&self) -> usize {
        self.traces
    }

    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.self_samples.keys().map(String::as_str)
    }

    /// Per service: percentiles of self time and of critical-path self time.
    pub fn summary(&self) -> BTreeMap<String, ServiceLatency> {
        self.self_samples
            .iter()
            .map(|(service, self_samples)| {
                let critical = self
                    .critical_samples
                    .get(service)
                    .cloned()
                    .unwrap_or_default();
                (
                    service.clone(),
                    ServiceLatency {
                        self_time: percentiles(self_samples),
                        critical_path_self_time: percentiles(&critical),
                    },
                )
            })
            .collect()
    }

    /// Median critical-path self time of `service` (0 if never seen).
    pub fn critical_median_nanos(&self, service: &str) -> u64 {
        self.critical_samples.get(service).map_or(0, |s| median(s))
    }

    /// Median critical-path time of one operation (span name) of a service.
    pub fn operation_median_nanos(&self, service: &str, operation: &str) -> u64 {
        self.operation_samples
            .get(&(service.to_string(), operation.to_string()))
            .map_or(0, |s| median(s))
    }

    /// Median duration of the root spans.
    pub fn duration_median_nanos(&self) -> u64 {
        median(&self.durations)
    }

    fn knows(&self, service: &str) -> bool {
        self.critical_samples.contains_key(service) || self.self_samples.contains_key(service)
    }
}

fn percentiles(samples: &[u64]) -> Percentiles {
    Percentiles {
        p50_ms: nanos_to_ms(percentile(samples, 50.0)),
        p90_ms: nanos_to_ms(percentile(samples, 90.0)),
        p99_ms: nanos_to_ms(percentile(samples, 99.0)),
    }
}

/// What was injected in the treated run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedLatency {
    pub service: String,
    /// The span name the latency was injected into, if it should be checked
    /// at that level too.
    pub operation: Option<String>,
    pub latency: Duration,
}

/// Did latency injected into one service show up there, and only there?
///
/// Compares the median critical-path self time per service of `treated`
/// against `baseline`. Passes when the injected service grew by the
/// injected latency ± `tolerance` × latency (and its operation too, if
/// named), and no other service grew by more than `tolerance` × latency.
/// The verdict's `delta_ms` figure holds every service's growth.
pub fn check_injected_latency(
    baseline: &RunAttribution,
    treated: &RunAttribution,
    injected: &InjectedLatency,
    tolerance: f64,
) -> Verdict {
    let mut verdict = Verdict::new(CHECK);
    let x = u64::try_from(injected.latency.as_nanos()).unwrap_or(u64::MAX);
    let allowed = (x as f64 * tolerance).round() as u64;
    verdict.figure("injected_service", &injected.service);
    verdict.figure("injected_ms", nanos_to_ms(x));
    verdict.figure("tolerance_ms", nanos_to_ms(allowed));
    verdict.figure("baseline_traces", baseline.traces());
    verdict.figure("treated_traces", treated.traces());
    if baseline.traces() == 0 || treated.traces() == 0 {
        verdict.fail(format!(
            "need traces in both runs: baseline has {}, treated has {}",
            baseline.traces(),
            treated.traces()
        ));
        return verdict.finish();
    }
    verdict.examined = baseline.traces() + treated.traces();

    let delta = |service: &str| {
        treated.critical_median_nanos(service) as i64
            - baseline.critical_median_nanos(service) as i64
    };
    let services: BTreeSet<&str> = baseline.services().chain(treated.services()).collect();
    let deltas: BTreeMap<&str, f64> = services
        .iter()
        .map(|&s| (s, delta(s) as f64 / 1e6))
        .collect();
    verdict.figure("delta_ms", &deltas);
    verdict.figure(
        "duration_delta_ms",
        (treated.duration_median_nanos() as f64 - baseline.duration_median_nanos() as f64) / 1e6,
    );
    verdict.figure("baseline", baseline.summary());
    verdict.figure("treated", treated.summary());

    let target = &injected.service;
    if !treated.knows(target) && !baseline.knows(target) {
        verdict.fail(format!("service {target} does not appear in either run"));
    } else {
        let grew = delta(target);
        if grew.abs_diff(x as i64) > allowed {
            verdict.fail(format!(
                "{target}'s critical-path self time (median) grew by {}, expected {} ± {}",
                signed_ms(grew),
                fmt_nanos(x),
                fmt_nanos(allowed)
            ));
        }
    }
    if let Some(operation) = &injected.operation {
        let grew = treated.operation_median_nanos(target, operation) as i64
            - baseline.operation_median_nanos(target, operation) as i64;
        verdict.figure("operation_delta_ms", grew as f64 / 1e6);
        if grew.abs_diff(x as i64) > allowed {
            verdict.fail(format!(
                "{target} {operation}: critical-path self time (median) grew by {}, expected {} ± {}",
                signed_ms(grew),
                fmt_nanos(x),
                fmt_nanos(allowed)
            ));
        }
    }
    for &service in services.iter().filter(|&&s| s != target) {
        let grew = delta(service);
        if grew > allowed as i64 {
            verdict.fail(format!(
                "{service} absorbed injected latency: its critical-path self time (median) \
                 grew by {} (at most {} allowed for a service that was not injected)",
                signed_ms(grew),
                fmt_nanos(allowed)
            ));
        }
    }
    verdict.finish()
}

fn signed_ms(nanos: i64) -> String {
    if nanos < 0 {
        format!("-{}", fmt_nanos(nanos.unsigned_abs()))
    } else {
        fmt_nanos(nanos.unsigned_abs())
    }
}
