//! The label set of each metric family, one struct per family, and the
//! exemplar's.
//!
//! `EncodeLabelSet` writes each field as a label named after the field, so
//! the field names *are* the label keys of [`crate::contract::metric`]; the
//! tests of [`super`] parse the exposition and compare every key with the
//! contract, so a renamed field fails there rather than in a dashboard.
//! An `Option` field that is `None` is written as an empty value, the way
//! a series with no `error_type` says it got an answer.

use prometheus_client::encoding::EncodeLabelSet;

/// `http.server.request.duration`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpServerLabels {
    pub http_request_method: &'static str,
    /// The route template (`/api/orders/{id}`), empty when no route matched.
    pub http_route: String,
    pub http_response_status_code: u16,
}

/// `http.client.request.duration`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpClientLabels {
    pub http_request_method: &'static str,
    /// `host[:port]` of the callee, the port only when the URL names one.
    pub server_address: String,
    /// Empty when the call got no answer ...
    pub http_response_status_code: Option<u16>,
    /// ... and then this says why (`timeout`, `connect_error`, ...).
    pub error_type: Option<&'static str>,
}

/// `rpc.server.call.duration`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcServerLabels {
    pub rpc_system: &'static str,
    pub rpc_service: String,
    pub rpc_method: String,
    /// The gRPC status as its number (`5` for NOT_FOUND); empty when the
    /// stream ended without one.
    pub rpc_grpc_status_code: Option<i32>,
}

/// `rpc.client.call.duration`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcClientLabels {
    pub rpc_system: &'static str,
    pub rpc_service: String,
    pub rpc_method: String,
    pub rpc_grpc_status_code: Option<i32>,
    /// Set when the call failed without an answer (`DEADLINE_EXCEEDED`,
    /// `UNAVAILABLE`, `stream_error`), as on the span.
    pub error_type: Option<&'static str>,
}

/// `db.client.operation.duration`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DbClientLabels {
    pub db_system_name: &'static str,
    pub db_operation_name: &'static str,
    pub db_collection_name: &'static str,
}

/// The exemplar of an observation: the span it measured.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExemplarLabels {
    /// 32 lower-case hex digits.
    pub trace_id: String,
    /// 16 lower-case hex digits.
    pub span_id: String,
}

/// The HTTP method as a label: the known methods as themselves, anything
/// else `_OTHER` (the semantic conventions' rule), so a client inventing
/// methods cannot create series.
pub fn http_method(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("_OTHER")
}
