//! `GET /api/orders/{id}`: one placed order, from the order service.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use tracemesh_proto::order::v1::GetOrderRequest;

use crate::AppState;
use crate::error::{ApiError, Rpc};
use crate::model::{OrderId, OrderView};

pub async fn get(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<OrderView>, ApiError> {
    let Path(id) = id?;
    let id = OrderId::parse("id", &id)?;
    let order = state
        .clients
        .order
        .clone()
        .get_order(GetOrderRequest {
            order_id: id.as_str().to_owned(),
        })
        .await
        .map_err(|status| ApiError::from_grpc(Rpc::GetOrder, status))?;
    Ok(Json(order.into_inner().into()))
}
