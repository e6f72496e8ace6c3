//! RED metrics (rate, errors, duration) with exemplars, exposed as
//! OpenMetrics text on the admin listener ([`crate::admin::paths::METRICS`]).
//!
//! A map:
//!
//! - [`Metrics`]: the process's registry: one histogram family per
//!   [`crate::contract::metric::HISTOGRAMS`] entry, the three domain
//!   counters of [`crate::contract::metric::COUNTERS`], every series
//!   labelled `service_name`; [`Metrics::encode`] writes the exposition.
//!   [`install`] makes it at start-up ([`crate::service::run`]), [`global`]
//!   is what the layers record into.
//! - [`labels`]: one typed label set per family, field names equal to the
//!   contract's label keys, and the exemplar's (`trace_id`, `span_id`).
//! - [`exemplar`]: which span an observation names: a sampled one only.
//! - [`clock`]: one clock for a span and its observation: the layer's
//!   measurement is observed and written onto the exported span, so an
//!   exemplar's value is its span's duration exactly.
//! - Recording happens in the span layers, once per span, where the span
//!   ends: [`crate::http_server`], [`crate::http_client`],
//!   [`crate::grpc_span::CallSpan`] (gRPC server and client, which end when
//!   the trailers pass), [`crate::db::Db::call`]. Never in handlers; probes
//!   are neither traced nor recorded.
//!
//! Why `prometheus-client`: it is the Rust metrics crate that records
//! OpenMetrics exemplars (`HistogramWithExemplars`); the OpenTelemetry Rust
//! metrics SDK does not collect exemplars, nor do the `prometheus` or
//! `metrics` crates. A bucket keeps the last exemplar observed in it.
//!
//! The metric telemetry faults ([`crate::fault::telemetry`]) act here:
//! `exemplar_wrong_trace`, `exemplar_unsampled` (in [`exemplar`]) and
//! `miss_count` (in [`Metrics::observe_server`]).

pub mod clock;
mod exemplar;
pub mod labels;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Registry, Unit};

use crate::contract::metric;
use crate::fault::TelemetryFaults;
use crate::grpc_span::Side;
use clock::{Measured, MeasuredTimes};
use exemplar::Exemplars;
use labels::{
    DbClientLabels, ExemplarLabels, HttpClientLabels, HttpServerLabels, RpcClientLabels,
    RpcServerLabels,
};

type Histogram = HistogramWithExemplars<ExemplarLabels>;
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    HistogramWithExemplars::new(metric::DURATION_BUCKETS.into_iter())
}

fn histograms<L: Clone + std::hash::Hash + Eq>() -> Histograms<L> {
    Family::new_with_constructor(duration_histogram)
}

/// The `service_name` of a process that recorded before [`install`] (tests).
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// A process's metrics. See the module documentation.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http_server: Histograms<HttpServerLabels>,
    http_client: Histograms<HttpClientLabels>,
    rpc_server: Histograms<RpcServerLabels>,
    rpc_client: Histograms<RpcClientLabels>,
    db_client: Histograms<DbClientLabels>,
    orders_placed: Counter,
    stock_reservations_refused: Counter,
    payments_declined: Counter,
    faults: TelemetryFaults,
    exemplars: Exemplars,
    /// Server observations seen while `miss_count` is planted.
    server_observations: AtomicU64,
}

static GLOBAL: OnceLock<Metrics> = OnceLock::new();

/// Makes the process's metrics for `service_name`, reading `faults` (the
/// live handle the admin endpoint replaces). Once per process: a second
/// call keeps the first registry and says so.
pub fn install(service_name: &str, faults: TelemetryFaults) -> &'static Metrics {
    let mut installed = false;
    let metrics = GLOBAL.get_or_init(|| {
        installed = true;
        Metrics::new(service_name, faults)
    });
    if !installed {
        tracing::warn!(service_name, "metrics were already installed; kept them");
    }
    metrics
}

/// The process's metrics: what [`install`] made, or a registry labelled
/// [`UNKNOWN_SERVICE`] with no faults when nothing installed one.
pub fn global() -> &'static Metrics {
    GLOBAL.get_or_init(|| Metrics::new(UNKNOWN_SERVICE, TelemetryFaults::default()))
}

/// The contract's help text without its full stop: the registry adds one.
fn help(family: metric::Family) -> &'static str {
    family.help.trim_end_matches('.')
}

impl Metrics {
    /// A registry of its own (a process uses [`global`]; tests make theirs).
    pub fn new(service_name: &str, faults: TelemetryFaults) -> Metrics {
        let mut registry = Registry::with_labels(std::iter::once((
            metric::SERVICE_NAME.into(),
            service_name.to_owned().into(),
        )));
        let metrics = Metrics {
            http_server: histograms(),
            http_client: histograms(),
            rpc_server: histograms(),
            rpc_client: histograms(),
            db_client: histograms(),
            orders_placed: Counter::default(),
            stock_reservations_refused: Counter::default(),
            payments_declined: Counter::default(),
            faults,
            exemplars: Exemplars::default(),
            server_observations: AtomicU64::new(0),
            registry: Registry::default(),
        };
        // Registered in the contract's order; `Unit::Seconds` makes the
        // exposed name `Family::exposed` (`..._duration_seconds`).
        let seconds = Unit::Seconds;
        let family = metric::HTTP_SERVER_REQUEST_DURATION;
        let (name, text) = (family.name, help(family));
        registry.register_with_unit(name, text, seconds.clone(), metrics.http_server.clone());
        let family = metric::HTTP_CLIENT_REQUEST_DURATION;
        let (name, text) = (family.name, help(family));
        registry.register_with_unit(name, text, seconds.clone(), metrics.http_client.clone());
        let family = metric::RPC_SERVER_CALL_DURATION;
        let (name, text) = (family.name, help(family));
        registry.register_with_unit(name, text, seconds.clone(), metrics.rpc_server.clone());
        let family = metric::RPC_CLIENT_CALL_DURATION;
        let (name, text) = (family.name, help(family));
        registry.register_with_unit(name, text, seconds.clone(), metrics.rpc_client.clone());
        let family = metric::DB_CLIENT_OPERATION_DURATION;
        let (name, text) = (family.name, help(family));
        registry.register_with_unit(name, text, seconds, metrics.db_client.clone());
        for (family, counter) in [
            (metric::ORDERS_PLACED, &metrics.orders_placed),
            (
                metric::STOCK_RESERVATIONS_REFUSED,
                &metrics.stock_reservations_refused,
            ),
            (metric::PAYMENTS_DECLINED, &metrics.payments_declined),
        ] {
            registry.register(family.name, help(family), counter.clone());
        }
        Metrics {
            registry,
            ..metrics
        }
    }

    /// The OpenMetrics text exposition, ending with `# EOF`.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail; a label value that could not
        // be written would be a bug in this module, not a client's mistake.
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("encoding into a String");
        text
    }

    /// An HTTP SERVER span's request. Every `observe_*` takes the span's
    /// time as its layer [`Measured`] it, where the span ends; the same
    /// times are written onto the exported span ([`clock`]).
    pub fn observe_http_server(
        &self,
        labels: HttpServerLabels,
        span: &tracing::Span,
        measured: Measured,
    ) {
        self.observe(&self.http_server, &labels, span, measured, Side::Server);
    }

    /// An HTTP CLIENT span's call.
    pub fn observe_http_client(
        &self,
        labels: HttpClientLabels,
        span: &tracing::Span,
        measured: Measured,
    ) {
        self.observe(&self.http_client, &labels, span, measured, Side::Client);
    }

    /// A gRPC SERVER span's call.
    pub fn observe_rpc_server(
        &self,
        labels: RpcServerLabels,
        span: &tracing::Span,
        measured: Measured,
    ) {
        self.observe(&self.rpc_server, &labels, span, measured, Side::Server);
    }

    /// A gRPC CLIENT span's call.
    pub fn observe_rpc_client(
        &self,
        labels: RpcClientLabels,
        span: &tracing::Span,
        measured: Measured,
    ) {
        self.observe(&self.rpc_client, &labels, span, measured, Side::Client);
    }

    /// A `db::Db::call` CLIENT span's statement.
    pub fn observe_db_client(
        &self,
        labels: DbClientLabels,
        span: &tracing::Span,
        measured: Measured,
    ) {
        self.observe(&self.db_client, &labels, span, measured, Side::Client);
    }

    /// One observation, its exemplar stamped now. On the server histograms
    /// `miss_count` drops every Nth observation (HTTP and gRPC counted
    /// together).
    fn observe<L>(
        &self,
        family: &Histograms<L>,
        labels: &L,
        span: &tracing::Span,
        measured: Measured,
        side: Side,
    ) where
        L: Clone + std::hash::Hash + Eq + EncodeLabelSet,
    {
        let span_context = span.context().span().span_context().clone();
        if span_context.is_sampled() {
            MeasuredTimes::global().keep(span_context.span_id(), measured);
        }
        let faults = self.faults.metric_faults();
        if side == Side::Server
            && let Some(every) = faults.and_then(|f| f.miss_every)
        {
            let seen = self.server_observations.fetch_add(1, Ordering::Relaxed) + 1;
            if seen.is_multiple_of(every) {
                return;
            }
        }
        let exemplar = self.exemplars.for_context(&span_context, faults);
        let timestamp = exemplar.as_ref().map(|_| SystemTime::now());
        family
            .get_or_create(labels)
            .observe(measured.elapsed.as_secs_f64(), exemplar, timestamp);
    }

    /// An order was placed (order, after a successful charge).
    pub fn order_placed(&self) {
        self.orders_placed.inc();
    }

    /// A stock reservation was refused for want of stock (inventory).
    pub fn stock_reservation_refused(&self) {
        self.stock_reservations_refused.inc();
    }

    /// The card provider declined a charge (payment).
    pub fn payment_declined(&self) {
        self.payments_declined.inc();
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) use tests::parse as parse_exposition;
