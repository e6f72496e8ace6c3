//! The metrics the services expose and the harness reads: names, units,
//! label keys and buckets, defined once.
//!
//! Names follow the OpenTelemetry semantic conventions, written the way a
//! Prometheus exposition writes them: dots become underscores and the unit
//! becomes a suffix (`http.server.request.duration`, seconds, is the family
//! `http_server_request_duration_seconds`, whose series are `_bucket`,
//! `_count` and `_sum`). Label keys are the semantic-convention attribute
//! keys written the same way. No label ever holds an id (trace, order,
//! user), so the number of series stays bounded by the routes, methods and
//! statuses of the mesh; ids travel in exemplars instead.

/// Every series carries the service that recorded it, whatever scraped it.
pub const SERVICE_NAME: &str = "service_name";

/// The exemplar label naming the trace an observation was made in
/// (OpenMetrics' and Grafana's default key).
pub const EXEMPLAR_TRACE_ID: &str = "trace_id";
/// The exemplar label naming the span an observation measured.
pub const EXEMPLAR_SPAN_ID: &str = "span_id";

/// What kind of metric a family is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A histogram of durations in seconds, with exemplars.
    Histogram,
    /// A monotonic counter (`_total`).
    Counter,
}

/// One metric family: its OpenTelemetry name, its name in the exposition,
/// and the labels its series carry (besides [`SERVICE_NAME`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// The semantic-convention name, e.g. `http.server.request.duration`.
    pub otel_name: &'static str,
    /// The name as registered (without unit or `_total` suffix).
    pub name: &'static str,
    /// The family as it appears in the exposition (with the unit suffix for
    /// histograms, without `_total` for counters, as OpenMetrics writes
    /// `# TYPE` lines).
    pub exposed: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub labels: &'static [&'static str],
}

// Label keys (semantic-convention attribute keys, dots as underscores).
pub const HTTP_REQUEST_METHOD: &str = "http_request_method";
pub const HTTP_ROUTE: &str = "http_route";
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http_response_status_code";
pub const SERVER_ADDRESS: &str = "server_address";
pub const RPC_SYSTEM: &str = "rpc_system";
pub const RPC_SERVICE: &str = "rpc_service";
pub const RPC_METHOD: &str = "rpc_method";
pub const RPC_GRPC_STATUS_CODE: &str = "rpc_grpc_status_code";
pub const DB_SYSTEM_NAME: &str = "db_system_name";
pub const DB_OPERATION_NAME: &str = "db_operation_name";
pub const DB_COLLECTION_NAME: &str = "db_collection_name";
/// On client durations: why a call got no answer (`timeout`,
/// `connect_error`), empty when it got one.
pub const ERROR_TYPE: &str = "error_type";

/// A SERVER span's HTTP request, by route template (never the raw path).
pub const HTTP_SERVER_REQUEST_DURATION: Family = Family {
    otel_name: "http.server.request.duration",
    name: "http_server_request_duration",
    exposed: "http_server_request_duration_seconds",
    kind: Kind::Histogram,
    help: "Duration of HTTP server requests.",
    labels: &[HTTP_REQUEST_METHOD, HTTP_ROUTE, HTTP_RESPONSE_STATUS_CODE],
};

/// A CLIENT span's HTTP call, by the callee's address (a client has no route).
pub const HTTP_CLIENT_REQUEST_DURATION: Family = Family {
    otel_name: "http.client.request.duration",
    name: "http_client_request_duration",
    exposed: "http_client_request_duration_seconds",
    kind: Kind::Histogram,
    help: "Duration of HTTP client requests.",
    labels: &[
        HTTP_REQUEST_METHOD,
        SERVER_ADDRESS,
        HTTP_RESPONSE_STATUS_CODE,
        ERROR_TYPE,
    ],
};

/// A gRPC SERVER span. Semantic conventions 1.37 name the RPC durations
/// `rpc.{server,client}.call.duration`, in seconds, like the HTTP ones.
pub const RPC_SERVER_CALL_DURATION: Family = Family {
    otel_name: "rpc.server.call.duration",
    name: "rpc_server_call_duration",
    exposed: "rpc_server_call_duration_seconds",
    kind: Kind::Histogram,
    help: "Duration of RPCs handled by the server.",
    labels: &[RPC_SYSTEM, RPC_SERVICE, RPC_METHOD, RPC_GRPC_STATUS_CODE],
};

/// A gRPC CLIENT span.
pub const RPC_CLIENT_CALL_DURATION: Family = Family {
    otel_name: "rpc.client.call.duration",
    name: "rpc_client_call_duration",
    exposed: "rpc_client_call_duration_seconds",
    kind: Kind::Histogram,
    help: "Duration of RPCs made by the client.",
    labels: &[
        RPC_SYSTEM,
        RPC_SERVICE,
        RPC_METHOD,
        RPC_GRPC_STATUS_CODE,
        ERROR_TYPE,
    ],
};

/// One SQL statement (a `db::Db::call` CLIENT span).
pub const DB_CLIENT_OPERATION_DURATION: Family = Family {
    otel_name: "db.client.operation.duration",
    name: "db_client_operation_duration",
    exposed: "db_client_operation_duration_seconds",
    kind: Kind::Histogram,
    help: "Duration of database client operations.",
    labels: &[DB_SYSTEM_NAME, DB_OPERATION_NAME, DB_COLLECTION_NAME],
};

/// Orders placed (order, after a successful charge).
pub const ORDERS_PLACED: Family = Family {
    otel_name: "tracemesh.orders.placed",
    name: "tracemesh_orders_placed",
    exposed: "tracemesh_orders_placed",
    kind: Kind::Counter,
    help: "Orders placed.",
    labels: &[],
};

/// Stock reservations refused for want of stock (inventory).
pub const STOCK_RESERVATIONS_REFUSED: Family = Family {
    otel_name: "tracemesh.stock.reservations.refused",
    name: "tracemesh_stock_reservations_refused",
    exposed: "tracemesh_stock_reservations_refused",
    kind: Kind::Counter,
    help: "Stock reservations refused because a product was out of stock.",
    labels: &[],
};

/// Charges the card provider declined (payment).
pub const PAYMENTS_DECLINED: Family = Family {
    otel_name: "tracemesh.payments.declined",
    name: "tracemesh_payments_declined",
    exposed: "tracemesh_payments_declined",
    kind: Kind::Counter,
    help: "Payments the card provider declined.",
    labels: &[],
};

/// Every histogram, in the order the exposition lists them.
pub const HISTOGRAMS: [Family; 5] = [
    HTTP_SERVER_REQUEST_DURATION,
    HTTP_CLIENT_REQUEST_DURATION,
    RPC_SERVER_CALL_DURATION,
    RPC_CLIENT_CALL_DURATION,
    DB_CLIENT_OPERATION_DURATION,
];

/// Every counter.
pub const COUNTERS: [Family; 3] = [ORDERS_PLACED, STOCK_RESERVATIONS_REFUSED, PAYMENTS_DECLINED];

/// The bucket upper bounds, in seconds, of every duration histogram: the
/// semantic conventions' advice for HTTP durations, with three finer
/// buckets below 5 ms because a SQLite statement or a loopback call takes
/// well under a millisecond. The harness reads the same table to say how
/// closely a histogram can agree with the load generator's percentiles.
pub const DURATION_BUCKETS: [f64; 17] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
    7.5, 10.0,
];

/// The content type of the exposition: OpenMetrics text, which (unlike
/// Prometheus' older text format) carries exemplars.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_ascend() {
        assert!(DURATION_BUCKETS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn exposed_names_are_the_otel_names_with_underscores_and_units() {
        for family in HISTOGRAMS {
            assert_eq!(family.name, family.otel_name.replace('.', "_"));
            assert_eq!(family.exposed, format!("{}_seconds", family.name));
        }
        for family in COUNTERS {
            assert_eq!(family.name, family.otel_name.replace('.', "_"));
            assert_eq!(family.exposed, family.name);
        }
    }
}
