//! What a load run is asked to do ([`LoadPlan`]) and what it did
//! ([`SentRequest`], [`LoadOutcome`]): the contract between the goose
//! scenarios and the checks that read their traces.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracemesh_runtime::w3c::TraceParent;

/// How to drive the gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadPlan {
    /// The gateway's base URL, e.g. `http://127.0.0.1:8080`.
    pub gateway: String,
    /// Concurrent goose users.
    pub users: usize,
    /// Users started per second (goose's `--increase-rate`).
    pub increase_rate: f64,
    /// How long the load runs once all users started (goose's `--run-time`).
    pub run_time: Duration,
    /// Share of requests sent WITHOUT a traceparent, so the gateway's
    /// sampler decides (their trace ids come back in `traceresponse`).
    pub rootless_share: f64,
    /// Of the requests sent WITH a traceparent, the share sent sampled
    /// (flags 01); the rest are sent unsampled (flags 00).
    pub parented_sampled_share: f64,
    /// Pause between two transactions of one user, drawn uniformly.
    pub think_time_min: Duration,
    pub think_time_max: Duration,
    /// Seeds the choice of scenario data (users, SKUs, cards) and trace ids.
    pub seed: u64,
    /// Goose's own reports to write (`.html`, `.json`, `.md`), via
    /// `config.report_file`.
    pub goose_reports: Vec<PathBuf>,
    /// What each user sends: the shop's mix, or one `GET` route.
    #[serde(default)]
    pub workload: Workload,
}

/// The transactions a load run's users take turns at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// The shop: every kind of [`RequestKind::ALL`] by its weight, against
    /// the gateway (`tracemesh run`).
    #[default]
    Shop,
    /// One `GET` of `path` ([`RequestKind::Get`]), through the same users,
    /// sessions, trace context and record as the shop: how fast the load
    /// generator itself can go against a server that costs next to nothing
    /// (`tracemesh bench --only loadgen`, against an axum hello world).
    Get { path: String },
}

impl Workload {
    /// The path the up-front health check asks: the gateway's liveness
    /// route, or the one route itself (a hello world has no `/healthz`).
    pub fn health_path(&self) -> &str {
        match self {
            Workload::Shop => "/healthz",
            Workload::Get { path } => path,
        }
    }
}

/// Which request of the shop mix, and what the load generator expects the
/// gateway to answer. The expected status is the one the mesh gives
/// without faults; faults can change it, which the checks account for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// `GET /api/products` → 200.
    BrowseProducts,
    /// `GET /api/users/{id}` for a seeded user → 200.
    LookUpUser,
    /// `POST /api/checkout` of an in-stock product with a good card → 201.
    Checkout,
    /// `POST /api/checkout` of a product with no stock → 409.
    CheckoutOutOfStock,
    /// `POST /api/checkout` with a card the provider declines → 402.
    CheckoutDeclined,
    /// `GET /api/orders/{id}` of an order this run placed → 200.
    LookUpOrder,
    /// `GET` of the one route of a [`Workload::Get`] plan → 200. Not part
    /// of the shop mix, so not in [`RequestKind::ALL`].
    Get,
}

impl RequestKind {
    /// Every kind of the shop mix, in declaration order.
    pub const ALL: [RequestKind; 6] = [
        RequestKind::BrowseProducts,
        RequestKind::LookUpUser,
        RequestKind::Checkout,
        RequestKind::CheckoutOutOfStock,
        RequestKind::CheckoutDeclined,
        RequestKind::LookUpOrder,
    ];

    /// The snake_case name, as serde writes it; goose's own report groups
    /// requests under it (e.g. `checkout_declined`).
    pub fn name(self) -> &'static str {
        match self {
            RequestKind::BrowseProducts => "browse_products",
            RequestKind::LookUpUser => "look_up_user",
            RequestKind::Checkout => "checkout",
            RequestKind::CheckoutOutOfStock => "checkout_out_of_stock",
            RequestKind::CheckoutDeclined => "checkout_declined",
            RequestKind::LookUpOrder => "look_up_order",
            RequestKind::Get => "get",
        }
    }

    /// The gateway route, as its SERVER span names it (`GET` alone for the
    /// one route of a [`Workload::Get`] plan, whose path the plan holds).
    pub fn endpoint(self) -> &'static str {
        match self {
            RequestKind::BrowseProducts => "GET /api/products",
            RequestKind::LookUpUser => "GET /api/users/{id}",
            RequestKind::Checkout
            | RequestKind::CheckoutOutOfStock
            | RequestKind::CheckoutDeclined => "POST /api/checkout",
            RequestKind::LookUpOrder => "GET /api/orders/{id}",
            RequestKind::Get => "GET",
        }
    }

    /// The status the mesh answers without faults.
    pub fn expected_status(self) -> u16 {
        match self {
            RequestKind::BrowseProducts
            | RequestKind::LookUpUser
            | RequestKind::LookUpOrder
            | RequestKind::Get => 200,
            RequestKind::Checkout => 201,
            RequestKind::CheckoutOutOfStock => 409,
            RequestKind::CheckoutDeclined => 402,
        }
    }
}

/// One request the load generator sent, as the checks need it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentRequest {
    pub kind: RequestKind,
    /// The `traceparent` sent, `None` for a root request.
    pub traceparent: Option<String>,
    /// The `traceresponse` the gateway answered with, if any.
    pub traceresponse: Option<String>,
    /// The HTTP status, `None` when no answer came (connection failure, timeout).
    pub status: Option<u16>,
    /// Time from sending to the end of the response body.
    pub latency_ms: f64,
    /// When it was sent, unix nanoseconds.
    pub sent_unix_nanos: u64,
    /// When the answer ended, unix nanoseconds (readiness is measured from here).
    pub answered_unix_nanos: u64,
}

impl SentRequest {
    /// The trace this request made: the sent trace id, or the one in `traceresponse`.
    pub fn trace_id(&self) -> Option<&str> {
        TraceParent::trace_id_of(self.trace_header()?)
    }

    /// Whether the trace was sampled: by the caller's flag for parented
    /// requests, by the `traceresponse` flag for root requests.
    pub fn sampled(&self) -> Option<bool> {
        let header = TraceParent::parse(self.trace_header()?).ok()?;
        Some(header.sampled())
    }

    /// The header that names this request's trace: the one sent, else the answer's.
    fn trace_header(&self) -> Option<&str> {
        self.traceparent
            .as_deref()
            .or(self.traceresponse.as_deref())
    }
}

/// What a load run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadOutcome {
    /// Every request, in the order they completed.
    pub requests: Vec<SentRequest>,
    /// Wall-clock duration of the load, start to stop.
    pub duration: Duration,
    /// True when the run was stopped early (ctrl-c).
    pub interrupted: bool,
    /// The goose reports written.
    pub goose_reports: Vec<PathBuf>,
}

/// Live figures while the load runs, for a progress line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadProgress {
    pub elapsed: Duration,
    pub planned: Duration,
    pub requests: u64,
    /// Answers whose status differs from the kind's expected status, plus no-answers.
    pub unexpected: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(traceparent: Option<&str>, traceresponse: Option<&str>) -> SentRequest {
        SentRequest {
            kind: RequestKind::BrowseProducts,
            traceparent: traceparent.map(str::to_owned),
            traceresponse: traceresponse.map(str::to_owned),
            status: Some(200),
            latency_ms: 1.0,
            sent_unix_nanos: 0,
            answered_unix_nanos: 1,
        }
    }

    #[test]
    fn a_parented_request_is_known_by_what_it_sent() {
        let r = request(
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-00"),
        );
        assert_eq!(r.trace_id(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert_eq!(r.sampled(), Some(false));
    }

    #[test]
    fn a_kind_is_named_as_serde_writes_it() {
        for kind in RequestKind::ALL.into_iter().chain([RequestKind::Get]) {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
        }
    }

    #[test]
    fn a_root_request_is_known_by_its_traceresponse() {
        let r = request(
            None,
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        );
        assert_eq!(r.trace_id(), Some("0af7651916cd43dd8448eb211c80319c"));
        assert_eq!(r.sampled(), Some(true));
        assert_eq!(request(None, None).trace_id(), None);
        // A malformed answer names no trace.
        let malformed = request(
            None,
            Some("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"),
        );
        assert_eq!((malformed.trace_id(), malformed.sampled()), (None, None));
    }
}
