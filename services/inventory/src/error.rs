//! [`InventoryError`], everything that can go wrong in the inventory
//! service, and its one mapping to a gRPC status.
//!
//! Each error is logged exactly once, here, as it becomes a status: at
//! `debug` for the caller's mistakes and expected refusals (out of stock is
//! business as usual, and it is in the trace already), at `warn` for our
//! own failures.

use tracemesh_runtime::contract::Reason;
use tracemesh_runtime::db::DbError;

use crate::domain::{ReservationId, Sku};

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The request is malformed whatever the stock: bad SKU, quantity, id.
    #[error("{0}")]
    InvalidArgument(String),
    #[error("no product with SKU {}", .0.as_str())]
    UnknownSku(Sku),
    #[error("not enough stock of {} to reserve {requested}", sku.as_str())]
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
    /// The machine-readable reason the caller branches on.
    pub fn reason(&self) -> Reason {
        match self {
            InventoryError::InvalidArgument(_) => Reason::InvalidArgument,
            InventoryError::UnknownSku(_) => Reason::UnknownSku,
            InventoryError::OutOfStock { .. } => Reason::OutOfStock,
            InventoryError::ReservationReleased(_) => Reason::ReservationReleased,
            InventoryError::ReservationMismatch(_) => Reason::ReservationMismatch,
            InventoryError::Store(_) => Reason::Internal,
        }
    }
}

impl From<InventoryError> for tonic::Status {
    fn from(error: InventoryError) -> Self {
        let reason = error.reason();
        if let InventoryError::Store(_) = error {
            tracing::warn!(error = %error, reason = reason.as_str(), "inventory request failed");
            // The details are in the log and the DB span; the caller gets no SQL.
            return reason.status("internal error in the inventory service");
        }
        tracing::debug!(error = %error, reason = reason.as_str(), "inventory request refused");
        reason.status(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

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
                Reason::InvalidArgument,
            ),
            (
                InventoryError::UnknownSku(sku("ZZZ-999")),
                Code::NotFound,
                Reason::UnknownSku,
            ),
            (
                InventoryError::OutOfStock {
                    sku: sku("LMP-006"),
                    requested: 1,
                },
                Code::FailedPrecondition,
                Reason::OutOfStock,
            ),
            (
                InventoryError::ReservationReleased(id("r-1")),
                Code::FailedPrecondition,
                Reason::ReservationReleased,
            ),
            (
                InventoryError::ReservationMismatch(id("r-1")),
                Code::FailedPrecondition,
                Reason::ReservationMismatch,
            ),
            (
                InventoryError::Store(DbError::Task("boom".into())),
                Code::Internal,
                Reason::Internal,
            ),
        ];
        for (error, code, reason) in cases {
            let status = tonic::Status::from(error);
            assert_eq!(status.code(), code, "{status:?}");
            assert_eq!(Reason::of(&status), Some(reason));
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
