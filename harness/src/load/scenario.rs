//! The goose scenario: what one simulated customer does, over and over,
//! and how each request is sent and recorded.
//!
//! For the shop ([`Workload::Shop`]), one transaction per kind of
//! [`RequestKind::ALL`], weighted like a shop. Goose's default round-robin
//! scheduler interleaves the transactions by weight (a cycle of 20 after
//! dividing by the common factor 5), so even a short run sees every kind.
//! For one route ([`Workload::Get`]), a single transaction of
//! [`RequestKind::Get`]. Either way each transaction sends exactly one
//! request, through the same session, trace context and answer reading,
//! and records it as a [`SentRequest`]: a one-route run costs the load
//! generator what a shop run costs it per request.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use goose::prelude::*;
use reqwest::header::HeaderMap;
use tracemesh_runtime::w3c::{TRACEPARENT_HEADER, TRACERESPONSE_HEADER};

use super::catalog::{self, CheckoutBody, ShopData};
use super::model::{RequestKind, SentRequest, Workload};
use super::record::Recorder;
use super::trace_context::TraceContextGenerator;

// The shop mix, in percent of transactions: mostly browsing, a quarter
// checkouts, a few of which fail for the two business reasons the mesh
// models (no stock, card declined), and customers checking their orders.
pub const BROWSE_PRODUCTS_WEIGHT: usize = 40;
pub const LOOK_UP_USER_WEIGHT: usize = 10;
pub const CHECKOUT_WEIGHT: usize = 25;
pub const CHECKOUT_OUT_OF_STOCK_WEIGHT: usize = 5;
pub const CHECKOUT_DECLINED_WEIGHT: usize = 5;
pub const LOOK_UP_ORDER_WEIGHT: usize = 15;

/// The weight of each kind's transaction.
pub fn weight(kind: RequestKind) -> usize {
    match kind {
        RequestKind::BrowseProducts => BROWSE_PRODUCTS_WEIGHT,
        RequestKind::LookUpUser => LOOK_UP_USER_WEIGHT,
        RequestKind::Checkout => CHECKOUT_WEIGHT,
        RequestKind::CheckoutOutOfStock => CHECKOUT_OUT_OF_STOCK_WEIGHT,
        RequestKind::CheckoutDeclined => CHECKOUT_DECLINED_WEIGHT,
        RequestKind::LookUpOrder => LOOK_UP_ORDER_WEIGHT,
        // The only transaction of a one-route run.
        RequestKind::Get => 1,
    }
}

/// The orders a user remembers for later look-ups: the latest few, so a
/// long run's session stays small.
const REMEMBERED_ORDERS: usize = 16;

/// What every transaction of a run shares.
#[derive(Debug)]
pub(crate) struct ShopContext {
    pub seed: u64,
    pub rootless_share: f64,
    pub parented_sampled_share: f64,
    pub recorder: Arc<Recorder>,
    pub workload: Workload,
}

/// One goose user's session: its two seeded generators and the orders it
/// placed. Created on the user's first transaction, from its index.
#[derive(Debug, Clone)]
struct Session {
    traces: TraceContextGenerator,
    data: ShopData,
    orders: Vec<String>,
}

/// The scenario of the context's workload, with the plan's think time
/// between transactions.
pub(crate) fn shop_scenario(
    context: Arc<ShopContext>,
    think_time: (std::time::Duration, std::time::Duration),
) -> Result<Scenario, GooseError> {
    let (name, kinds): (&str, &[RequestKind]) = match context.workload {
        Workload::Shop => ("shop", &RequestKind::ALL),
        Workload::Get { .. } => ("one route", &[RequestKind::Get]),
    };
    let mut scenario = Scenario::new(name).set_wait_time(think_time.0, think_time.1)?;
    for &kind in kinds {
        let context = context.clone();
        let function: TransactionFunction = Arc::new(move |user| {
            let context = context.clone();
            Box::pin(async move { run_transaction(user, &context, kind).await })
        });
        let transaction = Transaction::new(function)
            .set_name(kind.name())
            .set_weight(weight(kind))?;
        scenario = scenario.register_transaction(transaction);
    }
    Ok(scenario)
}

/// The request a transaction decided to send.
struct Outgoing {
    kind: RequestKind,
    method: GooseMethod,
    path: String,
    checkout: Option<CheckoutBody>,
    traceparent: Option<String>,
}

/// Sends one request of `planned` kind (or a browse, for an order look-up
/// with no order yet) and records it.
async fn run_transaction(
    user: &mut GooseUser,
    context: &ShopContext,
    planned: RequestKind,
) -> TransactionResult {
    let outgoing = plan_request(session(user, context), planned, &context.workload);

    let mut builder = user.get_request_builder(&outgoing.method, &outgoing.path)?;
    if let Some(traceparent) = &outgoing.traceparent {
        builder = builder.header(TRACEPARENT_HEADER, traceparent);
    }
    if let Some(body) = &outgoing.checkout {
        // A retried checkout with the same key places one order; each of
        // ours is a new purchase, so a new key.
        builder = builder
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(body);
    }
    // Named by kind, so goose's report groups by kind; and judged by the
    // kind's expected status, so a 402 or 409 that the shop expects is a
    // success in goose's figures and an unexpected 2xx is a failure.
    let request = GooseRequest::builder()
        .name(outgoing.kind.name())
        .expect_status_code(outgoing.kind.expected_status())
        .set_request_builder(builder)
        .build();

    let sent_at = SystemTime::now();
    let started = Instant::now();
    let goose = user.request(request).await?;
    let answer = read_answer(goose.response).await;
    let latency = started.elapsed();

    if outgoing.kind == RequestKind::Checkout
        && answer.status == Some(201)
        && let Some(order_id) = answer.order_id
    {
        remember_order(session(user, context), order_id);
    }

    let sent_unix_nanos = unix_nanos(sent_at);
    context.recorder.record(SentRequest {
        kind: outgoing.kind,
        traceparent: outgoing.traceparent,
        traceresponse: answer.traceresponse,
        status: answer.status,
        latency_ms: latency.as_secs_f64() * 1000.0,
        sent_unix_nanos,
        answered_unix_nanos: sent_unix_nanos + latency.as_nanos() as u64,
    });
    // The request's success is goose's business (its figures); the
    // transaction itself went as planned whatever the answer.
    Ok(())
}

/// This user's session, created on first use from the user's index.
fn session<'u>(user: &'u mut GooseUser, context: &ShopContext) -> &'u mut Session {
    if user.get_session_data::<Session>().is_none() {
        let index = user.weighted_users_index;
        user.set_session_data(Session {
            traces: TraceContextGenerator::new(
                context.seed,
                index,
                context.rootless_share,
                context.parented_sampled_share,
            ),
            data: ShopData::new(context.seed, index),
            orders: Vec::new(),
        });
    }
    user.get_session_data_unchecked_mut::<Session>()
}

fn remember_order(session: &mut Session, order_id: String) {
    if session.orders.len() == REMEMBERED_ORDERS {
        session.orders.remove(0);
    }
    session.orders.push(order_id);
}

/// Chooses the path, body and trace context of the next request.
fn plan_request(session: &mut Session, planned: RequestKind, workload: &Workload) -> Outgoing {
    let kind = match planned {
        // Nothing to look up yet: browse instead, and say so.
        RequestKind::LookUpOrder if session.orders.is_empty() => RequestKind::BrowseProducts,
        other => other,
    };
    let data = &mut session.data;
    let (method, path, checkout) = match kind {
        RequestKind::Get => {
            let path = match workload {
                Workload::Get { path } => path.clone(),
                Workload::Shop => unreachable!("the shop scenario has no one-route transaction"),
            };
            (GooseMethod::Get, path, None)
        }
        RequestKind::BrowseProducts => (GooseMethod::Get, "/api/products".to_owned(), None),
        RequestKind::LookUpUser => (
            GooseMethod::Get,
            format!("/api/users/{}", data.user()),
            None,
        ),
        RequestKind::LookUpOrder => {
            let order = &session.orders[data.index(session.orders.len())];
            (GooseMethod::Get, format!("/api/orders/{order}"), None)
        }
        RequestKind::Checkout => {
            let body = CheckoutBody::new(data.user(), data.in_stock_sku(), catalog::GOOD_CARD);
            (GooseMethod::Post, "/api/checkout".to_owned(), Some(body))
        }
        RequestKind::CheckoutOutOfStock => {
            let body =
                CheckoutBody::new(data.user(), catalog::OUT_OF_STOCK_SKU, catalog::GOOD_CARD);
            (GooseMethod::Post, "/api/checkout".to_owned(), Some(body))
        }
        RequestKind::CheckoutDeclined => {
            let body = CheckoutBody::new(data.user(), data.in_stock_sku(), catalog::DECLINED_CARD);
            (GooseMethod::Post, "/api/checkout".to_owned(), Some(body))
        }
    };
    Outgoing {
        kind,
        method,
        path,
        checkout,
        traceparent: session.traces.next_traceparent(),
    }
}

/// What the gateway answered, as far as the record needs it.
struct Answer {
    status: Option<u16>,
    traceresponse: Option<String>,
    /// The `id` of a placed order, from a checkout's JSON body.
    order_id: Option<String>,
}

/// Reads the whole answer (the latency runs to the end of the body). A
/// failed connection or timeout is no answer. A body cut off midway still
/// came with a status and a `traceresponse`: the gateway started that
/// trace, so the record keeps both.
async fn read_answer(response: Result<reqwest::Response, reqwest::Error>) -> Answer {
    let Ok(response) = response else {
        return Answer {
            status: None,
            traceresponse: None,
            order_id: None,
        };
    };
    let status = response.status().as_u16();
    let traceresponse = header_text(response.headers(), TRACERESPONSE_HEADER);
    let body = response.bytes().await.unwrap_or_default();
    let order_id = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|json| json.get("id")?.as_str().map(str::to_owned));
    Answer {
        status: Some(status),
        traceresponse,
        order_id,
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

fn unix_nanos(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}
