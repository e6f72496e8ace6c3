//! `GET /api/users/{id}`: one user, from the user service.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use tracemesh_proto::user::v1::GetUserRequest;
use tracemesh_runtime::shop::UserId;

use crate::AppState;
use crate::error::{ApiError, Rpc};
use crate::model::{FieldError, UserView};

pub async fn get(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<UserView>, ApiError> {
    let Path(id) = id?;
    let id = FieldError::named("id", UserId::parse(&id))?;
    let user = state
        .clients
        .user
        .clone()
        .get_user(GetUserRequest {
            user_id: id.as_str().to_owned(),
        })
        .await
        .map_err(|status| ApiError::from_grpc(Rpc::GetUser, status))?;
    Ok(Json(user.into_inner().into()))
}
