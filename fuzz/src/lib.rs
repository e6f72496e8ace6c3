//! What several fuzz targets share: the services' propagator, installed
//! once per process, and the store round trip both OTLP targets end with.

use std::sync::Once;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use tracemesh_harness::store::TraceStore;

/// The span bound the OTLP targets give their store. With inputs capped at
/// 64 KiB a request holds at most a few thousand valid spans, so nothing is
/// evicted and every accepted span must be readable again.
pub const STORE_MAX_SPANS: usize = 10_000;

/// Installs the services' propagator (`w3c::install_propagator`, which
/// `telemetry::init` calls too; that function also builds an exporter and a
/// subscriber, which a fuzz target does not want). Once per process: the
/// propagator is global and the targets run inputs back to back in one
/// process.
pub fn install_propagators() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(tracemesh_runtime::w3c::install_propagator);
}

/// Inserts a decoded export into a fresh store, as the collector's ingest
/// does, then reads every stored trace back both ways the harness does
/// (flattened records for checks, OTLP for the query API), asserting:
/// - every span of the request is either accepted or rejected;
/// - nothing was evicted, so the store holds exactly the accepted spans;
/// - each trace reads back with the same span count both ways, all of its
///   spans carrying the trace's id.
pub fn insert_and_read_back(request: ExportTraceServiceRequest) {
    let sent: usize = request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum();
    let store = TraceStore::new(STORE_MAX_SPANS);
    let outcome = store.insert(request.resource_spans);
    assert_eq!(
        outcome.accepted + outcome.rejected,
        sent as u64,
        "every span is accepted or rejected: {outcome:?}"
    );
    assert_eq!(
        outcome.rejected > 0,
        outcome.error_message.is_some(),
        "a rejection comes with a reason, and only a rejection: {outcome:?}"
    );
    if outcome.accepted as usize > STORE_MAX_SPANS {
        // Only reachable with inputs over -max_len; eviction is then correct.
        return;
    }
    assert_eq!(store.total_spans() as u64, outcome.accepted);

    let mut read_back = 0;
    for id in store.trace_ids() {
        let records = store.trace(&id).expect("a listed trace can be read");
        let otlp = store
            .trace_otlp(&id)
            .expect("a listed trace can be read as OTLP");
        let otlp_spans: usize = otlp
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum();
        assert!(!records.is_empty(), "trace {id} is listed but empty");
        assert_eq!(records.len(), otlp_spans, "trace {id} read two ways");
        assert_eq!(records.len(), store.span_count(&id));
        for record in &records {
            assert_eq!(record.trace_id, id, "a span stored under another trace");
        }
        read_back += records.len();
    }
    assert_eq!(read_back as u64, outcome.accepted);
}
