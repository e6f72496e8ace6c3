//! Completeness: did every trace we expect arrive, whole and uncorrupted?
//!
//! The categories are Tempo vulture's (`tempo_vulture_trace_error_total`,
//! label `error`), decided in vulture's order — the first that applies:
//!
//! - `requestfailed`: asking the backend failed (an error, not an answer);
//! - `notfound`: the backend has no span of the trace at all;
//! - `missingspans`: spans are missing. Vulture's own test is "a span names
//!   a parent that is not in the trace"; we add what we know and vulture
//!   does not: fewer spans than the expected count, the root missing, no
//!   span at all from a service the trace passed through, or fewer spans of
//!   one operation than the trace's expected shape needs (a lost DB span
//!   inside a service that still appears);
//! - `incorrectresult`: everything arrived but the trace is not what was
//!   sent — any other structural defect (spans of another trace, duplicate
//!   ids, a split into several roots, children outside their parent) or
//!   more spans than expected, in all or of one operation.
//!
//! Plus one figure vulture cannot have: spans sent vs received, where the
//! sender's count is known, so loss between exporter and store is counted
//! rather than guessed from incomplete traces.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Verdict;
use super::expect::{ExpectedSpan, ExpectedTree};
use crate::model::SpanRecord;
use crate::store::TraceStore;
use crate::trace::{DefectKind, TraceTree, TreeOptions};

/// The check's name in verdicts.
pub const CHECK: &str = "completeness";

/// Reasons listed per trace before the rest are summarised.
const TRACES_LISTED: usize = 20;

/// A trace that should exist, and what is known about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedTrace {
    pub trace_id: String,
    /// The exact span count, if known (from an expected tree, say).
    pub spans: Option<usize>,
    /// Services that must each have at least one span in the trace.
    pub services: BTreeSet<String>,
    /// How many spans of each operation the trace must have, when known.
    pub shape: Option<SpanShape>,
}

/// How many spans of each operation (service, span name) a trace must have:
/// `(min, max)`, `max` `None` when unbounded. Derived from an expected tree,
/// counts multiplied down the tree (two Reserve calls of one span each make
/// two), optional nodes with a minimum of zero.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanShape(pub BTreeMap<(String, String), (usize, Option<usize>)>);

impl SpanShape {
    pub fn of(tree: &ExpectedTree) -> SpanShape {
        fn walk(span: &ExpectedSpan, min: usize, max: Option<usize>, shape: &mut SpanShape) {
            let count = span.effective_count();
            let (min, max) = (min * count.min, max.zip(count.max).map(|(a, b)| a * b));
            let entry = shape
                .0
                .entry((span.service.clone(), span.name.clone()))
                .or_insert((0, Some(0)));
            entry.0 += min;
            entry.1 = entry.1.zip(max).map(|(a, b)| a + b);
            for child in &span.children {
                walk(child, min, max, shape);
            }
        }
        let mut shape = SpanShape::default();
        walk(&tree.root, 1, Some(1), &mut shape);
        shape
    }

    /// What is missing (`.0`) and what is in excess (`.1`) in `spans`.
    fn compare(&self, spans: &[SpanRecord]) -> (Vec<String>, Vec<String>) {
        let mut found: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for span in spans {
            *found
                .entry((span.service_name.as_str(), span.name.as_str()))
                .or_default() += 1;
        }
        let (mut missing, mut excess) = (Vec::new(), Vec::new());
        for ((service, name), (min, max)) in &self.0 {
            let n = found
                .get(&(service.as_str(), name.as_str()))
                .copied()
                .unwrap_or(0);
            if n < *min {
                missing.push(format!(
                    "{service} {name}: {n} of the {min} span(s) its shape needs"
                ));
            } else if let Some(max) = max
                && n > *max
            {
                excess.push(format!(
                    "{service} {name}: {n} span(s), at most {max} expected"
                ));
            }
        }
        (missing, excess)
    }
}

impl ExpectedTrace {
    pub fn new(trace_id: &str) -> ExpectedTrace {
        ExpectedTrace {
            trace_id: trace_id.to_ascii_lowercase(),
            spans: None,
            services: BTreeSet::new(),
            shape: None,
        }
    }

    /// The trace must have the span counts of `shape`.
    pub fn with_shape(mut self, shape: SpanShape) -> Self {
        self.shape = Some(shape);
        self
    }

    pub fn with_spans(mut self, spans: usize) -> Self {
        self.spans = Some(spans);
        self
    }

    pub fn with_services<'a>(mut self, services: impl IntoIterator<Item = &'a str>) -> Self {
        self.services
            .extend(services.into_iter().map(str::to_string));
        self
    }
}

/// What asking the backend for a trace gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    Found(Vec<SpanRecord>),
    NotFound,
    RequestFailed(String),
}

impl Fetched {
    /// Looks the trace up in the embedded store.
    pub fn from_store(store: &TraceStore, trace_id: &str) -> Fetched {
        match store.trace(trace_id) {
            Some(spans) if !spans.is_empty() => Fetched::Found(spans),
            _ => Fetched::NotFound,
        }
    }
}

/// Vulture's categories, plus `complete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Category {
    #[serde(rename = "complete")]
    Complete,
    #[serde(rename = "requestfailed")]
    RequestFailed,
    #[serde(rename = "notfound")]
    NotFound,
    #[serde(rename = "missingspans")]
    MissingSpans,
    #[serde(rename = "incorrectresult")]
    IncorrectResult,
}

impl Category {
    /// Vulture's label for the category.
    pub fn label(self) -> &'static str {
        match self {
            Category::Complete => "complete",
            Category::RequestFailed => "requestfailed",
            Category::NotFound => "notfound",
            Category::MissingSpans => "missingspans",
            Category::IncorrectResult => "incorrectresult",
        }
    }
}

/// The verdict on one trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceCompleteness {
    pub trace_id: String,
    pub category: Category,
    /// Spans of this trace that were found.
    pub spans_found: usize,
    /// What is wrong, missing things first.
    pub details: Vec<String>,
}

/// Classifies one trace into its category.
pub fn classify(expected: &ExpectedTrace, fetched: Fetched) -> TraceCompleteness {
    let verdict = |category, spans_found, details| TraceCompleteness {
        trace_id: expected.trace_id.clone(),
        category,
        spans_found,
        details,
    };
    let spans = match fetched {
        Fetched::RequestFailed(error) => {
            return verdict(Category::RequestFailed, 0, vec![error]);
        }
        Fetched::NotFound => return verdict(Category::NotFound, 0, Vec::new()),
        Fetched::Found(spans) if spans.is_empty() => {
            return verdict(Category::NotFound, 0, Vec::new());
        }
        Fetched::Found(spans) => spans,
    };
    let tree = TraceTree::build(&expected.trace_id, spans, &TreeOptions::default());
    let (mut missing, mut incorrect) = (Vec::new(), Vec::new());
    for defect in tree.defects() {
        match defect.kind() {
            DefectKind::MissingParent | DefectKind::NoRoot => missing.push(defect.to_string()),
            _ => incorrect.push(defect.to_string()),
        }
    }
    if let Some(expected_spans) = expected.spans {
        if tree.len() < expected_spans {
            missing.insert(
                0,
                format!("{} of {expected_spans} spans arrived", tree.len()),
            );
        } else if tree.len() > expected_spans {
            incorrect.push(format!("{} spans, {expected_spans} expected", tree.len()));
        }
    }
    if let Some(shape) = &expected.shape {
        let (lost, excess) = shape.compare(tree.spans());
        missing.extend(lost);
        incorrect.extend(excess);
    }
    let present: BTreeSet<&str> = tree
        .spans()
        .iter()
        .map(|s| s.service_name.as_str())
        .collect();
    for service in &expected.services {
        if !present.contains(service.as_str()) {
            missing.push(format!("no span from service {service}"));
        }
    }
    let category = if !missing.is_empty() {
        Category::MissingSpans
    } else if !incorrect.is_empty() {
        Category::IncorrectResult
    } else {
        Category::Complete
    };
    missing.extend(incorrect);
    verdict(category, tree.len(), missing)
}

/// Spans sent by the senders vs what reached the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SpanDelivery {
    /// Spans the senders exported (counted by them, or known by design:
    /// requests × spans per request).
    pub sent: u64,
    /// Spans the store accepted.
    pub received: u64,
    /// Spans the store refused (invalid ids): they arrived, but are gone.
    pub rejected: u64,
    /// Spans the store dropped to stay under its memory bound.
    pub evicted: u64,
}

impl SpanDelivery {
    /// `sent` from the sender, the rest from the store's counters.
    pub fn from_store(sent: u64, store: &TraceStore) -> SpanDelivery {
        let stats = store.stats();
        SpanDelivery {
            sent,
            received: stats.spans_received,
            rejected: stats.spans_rejected,
            evicted: stats.spans_evicted,
        }
    }

    /// Problems with delivery, as report sentences.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let arrived = self.received + self.rejected;
        if arrived < self.sent {
            problems.push(format!(
                "{} of {} spans sent never arrived",
                self.sent - arrived,
                self.sent
            ));
        }
        if arrived > self.sent {
            problems.push(format!(
                "{arrived} spans arrived but {} were sent: resends, or another sender",
                self.sent
            ));
        }
        if self.rejected > 0 {
            problems.push(format!("{} spans rejected for invalid ids", self.rejected));
        }
        if self.evicted > 0 {
            problems.push(format!(
                "{} spans evicted by the store's memory bound (raise it, or check sooner)",
                self.evicted
            ));
        }
        problems
    }
}

/// Checks a set of expected traces, given what fetching each returned, and
/// optionally the span delivery counts.
pub fn check_completeness(
    traces: Vec<(ExpectedTrace, Fetched)>,
    delivery: Option<SpanDelivery>,
) -> Verdict {
    let mut verdict = Verdict::new(CHECK);
    let mut counts: BTreeMap<&'static str, usize> = [
        Category::Complete,
        Category::RequestFailed,
        Category::NotFound,
        Category::MissingSpans,
        Category::IncorrectResult,
    ]
    .into_iter()
    .map(|c| (c.label(), 0))
    .collect();
    let mut failing = Vec::new();
    let total = traces.len();
    for (expected, fetched) in traces {
        verdict.examine();
        let result = classify(&expected, fetched);
        *counts.entry(result.category.label()).or_default() += 1;
        if result.category != Category::Complete {
            failing.push(result);
        }
    }
    if !failing.is_empty() {
        let summary: Vec<String> = counts
            .iter()
            .filter(|(label, n)| **label != "complete" && **n > 0)
            .map(|(label, n)| format!("{n} {label}"))
            .collect();
        verdict.fail(format!(
            "{} of {total} traces incomplete: {}",
            failing.len(),
            summary.join(", ")
        ));
        for result in failing.iter().take(TRACES_LISTED) {
            let details = if result.details.is_empty() {
                String::new()
            } else {
                format!(": {}", result.details.join("; "))
            };
            verdict.fail(format!(
                "trace {} {}{details}",
                result.trace_id,
                result.category.label()
            ));
        }
        if failing.len() > TRACES_LISTED {
            verdict.fail(format!(
                "… and {} more incomplete traces",
                failing.len() - TRACES_LISTED
            ));
        }
    }
    if let Some(delivery) = delivery {
        for problem in delivery.problems() {
            verdict.fail(problem);
        }
        verdict.figure("delivery", delivery);
    }
    verdict.figure("categories", &counts);
    verdict.figure("incomplete", &failing);
    verdict.finish()
}
