//! The harness's hot paths: what the embedded collector does per export
//! (protobuf decode, store insert), what reading the store back costs (one
//! trace by id, TraceQL and tag searches over a full store), and what the
//! checks do per trace (tree assembly, self time, critical path), for a
//! trace the size of a few checkouts (50 spans) and a very large one
//! (10,000 spans).
use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tracemesh_benches::otlp::{SPANS_PER_CHECKOUT, checkout_request, checkout_request_failing};
use tracemesh_harness::SpanRecord;
use tracemesh_harness::checks::attribution::{TraceAttribution, critical_path, self_times};
use tracemesh_harness::model::SpanKind;
use tracemesh_harness::store::{SearchQuery, TraceStore, TraceWindow};
use tracemesh_harness::trace::synthetic::{CheckoutDelays, SyntheticTrace, checkout};
use tracemesh_harness::trace::{TraceTree, TreeOptions};

/// The allocator the `tracemesh` binary runs with (src/main.rs), so the
/// figures are what the services and the collector pay.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Checkouts per export: 32 x 16 = 512 spans, the batch processor's
/// default `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`.
const CHECKOUTS_PER_EXPORT: usize = 32;

fn ingest(c: &mut Criterion) {
    let request = checkout_request(0, CHECKOUTS_PER_EXPORT);
    let spans = (CHECKOUTS_PER_EXPORT * SPANS_PER_CHECKOUT) as u64;
    let body = bytes::Bytes::from(request.encode_to_vec());

    let mut group = c.benchmark_group("collector");
    group.throughput(Throughput::Elements(spans));
    group.bench_function("otlp decode (512 spans)", |b| {
        b.iter(|| ExportTraceServiceRequest::decode(black_box(body.clone())).unwrap())
    });
    group.bench_function("store insert (512 spans)", |b| {
        b.iter_batched(
            || (TraceStore::default(), request.resource_spans.clone()),
            |(store, resource_spans)| {
                store.insert(resource_spans);
                // Returned, so its drop is not timed.
                store
            },
            BatchSize::SmallInput,
        )
    });
    // Insert into a store already holding 100,000 spans: the steady state
    // of a long run (map lookups in a big index).
    let full = TraceStore::default();
    for first in (1_000_000..)
        .step_by(CHECKOUTS_PER_EXPORT)
        .take(100_000 / 512 + 1)
    {
        full.insert(checkout_request(first, CHECKOUTS_PER_EXPORT).resource_spans);
    }
    let mut next = 0u64;
    group.bench_function("store insert (512 spans, into 100k)", |b| {
        b.iter_batched(
            || {
                next += CHECKOUTS_PER_EXPORT as u64;
                checkout_request(next, CHECKOUTS_PER_EXPORT).resource_spans
            },
            |resource_spans| full.insert(resource_spans),
            BatchSize::SmallInput,
        )
    });
    // The collector's steady state in `tracemesh bench`: a store bounded at
    // 100,000 spans, full, so every insert evicts the oldest traces and
    // seals (compresses) the traces that went quiet.
    let bounded = TraceStore::new(FULL_STORE_SPANS);
    let mut next_bounded = 2_000_000u64;
    while bounded.stats().spans_evicted == 0 {
        bounded.insert(checkout_request(next_bounded, CHECKOUTS_PER_EXPORT).resource_spans);
        next_bounded += CHECKOUTS_PER_EXPORT as u64;
    }
    group.bench_function(
        "store insert (512 spans, bounded at 100k: evicts and seals)",
        |b| {
            b.iter_batched(
                || {
                    next_bounded += CHECKOUTS_PER_EXPORT as u64;
                    checkout_request(next_bounded, CHECKOUTS_PER_EXPORT).resource_spans
                },
                |resource_spans| bounded.insert(resource_spans),
                BatchSize::SmallInput,
            )
        },
    );
    group.finish();
}

/// Spans in the store the read benches query: the steady run's bound in
/// `tracemesh bench` (100,000 spans, 6,250 checkouts).
const FULL_STORE_SPANS: usize = 100_000;
/// One checkout in this many is a declined payment (errors on its payment
/// path), so an error search finds its 20 hits a few hundred traces deep.
const FAILING_EVERY: u64 = 20;

/// Reading the store back, as the query API does per request, from a store
/// holding 100,000 spans of checkout traces (OTLP as the mesh sends it).
/// Spans are stored encoded (one buffer per trace), so every read decodes
/// what it looks at; a search walks the store's newest-first index, whose
/// per-trace times and root are kept up to date on insert, and decodes
/// traces until it has its 20 hits or has seen them all: a search with 20
/// hits costs the traces it visited, the no-match one the whole store.
fn reads(c: &mut Criterion) {
    let store = TraceStore::new(FULL_STORE_SPANS);
    let mut first = 0u64;
    while store.total_spans() < FULL_STORE_SPANS {
        let request = checkout_request_failing(first, CHECKOUTS_PER_EXPORT, Some(FAILING_EVERY));
        store.insert(request.resource_spans);
        first += CHECKOUTS_PER_EXPORT as u64;
    }
    let ids = store.trace_ids();
    let middle = ids[ids.len() / 2].clone();
    let window = TraceWindow::default();

    let mut group = c.benchmark_group("store read (100k spans)");
    // A search over the whole store takes milliseconds: fewer samples keep
    // `cargo bench --bench harness` to a few minutes.
    group.sample_size(20);
    group.bench_function("get trace (16 spans)", |b| {
        b.iter(|| store.trace(black_box(&middle)).expect("stored"))
    });
    let queries = [
        (
            "traceql service and error (20 hits)",
            r#"{ resource.service.name = "payment" && status = error }"#,
        ),
        (
            "traceql structural (20 hits)",
            r#"{ resource.service.name = "gateway" } >> { name = "provider.authorize" && status = error }"#,
        ),
        (
            "traceql no match (scans all)",
            r#"{ resource.service.name = "payment" && duration > 1h }"#,
        ),
    ];
    for (label, text) in queries {
        let query = tracemesh_harness::traceql::parse(text).expect("a valid query");
        let (hits, _) = store.traceql(&query, &window, 0);
        let expected = if label.contains("no match") { 0 } else { 20 };
        assert_eq!(hits.len(), expected, "{text}");
        group.bench_function(label, |b| {
            b.iter(|| store.traceql(black_box(&query), &window, 0))
        });
    }
    let tags = SearchQuery {
        tags: vec![
            ("service.name".to_owned(), "payment".to_owned()),
            ("status".to_owned(), "error".to_owned()),
        ],
        ..SearchQuery::default()
    };
    assert_eq!(store.search(&tags).len(), 20);
    group.bench_function("tag search service and error (20 hits)", |b| {
        b.iter(|| store.search(black_box(&tags)))
    });
    group.finish();
}

/// One trace of exactly `spans` spans: a root, as many checkout subtrees
/// (16 spans each) as fit one after the other under it, and the rest as
/// short internal spans of the root.
fn trace_of(spans: usize) -> (String, Vec<SpanRecord>) {
    let mut root = SyntheticTrace::new(0xabc);
    let checkouts = (spans - 1) / SPANS_PER_CHECKOUT;
    let fillers = spans - 1 - checkouts * SPANS_PER_CHECKOUT;
    let length = 50.0 * (checkouts + fillers + 1) as f64;
    root.span(None, "load", "batch", SpanKind::Internal, 0.0, length);
    let trace_id = root.trace_id().to_owned();
    let root_id = root.span_id(0).to_owned();
    let mut all = root.into_spans();
    for i in 0..checkouts {
        let offset = (50.0 * i as f64 + 1.0) * 1e6;
        for mut span in checkout(i as u128 + 1, CheckoutDelays::default()).into_spans() {
            span.trace_id = trace_id.clone();
            span.span_id = format!("{:08x}{}", i + 1, &span.span_id[8..]);
            span.parent_span_id = Some(match span.parent_span_id {
                Some(p) => format!("{:08x}{}", i + 1, &p[8..]),
                None => root_id.clone(),
            });
            span.start_unix_nanos += offset as u64;
            span.end_unix_nanos += offset as u64;
            all.push(span);
        }
    }
    let mut filler = SyntheticTrace::new(0xabc);
    for i in 0..fillers {
        let start = 50.0 * (checkouts + i) as f64 + 1.0;
        filler.span(
            None,
            "load",
            "think",
            SpanKind::Internal,
            start,
            start + 10.0,
        );
    }
    for (i, mut span) in filler.into_spans().into_iter().enumerate() {
        span.span_id = format!("ffffffff{:08x}", i + 1);
        span.parent_span_id = Some(root_id.clone());
        all.push(span);
    }
    assert_eq!(all.len(), spans);
    (trace_id, all)
}

fn checks(c: &mut Criterion) {
    let options = TreeOptions::default();
    for size in [50, 10_000] {
        let (trace_id, spans) = trace_of(size);
        let tree = TraceTree::build(&trace_id, spans.clone(), &options);
        assert!(tree.is_sound(), "{:?}", tree.defects().first());
        let root = tree.root().expect("one root");
        let mut group = c.benchmark_group(format!("trace {size} spans"));
        group.throughput(Throughput::Elements(size as u64));
        if size > 1000 {
            group.sample_size(20);
        }
        group.bench_function("TraceTree::build", |b| {
            b.iter_batched(
                || spans.clone(),
                |spans| TraceTree::build(&trace_id, spans, &options),
                BatchSize::LargeInput,
            )
        });
        group.bench_function("self_times", |b| b.iter(|| self_times(black_box(&tree))));
        group.bench_function("critical_path", |b| {
            b.iter(|| critical_path(black_box(&tree), root))
        });
        group.bench_function("TraceAttribution::of", |b| {
            b.iter(|| TraceAttribution::of(black_box(&tree)))
        });
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = ingest, reads, checks
}
criterion_main!(benches);
