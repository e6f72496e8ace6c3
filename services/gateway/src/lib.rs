//! The gateway: the mesh's public HTTP JSON edge, in front of the user,
//! order and inventory gRPC services.
//!
//! A map, in the order a request meets it:
//!
//! - this file: [`Config`] (the gateway's flags), [`app`] (the router, with
//!   the runtime's tracing middleware around every route) and [`serve`].
//! - [`routes`]: one small file per endpoint group; each handler parses its
//!   input, makes its downstream calls and shapes the answer.
//! - [`model`]: the JSON the gateway speaks, and the one `parse` per request
//!   type that turns client input into validated values (or a 400 naming the
//!   field).
//! - [`clients`]: the three traced gRPC clients and the untraced readiness
//!   probes.
//! - [`error`]: [`error::ApiError`], every way a request can fail, its HTTP
//!   status and JSON body, and the mapping from a downstream gRPC status.
//!
//! What the gateway does *not* do: open spans, propagate trace context or
//! inject faults. The runtime's `trace_http_edge` middleware does that once
//! per request, and the traced channels once per outbound call.
//!
//! Incoming context: by default the caller's `traceparent`, `tracestate` and
//! `baggage` are continued, baggage cut to the W3C limits (64 list-members,
//! 8192 bytes; the first members that fit are kept, and the SERVER span
//! counts the rest in `tracemesh.baggage.dropped`). With `--untrusted-edge`
//! (for a public deployment) all three are ignored: every request starts a
//! new root trace, marked `tracemesh.incoming_context = "dropped"` when the
//! caller sent any. The services behind propagate what the gateway sends.

pub mod clients;
pub mod error;
pub mod model;
pub mod routes;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use tracemesh_runtime::fault::Faults;
use tracemesh_runtime::grpc_client::Deadlines;
use tracemesh_runtime::http_client::TracedHttpClient;
use tracemesh_runtime::http_server::{EdgeTracing, HttpTracing, not_found, trace_http_edge};
use tracemesh_runtime::propagation::Hop;
use tracemesh_runtime::service::{ServeError, ServiceContext};
use tracemesh_runtime::shutdown::Shutdown;
use tracemesh_runtime::topology::Service;

use crate::clients::{Clients, DownstreamUrls, Readiness};

/// The gateway's own flags (the common ones live in the runtime).
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// The user service (gRPC).
    #[arg(
        long,
        env = "TRACEMESH_USER_URL",
        default_value_t = Service::User.default_url()
    )]
    pub user_url: String,
    /// The order service (gRPC).
    #[arg(
        long,
        env = "TRACEMESH_ORDER_URL",
        default_value_t = Service::Order.default_url()
    )]
    pub order_url: String,
    /// The inventory service (gRPC).
    #[arg(
        long,
        env = "TRACEMESH_INVENTORY_URL",
        default_value_t = Service::Inventory.default_url()
    )]
    pub inventory_url: String,
    /// Largest request body accepted; a bigger one is answered 413.
    #[arg(
        long,
        env = "TRACEMESH_MAX_BODY_BYTES",
        default_value_t = 65536,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_body_bytes: usize,
    /// Deadline of every downstream call, in milliseconds.
    #[arg(
        long,
        env = "TRACEMESH_DOWNSTREAM_TIMEOUT_MS",
        default_value_t = 3000,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub downstream_timeout_ms: u64,
    /// Also serve `POST /test`, the endpoint the W3C trace-context test suite drives.
    #[arg(long, env = "TRACEMESH_W3C_TEST_ENDPOINT", default_value_t = false)]
    pub w3c_test_endpoint: bool,
    /// Ignore incoming traceparent, tracestate and baggage (a public edge):
    /// every request starts a new trace, marked when a context was dropped.
    #[arg(long, env = "TRACEMESH_UNTRUSTED_EDGE", default_value_t = false)]
    pub untrusted_edge: bool,
}

impl Config {
    /// The deadlines of every downstream call. Connecting never gets longer
    /// than the whole call may take.
    pub fn deadlines(&self) -> Deadlines {
        let request = Duration::from_millis(self.downstream_timeout_ms);
        Deadlines {
            connect: Deadlines::default().connect.min(request),
            request,
        }
    }

    fn urls(&self) -> DownstreamUrls {
        DownstreamUrls {
            user: self.user_url.clone(),
            order: self.order_url.clone(),
            inventory: self.inventory_url.clone(),
        }
    }
}

/// What every handler shares. Cheap to clone: clients are channel handles.
#[derive(Debug, Clone)]
pub struct AppState {
    pub clients: Clients,
    pub readiness: Readiness,
    pub faults: Faults,
    pub max_body_bytes: usize,
    /// The client of `POST /test`; `None` unless `--w3c-test-endpoint`.
    pub w3c_forwarder: Option<TracedHttpClient>,
    /// `--untrusted-edge`: ignore the callers' trace context and baggage.
    pub untrusted_edge: bool,
}

impl AppState {
    /// Builds the clients. Channels connect lazily, so this succeeds with
    /// every downstream down: the gateway starts first and reports 503 until
    /// they come up (which `/readyz` shows).
    pub fn new(config: &Config, faults: Faults) -> Result<Self, String> {
        let deadlines = config.deadlines();
        let urls = config.urls();
        let w3c_forwarder = if config.w3c_test_endpoint {
            // The W3C test suite's services are outside the mesh: no
            // telemetry fault names them.
            let client =
                TracedHttpClient::new(Hop::external(), deadlines.connect, deadlines.request)
                    .map_err(|e| format!("cannot build the HTTP client of /test: {e}"))?;
            Some(client)
        } else {
            None
        };
        Ok(AppState {
            clients: Clients::connect(&urls, deadlines, &faults)?,
            readiness: Readiness::connect(&urls)?,
            faults,
            max_body_bytes: config.max_body_bytes,
            w3c_forwarder,
            untrusted_edge: config.untrusted_edge,
        })
    }
}

/// The gateway's router: every route, the JSON fallbacks, the body limit,
/// and the tracing middleware around all of it.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/api/products", get(routes::products::list))
        .route("/api/users/{id}", get(routes::users::get))
        .route("/api/checkout", post(routes::checkout::checkout))
        .route("/api/orders/{id}", get(routes::orders::get))
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz));
    if let Some(client) = state.w3c_forwarder.clone() {
        router = router.merge(routes::w3c_test::router(client));
    }
    let tracing = EdgeTracing {
        tracing: HttpTracing {
            faults: state.faults.clone(),
            traceresponse: true,
        },
        untrusted_edge: state.untrusted_edge,
    };
    router
        .fallback(not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        // The `Json` extractor reads at most this much; a larger body is a
        // `JsonRejection` that `ApiError` turns into a JSON 413.
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        // Last, so it wraps everything above (the 413s and 404s included)
        // and sees the matched route.
        .layer(from_fn_with_state(tracing, trace_http_edge))
        .with_state(state)
}

/// Serves the gateway on `listener` until `shutdown`, then lets in-flight
/// requests finish. The gateway keeps no data, so `ctx.data_dir` is unused.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: ServiceContext,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let state = AppState::new(&config, ctx.faults).map_err(ServeError::Config)?;
    axum::serve(tracemesh_runtime::listener::http(listener), app(state))
        .with_graceful_shutdown(shutdown.wait())
        .await
        .map_err(|e| ServeError::Server(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn defaults_point_at_the_local_mesh() {
        let cli = Cli::try_parse_from(["gateway"]).unwrap();
        assert_eq!(cli.config.user_url, "http://127.0.0.1:50051");
        assert_eq!(cli.config.order_url, "http://127.0.0.1:50052");
        assert_eq!(cli.config.inventory_url, "http://127.0.0.1:50053");
        assert_eq!(cli.config.max_body_bytes, 65536);
        assert_eq!(cli.config.downstream_timeout_ms, 3000);
        assert!(!cli.config.w3c_test_endpoint);
        assert!(!cli.config.untrusted_edge, "context is trusted by default");
    }

    #[test]
    fn a_zero_timeout_is_refused() {
        let err = Cli::try_parse_from(["gateway", "--downstream-timeout-ms", "0"]).unwrap_err();
        assert!(err.to_string().contains("--downstream-timeout-ms"), "{err}");
    }

    #[test]
    fn connecting_never_waits_longer_than_the_call_deadline() {
        let cli = Cli::try_parse_from(["gateway", "--downstream-timeout-ms", "200"]).unwrap();
        let deadlines = cli.config.deadlines();
        assert_eq!(deadlines.request, Duration::from_millis(200));
        assert_eq!(deadlines.connect, Duration::from_millis(200));
    }

    #[test]
    fn untrusted_edge_is_a_switch() {
        let cli = Cli::try_parse_from(["gateway", "--untrusted-edge"]).unwrap();
        assert!(cli.config.untrusted_edge);
    }

    #[test]
    fn the_w3c_test_endpoint_is_a_switch() {
        let cli = Cli::try_parse_from(["gateway", "--w3c-test-endpoint"]).unwrap();
        assert!(cli.config.w3c_test_endpoint);
    }
}
