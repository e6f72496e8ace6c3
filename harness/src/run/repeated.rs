//! Repeated calls under one parent: the shape an N+1 query leaves in a
//! trace, found and counted over a run.
//!
//! An N+1 (one query for a list, then one more per item) costs little time
//! per call, so latency attribution and the critical path rank it low; what
//! gives it away is the count: one parent span with many CLIENT children of
//! the same service and name (`SELECT stock` eight times under inventory's
//! ListProducts). [`RepeatedTally`] is fed each tree the analysis builds,
//! in the pass that builds it, and ends as the report's
//! [`RepeatedCall`] rows: a figure, not a check.

use std::collections::BTreeMap;

use crate::model::SpanKind;
use crate::report::model::RepeatedCall;
use crate::stats::median;
use crate::trace::TraceTree;
use crate::trace::label::nanos_to_ms;

/// Same-name calls under one parent before they count as repeated. Two is
/// common and harmless (a read then a write of the same table, one retry);
/// three of the same call in a row is already a loop, and an N+1 over any
/// list longer than two shows.
pub const MIN_REPEATS: usize = 3;

/// (service, parent span name, child span name).
type Key = (String, String, String);

/// What one trace showed for one key.
#[derive(Debug, Default)]
struct InTrace {
    /// Repeats under each parent where there were at least [`MIN_REPEATS`].
    counts: Vec<u64>,
    /// Time in all those repeated spans, summed over the parents.
    nanos: u64,
}

/// Samples of one key over the run: per parent counts, per trace time.
#[derive(Debug, Default)]
struct Samples {
    traces: u64,
    counts: Vec<u64>,
    nanos: Vec<u64>,
}

/// The repeated calls of the traces seen so far.
#[derive(Debug, Default)]
pub struct RepeatedTally {
    by_key: BTreeMap<Key, Samples>,
}

impl RepeatedTally {
    /// Counts one trace's repeated calls.
    pub fn add(&mut self, tree: &TraceTree) {
        for (key, found) in in_trace(tree) {
            let samples = self.by_key.entry(key).or_default();
            samples.traces += 1;
            samples.counts.extend(found.counts);
            samples.nanos.push(found.nanos);
        }
    }

    /// The report's rows, in [`rank`]'s order.
    pub fn calls(&self) -> Vec<RepeatedCall> {
        let mut calls: Vec<RepeatedCall> = self
            .by_key
            .iter()
            .map(|((service, parent, name), s)| RepeatedCall {
                service: service.clone(),
                parent: parent.clone(),
                name: name.clone(),
                traces: s.traces,
                count_p50: median(&s.counts),
                time_p50_ms: nanos_to_ms(median(&s.nanos)),
            })
            .collect();
        rank(&mut calls);
        calls
    }
}

/// The report's order: most traces affected first, then most repeats;
/// stable, so equal rows keep their (service, parent, call) order.
pub fn rank(calls: &mut [RepeatedCall]) {
    calls.sort_by(|a, b| b.traces.cmp(&a.traces).then(b.count_p50.cmp(&a.count_p50)));
}

/// One trace's repeated calls, by key.
fn in_trace(tree: &TraceTree) -> BTreeMap<Key, InTrace> {
    let mut found: BTreeMap<Key, InTrace> = BTreeMap::new();
    for (parent, parent_span) in tree.spans().iter().enumerate() {
        // Per (service, name) of this parent's CLIENT children: count, time.
        let mut children: BTreeMap<(&str, &str), (u64, u64)> = BTreeMap::new();
        for &child in tree.children(parent) {
            let span = tree.span(child);
            if span.kind != SpanKind::Client {
                continue;
            }
            let entry = children
                .entry((span.service_name.as_str(), span.name.as_str()))
                .or_default();
            entry.0 += 1;
            entry.1 += span.duration_nanos();
        }
        for ((service, name), (count, nanos)) in children {
            if count < MIN_REPEATS as u64 {
                continue;
            }
            let key = (
                service.to_owned(),
                parent_span.name.clone(),
                name.to_owned(),
            );
            let entry = found.entry(key).or_default();
            entry.counts.push(count);
            entry.nanos += nanos;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TreeOptions;
    use crate::trace::synthetic::SyntheticTrace;

    const LIST: &str = "tracemesh.inventory.v1.InventoryService/ListProducts";

    /// One `kind` child of `parent` per name, in `service`, 1 ms each and
    /// back to back from `start` ms.
    fn children<'a>(
        t: &mut SyntheticTrace,
        parent: usize,
        service: &str,
        kind: SpanKind,
        start: f64,
        names: impl IntoIterator<Item = &'a str>,
    ) {
        for (i, name) in names.into_iter().enumerate() {
            let at = start + i as f64;
            t.span(Some(parent), service, name, kind, at, at + 1.0);
        }
    }

    /// A ListProducts span with one `SELECT products` and `stock_queries`
    /// `SELECT stock` CLIENT spans of 1 ms each under it.
    fn catalog(number: u128, stock_queries: usize) -> SyntheticTrace {
        let mut t = SyntheticTrace::new(number);
        let root = t.span(
            None,
            "gateway",
            "GET /api/products",
            SpanKind::Server,
            0.0,
            20.0,
        );
        let list = t.span(Some(root), "inventory", LIST, SpanKind::Server, 1.0, 19.0);
        t.span(
            Some(list),
            "inventory",
            "SELECT products",
            SpanKind::Client,
            1.0,
            2.0,
        );
        let stock = std::iter::repeat_n("SELECT stock", stock_queries);
        children(&mut t, list, "inventory", SpanKind::Client, 2.0, stock);
        t
    }

    fn calls(traces: Vec<SyntheticTrace>) -> Vec<RepeatedCall> {
        let mut tally = RepeatedTally::default();
        for t in traces {
            tally.add(&t.into_tree(&TreeOptions::default()));
        }
        tally.calls()
    }

    #[test]
    fn eight_same_name_queries_under_one_parent_are_found_with_their_count() {
        let found = calls(vec![catalog(1, 8), catalog(2, 8)]);
        assert_eq!(found.len(), 1, "{found:#?}");
        let call = &found[0];
        assert_eq!(
            (
                call.service.as_str(),
                call.parent.as_str(),
                call.name.as_str()
            ),
            ("inventory", LIST, "SELECT stock")
        );
        assert_eq!(call.traces, 2);
        assert_eq!(call.count_p50, 8);
        assert!((call.time_p50_ms - 8.0).abs() < 1e-6, "{call:#?}");
    }

    #[test]
    fn two_same_name_queries_are_not_repeated_calls() {
        assert_eq!(calls(vec![catalog(1, 2)]), Vec::new());
        // The threshold itself is.
        assert_eq!(calls(vec![catalog(1, MIN_REPEATS)])[0].count_p50, 3);
    }

    #[test]
    fn different_names_are_not_merged() {
        let mut t = SyntheticTrace::new(1);
        let list = t.span(None, "inventory", LIST, SpanKind::Server, 0.0, 10.0);
        let names = [
            "SELECT stock",
            "SELECT price",
            "SELECT stock",
            "SELECT price",
        ];
        children(&mut t, list, "inventory", SpanKind::Client, 0.0, names);
        assert_eq!(calls(vec![t]), Vec::new());
    }

    #[test]
    fn calls_are_counted_per_parent() {
        let mut t = SyntheticTrace::new(1);
        let root = t.span(
            None,
            "gateway",
            "GET /api/products",
            SpanKind::Server,
            0.0,
            20.0,
        );
        // Two parents with two `SELECT stock` each: four in the trace, but
        // never three under one parent.
        for (start, name) in [(1.0, "first"), (10.0, "second")] {
            let parent = t.span(
                Some(root),
                "inventory",
                name,
                SpanKind::Server,
                start,
                start + 5.0,
            );
            let stock = ["SELECT stock"; 2];
            children(&mut t, parent, "inventory", SpanKind::Client, start, stock);
        }
        // And a parent of the same name as another's, with three and five:
        // one trace, two parents, their counts kept apart.
        let mut u = SyntheticTrace::new(2);
        let root = u.span(
            None,
            "gateway",
            "GET /api/products",
            SpanKind::Server,
            0.0,
            20.0,
        );
        for (start, n) in [(1.0, 3), (10.0, 5)] {
            let parent = u.span(
                Some(root),
                "inventory",
                LIST,
                SpanKind::Server,
                start,
                start + 8.0,
            );
            let stock = std::iter::repeat_n("SELECT stock", n);
            children(&mut u, parent, "inventory", SpanKind::Client, start, stock);
        }
        let found = calls(vec![t, u]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].traces, 1);
        assert!([3, 5].contains(&found[0].count_p50), "{found:#?}");
        assert!((found[0].time_p50_ms - 8.0).abs() < 1e-6, "{found:#?}");
    }

    #[test]
    fn server_and_internal_children_are_not_calls() {
        let mut t = SyntheticTrace::new(1);
        let list = t.span(None, "inventory", LIST, SpanKind::Server, 0.0, 10.0);
        children(
            &mut t,
            list,
            "inventory",
            SpanKind::Internal,
            0.0,
            ["step"; 4],
        );
        assert_eq!(calls(vec![t]), Vec::new());
    }

    #[test]
    fn rows_are_sorted_by_traces_then_count() {
        let mut traces = vec![catalog(1, 4), catalog(2, 4)];
        let mut t = SyntheticTrace::new(3);
        let root = t.span(None, "order", "Place", SpanKind::Server, 0.0, 20.0);
        children(
            &mut t,
            root,
            "order",
            SpanKind::Client,
            0.0,
            ["INSERT line"; 9],
        );
        traces.push(t);
        let found = calls(traces);
        let names: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["SELECT stock", "INSERT line"]);
    }
}
