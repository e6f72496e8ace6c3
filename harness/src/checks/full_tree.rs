//! The full-tree check: does a trace have exactly the shape its
//! [`ExpectedTree`] describes, and is every remote call complete?
//!
//! Three things make a trace fail, each reported with where it happens (the
//! path from the root, `gateway POST /api/checkout [server] > …`), what was
//! expected and what was found:
//!
//! 1. a structural defect of the trace itself (from [`TraceTree`]): a
//!    missing parent, several roots, a duplicate id, a span of another trace,
//!    a child outside its parent;
//! 2. a difference from the expected tree: wrong root, wrong status, a
//!    missing or wrong attribute, a child missing or too many times, an
//!    unexpected child;
//! 3. the generic rule every trace of the mesh obeys, expected tree or not:
//!    a CLIENT span of a remote call (one with `rpc.system` or
//!    `http.request.method`) has exactly one SERVER child, in another
//!    service. Zero means the callee's span is missing or the callee ignored
//!    the propagated context; two means one call was served twice. Database
//!    CLIENT spans (`db.system.name`) are leaves and exempt, and so is a
//!    failed call with no server child at all: a call to a service that is
//!    down never reaches a server.
//!
//! Children are matched unordered by (service, name, kind), so concurrency
//! in the mesh cannot make a correct trace fail.

use std::collections::BTreeMap;

use super::Verdict;
use super::expect::{ExpectedSpan, ExpectedTree};
use crate::model::{SpanKind, SpanRecord, StatusCode};
use crate::trace::label::describe;
use crate::trace::{TraceTree, TreeOptions};

/// The check's name in verdicts.
pub const CHECK: &str = "full_tree";

/// Lines of the found tree shown in a failing verdict.
const OUTLINE_LINES: usize = 60;

/// Checks one trace (its spans as fetched) against `expected`.
pub fn check_trace(expected: &ExpectedTree, trace_id: &str, spans: Vec<SpanRecord>) -> Verdict {
    let tree = TraceTree::build(trace_id, spans, &TreeOptions::default());
    check_tree(expected, &tree)
}

/// Checks one assembled trace against `expected`.
pub fn check_tree(expected: &ExpectedTree, tree: &TraceTree) -> Verdict {
    check_trees(expected, std::slice::from_ref(tree))
}

/// Checks several traces of the same endpoint and outcome; every trace must
/// match. Reasons of a multi-trace verdict start with the trace id.
pub fn check_trees(expected: &ExpectedTree, trees: &[TraceTree]) -> Verdict {
    let mut verdict = Verdict::new(CHECK);
    verdict.figure("expected", &expected.name);
    let mut failed_traces = 0usize;
    for tree in trees {
        if tree.is_empty() {
            // An empty trace proves nothing, so it is not "examined".
            verdict.fail(format!("trace {}: no spans to check", tree.trace_id()));
            failed_traces += 1;
            continue;
        }
        verdict.examine();
        let differences = differences(expected, tree);
        if differences.is_empty() {
            continue;
        }
        failed_traces += 1;
        for difference in differences {
            if trees.len() == 1 {
                verdict.fail(difference);
            } else {
                verdict.fail(format!("trace {}: {difference}", tree.trace_id()));
            }
        }
        // The first failing trace's shape, so a reader sees what was found.
        if !verdict.figures.contains_key("found") {
            verdict.figure("found_trace_id", tree.trace_id());
            verdict.figure("found", tree.outline(OUTLINE_LINES));
        }
    }
    verdict.figure("traces", trees.len());
    verdict.figure("traces_failed", failed_traces);
    verdict.finish()
}

/// Every way `tree` differs from `expected` or breaks a structural rule,
/// as report sentences; empty when the trace is right.
pub fn differences(expected: &ExpectedTree, tree: &TraceTree) -> Vec<String> {
    let mut found = Vec::new();
    for defect in tree.defects() {
        found.push(format!("structure: {defect}"));
    }
    compare_with_expected(expected, tree, &mut found);
    found.extend(remote_call_violations(tree));
    found
}

/// Walks the expected tree and the trace side by side. The expected tree is
/// walked with an explicit stack, like every tree walk in this crate.
fn compare_with_expected(expected: &ExpectedTree, tree: &TraceTree, found: &mut Vec<String>) {
    let root_spec = &expected.root;
    let Some(root) = tree
        .roots()
        .iter()
        .copied()
        .find(|&r| matches_key(root_spec, tree.span(r)))
    else {
        let roots: Vec<String> = tree
            .roots()
            .iter()
            .map(|&r| describe(tree.span(r)))
            .collect();
        let roots = if roots.is_empty() {
            "none".to_string()
        } else {
            roots.join("; ")
        };
        found.push(format!(
            "expected root {}, found root(s): {roots}",
            root_spec.label()
        ));
        return;
    };

    let mut stack: Vec<(&ExpectedSpan, usize)> = vec![(root_spec, root)];
    while let Some((spec, index)) = stack.pop() {
        let span = tree.span(index);
        let place = tree.path_label(index);
        compare_span(spec, span, &place, found);

        // Group the actual children by what they are matched on.
        let mut groups: BTreeMap<(&str, &str, KindOrder), Vec<usize>> = BTreeMap::new();
        for &child in tree.children(index) {
            let c = tree.span(child);
            groups
                .entry((&c.service_name, &c.name, KindOrder(c.kind)))
                .or_default()
                .push(child);
        }
        let mut descend = Vec::new();
        for child_spec in &spec.children {
            let key = (
                child_spec.service.as_str(),
                child_spec.name.as_str(),
                KindOrder(child_spec.kind),
            );
            let matched = groups.remove(&key).unwrap_or_default();
            let count = child_spec.effective_count();
            if !count.contains(matched.len()) {
                found.push(format!(
                    "{place}: expected child {} ×{count}, found {}",
                    child_spec.label(),
                    matched.len()
                ));
            }
            descend.extend(matched.into_iter().map(|child| (child_spec, child)));
        }
        // Reversed, so siblings are reported in the order they are listed.
        stack.extend(descend.into_iter().rev());
        if !spec.allow_extra_children {
            for ((service, name, kind), extra) in groups {
                found.push(format!(
                    "{place}: unexpected child {} ×{}",
                    crate::trace::label::describe_parts(service, name, kind.0),
                    extra.len()
                ));
            }
        }
    }
}

/// Status and attributes of one matched span.
fn compare_span(spec: &ExpectedSpan, span: &SpanRecord, place: &str, found: &mut Vec<String>) {
    if let Some(status) = spec.status
        && !status.matches(span.status.code)
    {
        found.push(format!(
            "{place}: expected status {status}, found {}",
            status_word(span.status.code)
        ));
    }
    for (key, value) in &spec.attributes {
        match span.attributes.get(key) {
            None => found.push(format!(
                "{place}: missing attribute {key} (expected {value})"
            )),
            Some(actual) if !value.matches(actual) => found.push(format!(
                "{place}: attribute {key}: expected {value}, found {}",
                shown(actual)
            )),
            Some(_) => {}
        }
    }
    for key in &spec.attributes_present {
        if !span.attributes.contains_key(key) {
            found.push(format!("{place}: missing attribute {key}"));
        }
    }
}

/// The generic rule: each remote CLIENT span has exactly one SERVER child
/// in another service. Applies to every span, matched by the expected tree
/// or not (orphaned subtrees included).
pub fn remote_call_violations(tree: &TraceTree) -> Vec<String> {
    let mut found = Vec::new();
    for (index, span) in tree.spans().iter().enumerate() {
        if !is_remote_call(span) {
            continue;
        }
        let servers = tree
            .children(index)
            .iter()
            .filter(|&&c| {
                let child = tree.span(c);
                child.kind == SpanKind::Server && child.service_name != span.service_name
            })
            .count();
        let callee_unreachable = servers == 0 && span.status.code == StatusCode::Error;
        if servers == 1 || callee_unreachable {
            continue;
        }
        let why = if servers == 0 {
            "the callee's span is missing, or the callee did not continue the propagated context"
        } else {
            "one call was served more than once (a retry must be its own CLIENT span)"
        };
        found.push(format!(
            "{}: remote call has {servers} SERVER children in another service, expected exactly 1 ({why})",
            tree.path_label(index)
        ));
    }
    found
}

/// A CLIENT span of an RPC or HTTP call, not of a database.
fn is_remote_call(span: &SpanRecord) -> bool {
    span.kind == SpanKind::Client
        && !span.attributes.contains_key("db.system.name")
        && (span.attributes.contains_key("rpc.system")
            || span.attributes.contains_key("http.request.method"))
}

fn matches_key(spec: &ExpectedSpan, span: &SpanRecord) -> bool {
    spec.service == span.service_name && spec.name == span.name && spec.kind == span.kind
}

fn status_word(code: StatusCode) -> &'static str {
    match code {
        StatusCode::Unset => "unset",
        StatusCode::Ok => "ok",
        StatusCode::Error => "error",
    }
}

/// An attribute value as found, quoted when it is a string so `"200"` and
/// `200` read differently.
fn shown(value: &crate::model::AttrValue) -> String {
    match value {
        crate::model::AttrValue::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// `SpanKind` has no ordering of its own; grouping children in a
/// `BTreeMap` (for a stable report order) needs one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KindOrder(SpanKind);

impl PartialOrd for KindOrder {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KindOrder {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        crate::trace::label::kind_label(self.0).cmp(crate::trace::label::kind_label(other.0))
    }
}
