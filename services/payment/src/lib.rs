//! The payment service: a simulated card provider (think Stripe in test
//! mode) behind `POST /v1/charges`. It stands for an external provider, so
//! it keeps no database: only the idempotency keys of recent charges, in
//! memory.
//!
//! A map, in the order a request meets it:
//!
//! - [`app`] (this file): the routes, behind the runtime's HTTP server span
//!   middleware (which also applies faults); [`serve`] runs it.
//! - `routes`: the handlers; `create_charge` reads the `Idempotency-Key`
//!   header and the JSON body ([`api::ChargeRequest`]).
//! - `validate`: the field checks, each a 400 naming the field.
//! - `idempotency`: the same key and request answer the same response
//!   without charging twice; the same key with another request is a 409.
//! - `provider`: the simulated provider's decisions (Luhn check, Stripe's
//!   test cards, expiry) and its latency, in the INTERNAL span
//!   `provider.authorize`.
//! - `error`: [`error::PaymentError`], each failure's status and JSON body,
//!   logged once.
//! - [`api`]: the wire types, also used by the order service's client.

pub mod api;
pub mod error;
mod idempotency;
pub mod provider;
mod routes;
mod validate;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tracemesh_runtime::fault::Faults;
use tracemesh_runtime::http_server::{HttpTracing, not_found, trace_http};
use tracemesh_runtime::service::{ServeError, ServiceContext};
use tracemesh_runtime::shutdown::Shutdown;

pub use idempotency::{DEFAULT_CAPACITY, REPLAYED_HEADER};
pub use routes::{IDEMPOTENCY_KEY_HEADER, MAX_IDEMPOTENCY_KEY_LEN};

/// A charge request is well under a kilobyte; anything much bigger is a
/// mistake or an attack, refused with 413 before it is parsed.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The payment service's own flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Fixed latency of the simulated provider, per authorization.
    #[arg(long, env = "TRACEMESH_PROVIDER_LATENCY_MS", default_value_t = 8)]
    pub provider_latency_ms: u64,
    /// Extra latency drawn uniformly from 0 to this, per authorization.
    #[arg(long, env = "TRACEMESH_PROVIDER_JITTER_MS", default_value_t = 4)]
    pub provider_jitter_ms: u64,
}

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    provider: provider::Provider,
    idempotency: idempotency::IdempotencyStore,
    faults: Faults,
}

impl AppState {
    pub fn new(config: &Config, faults: Faults) -> AppState {
        AppState {
            provider: provider::Provider::new(
                config.provider_latency_ms,
                config.provider_jitter_ms,
            ),
            idempotency: idempotency::IdempotencyStore::new(DEFAULT_CAPACITY),
            faults,
        }
    }
}

/// The service's routes, ready to serve (tests call it with `oneshot`).
pub fn app(state: AppState) -> Router {
    let tracing = HttpTracing {
        faults: state.faults.clone(),
        traceresponse: false,
    };
    Router::new()
        .route(
            "/v1/charges",
            post(routes::create_charge).fallback(error::method_not_allowed),
        )
        .route("/healthz", get(routes::healthz))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Added after the routes, so the middleware sees the matched route.
        .layer(axum::middleware::from_fn_with_state(tracing, trace_http))
        .with_state(state)
}

/// Serves payment on `listener` until `shutdown`, then lets in-flight
/// charges finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: ServiceContext,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let state = AppState::new(&config, ctx.faults);
    axum::serve(tracemesh_runtime::listener::http(listener), app(state))
        .with_graceful_shutdown(shutdown.wait())
        .await
        .map_err(|e| ServeError::Server(e.into()))
}
