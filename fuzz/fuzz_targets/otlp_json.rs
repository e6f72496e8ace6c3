//! Fuzzes the collector's OTLP/JSON ingest: the input is a `POST /v1/traces`
//! body sent as `application/json`, decoded by the collector's own
//! `decode_otlp_body`. A body it refuses must be the client's fault (4xx);
//! one it accepts goes into a `TraceStore` and is read back (see
//! `tracemesh_fuzz::insert_and_read_back`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tracemesh_harness::collector::{JSON_CONTENT_TYPE, decode_otlp_body};

fuzz_target!(|data: &[u8]| {
    match decode_otlp_body(JSON_CONTENT_TYPE, data) {
        Ok(request) => tracemesh_fuzz::insert_and_read_back(request),
        Err(error) => assert!(
            error.status().is_client_error(),
            "a bad body answered {}: {error}",
            error.status()
        ),
    }
});
