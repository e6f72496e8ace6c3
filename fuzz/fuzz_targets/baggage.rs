//! Fuzzes W3C Baggage as the services receive it: the input is a `baggage`
//! header, extracted by `tracemesh_runtime::propagation::extract` (cut to
//! the limits in `tracemesh_runtime::w3c`) and turned into span attributes
//! by `propagation::baggage_attributes`; both must stay within their bounds
//! whatever the outside world sends.

#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use opentelemetry::baggage::BaggageExt;
use tracemesh_runtime::propagation::{self, MAX_BAGGAGE_ATTRIBUTES, MAX_BAGGAGE_VALUE_CHARS};
use tracemesh_runtime::w3c::MAX_BAGGAGE_MEMBERS;

fuzz_target!(|data: &[u8]| {
    tracemesh_fuzz::install_propagators();
    // Only what `HeaderValue::from_bytes` accepts can arrive in a request.
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert("baggage", value);
    let cx = propagation::extract(&headers);
    let entries = cx.baggage().len();
    assert!(entries <= MAX_BAGGAGE_MEMBERS, "{entries} baggage entries");
    let attributes = propagation::baggage_attributes(&cx);

    assert!(
        attributes.len() <= MAX_BAGGAGE_ATTRIBUTES,
        "{} baggage attributes",
        attributes.len()
    );
    for attribute in &attributes {
        assert!(attribute.key.as_str().starts_with("baggage."));
        let chars = attribute.value.as_str().chars().count();
        assert!(
            chars <= MAX_BAGGAGE_VALUE_CHARS,
            "{} has a {chars}-char value",
            attribute.key
        );
    }
    // Sorted by key (keys are unique): the same baggage always keeps the
    // same attributes, whatever the map's iteration order.
    for pair in attributes.windows(2) {
        assert!(
            pair[0].key.as_str() < pair[1].key.as_str(),
            "attributes out of order: {} then {}",
            pair[0].key,
            pair[1].key
        );
    }
});
