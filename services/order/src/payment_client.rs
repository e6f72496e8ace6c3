//! The HTTP call to payment, `POST /v1/charges`, through the runtime's
//! traced client (one CLIENT span per call, context injected), and the
//! translation of payment's answer into an [`OrderError`].
//!
//! The request carries the card; it is built here and handed to reqwest,
//! and nothing on the way logs it or puts it on a span.
//!
//! Before the call, a charge waits for a slot of [`PaymentPool`], the
//! planted pool of one (see [`crate::payment_pool`]).

use std::time::Duration;

use tokio::time::Instant;

use reqwest::StatusCode;
use tracemesh_payment::api::{Card, Charge, ChargeErrorBody, ChargeRequest};
use tracemesh_runtime::grpc_client::error_chain;
use tracemesh_runtime::http_client::TracedHttpClient;
use tracemesh_runtime::propagation::Hop;

use crate::error::OrderError;
use crate::payment_pool::PaymentPool;

/// The currency of every order: the shop sells in dollars.
pub const CURRENCY: &str = "usd";

/// Connecting to payment should never take long: it is on the same network.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A client of the payment service.
#[derive(Debug, Clone)]
pub struct PaymentClient {
    http: TracedHttpClient,
    charges_url: reqwest::Url,
    pool: PaymentPool,
    /// The deadline of a whole charge: the wait for a slot and the call.
    timeout: Duration,
}

impl PaymentClient {
    /// A client of the payment service at `base_url` (`http://host:port`);
    /// each charge may take at most `timeout`, the wait for a slot of `pool`
    /// and connecting included. `hop` carries the telemetry faults of calls
    /// to payment.
    pub fn new(
        hop: Hop,
        base_url: &str,
        timeout: Duration,
        pool: PaymentPool,
    ) -> Result<PaymentClient, String> {
        let charges_url = reqwest::Url::parse(base_url)
            .and_then(|base| base.join("/v1/charges"))
            .map_err(|e| format!("--payment-url {base_url}: {e}"))?;
        let http = TracedHttpClient::new(hop, MAX_CONNECT_TIMEOUT.min(timeout), timeout)
            .map_err(|e| format!("cannot build the payment client: {e}"))?;
        Ok(PaymentClient {
            http,
            charges_url,
            pool,
            timeout,
        })
    }

    /// Charges `amount_cents` to `card`, once per `idempotency_key`: a retry
    /// with the same key gets the first answer back from payment.
    pub async fn charge(
        &self,
        idempotency_key: &str,
        amount_cents: i64,
        card: &Card,
        description: String,
    ) -> Result<Charge, OrderError> {
        let deadline = Instant::now() + self.timeout;
        // The planted bottleneck: the queue for the pool's slot, before the
        // CLIENT span (opened by `send`) starts. Held until the answer is read.
        let _slot = self
            .pool
            .slot(deadline)
            .await
            .map_err(|_| OrderError::PaymentUnavailable {
                timed_out: true,
                message: format!(
                    "no connection to payment within {} ms: every slot of the pool was busy",
                    self.timeout.as_millis()
                ),
            })?;
        let body = ChargeRequest {
            amount_cents,
            currency: CURRENCY.to_owned(),
            card: card.clone(),
            description: Some(description),
        };
        let request = self
            .http
            .inner()
            .post(self.charges_url.clone())
            .header(tracemesh_payment::IDEMPOTENCY_KEY_HEADER, idempotency_key)
            .json(&body)
            // What the wait for a slot left of the deadline.
            .timeout(deadline.saturating_duration_since(Instant::now()))
            .build()
            // The key was checked to be a valid header value: a bug if not.
            .map_err(|e| OrderError::Internal(format!("cannot build the charge request: {e}")))?;
        let response = self.http.send(request).await.map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
        interpret(status, &body)
    }
}

/// No answer: refused, reset, or too slow.
fn unreachable(e: reqwest::Error) -> OrderError {
    OrderError::PaymentUnavailable {
        timed_out: e.is_timeout(),
        message: error_chain(&e),
    }
}

/// Translates payment's answer (see `tracemesh_payment::error`).
pub fn interpret(status: StatusCode, body: &[u8]) -> Result<Charge, OrderError> {
    if status == StatusCode::CREATED {
        return serde_json::from_slice(body).map_err(|e| OrderError::PaymentUnavailable {
            timed_out: false,
            message: format!("payment answered 201 with an unreadable charge: {e}"),
        });
    }
    // Every payment error has the JSON error shape; an injected fault or a
    // proxy might not, so fall back on the status.
    let error = serde_json::from_slice::<ChargeErrorBody>(body).ok();
    let message = error.as_ref().map_or_else(
        || format!("payment answered {status}"),
        |e| e.error.message.clone(),
    );
    Err(match status {
        StatusCode::PAYMENT_REQUIRED => OrderError::CardDeclined {
            // `expired_card` has no decline code: its code says it all.
            decline_code: error
                .map(|e| e.error.decline_code.unwrap_or(e.error.code))
                .unwrap_or_else(|| "unknown".to_owned()),
            message,
        },
        StatusCode::BAD_REQUEST => OrderError::InvalidCard(message),
        StatusCode::CONFLICT => OrderError::IdempotencyKeyReused(format!(
            "idempotency_key was used for another payment: {message}"
        )),
        StatusCode::GATEWAY_TIMEOUT => OrderError::PaymentUnavailable {
            timed_out: true,
            message,
        },
        _ => OrderError::PaymentUnavailable {
            timed_out: false,
            message: format!("payment answered {status}: {message}"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;
    use tracemesh_runtime::contract::Reason;

    fn error_body(code: &str, decline_code: Option<&str>) -> Vec<u8> {
        let mut error = serde_json::json!({"code": code, "message": "from payment"});
        if let Some(decline_code) = decline_code {
            error["decline_code"] = decline_code.into();
        }
        serde_json::to_vec(&serde_json::json!({ "error": error })).unwrap()
    }

    fn code_and_reason(status: u16, body: &[u8]) -> (Code, Reason) {
        let status = StatusCode::from_u16(status).unwrap();
        let error = interpret(status, body).unwrap_err();
        (error.code(), error.reason())
    }

    #[test]
    fn a_201_is_the_charge() {
        let body = serde_json::json!({
            "id": "ch_1", "status": "succeeded", "amount_cents": 900, "currency": "usd",
            "card_last4": "4242", "created_at": "2026-11-03T10:00:00Z"
        });
        let charge = interpret(StatusCode::CREATED, body.to_string().as_bytes()).unwrap();
        assert_eq!(charge.id, "ch_1");
        assert_eq!(charge.card_last4, "4242");
    }

    #[test]
    fn each_payment_answer_maps_to_its_code_and_reason() {
        let declined = error_body("card_declined", Some("generic_decline"));
        let cases = [
            (
                402,
                declined.clone(),
                Code::FailedPrecondition,
                Reason::CardDeclined,
            ),
            (
                400,
                error_body("invalid_number", None),
                Code::InvalidArgument,
                Reason::InvalidCard,
            ),
            (
                409,
                error_body("idempotency_key_reused", None),
                Code::FailedPrecondition,
                Reason::IdempotencyKeyReused,
            ),
            (
                503,
                error_body("processing_error", None),
                Code::Unavailable,
                Reason::PaymentUnavailable,
            ),
            (
                500,
                b"oops".to_vec(),
                Code::Unavailable,
                Reason::PaymentUnavailable,
            ),
            (
                429,
                Vec::new(),
                Code::Unavailable,
                Reason::PaymentUnavailable,
            ),
            (
                504,
                Vec::new(),
                Code::DeadlineExceeded,
                Reason::PaymentUnavailable,
            ),
            (
                201,
                b"not a charge".to_vec(),
                Code::Unavailable,
                Reason::PaymentUnavailable,
            ),
        ];
        for (status, body, code, reason) in cases {
            assert_eq!(code_and_reason(status, &body), (code, reason), "{status}");
        }
    }

    #[test]
    fn a_decline_keeps_payment_decline_code() {
        let body = error_body("card_declined", Some("insufficient_funds"));
        match interpret(StatusCode::PAYMENT_REQUIRED, &body) {
            Err(OrderError::CardDeclined { decline_code, .. }) => {
                assert_eq!(decline_code, "insufficient_funds");
            }
            other => panic!("{other:?}"),
        }
        match interpret(
            StatusCode::PAYMENT_REQUIRED,
            &error_body("expired_card", None),
        ) {
            Err(OrderError::CardDeclined { decline_code, .. }) => {
                assert_eq!(decline_code, "expired_card");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_bad_payment_url_is_refused_at_start() {
        let error = PaymentClient::new(
            Hop::external(),
            "not a url",
            Duration::from_secs(1),
            PaymentPool::new(crate::payment_pool::PoolMode::Fixed),
        )
        .unwrap_err();
        assert!(error.contains("--payment-url"), "{error}");
    }
}
