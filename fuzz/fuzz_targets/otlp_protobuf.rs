//! Fuzzes the collector's protobuf ingest: the input is an OTLP/protobuf
//! `ExportTraceServiceRequest` body; whatever prost decodes goes into a
//! `TraceStore` and is read back (see `tracemesh_fuzz::insert_and_read_back`
//! for what is asserted).

#![no_main]

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = ExportTraceServiceRequest::decode(data) else {
        return;
    };
    tracemesh_fuzz::insert_and_read_back(request);
});
