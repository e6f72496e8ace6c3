//! The HTTP handlers: `POST /v1/charges` and `GET /healthz`.

use std::time::SystemTime;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use tracemesh_runtime::time_format::rfc3339_utc;

use crate::AppState;
use crate::api::{Charge, ChargeRequest};
use crate::error::PaymentError;
use crate::idempotency::StoredResponse;
use crate::provider::Outcome;
use crate::validate::validate;

/// The header that makes a charge idempotent.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// The longest idempotency key accepted, as at Stripe.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// `POST /v1/charges`: validate, then charge once per idempotency key.
///
/// The body is taken as a `Result` so that axum's plain-text rejections
/// become our JSON errors (see `From<JsonRejection> for PaymentError`).
pub async fn create_charge(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<ChargeRequest>, JsonRejection>,
) -> Result<Response, PaymentError> {
    let key = idempotency_key(&headers)?;
    let Json(request) = body?;
    validate(&request)?;

    let fingerprint = state.idempotency.fingerprint(&request);
    let slot = state
        .idempotency
        .claim(key, fingerprint)
        .map_err(|_| PaymentError::IdempotencyKeyReused)?;
    // Held until the answer is stored: a concurrent retry waits here and
    // then replays, instead of charging a second time.
    let mut slot = slot.lock().await;
    if let Some(stored) = slot.as_ref() {
        tracing::debug!("replaying the stored response of an idempotency key");
        return Ok(stored.replay());
    }
    let answer = charge(&state, &request).await;
    *slot = Some(answer.clone());
    Ok(answer.into_response())
}

/// Asks the provider, and turns its outcome into the response to keep.
async fn charge(state: &AppState, request: &ChargeRequest) -> StoredResponse {
    match state.provider.authorize(&request.card).await {
        Outcome::Approved => {
            let charge = Charge {
                id: format!("ch_{}", uuid::Uuid::new_v4().simple()),
                status: "succeeded".to_owned(),
                amount_cents: request.amount_cents,
                currency: request.currency.clone(),
                card_last4: request.card.last4().to_owned(),
                created_at: rfc3339_utc(SystemTime::now()),
            };
            StoredResponse::json(StatusCode::CREATED, &charge)
        }
        // Counted here, once per charge asked of the provider: a replayed
        // idempotency key answers from the store and is not counted again.
        Outcome::Expired => {
            tracemesh_runtime::metrics::global().payment_declined();
            PaymentError::ExpiredCard.into_stored()
        }
        Outcome::Declined(code) => {
            tracemesh_runtime::metrics::global().payment_declined();
            PaymentError::CardDeclined(code).into_stored()
        }
        Outcome::ProcessingError => PaymentError::ProcessingError.into_stored(),
    }
}

/// The `Idempotency-Key` header: required, 1 to 255 visible ASCII
/// characters (`to_str` refuses anything else).
fn idempotency_key(headers: &HeaderMap) -> Result<&str, PaymentError> {
    headers
        .get(IDEMPOTENCY_KEY_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|key| !key.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY_LEN)
        .ok_or(PaymentError::MissingIdempotencyKey)
}

/// `GET /healthz`: the process is up and serving.
pub async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}
