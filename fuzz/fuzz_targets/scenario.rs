//! Fuzzes the scenario file parser (`Scenario::parse`, what `tracemesh run
//! --scenario` reads). The input is the file's text; non-UTF-8 inputs are
//! skipped, as reading the file would fail first. An accepted scenario's
//! faults must then survive the trip `tracemesh run` gives them: JSON,
//! PUT to each service's admin endpoint, parsed there by `FaultConfig::parse`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tracemesh_harness::scenario::{SERVICES, Scenario};
use tracemesh_runtime::fault::FaultConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(scenario) = Scenario::parse(text, "fuzz input") else {
        return;
    };
    assert!(!scenario.name.trim().is_empty());
    for service in SERVICES {
        let Some(faults) = scenario.faults_for(service) else {
            continue;
        };
        // What `run_cmd::apply_faults` sends and the admin endpoint parses.
        let body = serde_json::to_string(&faults).expect("faults serialise to JSON");
        let received = FaultConfig::parse(&body).unwrap_or_else(|e| {
            panic!(
                "{service}'s admin endpoint would refuse the accepted scenario's faults {body}: {e}"
            )
        });
        assert_eq!(
            received, faults,
            "{service}'s faults changed on the way: {body}"
        );
    }
});
