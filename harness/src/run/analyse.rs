//! From what the load sent and what the trace source holds, to the run's
//! verdicts and report.
//!
//! The checks of a run:
//! - `full_tree` (one verdict per expected tree that had traces): every
//!   sampled request that answered as designed has the trace its expected
//!   tree describes.
//! - `faults_explained`: every sampled request that answered otherwise holds
//!   an injected error in its trace; with a scenario that injects no errors,
//!   any such request fails the check.
//! - `sampling.root.ratio`, `sampling.root.decisions`, `sampling.root.stored`
//!   and `sampling.parent`: see [`crate::checks::sampling`].
//! - `completeness`: every sampled trace found and complete, with the span
//!   count of each operation its expected tree needs.
//! - `error_status`: every failed span says so (status Error, `error.type`),
//!   on the whole way from an injected error up to the root.
//! - `orphans`: no span stored in the run's window outside the run's traces.
//! - `attribution` (when the scenario injects latency): traces with the
//!   fault against traces without it.
//! - `dominant_operation` (when the scenario names one).
//! - `budget ...` (one per budget of the scenario) and `baseline` (with
//!   `--baseline`): see [`super::latency`].
//! - `traceql <outcome>: <query>`: the TraceQL assertions of the expected
//!   trees' files and of the scenario; see [`super::traceql`].
//! - `exemplars` and `metrics_agree` (when the run read metrics): see
//!   [`super::metrics`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tracemesh_runtime::contract::attr;

use super::expectations::{self, Expectation};
use super::figures;
use super::latency;
use super::repeated::RepeatedTally;
use crate::SpanRecord;
use crate::checks::Verdict;
use crate::checks::attribution::{
    InjectedLatency, RunAttribution, TraceAttribution, check_injected_latency,
};
use crate::checks::completeness::{ExpectedTrace, Fetched, SpanShape, check_completeness};
use crate::checks::error_status::check_error_status;
use crate::checks::full_tree::check_trees;
use crate::checks::orphans::{RunWindow, check_orphans};
use crate::checks::sampling::{
    ParentedRequest, RatioSampler, RootRequest, TraceParent, check_parent_obedience,
    check_root_sampling,
};
use crate::load::{LoadOutcome, SentRequest};
use crate::report::model::{ExemplarJump, RunReport, RunSettings, SdkExportCounts, TraceCounts};
use crate::scenario::{Scenario, UnexpectedStatuses};
use crate::sources::TraceSource;
use crate::stats::percentile;
use crate::trace::{TraceTree, TreeOptions};

/// Everything the analysis reads.
pub struct RunInput<'a> {
    pub scenario: &'a Scenario,
    pub load: &'a LoadOutcome,
    pub source: &'a dyn TraceSource,
    pub settings: RunSettings,
    pub started_at: String,
    /// Spans the store received, when the store is ours.
    pub spans_received: Option<u64>,
    /// The services' own export counts, when their admin endpoints answered.
    pub sdk_export: Option<SdkExportCounts>,
    /// Per trace id: time from the gateway's answer to the trace's last
    /// span arriving, when the store is ours.
    pub readiness_ms: Vec<f64>,
    /// Unix seconds from before the first request to after the traces
    /// settled: the orphans check searches this window.
    pub window_unix_secs: (u64, u64),
    /// The learner's expected trees (`--expect`), already loaded: each
    /// replaces the shipped tree of its request, or adds one.
    pub expectation_files: &'a [Expectation],
    /// An earlier run's report to compare with (`--baseline`).
    pub baseline: Option<crate::checks::baseline::Baseline<'a>>,
    /// The mesh's metrics before and after the load, when the run read them.
    pub metrics: Option<super::metrics::RunMetrics>,
    /// Other shards of the same load run at the same time (`--shard I/N`,
    /// N > 1): the orphans check leaves their traces to the merge.
    pub other_shards_alongside: bool,
}

/// Runs every check and builds the report.
pub async fn analyse(input: RunInput<'_>) -> RunReport {
    let expectations = match expectations::built_in() {
        Ok(all) => expectations::with_files(all, input.expectation_files),
        Err(e) => {
            let mut v = Verdict::new("expectations");
            v.fail(format!("the built-in expected trees do not load: {e}"));
            return report(
                &input,
                vec![v.finish()],
                Vec::new(),
                Vec::new(),
                Counts::default(),
                None,
            );
        }
    };
    let requests = &input.load.requests;
    let mut verdicts = Vec::new();

    // Fetch every sampled trace once.
    let mut traces: Vec<(&SentRequest, String, Fetched)> = Vec::new();
    for request in requests {
        let (Some(trace_id), Some(true)) = (request.trace_id(), request.sampled()) else {
            continue;
        };
        let fetched = match input.source.trace(trace_id).await {
            Ok(Some(spans)) => Fetched::Found(detach_from_caller(spans, request)),
            Ok(None) => Fetched::NotFound,
            Err(e) => Fetched::RequestFailed(e.to_string()),
        };
        traces.push((request, trace_id.to_owned(), fetched));
    }

    // The sampled traces found, by id: the exemplars are followed into them.
    let found: BTreeMap<String, Vec<SpanRecord>> = traces
        .iter()
        .filter_map(|(_, trace_id, fetched)| match fetched {
            Fetched::Found(spans) => Some((trace_id.clone(), spans.clone())),
            _ => None,
        })
        .collect();

    // Sampling: root requests and parented requests.
    let rule = CompletenessByExpectation(&expectations);
    let roots: Vec<RootRequest> = requests
        .iter()
        .filter(|r| r.traceparent.is_none())
        .enumerate()
        .map(|(i, r)| {
            RootRequest::new(
                format!("#{i} {}", r.kind.endpoint()),
                r.traceresponse.as_deref(),
            )
        })
        .collect();
    let sampler = RatioSampler::new(input.settings.sampler_ratio);
    verdicts.extend(
        check_root_sampling(&roots, sampler, input.source, &rule)
            .await
            .into_verdicts(),
    );
    let parented: Vec<ParentedRequest> = requests
        .iter()
        .filter_map(|r| {
            let header = r.traceparent.as_deref()?;
            let sent = TraceParent::parse(header).ok()?;
            Some(ParentedRequest::new(
                format!("{} {header}", r.kind.endpoint()),
                sent,
            ))
        })
        .collect();
    verdicts.push(check_parent_obedience(&parented, input.source, &rule).await);

    // Trees of the requests that answered as designed, grouped by expectation.
    let mut trees_by_expectation: Vec<(&Expectation, Vec<TraceTree>)> = Vec::new();
    let mut all_trees: Vec<(TraceTree, bool)> = Vec::new();
    // Repeated calls are counted in the same pass, on the same trees.
    let mut repeated = RepeatedTally::default();
    let mut explained = Verdict::new("faults_explained");
    let mut unverifiable = 0u64;
    for (request, trace_id, fetched) in &traces {
        let Fetched::Found(spans) = fetched else {
            continue;
        };
        let tree = TraceTree::build(trace_id, spans.clone(), &TreeOptions::default());
        repeated.add(&tree);
        let unexpected = figures::is_unexpected(request);
        if unexpected {
            explained.examine();
            if input.scenario.expect.unexpected_statuses == UnexpectedStatuses::None {
                explained.fail(format!(
                    "{} answered {} instead of {} (trace {trace_id}) and the scenario injects no errors",
                    request.kind.endpoint(),
                    status_text(request.status),
                    request.kind.expected_status()
                ));
            } else if !spans.iter().any(injected_error) {
                explained.fail(format!(
                    "{} answered {} instead of {}, but trace {trace_id} holds no injected error",
                    request.kind.endpoint(),
                    status_text(request.status),
                    request.kind.expected_status()
                ));
            }
        } else if let Some(status) = request.status
            && let Some(expectation) =
                expectations::find(&expectations, request.kind.endpoint(), status)
        {
            match trees_by_expectation
                .iter_mut()
                .find(|(e, _)| e.file == expectation.file)
            {
                Some((_, trees)) => trees.push(tree.clone()),
                None => trees_by_expectation.push((expectation, vec![tree.clone()])),
            }
        }
        all_trees.push((tree, unexpected));
    }
    // Unsampled requests that failed cannot be explained from their traces.
    unverifiable += requests
        .iter()
        .filter(|r| figures::is_unexpected(r) && r.sampled() != Some(true))
        .count() as u64;
    for (expectation, trees) in &trees_by_expectation {
        let mut verdict = check_trees(&expectation.tree, trees);
        verdict.check = expectation.check_name();
        verdicts.push(verdict);
    }
    if trees_by_expectation.is_empty() {
        verdicts.push(Verdict::new("full_tree").finish());
    }
    verdicts.extend(
        super::traceql::verdicts(&super::traceql::TraceqlInput {
            by_expectation: &trees_by_expectation,
            scenario: &input.scenario.expect.traceql,
            requests,
            found: &found,
            source: input.source,
            window: input.window_unix_secs,
        })
        .await,
    );
    explained.figure("unexpected_sampled", explained.examined);
    explained.figure("unexpected_unsampled", unverifiable);
    // No unexpected answer at all is the best outcome, not a vacuous one.
    if explained.examined == 0 && unverifiable == 0 {
        explained.examine();
    }
    verdicts.push(explained.finish());

    let latency_profile = latency::profile(input.scenario, requests, &all_trees);

    // Completeness of every sampled trace.
    let expected: Vec<(ExpectedTrace, Fetched)> = traces
        .into_iter()
        .map(|(request, trace_id, fetched)| {
            let expectation = request
                .status
                .filter(|_| !figures::is_unexpected(request))
                .and_then(|s| expectations::find(&expectations, request.kind.endpoint(), s));
            let services = expectation
                .map(|e| expectations::required_services(&e.tree))
                .unwrap_or_else(|| BTreeSet::from(["gateway".to_owned()]));
            (
                ExpectedTrace {
                    trace_id,
                    spans: None,
                    services,
                    // The span count of each operation, as vulture's
                    // missingspans: a lost DB span fails here too, not
                    // only in the tree check.
                    shape: expectation.map(|e| SpanShape::of(&e.tree)),
                },
                fetched,
            )
        })
        .collect();
    let (expected_count, found_count) = (
        expected.len() as u64,
        expected
            .iter()
            .filter(|(_, f)| matches!(f, Fetched::Found(_)))
            .count() as u64,
    );
    let completeness = check_completeness(expected, None);
    let complete_count = completeness
        .figures
        .get("categories")
        .and_then(|c| c.get("complete"))
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    verdicts.push(completeness);

    // Statuses on every span, and on the whole way up from each injected error.
    verdicts.push(check_error_status(all_trees.iter().map(|(tree, _)| tree)));

    // Spans outside every trace the run started: split traces.
    let started: BTreeSet<String> = requests
        .iter()
        .filter_map(|r| r.trace_id().map(str::to_owned))
        .collect();
    let window = RunWindow {
        started: &started,
        start_unix_secs: input.window_unix_secs.0,
        end_unix_secs: input.window_unix_secs.1,
        other_shards_alongside: input.other_shards_alongside,
    };
    verdicts.push(check_orphans(input.source, &window, &input.scenario.expect.background).await);

    // Metrics: exemplars lead to their spans, counts equal the load's.
    let mut exemplar_jump = None;
    if let Some(metrics) = &input.metrics {
        let (start, end) = input.window_unix_secs;
        let checked = super::metrics::check(
            metrics,
            requests,
            &found,
            input.source,
            (start as f64, end as f64),
        )
        .await;
        verdicts.extend(checked.verdicts);
        exemplar_jump = checked.jump;
    }

    // Attribution.
    let attributed: Vec<(TraceAttribution, &TraceTree)> = all_trees
        .iter()
        .filter(|(_, unexpected)| !unexpected)
        .filter_map(|(tree, _)| TraceAttribution::of(tree).map(|a| (a, tree)))
        .collect();
    if let Some(latency) = &input.scenario.expect.latency {
        // Compare like with like: the treated traces carry the injected
        // latency; the baseline is the traces that went through the same
        // operations (same service and span name) while the fault was off.
        // Comparing with every other trace would count the operation's own
        // time (a checkout's Reserve vs a product listing) as injected.
        let faulted_operations: BTreeSet<(&str, &str)> = attributed
            .iter()
            .flat_map(|(_, tree)| tree.spans().iter().filter(|s| latency_fault(s)))
            .map(|s| (s.service_name.as_str(), s.name.as_str()))
            .collect();
        let mut baseline = Vec::new();
        let mut treated = Vec::new();
        for (attribution, tree) in &attributed {
            let spans = tree.spans();
            if spans.iter().any(latency_fault) {
                treated.push(attribution.clone());
            } else if spans
                .iter()
                .any(|s| faulted_operations.contains(&(s.service_name.as_str(), s.name.as_str())))
            {
                baseline.push(attribution.clone());
            }
        }
        let injected = InjectedLatency {
            service: latency.service.clone(),
            operation: latency.operation.clone(),
            latency: Duration::from_secs_f64(latency.ms / 1000.0),
        };
        let mut verdict = check_injected_latency(
            &RunAttribution::from_traces(&baseline),
            &RunAttribution::from_traces(&treated),
            &injected,
            latency.tolerance,
        );
        if baseline.is_empty() || treated.is_empty() {
            verdict.fail(format!(
                "need traces with and without the injected latency: {} without, {} with \
                 (give the fault a schedule, or run longer)",
                baseline.len(),
                treated.len()
            ));
        }
        verdicts.push(verdict);
    }
    let all_attributions: Vec<TraceAttribution> =
        attributed.iter().map(|(a, _)| a.clone()).collect();
    if let Some(expected) = &input.scenario.expect.dominant_operation {
        let mut verdict = Verdict::new("dominant_operation");
        verdict.figure(
            "expected",
            format!("{} {}", expected.service, expected.name),
        );
        if let Some(((service, name), mean_ms)) = figures::dominant_operation(&all_attributions) {
            verdict.examine();
            verdict.figure("found", format!("{service} {name}"));
            verdict.figure("found_mean_ms_per_trace", mean_ms);
            if service != expected.service || name != expected.name {
                verdict.fail(format!(
                    "the operation costing its traces the most critical-path time is \
                     {service} {name} ({mean_ms:.1} ms per trace), not {} {}",
                    expected.service, expected.name
                ));
            }
        }
        verdicts.push(verdict.finish());
    }

    let counts = Counts {
        expected: expected_count,
        found: found_count,
        complete: complete_count,
    };
    let mut report = report(
        &input,
        verdicts,
        all_attributions,
        all_trees,
        counts,
        exemplar_jump,
    );
    report.repeated_calls = repeated.calls();
    let baseline = input.baseline.as_ref();
    latency::finish(&mut report, &latency_profile, input.scenario, baseline);
    report
}

/// Sampled traces: expected, found, and complete.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    expected: u64,
    found: u64,
    complete: u64,
}

fn report(
    input: &RunInput<'_>,
    verdicts: Vec<Verdict>,
    attributions: Vec<TraceAttribution>,
    trees: Vec<(TraceTree, bool)>,
    counts: Counts,
    exemplar_jump: Option<ExemplarJump>,
) -> RunReport {
    let requests = &input.load.requests;
    let duration_secs = input.load.duration.as_secs_f64();
    let mut waterfalls = Vec::new();
    if let Some((tree, _)) = trees
        .iter()
        .filter(|(t, _)| t.root().is_some())
        .max_by_key(|(t, _)| t.root().map_or(0, |r| t.span(r).duration_nanos()))
        && let Some(w) = figures::waterfall("the slowest trace".into(), tree)
    {
        waterfalls.push(w);
    }
    if let Some((tree, _)) = trees.iter().find(|(t, unexpected)| {
        *unexpected
            || t.spans()
                .iter()
                .any(|s| s.status.code == crate::model::StatusCode::Error)
    }) && let Some(w) = figures::waterfall("a failing trace".into(), tree)
    {
        waterfalls.push(w);
    }
    // The exemplar's trace, unless it is already drawn.
    if let Some(jump) = &exemplar_jump
        && !waterfalls.iter().any(|w| w.trace_id == jump.trace_id)
        && let Some((tree, _)) = trees.iter().find(|(t, _)| t.trace_id() == jump.trace_id)
        && let Some(w) = figures::waterfall(
            format!(
                "the slowest exemplar's trace ({} {})",
                jump.service, jump.span_name
            ),
            tree,
        )
    {
        waterfalls.push(w);
    }
    RunReport {
        tracemesh_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at: input.started_at.clone(),
        duration_secs,
        partial: input.load.interrupted,
        config: input.settings.clone(),
        load: figures::load_summary(requests, duration_secs),
        traces: TraceCounts {
            expected: counts.expected,
            found: counts.found,
            complete: counts.complete,
            unsampled: requests
                .iter()
                .filter(|r| r.sampled() == Some(false))
                .count() as u64,
            spans_received: input.spans_received.unwrap_or(0),
            readiness_p50_ms: percentile(&input.readiness_ms, 50.0),
            readiness_p99_ms: percentile(&input.readiness_ms, 99.0),
            sdk_export: input.sdk_export,
        },
        verdicts,
        attribution: figures::attribution_table(&RunAttribution::from_traces(&attributions)),
        critical_path: figures::critical_path_shares(&attributions),
        waterfalls,
        files: input
            .load
            .goose_reports
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect(),
        operations: Vec::new(),
        baseline: None,
        exemplar_jump,
        shard: None,
        // The caller measured the load window; it fills this in.
        bottleneck: None,
        // Counted while the trees were built; the caller fills this in.
        repeated_calls: Vec::new(),
    }
}

/// A request sent with a traceparent makes the gateway's span a child of
/// the load generator's span, which no service exports. That parent is
/// outside the mesh by design, so the gateway's span is the trace's root
/// as far as the mesh is concerned.
fn detach_from_caller(mut spans: Vec<SpanRecord>, request: &SentRequest) -> Vec<SpanRecord> {
    let caller = request
        .traceparent
        .as_deref()
        .and_then(|h| TraceParent::parse(h).ok())
        .map(|c| c.parent_id);
    if let Some(caller) = caller {
        for span in &mut spans {
            if span.parent_span_id.as_deref() == Some(caller.as_str()) {
                span.parent_span_id = None;
            }
        }
    }
    spans
}

fn status_text(status: Option<u16>) -> String {
    status.map_or("nothing".to_owned(), |s| s.to_string())
}

/// A span that carries an injected error.
fn injected_error(span: &SpanRecord) -> bool {
    span.injected_fault() == Some(attr::FAULT_KIND_ERROR)
}

/// A span that carries injected latency.
fn latency_fault(span: &SpanRecord) -> bool {
    span.injected_fault() == Some(attr::FAULT_KIND_LATENCY)
}

/// A trace is complete when it has every service its expected tree needs
/// (matched by the root span's route and status), or at least the gateway.
struct CompletenessByExpectation<'a>(&'a [Expectation]);

impl crate::checks::sampling::CompletenessRule for CompletenessByExpectation<'_> {
    fn missing(&self, spans: &[SpanRecord]) -> Option<String> {
        // The root: no parent, or a parent outside the trace (the caller's).
        let in_trace = |id: &String| spans.iter().any(|s| &s.span_id == id);
        let Some(root) = spans
            .iter()
            .find(|s| s.parent_span_id.as_ref().is_none_or(|p| !in_trace(p)))
        else {
            return Some("no root span".to_owned());
        };
        let status = root.attr_i64("http.response.status_code").unwrap_or(0);
        let needed = u16::try_from(status)
            .ok()
            .and_then(|s| expectations::find(self.0, &root.name, s))
            .map(|e| expectations::required_services(&e.tree))
            .unwrap_or_else(|| BTreeSet::from(["gateway".to_owned()]));
        let missing: Vec<&String> = needed
            .iter()
            .filter(|svc| !spans.iter().any(|s| &s.service_name == *svc))
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "no span from {}",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }
}
