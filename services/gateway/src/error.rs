//! [`ApiError`]: every way a gateway request fails, as an HTTP status and a
//! JSON [`ErrorBody`], logged once, where it becomes a response.
//!
//! Two sources feed it: the client's own mistakes (bad JSON, a bad field,
//! a body too large) and downstream gRPC statuses, mapped by
//! [`ApiError::from_grpc`]. The rule of the mapping: a client's mistake is a
//! 4xx, a downstream failure is a 502/503/504, and 500 is kept for the
//! gateway's own bugs; none of the mapped errors is one.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tonic::Code;
use tracemesh_runtime::contract::Reason;
use tracemesh_runtime::error_body::ErrorBody;

use crate::model::FieldError;

/// The downstream call a gRPC status came from. The same code means
/// different things on different calls: NOT_FOUND from `GetUser` is a 404,
/// but from `ValidateUser` during checkout it is a 422 (the *body* named a
/// user that does not exist; the URL was fine). That is why the mapping
/// takes the call, and why there is no bare `From<tonic::Status>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rpc {
    ListProducts,
    GetUser,
    ValidateUser,
    PlaceOrder,
    GetOrder,
}

impl Rpc {
    /// The service that answers this call, for messages and logs.
    pub fn service(self) -> &'static str {
        match self {
            Rpc::ListProducts => "inventory",
            Rpc::GetUser | Rpc::ValidateUser => "user",
            Rpc::PlaceOrder | Rpc::GetOrder => "order",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A field, path parameter or header is invalid (ours or downstream's verdict).
    #[error("{0}")]
    InvalidArgument(String),
    /// The body is not JSON at all.
    #[error("{0}")]
    MalformedJson(String),
    #[error("the request body is larger than the limit")]
    PayloadTooLarge,
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    UnknownUser(String),
    /// A downstream refusal the client can act on, passed on under its
    /// reason (`out_of_stock`, `card_declined`...) and the reason's status.
    #[error("{message}")]
    Refused { reason: Reason, message: String },
    /// The downstream could not be reached or is overloaded: retry later.
    #[error("the {service} service is unavailable")]
    Unavailable {
        service: &'static str,
        detail: String,
    },
    /// The downstream did not answer within its deadline.
    #[error("the {service} service did not answer in time")]
    Timeout {
        service: &'static str,
        detail: String,
    },
    /// The downstream answered with something the gateway cannot pass on.
    #[error("the {service} service failed")]
    BadGateway {
        service: &'static str,
        detail: String,
    },
}

impl ApiError {
    /// The error a downstream gRPC status becomes. The machine-readable
    /// [`Reason`] tells apart what one code covers: FAILED_PRECONDITION is
    /// `out_of_stock`, `card_declined` or `user_suspended`.
    pub fn from_grpc(rpc: Rpc, status: tonic::Status) -> ApiError {
        let message = status.message().to_owned();
        let service = rpc.service();
        let refused = |reason| ApiError::Refused {
            reason,
            message: status.message().to_owned(),
        };
        match (status.code(), Reason::of(&status)) {
            (Code::InvalidArgument | Code::FailedPrecondition, Some(Reason::InvalidCard)) => {
                refused(Reason::InvalidCard)
            }
            (Code::InvalidArgument, _) => ApiError::InvalidArgument(message),
            (Code::NotFound, _) => match rpc {
                Rpc::GetUser | Rpc::GetOrder => ApiError::NotFound(message),
                Rpc::ValidateUser => ApiError::UnknownUser(message),
                Rpc::PlaceOrder => refused(Reason::UnknownSku),
                // Listing the catalog cannot miss anything: the downstream is wrong.
                Rpc::ListProducts => ApiError::BadGateway {
                    service,
                    detail: status.to_string(),
                },
            },
            (
                Code::FailedPrecondition,
                Some(reason @ (Reason::OutOfStock | Reason::CardDeclined | Reason::UserSuspended)),
            ) => refused(reason),
            // RESOURCE_EXHAUSTED is an overloaded downstream: like
            // UNAVAILABLE, worth retrying later, so a 503 rather than a 502.
            (Code::Unavailable | Code::ResourceExhausted, _) => ApiError::Unavailable {
                service,
                detail: status.to_string(),
            },
            // tonic reports its own client-side deadline (the channel's
            // timeout) as CANCELLED "Timeout expired", and the gateway never
            // cancels a call itself: both codes mean "too slow".
            (Code::DeadlineExceeded | Code::Cancelled, _) => ApiError::Timeout {
                service,
                detail: status.to_string(),
            },
            // INTERNAL, UNKNOWN, UNIMPLEMENTED, a FAILED_PRECONDITION with a
            // reason we do not know...: the downstream broke, not the client.
            _ => ApiError::BadGateway {
                service,
                detail: status.to_string(),
            },
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidArgument(_) => Reason::InvalidArgument.http_status(),
            ApiError::Refused { reason, .. } => reason.http_status(),
            ApiError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::UnknownUser(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The stable, machine-readable code of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidArgument(_) => Reason::InvalidArgument.as_str(),
            ApiError::Refused { reason, .. } => reason.as_str(),
            ApiError::MalformedJson(_) => "invalid_json",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::NotFound(_) => "not_found",
            ApiError::UnknownUser(_) => "unknown_user",
            ApiError::Unavailable { .. } => "service_unavailable",
            ApiError::Timeout { .. } => "gateway_timeout",
            ApiError::BadGateway { .. } => "bad_gateway",
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::InvalidArgument(e.to_string())
    }
}

/// Every way axum's `Json` extractor refuses a body, as JSON: never axum's
/// plain-text rejections.
impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            // Valid JSON of the wrong shape; the text names the field
            // (`items[0].quantity: invalid type...`).
            JsonRejection::JsonDataError(e) => ApiError::InvalidArgument(e.body_text()),
            JsonRejection::JsonSyntaxError(e) => ApiError::MalformedJson(e.body_text()),
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            // The body could not be read: over the limit, or cut off.
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            other => ApiError::MalformedJson(other.body_text()),
        }
    }
}

/// A path parameter that is not valid percent-encoded UTF-8.
impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::InvalidArgument(rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        // Logged here and only here. A downstream failure is ours to look
        // at (warn, with the detail the client does not get); a client's
        // mistake is routine (debug).
        match &self {
            ApiError::Unavailable { service, detail }
            | ApiError::Timeout { service, detail }
            | ApiError::BadGateway { service, detail } => {
                tracing::warn!(status = status.as_u16(), service, detail, "{self}");
            }
            _ => tracing::debug!(status = status.as_u16(), code = self.code(), "{self}"),
        }
        (status, ErrorBody::new(self.code(), self.to_string())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(rpc: Rpc, status: tonic::Status) -> (u16, &'static str) {
        let e = ApiError::from_grpc(rpc, status);
        (e.status().as_u16(), e.code())
    }

    const ALL_RPCS: [Rpc; 5] = [
        Rpc::ListProducts,
        Rpc::GetUser,
        Rpc::ValidateUser,
        Rpc::PlaceOrder,
        Rpc::GetOrder,
    ];

    #[test]
    fn not_found_depends_on_the_call() {
        let nf = || tonic::Status::not_found("nope");
        assert_eq!(mapped(Rpc::GetUser, nf()), (404, "not_found"));
        assert_eq!(mapped(Rpc::GetOrder, nf()), (404, "not_found"));
        assert_eq!(mapped(Rpc::ValidateUser, nf()), (422, "unknown_user"));
        assert_eq!(mapped(Rpc::PlaceOrder, nf()), (422, "unknown_sku"));
        assert_eq!(mapped(Rpc::ListProducts, nf()), (502, "bad_gateway"));
    }

    #[test]
    fn failed_precondition_is_told_apart_by_its_reason() {
        let fp = |r: Reason| r.status_with_code(Code::FailedPrecondition, "no");
        let cases = [
            (Rpc::PlaceOrder, Reason::OutOfStock, 409, "out_of_stock"),
            (Rpc::PlaceOrder, Reason::CardDeclined, 402, "card_declined"),
            (Rpc::PlaceOrder, Reason::InvalidCard, 400, "invalid_card"),
            (
                Rpc::ValidateUser,
                Reason::UserSuspended,
                403,
                "user_suspended",
            ),
            (
                Rpc::PlaceOrder,
                Reason::IdempotencyKeyReused,
                502,
                "bad_gateway",
            ),
        ];
        for (rpc, reason, http, code) in cases {
            assert_eq!(mapped(rpc, fp(reason)), (http, code), "{reason:?}");
        }
        let mut unknown = tonic::Status::failed_precondition("new");
        unknown.metadata_mut().insert(
            tracemesh_runtime::contract::REASON_KEY,
            tonic::metadata::MetadataValue::from_static("something_new"),
        );
        assert_eq!(mapped(Rpc::PlaceOrder, unknown), (502, "bad_gateway"));
        let bare = tonic::Status::failed_precondition("no reason");
        assert_eq!(mapped(Rpc::PlaceOrder, bare), (502, "bad_gateway"));
    }

    #[test]
    fn invalid_argument_is_the_clients_mistake() {
        for rpc in ALL_RPCS {
            let s = tonic::Status::invalid_argument("bad");
            assert_eq!(mapped(rpc, s), (400, "invalid_argument"), "{rpc:?}");
        }
        let card = Reason::InvalidCard.status("luhn");
        assert_eq!(mapped(Rpc::PlaceOrder, card), (400, "invalid_card"));
    }

    #[test]
    fn downstream_failures_are_never_a_500() {
        let cases = [
            (Code::Unavailable, 503, "service_unavailable"),
            (Code::ResourceExhausted, 503, "service_unavailable"),
            (Code::DeadlineExceeded, 504, "gateway_timeout"),
            (Code::Cancelled, 504, "gateway_timeout"),
            (Code::Internal, 502, "bad_gateway"),
            (Code::Unknown, 502, "bad_gateway"),
            (Code::Unimplemented, 502, "bad_gateway"),
            (Code::DataLoss, 502, "bad_gateway"),
            (Code::Aborted, 502, "bad_gateway"),
            (Code::OutOfRange, 502, "bad_gateway"),
            (Code::AlreadyExists, 502, "bad_gateway"),
            (Code::PermissionDenied, 502, "bad_gateway"),
            (Code::Unauthenticated, 502, "bad_gateway"),
            (Code::Ok, 502, "bad_gateway"),
        ];
        for rpc in ALL_RPCS {
            for (code, http, name) in cases {
                let s = tonic::Status::new(code, "down");
                assert_eq!(mapped(rpc, s), (http, name), "{rpc:?} {code:?}");
            }
        }
    }

    #[test]
    fn a_downstream_reason_on_unavailable_still_means_503() {
        let s = Reason::PaymentUnavailable.status("payment down");
        assert_eq!(mapped(Rpc::PlaceOrder, s), (503, "service_unavailable"));
        let s = Reason::InventoryUnavailable.status_with_code(Code::DeadlineExceeded, "slow");
        assert_eq!(mapped(Rpc::PlaceOrder, s), (504, "gateway_timeout"));
    }

    #[test]
    fn server_side_failures_do_not_leak_their_detail_to_the_client() {
        let e = ApiError::from_grpc(
            Rpc::PlaceOrder,
            tonic::Status::internal("db path /var/secret"),
        );
        assert_eq!(e.to_string(), "the order service failed");
    }

    #[test]
    fn client_errors_have_their_own_statuses() {
        let cases = [
            (ApiError::PayloadTooLarge, 413, "payload_too_large"),
            (
                ApiError::UnsupportedMediaType,
                415,
                "unsupported_media_type",
            ),
            (ApiError::MethodNotAllowed, 405, "method_not_allowed"),
            (ApiError::MalformedJson("x".into()), 400, "invalid_json"),
        ];
        for (e, http, code) in cases {
            assert_eq!((e.status().as_u16(), e.code()), (http, code));
        }
        let field = FieldError {
            field: "items[0].sku".into(),
            message: "bad".into(),
        };
        let e = ApiError::from(field);
        assert_eq!((e.status().as_u16(), e.code()), (400, "invalid_argument"));
        assert_eq!(e.to_string(), "items[0].sku: bad");
    }
}
