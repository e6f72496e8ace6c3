//! The planted bottlenecks of the catalog and the payment pool, on the real
//! mesh: each leaves its shape in the trace by default, and its `--fix-*`
//! flag (here through its variable, which the service reads) removes the
//! shape. Everything asserted is the traces' structure: span counts, and
//! where spans start and end relative to each other, never how long the
//! test took. (The warehouse lock has its own test in `run_command.rs`.)

mod common;

use common::{GOOD_CARD, Mesh, checkout_body};
use tracemesh_harness::SpanRecord;
use tracemesh_harness::model::SpanKind;

/// One `GET /api/products`: the product list, and the number of
/// `SELECT products` and `SELECT stock` CLIENT spans directly under
/// inventory's ListProducts SERVER span.
async fn list_products(mesh: &Mesh) -> (serde_json::Value, usize, usize) {
    let response = reqwest::get(mesh.url("/api/products")).await.unwrap();
    assert_eq!(response.status(), 200);
    let trace_id = common::trace_id_of(&response);
    let products = response.json().await.unwrap();
    let spans = mesh.ready_trace(&trace_id).await;
    let server = spans
        .iter()
        .find(|s| {
            s.service_name == "inventory"
                && s.kind == SpanKind::Server
                && s.name.ends_with("/ListProducts")
        })
        .expect("inventory's ListProducts SERVER span");
    let under = |name: &str| {
        spans
            .iter()
            .filter(|s| {
                s.parent_span_id.as_deref() == Some(server.span_id.as_str())
                    && s.kind == SpanKind::Client
                    && s.name == name
            })
            .count()
    };
    (products, under("SELECT products"), under("SELECT stock"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_is_one_query_per_product_until_fixed_and_answers_alike() {
    let planted = Mesh::start().await;
    let (products, names, stock) = list_products(&planted).await;
    let listed = products["products"].as_array().map_or(0, Vec::len);
    assert_eq!(listed, 8, "{products}");
    // The N+1: one query for the products, then one per product.
    assert_eq!((names, stock), (1, listed));

    let fixed = Mesh::start_with(&[("TRACEMESH_FIX_CATALOG_QUERIES", "true")]).await;
    let (fixed_products, names, stock) = list_products(&fixed).await;
    assert_eq!((names, stock), (1, 0), "the join: one statement");
    assert_eq!(fixed_products, products);
}

/// Payment made slow enough that charges of concurrent checkouts meet at
/// order's pool whatever the machine (the warehouse lock lets a Reserve
/// through every 15 ms; each charge takes 40).
const SLOW_PAYMENT: [(&str, &str); 2] = [
    ("TRACEMESH_PROVIDER_LATENCY_MS", "40"),
    ("TRACEMESH_PROVIDER_JITTER_MS", "0"),
];
const CONCURRENT_CHECKOUTS: usize = 6;

/// In one checkout trace: order's `POST` CLIENT span to payment, and the gap
/// before it in order's PlaceOrder SERVER span: from the end of the last
/// child that ended before the `POST` started (the Reserve) to its start.
struct Charge {
    call: SpanRecord,
    gap_before_nanos: u64,
}

fn charge_of(spans: &[SpanRecord]) -> Charge {
    let server = spans
        .iter()
        .find(|s| {
            s.service_name == "order"
                && s.kind == SpanKind::Server
                && s.name.ends_with("/PlaceOrder")
        })
        .expect("order's PlaceOrder SERVER span");
    let children: Vec<&SpanRecord> = spans
        .iter()
        .filter(|s| s.parent_span_id.as_deref() == Some(server.span_id.as_str()))
        .collect();
    let call = children
        .iter()
        .find(|s| s.kind == SpanKind::Client && s.name == "POST")
        .expect("the charge's CLIENT span");
    let previous_end = children
        .iter()
        .map(|s| s.end_unix_nanos)
        .filter(|end| *end <= call.start_unix_nanos)
        .max()
        .expect("a child (the Reserve) ended before the charge");
    Charge {
        call: (*call).clone(),
        gap_before_nanos: call.start_unix_nanos - previous_end,
    }
}

/// Starts [`CONCURRENT_CHECKOUTS`] checkouts at once; their charges.
async fn concurrent_charges(mesh: &Mesh) -> Vec<Charge> {
    let http = reqwest::Client::new();
    let users = ["u-1001", "u-1002", "u-1003", "u-1004", "u-1005"];
    let placed = futures::future::join_all((0..CONCURRENT_CHECKOUTS).map(|i| {
        mesh.checkout(
            &http,
            checkout_body(users[i % users.len()], "CAB-004", 1, GOOD_CARD),
        )
    }))
    .await;
    let mut charges = Vec::new();
    for (status, body, trace_id) in placed {
        assert_eq!(status, 201, "{body}");
        charges.push(charge_of(&mesh.ready_trace(&trace_id).await));
    }
    charges.sort_by_key(|c| c.call.start_unix_nanos);
    charges
}

/// Whether any two charges were in flight at once (all are spans of the
/// one order process: one clock).
fn any_overlap(charges: &[Charge]) -> bool {
    charges
        .windows(2)
        .any(|w| w[1].call.start_unix_nanos < w[0].call.end_unix_nanos)
}

/// A gap longer than half the payment call it waited for: time in order's
/// span that no child explains, of the size of the call it queued behind.
fn queued(charge: &Charge) -> bool {
    let call = charge.call.end_unix_nanos - charge.call.start_unix_nanos;
    charge.gap_before_nanos > call / 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_charges_queue_for_the_pool_of_one_until_fixed() {
    let _alone = common::one_load_at_a_time().await;
    let planted = Mesh::start_with(&SLOW_PAYMENT).await;
    let charges = concurrent_charges(&planted).await;
    let gaps: Vec<u64> = charges.iter().map(|c| c.gap_before_nanos).collect();
    // One at a time: each call starts after the previous one ended...
    assert!(!any_overlap(&charges), "charges overlapped; gaps {gaps:?}");
    // ...and the wait shows as a gap before the CLIENT span, not as a span.
    assert!(
        charges.iter().any(queued),
        "no charge queued: gaps {gaps:?}"
    );

    let mut env = SLOW_PAYMENT.to_vec();
    env.push(("TRACEMESH_FIX_PAYMENT_POOL", "true"));
    let fixed = Mesh::start_with(&env).await;
    let charges = concurrent_charges(&fixed).await;
    let gaps: Vec<u64> = charges.iter().map(|c| c.gap_before_nanos).collect();
    assert!(any_overlap(&charges), "no two charges in flight at once");
    assert!(
        !charges.iter().any(queued),
        "a charge queued: gaps {gaps:?}"
    );
}
