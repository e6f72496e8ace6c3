//! A stand-in gateway for the load generator's tests: the gateway's routes,
//! each answered with the status the real gateway gives for that input and
//! a `traceresponse` header, and a log of everything it received.
//!
//! It tests the load generator, not the mesh (the real mesh is tested
//! elsewhere): it must be exact about what it saw, and judge requests the
//! way the real gateway would, so a load generator that sends the wrong
//! SKU, card, user or order id gets the status that gives it away.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tracemesh_harness::load::{LoadPlan, RequestKind, Workload};
use tracemesh_runtime::w3c::TraceParent;

/// One request as the stand-in gateway saw and answered it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Received {
    /// What the request was, judged from its route and body.
    pub kind: RequestKind,
    pub traceparent: Option<String>,
    pub traceresponse: String,
    pub status: u16,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Default)]
struct Gateway {
    received: Mutex<Vec<Received>>,
    orders: Mutex<HashSet<String>>,
    next_order: AtomicU64,
    /// Distinct ids for the traces and spans this gateway "starts".
    next_id: AtomicU64,
}

/// A running stand-in gateway, serving until the test's runtime ends.
pub struct FixtureGateway {
    pub url: String,
    gateway: Arc<Gateway>,
}

impl FixtureGateway {
    /// Binds port 0 on loopback and serves.
    pub async fn start() -> FixtureGateway {
        let gateway = Arc::new(Gateway::default());
        let app = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/api/products", get(products))
            .route("/api/users/{id}", get(user))
            .route("/api/checkout", post(checkout))
            .route("/api/orders/{id}", get(order))
            .with_state(gateway.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FixtureGateway { url, gateway }
    }

    /// Everything received so far (health checks aside).
    pub fn received(&self) -> Vec<Received> {
        self.gateway.received.lock().unwrap().clone()
    }
}

/// A plan against `gateway`: 2 users started at once, a 2 s run, no think
/// time to speak of (many requests, so the share bounds are tight).
pub fn plan(gateway: &str) -> LoadPlan {
    LoadPlan {
        gateway: gateway.to_owned(),
        users: 2,
        increase_rate: 10.0,
        run_time: Duration::from_secs(2),
        rootless_share: 0.3,
        parented_sampled_share: 0.6,
        think_time_min: Duration::ZERO,
        think_time_max: Duration::from_millis(2),
        seed: 42,
        goose_reports: Vec::<PathBuf>::new(),
        workload: Workload::Shop,
    }
}

/// Goose keeps process-wide state (its killswitch, its logger): the tests
/// of one binary run their load one at a time.
pub static ONE_RUN_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `header` as a valid version-00 W3C traceparent (or traceresponse) with
/// flags 00 or 01, the only ones the load sends; `None` otherwise.
pub fn valid_traceparent(header: &str) -> Option<TraceParent> {
    TraceParent::parse(header)
        .ok()
        .filter(|t| t.version == 0 && t.flags <= 1)
}

/// Whether [`valid_traceparent`] accepts `header`.
pub fn is_valid_traceparent(header: &str) -> bool {
    valid_traceparent(header).is_some()
}

/// Whether `successes` out of `trials` is a plausible draw of a binomial
/// with probability `p`: within 5 standard deviations (a false alarm about
/// once in 1.7 million runs), plus one for rounding.
pub fn within_binomial_bounds(successes: usize, trials: usize, p: f64) -> bool {
    let n = trials as f64;
    let sigma = (n * p * (1.0 - p)).sqrt();
    (successes as f64 - n * p).abs() <= 5.0 * sigma + 1.0
}

// ---------------------------------------------------------------- routes

const USERS: [&str; 5] = ["u-1001", "u-1002", "u-1003", "u-1004", "u-1005"];
const IN_STOCK: [&str; 4] = ["KEY-001", "MOU-002", "CAB-004", "HDP-005"];
const OUT_OF_STOCK: &str = "CHR-007";
const GOOD_CARD: &str = "4242424242424242";
const DECLINED_CARD: &str = "4000000000000002";

async fn products(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    gw.answer(RequestKind::BrowseProducts, &headers, StatusCode::OK, "[]")
}

async fn user(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let status = if USERS.contains(&id.as_str()) {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    gw.answer(RequestKind::LookUpUser, &headers, status, "{}")
}

async fn order(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    // Only orders this gateway placed exist.
    let status = if gw.orders.lock().unwrap().contains(&id) {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    gw.answer(RequestKind::LookUpOrder, &headers, status, "{}")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckoutBody {
    user_id: String,
    items: Vec<Item>,
    card: Card,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    sku: String,
    quantity: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Card {
    number: String,
    exp_month: u32,
    exp_year: u32,
    cvc: String,
}

async fn checkout(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Json<CheckoutBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(body)) = body else {
        return gw.answer(
            RequestKind::Checkout,
            &headers,
            StatusCode::BAD_REQUEST,
            "{}",
        );
    };
    let skus: Vec<&str> = body.items.iter().map(|i| i.sku.as_str()).collect();
    // The kind the body amounts to, as the checks would classify it.
    let kind = if skus.contains(&OUT_OF_STOCK) {
        RequestKind::CheckoutOutOfStock
    } else if body.card.number == DECLINED_CARD {
        RequestKind::CheckoutDeclined
    } else {
        RequestKind::Checkout
    };
    let card_ok = [GOOD_CARD, DECLINED_CARD].contains(&body.card.number.as_str())
        && (1..=12).contains(&body.card.exp_month)
        && body.card.exp_year >= 2026
        && body.card.cvc.len() == 3;
    let status = if body.items.len() != 1 || body.items.iter().any(|i| i.quantity != 1) || !card_ok
    {
        // Not what the shop mix sends: one unit of one product, a test card.
        StatusCode::BAD_REQUEST
    } else if !USERS.contains(&body.user_id.as_str()) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if skus.contains(&OUT_OF_STOCK) {
        StatusCode::CONFLICT
    } else if !skus.iter().all(|s| IN_STOCK.contains(s)) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if body.card.number == DECLINED_CARD {
        StatusCode::PAYMENT_REQUIRED
    } else {
        StatusCode::CREATED
    };
    if status != StatusCode::CREATED {
        return gw.answer(kind, &headers, status, "{}");
    }
    let id = format!("o-{}", gw.next_order.fetch_add(1, Ordering::Relaxed) + 1);
    gw.orders.lock().unwrap().insert(id.clone());
    let body = serde_json::json!({ "id": id, "status": "paid" }).to_string();
    gw.answer(kind, &headers, status, &body)
}

impl Gateway {
    /// Logs the request and answers `status` with `body` and a
    /// `traceresponse`: the caller's trace id and flags when it sent a
    /// valid traceparent, otherwise a new trace, sampled every other time.
    fn answer(
        &self,
        kind: RequestKind,
        headers: &HeaderMap,
        status: StatusCode,
        body: &str,
    ) -> Response {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let traceparent = text("traceparent");
        let n = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let span_id = format!("{n:016x}");
        let traceresponse = match traceparent.as_deref().and_then(valid_traceparent) {
            Some(parent) => TraceParent {
                parent_id: span_id,
                ..parent
            },
            None => TraceParent::new(
                format!("{:032x}", u128::from(n) << 64 | 0xabc),
                span_id,
                n.is_multiple_of(2),
            ),
        }
        .to_string();
        self.received.lock().unwrap().push(Received {
            kind,
            traceparent,
            traceresponse: traceresponse.clone(),
            status: status.as_u16(),
            idempotency_key: text("idempotency-key"),
        });
        let mut response = (
            status,
            [("content-type", "application/json")],
            body.to_owned(),
        )
            .into_response();
        response
            .headers_mut()
            .insert("traceresponse", traceresponse.parse().unwrap());
        response
    }
}
