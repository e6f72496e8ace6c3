//! [`PaymentError`]: every way a charge request can fail, its HTTP status,
//! its JSON body ([`ChargeErrorBody`]), and the one place it is logged.

use axum::Json;
use std::error::Error;

use axum::extract::rejection::{JsonDataError, JsonRejection};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use tracemesh_runtime::contract::Reason;

use crate::api::{ChargeErrorBody, ChargeErrorDetail};
use crate::idempotency::StoredResponse;
use crate::provider::DeclineCode;

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("the Idempotency-Key header is required: 1 to 255 visible ASCII characters")]
    MissingIdempotencyKey,
    /// A missing, mistyped or out-of-range field; `message` names it.
    #[error("{message}")]
    InvalidRequest { code: &'static str, message: String },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    #[error("the card has expired")]
    ExpiredCard,
    #[error("the card was declined")]
    CardDeclined(DeclineCode),
    #[error("the provider could not process the charge; retrying later may succeed")]
    ProcessingError,
}

impl PaymentError {
    pub fn status(&self) -> StatusCode {
        match self {
            PaymentError::MissingIdempotencyKey | PaymentError::InvalidRequest { .. } => {
                StatusCode::BAD_REQUEST
            }
            PaymentError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PaymentError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            PaymentError::IdempotencyKeyReused => Reason::IdempotencyKeyReused.http_status(),
            PaymentError::ExpiredCard => StatusCode::PAYMENT_REQUIRED,
            PaymentError::CardDeclined(_) => Reason::CardDeclined.http_status(),
            PaymentError::ProcessingError => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable, machine-readable `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            PaymentError::MissingIdempotencyKey => "missing_idempotency_key",
            PaymentError::InvalidRequest { code, .. } => code,
            PaymentError::UnsupportedMediaType(_) => "unsupported_media_type",
            PaymentError::PayloadTooLarge(_) => "payload_too_large",
            // The two answers order passes on under the same reason.
            PaymentError::IdempotencyKeyReused => Reason::IdempotencyKeyReused.as_str(),
            PaymentError::ExpiredCard => "expired_card",
            PaymentError::CardDeclined(_) => Reason::CardDeclined.as_str(),
            PaymentError::ProcessingError => "processing_error",
        }
    }

    pub fn body(&self) -> ChargeErrorBody {
        let decline_code = match self {
            PaymentError::CardDeclined(code) => Some(code.as_str().to_owned()),
            _ => None,
        };
        ChargeErrorBody {
            error: ChargeErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
                decline_code,
            },
        }
    }

    /// Logs the error (once: this is the only place) and renders it. Used
    /// both for plain responses and for those kept for idempotent replay.
    pub fn into_stored(self) -> StoredResponse {
        if self.status().is_server_error() {
            tracing::warn!(code = self.code(), error = %self, "charge failed");
        } else {
            tracing::debug!(code = self.code(), error = %self, "charge refused");
        }
        StoredResponse::json(self.status(), &self.body())
    }
}

impl IntoResponse for PaymentError {
    fn into_response(self) -> Response {
        self.into_stored().into_response()
    }
}

/// axum's own rejections answer in plain text; every error of the mesh is
/// JSON, so each is turned into a [`PaymentError`]. A body that is valid JSON
/// but misses or mistypes a field is a 400 here (as at Stripe), not axum's
/// 422: to the caller it is the same mistake as malformed JSON.
impl From<JsonRejection> for PaymentError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => PaymentError::InvalidRequest {
                code: "invalid_request",
                message: describe_data_error(&e),
            },
            JsonRejection::JsonSyntaxError(e) => PaymentError::InvalidRequest {
                code: "invalid_json",
                message: e.body_text(),
            },
            JsonRejection::MissingJsonContentType(e) => {
                PaymentError::UnsupportedMediaType(e.body_text())
            }
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                PaymentError::PayloadTooLarge(other.body_text())
            }
            other => PaymentError::InvalidRequest {
                code: "invalid_body",
                message: other.body_text(),
            },
        }
    }
}

/// What is wrong with a body that is JSON but not a charge request, naming
/// the field (`card.exp_month: ...`). serde's own message for a wrong value
/// quotes the value ("invalid type: integer `4242424242424242`..."), which
/// may be a card number on its way to a log line: only the messages that
/// quote field names, never values, are kept.
fn describe_data_error(rejection: &JsonDataError) -> String {
    // JsonDataError -> axum's Error -> the error of serde_path_to_error,
    // which knows where in the document deserialisation failed.
    let located = rejection
        .source()
        .and_then(Error::source)
        .and_then(|e| e.downcast_ref::<serde_path_to_error::Error<serde_json::Error>>());
    let Some(located) = located else {
        return "the body is not a charge request".to_owned();
    };
    let detail = located.inner().to_string();
    let detail = if detail.starts_with("missing field") || detail.starts_with("unknown field") {
        detail
    } else {
        "invalid type or value".to_owned()
    };
    match located.path().to_string().as_str() {
        // The document itself, e.g. a JSON array instead of an object.
        "." => detail,
        path => format!("{path}: {detail}"),
    }
}

/// The JSON error of a request with a method the route does not take.
pub async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(tracemesh_runtime::error_body::ErrorBody::new(
            "method_not_allowed",
            "this route does not take that method",
        )),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_its_status_and_code() {
        let cases = [
            (
                PaymentError::MissingIdempotencyKey,
                400,
                "missing_idempotency_key",
            ),
            (
                PaymentError::InvalidRequest {
                    code: "invalid_cvc",
                    message: "card.cvc".to_owned(),
                },
                400,
                "invalid_cvc",
            ),
            (
                PaymentError::UnsupportedMediaType(String::new()),
                415,
                "unsupported_media_type",
            ),
            (
                PaymentError::PayloadTooLarge(String::new()),
                413,
                "payload_too_large",
            ),
            (
                PaymentError::IdempotencyKeyReused,
                409,
                "idempotency_key_reused",
            ),
            (PaymentError::ExpiredCard, 402, "expired_card"),
            (
                PaymentError::CardDeclined(DeclineCode::GenericDecline),
                402,
                "card_declined",
            ),
            (PaymentError::ProcessingError, 503, "processing_error"),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.status().as_u16(), status, "{error:?}");
            assert_eq!(error.code(), code, "{error:?}");
            assert_eq!(error.body().error.code, code);
        }
    }

    #[test]
    fn only_a_decline_carries_a_decline_code() {
        let declined = PaymentError::CardDeclined(DeclineCode::InsufficientFunds).body();
        assert_eq!(
            declined.error.decline_code.as_deref(),
            Some("insufficient_funds")
        );
        assert_eq!(PaymentError::ExpiredCard.body().error.decline_code, None);
    }
}
