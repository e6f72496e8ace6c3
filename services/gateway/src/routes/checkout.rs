//! `POST /api/checkout`: validate, check the buyer, place the order.
//!
//! The gateway validates everything it can before calling anyone, so a
//! malformed request costs no downstream call; then the user service says
//! whether this user may buy; then the order service runs the saga
//! (reserve stock, charge the card) and answers with the placed order.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracemesh_proto::user::v1::ValidateUserRequest;

use crate::AppState;
use crate::error::{ApiError, Rpc};
use crate::model::{Checkout, CheckoutBody, IdempotencyKey, OrderView};

pub async fn checkout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<CheckoutBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let checkout = Checkout::parse(body)?;
    let key = IdempotencyKey::parse(headers.get(IdempotencyKey::HEADER))?;

    state
        .clients
        .user
        .clone()
        .validate_user(ValidateUserRequest {
            user_id: checkout.user_id.as_str().to_owned(),
        })
        .await
        .map_err(|status| ApiError::from_grpc(Rpc::ValidateUser, status))?;

    let order = state
        .clients
        .order
        .clone()
        .place_order(checkout.into_place_order(key))
        .await
        .map_err(|status| ApiError::from_grpc(Rpc::PlaceOrder, status))?
        .into_inner();

    let order = OrderView::from(order);
    let location = HeaderValue::from_str(&format!("/api/orders/{}", order.id)).ok();
    let mut response = (StatusCode::CREATED, Json(order)).into_response();
    // Where the new order can be read back; skipped if the order service
    // ever chose an id that is not a valid header value.
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}
