//! Resident memory per retained span of the trace store, measured in one
//! process without timing: fills a `TraceStore` bounded at 100,000 spans
//! with checkout exports (as `tracemesh bench --only ingest` sends them,
//! through protobuf decoding), keeps inserting until eviction has run for
//! a while, and prints RSS above the empty store over the spans retained.
//!
//! `cargo run --release -p tracemesh-benches --example store_memory`
//!
//! RSS does not depend on how busy the machine is, so unlike a timing this
//! figure repeats on a shared machine.
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tracemesh_benches::otlp::encoded_checkout_request;
use tracemesh_harness::store::TraceStore;

/// The collector's allocator (src/main.rs), whose pages are what RSS counts.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MAX_SPANS: usize = 100_000;
const CHECKOUTS_PER_EXPORT: usize = 32;
/// Distinct exports, cycled as the bench cycles its 256 pre-encoded ones:
/// an export sent again finds its traces evicted.
const DISTINCT_EXPORTS: u64 = 256;
/// Exports inserted in all: the store fills after ~196, the rest evict.
const EXPORTS: u64 = 1_000;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line");
    kib * 1024
}

fn main() {
    let store = TraceStore::new(MAX_SPANS);
    let insert = |n: u64| {
        let first = (n % DISTINCT_EXPORTS) * CHECKOUTS_PER_EXPORT as u64;
        let body = encoded_checkout_request(first, CHECKOUTS_PER_EXPORT);
        let request = ExportTraceServiceRequest::decode(body).expect("decodes");
        store.insert(request.resource_spans);
    };
    // One export in and out, so the allocator's first pages count as idle.
    insert(0);
    store.clear();
    let idle = rss_bytes();
    for n in 1..=EXPORTS {
        insert(n);
    }
    let rss = rss_bytes();
    let stats = store.stats();
    let per_span = rss.saturating_sub(idle) as f64 / stats.spans_stored as f64;
    println!(
        "store bounded at {MAX_SPANS} spans, {EXPORTS} exports of {} spans: {} spans in {} traces retained, {} evicted; RSS {:.1} MiB, {:.1} MiB above idle: {per_span:.0} B per retained span",
        CHECKOUTS_PER_EXPORT * 16,
        stats.spans_stored,
        stats.traces_stored,
        stats.spans_evicted,
        rss as f64 / (1 << 20) as f64,
        rss.saturating_sub(idle) as f64 / (1 << 20) as f64,
    );
}
