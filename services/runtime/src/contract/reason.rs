//! [`Reason`]: why a call was refused or failed, beside its gRPC code.
//!
//! gRPC codes are coarse: FAILED_PRECONDITION covers both "out of stock" and
//! "card declined", which the gateway must answer differently (409 vs 402).
//! The callee puts a reason in the status metadata under [`REASON_KEY`]
//! ([`Reason::status`]); the caller reads it back ([`Reason::of`]) and
//! matches on the enum, never on a string.

use http::StatusCode;
use tonic::Code;
use tonic::metadata::{MetadataMap, MetadataValue};

/// The metadata key carrying the reason (`out_of_stock`, `card_declined`...).
pub const REASON_KEY: &str = "tracemesh-reason";

/// Every reason a service of the mesh gives. Each has one wire string
/// ([`Reason::as_str`]), one gRPC code ([`Reason::grpc_code`]) and one HTTP
/// status ([`Reason::http_status`], the status it has at an HTTP edge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A malformed field; the message names it.
    InvalidArgument,
    InvalidUserId,
    UserNotFound,
    UserSuspended,
    UnknownSku,
    OutOfStock,
    /// A Reserve reused the id of a released reservation.
    ReservationReleased,
    /// A Reserve reused a reservation id with different lines.
    ReservationMismatch,
    OrderNotFound,
    /// The card's details (number, expiry, CVC) were refused.
    InvalidCard,
    CardDeclined,
    /// The idempotency key belongs to another request.
    IdempotencyKeyReused,
    InventoryUnavailable,
    PaymentUnavailable,
    StorageUnavailable,
    /// A bug or a failure of the service itself.
    Internal,
}

impl Reason {
    /// Every reason, for reading one back from the wire.
    pub const ALL: [Reason; 16] = [
        Reason::InvalidArgument,
        Reason::InvalidUserId,
        Reason::UserNotFound,
        Reason::UserSuspended,
        Reason::UnknownSku,
        Reason::OutOfStock,
        Reason::ReservationReleased,
        Reason::ReservationMismatch,
        Reason::OrderNotFound,
        Reason::InvalidCard,
        Reason::CardDeclined,
        Reason::IdempotencyKeyReused,
        Reason::InventoryUnavailable,
        Reason::PaymentUnavailable,
        Reason::StorageUnavailable,
        Reason::Internal,
    ];

    /// The wire string: in gRPC metadata and in JSON error bodies.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidArgument => "invalid_argument",
            Reason::InvalidUserId => "invalid_user_id",
            Reason::UserNotFound => "user_not_found",
            Reason::UserSuspended => "user_suspended",
            Reason::UnknownSku => "unknown_sku",
            Reason::OutOfStock => "out_of_stock",
            Reason::ReservationReleased => "reservation_released",
            Reason::ReservationMismatch => "reservation_mismatch",
            Reason::OrderNotFound => "order_not_found",
            Reason::InvalidCard => "invalid_card",
            Reason::CardDeclined => "card_declined",
            Reason::IdempotencyKeyReused => "idempotency_key_reused",
            Reason::InventoryUnavailable => "inventory_unavailable",
            Reason::PaymentUnavailable => "payment_unavailable",
            Reason::StorageUnavailable => "storage_unavailable",
            Reason::Internal => "internal",
        }
    }

    /// The reason a wire string names, if any.
    pub fn from_wire(text: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// The gRPC code a status with this reason carries.
    pub fn grpc_code(self) -> Code {
        match self {
            Reason::InvalidArgument | Reason::InvalidUserId | Reason::InvalidCard => {
                Code::InvalidArgument
            }
            Reason::UserNotFound | Reason::UnknownSku | Reason::OrderNotFound => Code::NotFound,
            Reason::UserSuspended
            | Reason::OutOfStock
            | Reason::ReservationReleased
            | Reason::ReservationMismatch
            | Reason::CardDeclined
            | Reason::IdempotencyKeyReused => Code::FailedPrecondition,
            // Retrying may succeed (every write of the mesh is idempotent).
            Reason::InventoryUnavailable
            | Reason::PaymentUnavailable
            | Reason::StorageUnavailable => Code::Unavailable,
            Reason::Internal => Code::Internal,
        }
    }

    /// The HTTP status of this reason at an HTTP edge (the gateway, payment).
    pub fn http_status(self) -> StatusCode {
        match self {
            Reason::InvalidArgument | Reason::InvalidUserId | Reason::InvalidCard => {
                StatusCode::BAD_REQUEST
            }
            Reason::UserNotFound | Reason::OrderNotFound => StatusCode::NOT_FOUND,
            // The URL was fine; the body named a SKU that does not exist.
            Reason::UnknownSku => StatusCode::UNPROCESSABLE_ENTITY,
            Reason::UserSuspended => StatusCode::FORBIDDEN,
            Reason::OutOfStock
            | Reason::ReservationReleased
            | Reason::ReservationMismatch
            | Reason::IdempotencyKeyReused => StatusCode::CONFLICT,
            Reason::CardDeclined => StatusCode::PAYMENT_REQUIRED,
            Reason::InventoryUnavailable
            | Reason::PaymentUnavailable
            | Reason::StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Reason::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A status with this reason, its code, and a human `message`.
    pub fn status(self, message: impl Into<String>) -> tonic::Status {
        self.status_with_code(self.grpc_code(), message)
    }

    /// A status with this reason and another `code`: for a downstream that
    /// did not answer in time, DEADLINE_EXCEEDED says more than the
    /// reason's UNAVAILABLE.
    pub fn status_with_code(self, code: Code, message: impl Into<String>) -> tonic::Status {
        let mut metadata = MetadataMap::new();
        metadata.insert(REASON_KEY, MetadataValue::from_static(self.as_str()));
        tonic::Status::with_metadata(code, message, metadata)
    }

    /// The reason a status carries, if any (and if this mesh knows it).
    pub fn of(status: &tonic::Status) -> Option<Reason> {
        Reason::from_wire(status.metadata().get(REASON_KEY)?.to_str().ok()?)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_survives_a_round_trip_through_http() {
        let s = Reason::OutOfStock.status("SKU-1 is short");
        let response = s.into_http::<tonic::body::Body>();
        let back = tonic::Status::from_header_map(response.headers()).unwrap();
        assert_eq!(back.code(), Code::FailedPrecondition);
        assert_eq!(Reason::of(&back), Some(Reason::OutOfStock));
    }

    #[test]
    fn every_wire_string_is_distinct_and_reads_back() {
        for reason in Reason::ALL {
            assert_eq!(Reason::from_wire(reason.as_str()), Some(reason));
        }
        assert_eq!(Reason::from_wire("something_new"), None);
    }

    #[test]
    fn a_status_without_a_reason_has_none() {
        assert_eq!(Reason::of(&tonic::Status::not_found("no")), None);
    }
}
