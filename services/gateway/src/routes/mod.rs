//! The endpoints, one small file per group. Every handler has the same
//! shape: extract (rejections become [`ApiError`]s, never axum's plain
//! text), `parse` into validated values, call downstream, answer a view.

pub mod checkout;
pub mod health;
pub mod orders;
pub mod products;
pub mod users;
pub mod w3c_test;

use crate::error::ApiError;

/// A known path with the wrong method: a JSON 405 like every other error.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
