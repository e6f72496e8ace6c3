//! [`OrderError`]: every way an order call can fail, and the one place
//! (`From<OrderError> for tonic::Status`) that picks its gRPC code and
//! reason and logs it.
//!
//! Downstream answers are translated here too ([`OrderError::from_reserve`])
//! so the caller sees *why* (`out_of_stock`, `card_declined`,
//! `payment_unavailable`...) in the reason, whatever service it came from.

use tonic::Code;
use tracemesh_runtime::db::DbError;
use tracemesh_runtime::grpc_error;

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
    /// The gRPC code and the machine-readable reason of this error.
    pub fn code_and_reason(&self) -> (Code, &'static str) {
        match self {
            OrderError::InvalidArgument(_) => (Code::InvalidArgument, "invalid_argument"),
            OrderError::OrderNotFound(_) => (Code::NotFound, "order_not_found"),
            OrderError::UnknownSku(_) => (Code::NotFound, "unknown_sku"),
            OrderError::OutOfStock(_) => (Code::FailedPrecondition, "out_of_stock"),
            OrderError::InventoryUnavailable { timed_out, .. } => {
                (unavailable_or_deadline(*timed_out), "inventory_unavailable")
            }
            OrderError::CardDeclined { .. } => (Code::FailedPrecondition, "card_declined"),
            OrderError::InvalidCard(_) => (Code::InvalidArgument, "invalid_card"),
            OrderError::IdempotencyKeyReused(_) => {
                (Code::FailedPrecondition, "idempotency_key_reused")
            }
            OrderError::PaymentUnavailable { timed_out, .. } => {
                (unavailable_or_deadline(*timed_out), "payment_unavailable")
            }
            // Retrying is safe (PlaceOrder is idempotent) and may succeed.
            OrderError::Storage(_) => (Code::Unavailable, "storage_unavailable"),
            OrderError::Internal(_) => (Code::Internal, "internal"),
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

fn unavailable_or_deadline(timed_out: bool) -> Code {
    if timed_out {
        Code::DeadlineExceeded
    } else {
        Code::Unavailable
    }
}

impl From<OrderError> for tonic::Status {
    fn from(error: OrderError) -> Self {
        let (code, reason) = error.code_and_reason();
        match code {
            Code::Unavailable | Code::DeadlineExceeded | Code::Internal => {
                tracing::warn!(code = ?code, reason, error = %error, "order call failed");
            }
            _ => tracing::debug!(code = ?code, reason, error = %error, "order call refused"),
        }
        grpc_error::status(code, reason, error.to_string())
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
                "invalid_argument",
            ),
            (
                OrderError::OrderNotFound(text()),
                Code::NotFound,
                "order_not_found",
            ),
            (
                OrderError::UnknownSku(text()),
                Code::NotFound,
                "unknown_sku",
            ),
            (
                OrderError::OutOfStock(text()),
                Code::FailedPrecondition,
                "out_of_stock",
            ),
            (
                OrderError::InventoryUnavailable {
                    timed_out: false,
                    message: text(),
                },
                Code::Unavailable,
                "inventory_unavailable",
            ),
            (
                OrderError::InventoryUnavailable {
                    timed_out: true,
                    message: text(),
                },
                Code::DeadlineExceeded,
                "inventory_unavailable",
            ),
            (
                OrderError::CardDeclined {
                    decline_code: "generic_decline".to_owned(),
                    message: text(),
                },
                Code::FailedPrecondition,
                "card_declined",
            ),
            (
                OrderError::InvalidCard(text()),
                Code::InvalidArgument,
                "invalid_card",
            ),
            (
                OrderError::IdempotencyKeyReused(text()),
                Code::FailedPrecondition,
                "idempotency_key_reused",
            ),
            (
                OrderError::PaymentUnavailable {
                    timed_out: false,
                    message: text(),
                },
                Code::Unavailable,
                "payment_unavailable",
            ),
            (
                OrderError::PaymentUnavailable {
                    timed_out: true,
                    message: text(),
                },
                Code::DeadlineExceeded,
                "payment_unavailable",
            ),
            (
                OrderError::Storage(DbError::Task(text())),
                Code::Unavailable,
                "storage_unavailable",
            ),
            (OrderError::Internal(text()), Code::Internal, "internal"),
        ];
        for (error, code, reason) in cases {
            let status = tonic::Status::from(error);
            assert_eq!(status.code(), code, "{status:?}");
            assert_eq!(grpc_error::reason(&status), Some(reason), "{status:?}");
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
                "unknown_sku",
            ),
            (
                grpc_error::status(Code::FailedPrecondition, "out_of_stock", "LMP-006 short"),
                Code::FailedPrecondition,
                "out_of_stock",
            ),
            (
                tonic::Status::invalid_argument("quantity"),
                Code::InvalidArgument,
                "invalid_argument",
            ),
            (
                tonic::Status::unavailable("down"),
                Code::Unavailable,
                "inventory_unavailable",
            ),
            (
                tonic::Status::deadline_exceeded("slow"),
                Code::DeadlineExceeded,
                "inventory_unavailable",
            ),
            (
                tonic::Status::cancelled("Timeout expired"),
                Code::DeadlineExceeded,
                "inventory_unavailable",
            ),
            (
                tonic::Status::internal("bug"),
                Code::Unavailable,
                "inventory_unavailable",
            ),
        ];
        for (answer, code, reason) in cases {
            let error = OrderError::from_reserve(&answer);
            assert_eq!(error.code_and_reason(), (code, reason), "{answer:?}");
        }
    }

    #[test]
    fn inventory_messages_pass_through() {
        let error = OrderError::from_reserve(&tonic::Status::not_found("no SKU KEY-999"));
        assert_eq!(error.to_string(), "no SKU KEY-999");
    }
}
