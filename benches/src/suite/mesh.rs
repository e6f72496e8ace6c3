//! What the mesh-driven parts of the suite share: a fresh mesh per
//! variant, the traced environment, the checkout request, and the order in
//! which variants take turns.

use std::path::Path;
use std::time::Duration;

use tracemesh_mesh::{Mesh, MeshOptions};
use tracemesh_runtime::w3c;

use crate::suite::BenchError;

/// Stock of CAB-004 in a bench mesh: the checkouts one mesh can take
/// before it answers 409 (out of stock). A fresh data directory seeds
/// 5000, which 800 checkouts/s sell in six seconds; [`start_mesh`] raises it
/// so every round runs its full length and weighs the same.
pub const CAB_004_STOCK: u64 = 10_000_000;

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

/// A mesh with every planted bottleneck removed (so none caps the rate or
/// adds its queue to what is measured), its own fresh data directory (full
/// stock), and `env`.
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
        fix_catalog_queries: true,
        fix_payment_pool: true,
        env,
        ready_timeout: Duration::from_secs(60),
        log_file: Some(logs.join(format!("{label}.log"))),
        ..MeshOptions::new(data_dir.path())
    };
    let mesh = Mesh::start(&options).await?;
    raise_stock(data_dir.path())?;
    Ok((mesh, data_dir))
}

/// Sets CAB-004's stock to [`CAB_004_STOCK`] in the running inventory's
/// database. Inventory reads stock from SQLite on every reservation (no
/// cache), and SQLite's locking makes a write from a second connection safe.
fn raise_stock(data_dir: &Path) -> Result<(), BenchError> {
    let db = data_dir.join("inventory.db");
    let fail = |e: rusqlite::Error| {
        BenchError::Runtime(format!(
            "cannot raise CAB-004's stock in {}: {e}",
            db.display()
        ))
    };
    let connection = rusqlite::Connection::open(&db).map_err(fail)?;
    connection
        .busy_timeout(Duration::from_secs(5))
        .map_err(fail)?;
    let updated = connection
        .execute(
            "UPDATE stock SET available = ?1 WHERE sku = 'CAB-004'",
            [CAB_004_STOCK as i64],
        )
        .map_err(fail)?;
    if updated != 1 {
        return Err(BenchError::Runtime(format!(
            "{} has no CAB-004 row to raise the stock of",
            db.display()
        )));
    }
    Ok(())
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
