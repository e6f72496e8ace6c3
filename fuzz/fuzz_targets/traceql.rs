//! Fuzzes the TraceQL parser (`traceql::parse`, what the query API and the
//! viewer read from users) and, when a query parses, its evaluation over a
//! realistic trace. Non-UTF-8 inputs are skipped: queries arrive as text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tracemesh_harness::trace::synthetic::{CheckoutDelays, checkout};
use tracemesh_harness::traceql;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match traceql::parse(text) {
        Ok(query) => {
            let trace = checkout(1, CheckoutDelays::default()).into_spans();
            for set in query.evaluate(&trace) {
                assert!(!set.spans.is_empty(), "{text:?} returned an empty spanset");
                assert!(set.spans.windows(2).all(|w| w[0] < w[1]), "{text:?}: spans out of order");
                assert!(set.spans.iter().all(|&i| i < trace.len()));
            }
        }
        Err(e) => {
            let columns = text.chars().count() + 1;
            assert!((1..=columns).contains(&e.column), "{text:?}: column {}", e.column);
        }
    }
});
