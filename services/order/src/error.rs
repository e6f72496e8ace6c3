//! [`OrderError`]: every way an order call can fail, its [`Reason`], and
//! the one place (`From<OrderError> for tonic::Status`) that turns it into
//! a gRPC status and logs it.
//!
//! Downstream answers are translated here too ([`OrderError::from_reserve`])
//! so the caller sees *why* (`out_of_stock`, `card_declined`,
//! `payment_unavailable`...) in the reason, whatever service it came from.

use tonic::Code;
use tracemesh_runtime::contract::Reason;
use tracemesh_runtime::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// Bad input; the message names the field.
    #[error("{0}")]
    InvalidArgument(String),
    #[error("no order {0}")]
    OrderNotFound(String),
    /// Inventory does not know one of the SKUs.
    #[error("{0}")]
    UnknownSku(String),
    #[error("{0}")]
    OutOfStock(String),
    /// Inventory failed or did not answer in time.
    #[error("inventory failed: {message}")]
    InventoryUnavailable { timed_out: bool, message: String },
    /// The card was declined (or expired): `decline_code` says why.
    #[error("card declined ({decline_code}): {message}")]
    CardDeclined {
        decline_code: String,
        message: String,
    },
    /// Payment refused the card's details (number, expiry, CVC).
    #[error("invalid card: {0}")]
    InvalidCard(String),
    /// The idempotency key belongs to another order or another request.
    #[error("{0}")]
    IdempotencyKeyReused(String),
    /// Payment failed or did not answer in time.
    #[error("payment failed: {message}")]
    PaymentUnavailable { timed_out: bool, message: String },
    #[error("order storage failed: {0}")]
    Storage(#[from] DbError),
    /// A bug of ours.
    #[error("internal error: {0}")]
    Internal(String),
}

impl OrderError {
    /// The machine-readable reason of this error.
    pub fn reason(&self) -> Reason {
        match self {
            OrderError::InvalidArgument(_) => Reason::InvalidArgument,
            OrderError::OrderNotFound(_) => Reason::OrderNotFound,
            OrderError::UnknownSku(_) => Reason::UnknownSku,
            OrderError::OutOfStock(_) => Reason::OutOfStock,
            OrderError::InventoryUnavailable { .. } => Reason::InventoryUnavailable,
            OrderError::CardDeclined { .. } => Reason::CardDeclined,
            OrderError::InvalidCard(_) => Reason::InvalidCard,
            OrderError::IdempotencyKeyReused(_) => Reason::IdempotencyKeyReused,
            OrderError::PaymentUnavailable { .. } => Reason::PaymentUnavailable,
            // Retrying is safe (PlaceOrder is idempotent) and may succeed.
            OrderError::Storage(_) => Reason::StorageUnavailable,
            OrderError::Internal(_) => Reason::Internal,
        }
    }

    /// The gRPC code: the reason's, except that a downstream that did not
    /// answer in time is DEADLINE_EXCEEDED rather than UNAVAILABLE.
    pub fn code(&self) -> Code {
        match self {
            OrderError::InventoryUnavailable { timed_out, .. }
            | OrderError::PaymentUnavailable { timed_out, .. }
                if *timed_out =>
            {
                Code::DeadlineExceeded
            }
            _ => self.reason().grpc_code(),
        }
    }

    /// Translates inventory's answer to a failed Reserve.
    pub fn from_reserve(status: &tonic::Status) -> OrderError {
        let message = status.message().to_owned();
        match status.code() {
            Code::NotFound => OrderError::UnknownSku(message),
            Code::FailedPrecondition => OrderError::OutOfStock(message),
            Code::InvalidArgument => OrderError::InvalidArgument(message),
            // tonic reports our own channel's deadline as CANCELLED
            // ("Timeout expired"); the runtime's CLIENT span calls it
            // DEADLINE_EXCEEDED, and so do we.
            Code::DeadlineExceeded | Code::Cancelled => OrderError::InventoryUnavailable {
                timed_out: true,
                message,
            },
            // UNAVAILABLE, and anything else inventory should not have said:
            // either way, inventory could not do its part.
            _ => OrderError::InventoryUnavailable {
                timed_out: false,
                message: format!("{:?}: {message}", status.code()),
            },
        }
    }
}

impl From<OrderError> for tonic::Status {
    fn from(error: OrderError) -> Self {
        let (code, reason) = (error.code(), error.reason());
        match code {
            Code::Unavailable | Code::DeadlineExceeded | Code::Internal => {
                tracing::warn!(code = ?code, reason = reason.as_str(), error = %error, "order call failed");
            }
            _ => {
                tracing::debug!(code = ?code, reason = reason.as_str(), error = %error, "order call refused")
            }
        }
        reason.status_with_code(code, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text() -> String {
        "m".to_owned()
    }

    #[test]
    fn every_error_maps_to_its_code_and_reason() {
        let cases = [
            (
                OrderError::InvalidArgument(text()),
                Code::InvalidArgument,
                Reason::InvalidArgument,
            ),
            (
                OrderError::OrderNotFound(text()),
                Code::NotFound,
                Reason::OrderNotFound,
            ),
            (
                OrderError::UnknownSku(text()),
                Code::NotFound,
                Reason::UnknownSku,
            ),
            (
                OrderError::OutOfStock(text()),
                Code::FailedPrecondition,
                Reason::OutOfStock,
            ),
            (
                OrderError::InventoryUnavailable {
                    timed_out: false,
                    message: text(),
                },
                Code::Unavailable,
                Reason::InventoryUnavailable,
            ),
            (
                OrderError::InventoryUnavailable {
                    timed_out: true,
                    message: text(),
                },
                Code::DeadlineExceeded,
                Reason::InventoryUnavailable,
            ),
            (
                OrderError::CardDeclined {
                    decline_code: "generic_decline".to_owned(),
                    message: text(),
                },
                Code::FailedPrecondition,
                Reason::CardDeclined,
            ),
            (
                OrderError::InvalidCard(text()),
                Code::InvalidArgument,
                Reason::InvalidCard,
            ),
            (
                OrderError::IdempotencyKeyReused(text()),
                Code::FailedPrecondition,
                Reason::IdempotencyKeyReused,
            ),
            (
                OrderError::PaymentUnavailable {
                    timed_out: false,
                    message: text(),
                },
                Code::Unavailable,
                Reason::PaymentUnavailable,
            ),
            (
                OrderError::PaymentUnavailable {
                    timed_out: true,
                    message: text(),
                },
                Code::DeadlineExceeded,
                Reason::PaymentUnavailable,
            ),
            (
                OrderError::Storage(DbError::Task(text())),
                Code::Unavailable,
                Reason::StorageUnavailable,
            ),
            (
                OrderError::Internal(text()),
                Code::Internal,
                Reason::Internal,
            ),
        ];
        for (error, code, reason) in cases {
            let status = tonic::Status::from(error);
            assert_eq!(status.code(), code, "{status:?}");
            assert_eq!(Reason::of(&status), Some(reason), "{status:?}");
        }
    }

    #[test]
    fn a_decline_carries_its_decline_code_in_the_message() {
        let status = tonic::Status::from(OrderError::CardDeclined {
            decline_code: "insufficient_funds".to_owned(),
            message: "the card was declined".to_owned(),
        });
        assert!(
            status.message().contains("insufficient_funds"),
            "{status:?}"
        );
    }

    #[test]
    fn inventory_answers_to_reserve_map_to_order_errors() {
        let cases = [
            (
                tonic::Status::not_found("KEY-999"),
                Code::NotFound,
                Reason::UnknownSku,
            ),
            (
                Reason::OutOfStock.status("LMP-006 short"),
                Code::FailedPrecondition,
                Reason::OutOfStock,
            ),
            (
                tonic::Status::invalid_argument("quantity"),
                Code::InvalidArgument,
                Reason::InvalidArgument,
            ),
            (
                tonic::Status::unavailable("down"),
                Code::Unavailable,
                Reason::InventoryUnavailable,
            ),
            (
                tonic::Status::deadline_exceeded("slow"),
                Code::DeadlineExceeded,
                Reason::InventoryUnavailable,
            ),
            (
                tonic::Status::cancelled("Timeout expired"),
                Code::DeadlineExceeded,
                Reason::InventoryUnavailable,
            ),
            (
                tonic::Status::internal("bug"),
                Code::Unavailable,
                Reason::InventoryUnavailable,
            ),
        ];
        for (answer, code, reason) in cases {
            let error = OrderError::from_reserve(&answer);
            assert_eq!((error.code(), error.reason()), (code, reason), "{answer:?}");
        }
    }

    #[test]
    fn inventory_messages_pass_through() {
        let error = OrderError::from_reserve(&tonic::Status::not_found("no SKU KEY-999"));
        assert_eq!(error.to_string(), "no SKU KEY-999");
    }
}
