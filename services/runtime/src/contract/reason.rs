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

/// Defines [`Reason`] from one table: each reason's wire string, gRPC code
/// and HTTP status are written once, on its row.
macro_rules! reasons {
    ($($(#[$doc:meta])* $name:ident = $wire:literal, $code:ident, $http:ident;)*) => {
        /// Every reason a service of the mesh gives.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Reason {
            $($(#[$doc])* $name,)*
        }

        impl Reason {
            /// Every reason, for reading one back from the wire.
            pub const ALL: &[Reason] = &[$(Reason::$name),*];

            /// The wire string: in gRPC metadata and in JSON error bodies.
            pub const fn as_str(self) -> &'static str {
                match self { $(Reason::$name => $wire,)* }
            }

            /// The gRPC code a status with this reason carries.
            pub fn grpc_code(self) -> Code {
                match self { $(Reason::$name => Code::$code,)* }
            }

            /// The HTTP status of this reason at an HTTP edge (the gateway,
            /// payment).
            pub fn http_status(self) -> StatusCode {
                match self { $(Reason::$name => StatusCode::$http,)* }
            }
        }
    };
}

// The unavailable reasons are worth retrying (every write of the mesh is
// idempotent); an unknown SKU is a 422 because the URL was fine, the body
// named a SKU that does not exist.
reasons! {
    /// A malformed field; the message names it.
    InvalidArgument = "invalid_argument", InvalidArgument, BAD_REQUEST;
    InvalidUserId = "invalid_user_id", InvalidArgument, BAD_REQUEST;
    UserNotFound = "user_not_found", NotFound, NOT_FOUND;
    UserSuspended = "user_suspended", FailedPrecondition, FORBIDDEN;
    UnknownSku = "unknown_sku", NotFound, UNPROCESSABLE_ENTITY;
    OutOfStock = "out_of_stock", FailedPrecondition, CONFLICT;
    /// A Reserve reused the id of a released reservation.
    ReservationReleased = "reservation_released", FailedPrecondition, CONFLICT;
    /// A Reserve reused a reservation id with different lines.
    ReservationMismatch = "reservation_mismatch", FailedPrecondition, CONFLICT;
    OrderNotFound = "order_not_found", NotFound, NOT_FOUND;
    /// The card's details (number, expiry, CVC) were refused.
    InvalidCard = "invalid_card", InvalidArgument, BAD_REQUEST;
    CardDeclined = "card_declined", FailedPrecondition, PAYMENT_REQUIRED;
    /// The idempotency key belongs to another request.
    IdempotencyKeyReused = "idempotency_key_reused", FailedPrecondition, CONFLICT;
    InventoryUnavailable = "inventory_unavailable", Unavailable, SERVICE_UNAVAILABLE;
    PaymentUnavailable = "payment_unavailable", Unavailable, SERVICE_UNAVAILABLE;
    StorageUnavailable = "storage_unavailable", Unavailable, SERVICE_UNAVAILABLE;
    /// A bug or a failure of the service itself.
    Internal = "internal", Internal, INTERNAL_SERVER_ERROR;
}

impl Reason {
    /// The reason a wire string names, if any.
    pub fn from_wire(text: &str) -> Option<Reason> {
        Reason::ALL.iter().copied().find(|r| r.as_str() == text)
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
        for &reason in Reason::ALL {
            assert_eq!(Reason::from_wire(reason.as_str()), Some(reason));
        }
        assert_eq!(Reason::from_wire("something_new"), None);
    }

    #[test]
    fn a_status_without_a_reason_has_none() {
        assert_eq!(Reason::of(&tonic::Status::not_found("no")), None);
    }
}
