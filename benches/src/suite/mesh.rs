//! What the mesh-driven parts of the suite share: a fresh mesh per
//! variant, the traced environment, the checkout request, and the order in
//! which variants take turns.

use std::path::Path;
use std::time::Duration;

use tracemesh_mesh::{Mesh, MeshOptions};
use tracemesh_runtime::w3c;

use crate::suite::BenchError;

/// Stock of CAB-004 in a fresh data directory: the checkouts one mesh can
/// take before it answers 409 (out of stock).
pub const CAB_004_STOCK: u64 = 5000;

/// A successful checkout of one CAB-004 with the test card that succeeds.
pub const CHECKOUT_BODY: &str = r#"{"user_id":"u-1001","items":[{"sku":"CAB-004","quantity":1}],"card":{"number":"4242424242424242","exp_month":12,"exp_year":2031,"cvc":"123"}}"#;

/// The load's order of variants in round `round`: forwards in even rounds,
/// backwards in odd ones (A B C, C B A, A B C...), so no variant always
/// runs first or right after another.
pub fn round_order(variants: usize, round: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..variants).collect();
    if round % 2 == 1 {
        order.reverse();
    }
    order
}

/// A mesh with the planted warehouse lock removed (so the lock does not
/// cap the rate), its own fresh data directory (full stock), and `env`.
pub async fn start_mesh(
    label: &str,
    env: Vec<(String, String)>,
    logs: &Path,
) -> Result<(Mesh, tempfile::TempDir), BenchError> {
    let data_dir = tracemesh_mesh::temporary_data_dir()?;
    let mut env = env;
    // Logs at warn in every variant: what is measured is tracing, not the
    // cost of writing a log line per request.
    env.push(("RUST_LOG".into(), "warn".into()));
    env.push(("TRACEMESH_LOG_FORMAT".into(), "json".into()));
    let options = MeshOptions {
        fix_inventory_lock: true,
        env,
        ready_timeout: Duration::from_secs(60),
        log_file: Some(logs.join(format!("{label}.log"))),
        ..MeshOptions::new(data_dir.path())
    };
    let mesh = Mesh::start(&options).await?;
    Ok((mesh, data_dir))
}

/// The environment of a mesh exporting every span to `collector` over
/// OTLP/gRPC, with the exporter's schedule delay `delay_ms`.
pub fn traced_env(
    collector: &tracemesh_harness::RunningCollector,
    delay_ms: u64,
) -> Vec<(String, String)> {
    always_on(
        tracemesh_mesh::collector::telemetry_env(collector),
        delay_ms,
    )
}

/// `env` (pointing at a collector) plus every span sampled and the
/// exporter's schedule delay `delay_ms`.
pub fn always_on(mut env: Vec<(String, String)>, delay_ms: u64) -> Vec<(String, String)> {
    env.extend([
        ("OTEL_TRACES_SAMPLER".to_owned(), "always_on".to_owned()),
        ("OTEL_BSP_SCHEDULE_DELAY".to_owned(), delay_ms.to_string()),
    ]);
    env
}

/// Makes the checkout request the load sends.
pub fn checkout_request(gateway: &str) -> crate::load::MakeRequest {
    let url = format!("{gateway}/api/checkout");
    std::sync::Arc::new(move |client: &reqwest::Client| {
        client
            .post(&url)
            .header("content-type", "application/json")
            .body(CHECKOUT_BODY)
    })
}

/// The trace id of the gateway's `traceresponse` header
/// (`00-<trace-id>-<span-id>-<flags>`), with its sampled flag.
pub fn traceresponse(response: &reqwest::Response) -> Option<(String, bool)> {
    let value = response.headers().get(w3c::TRACERESPONSE_HEADER)?;
    let header = w3c::TraceParent::parse(value.to_str().ok()?).ok()?;
    let sampled = header.sampled();
    Some((header.trace_id, sampled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_alternate_the_order_of_variants() {
        assert_eq!(round_order(3, 0), [0, 1, 2]);
        assert_eq!(round_order(3, 1), [2, 1, 0]);
        assert_eq!(round_order(2, 2), [0, 1]);
    }

    #[test]
    fn the_checkout_body_is_json() {
        let body: serde_json::Value = serde_json::from_str(CHECKOUT_BODY).unwrap();
        assert_eq!(body["items"][0]["sku"], "CAB-004");
    }
}
