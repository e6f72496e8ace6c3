//! [`InventoryError`], everything that can go wrong in the inventory
//! service, and its one mapping to a gRPC status.
//!
//! Each error is logged exactly once, here, as it becomes a status: at
//! `debug` for the caller's mistakes and expected refusals (out of stock is
//! business as usual, and it is in the trace already), at `warn` for our
//! own failures.

use tonic::Code;
use tracemesh_runtime::db::DbError;
use tracemesh_runtime::grpc_error;

use crate::domain::{ReservationId, Sku};

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The request is malformed whatever the stock: bad SKU, quantity, id.
    #[error("{0}")]
    InvalidArgument(String),
    #[error("no product with SKU {0}")]
    UnknownSku(Sku),
    #[error("not enough stock of {sku} to reserve {requested}")]
    OutOfStock { sku: Sku, requested: i64 },
    /// Reservation ids are single-use: once released, a Reserve with the
    /// same id is refused rather than silently taking stock again.
    #[error("reservation {0} was released; use a new reservation_id")]
    ReservationReleased(ReservationId),
    /// A retry must repeat the original request; different lines under the
    /// same id mean the caller is reusing ids.
    #[error("reservation {0} already exists with different lines")]
    ReservationMismatch(ReservationId),
    #[error("the inventory store failed: {0}")]
    Store(#[from] DbError),
}

impl InventoryError {
    /// The gRPC code and the machine-readable reason the caller branches on.
    pub fn code_and_reason(&self) -> (Code, &'static str) {
        match self {
            InventoryError::InvalidArgument(_) => (Code::InvalidArgument, "invalid_argument"),
            InventoryError::UnknownSku(_) => (Code::NotFound, "unknown_sku"),
            InventoryError::OutOfStock { .. } => (Code::FailedPrecondition, "out_of_stock"),
            InventoryError::ReservationReleased(_) => {
                (Code::FailedPrecondition, "reservation_released")
            }
            InventoryError::ReservationMismatch(_) => {
                (Code::FailedPrecondition, "reservation_mismatch")
            }
            InventoryError::Store(_) => (Code::Internal, "internal"),
        }
    }
}

impl From<InventoryError> for tonic::Status {
    fn from(error: InventoryError) -> Self {
        let (code, reason) = error.code_and_reason();
        let message = match &error {
            InventoryError::Store(_) => {
                tracing::warn!(error = %error, reason, "inventory request failed");
                // The details are in the log and the DB span; the caller
                // gets no SQL.
                "internal error in the inventory service".to_owned()
            }
            _ => {
                tracing::debug!(error = %error, reason, "inventory request refused");
                error.to_string()
            }
        };
        grpc_error::status(code, reason, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(raw: &str) -> Sku {
        Sku::parse(raw).unwrap()
    }

    fn id(raw: &str) -> ReservationId {
        ReservationId::parse(raw).unwrap()
    }

    #[test]
    fn every_error_maps_to_its_code_and_reason() {
        let cases = [
            (
                InventoryError::InvalidArgument("bad".into()),
                Code::InvalidArgument,
                "invalid_argument",
            ),
            (
                InventoryError::UnknownSku(sku("ZZZ-999")),
                Code::NotFound,
                "unknown_sku",
            ),
            (
                InventoryError::OutOfStock {
                    sku: sku("LMP-006"),
                    requested: 1,
                },
                Code::FailedPrecondition,
                "out_of_stock",
            ),
            (
                InventoryError::ReservationReleased(id("r-1")),
                Code::FailedPrecondition,
                "reservation_released",
            ),
            (
                InventoryError::ReservationMismatch(id("r-1")),
                Code::FailedPrecondition,
                "reservation_mismatch",
            ),
            (
                InventoryError::Store(DbError::Task("boom".into())),
                Code::Internal,
                "internal",
            ),
        ];
        for (error, code, reason) in cases {
            let status = tonic::Status::from(error);
            assert_eq!(status.code(), code, "{status:?}");
            assert_eq!(grpc_error::reason(&status), Some(reason));
        }
    }

    #[test]
    fn out_of_stock_names_the_sku() {
        let status = tonic::Status::from(InventoryError::OutOfStock {
            sku: sku("CHR-007"),
            requested: 2,
        });
        assert!(status.message().contains("CHR-007"), "{}", status.message());
    }

    #[test]
    fn store_failures_do_not_leak_their_details_to_the_caller() {
        let status = tonic::Status::from(InventoryError::Store(DbError::Task(
            "UPDATE stock SET available".into(),
        )));
        assert!(!status.message().contains("UPDATE"), "{}", status.message());
    }
}
