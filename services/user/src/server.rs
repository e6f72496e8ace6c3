//! The `UserService` trait implementation. Thin on purpose: parse, ask the
//! store, shape the answer. Spans, propagation and faults are the runtime
//! layer's job; logging an error is [`crate::error`]'s.

use tonic::{Request, Response, Status};
use tracemesh_proto::user::v1::user_service_server::UserService;
use tracemesh_proto::user::v1::{GetUserRequest, User, ValidateUserRequest, ValidateUserResponse};

use crate::domain::{self, UserId, UserStatus};
use crate::error::UserError;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct UserServer {
    store: Store,
}

impl UserServer {
    pub fn new(store: Store) -> Self {
        UserServer { store }
    }

    /// The user with the requested id (and that id, validated), or why not.
    async fn user(&self, raw_id: &str) -> Result<(UserId, domain::User), UserError> {
        let id = UserId::parse(raw_id).map_err(|_| UserError::InvalidId(raw_id.to_owned()))?;
        match self.store.find(&id).await? {
            Some(user) => Ok((id, user)),
            None => Err(UserError::NotFound(id)),
        }
    }
}

#[tonic::async_trait]
impl UserService for UserServer {
    async fn get_user(&self, request: Request<GetUserRequest>) -> Result<Response<User>, Status> {
        let (_, user) = self.user(&request.get_ref().user_id).await?;
        Ok(Response::new(user.into()))
    }

    async fn validate_user(
        &self,
        request: Request<ValidateUserRequest>,
    ) -> Result<Response<ValidateUserResponse>, Status> {
        let (id, user) = self.user(&request.get_ref().user_id).await?;
        if user.status == UserStatus::Suspended {
            return Err(UserError::Suspended(id).into());
        }
        Ok(Response::new(ValidateUserResponse {
            user: Some(user.into()),
        }))
    }
}
