//! `GET /api/products`: the catalog, from inventory.

use axum::Json;
use axum::extract::State;
use tracemesh_proto::inventory::v1::ListProductsRequest;

use crate::AppState;
use crate::error::{ApiError, Rpc};
use crate::model::ProductList;

pub async fn list(State(state): State<AppState>) -> Result<Json<ProductList>, ApiError> {
    let response = state
        .clients
        .inventory
        .clone()
        .list_products(ListProductsRequest {})
        .await
        .map_err(|status| ApiError::from_grpc(Rpc::ListProducts, status))?;
    Ok(Json(response.into_inner().into()))
}
