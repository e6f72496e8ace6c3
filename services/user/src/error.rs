//! [`UserError`], everything that can go wrong in the user service, and its
//! one mapping to a gRPC status.
//!
//! Each error is logged exactly once, here, as it becomes a status: at
//! `debug` for the caller's mistakes and expected answers (they are in the
//! trace already), at `warn` for our own failures.

use tracemesh_runtime::contract::Reason;
use tracemesh_runtime::db::DbError;
use tracemesh_runtime::shop::{self, shown};

use crate::domain::UserId;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("user_id {} {}", shown(.0), shop::Invalid::UserId)]
    InvalidId(String),
    #[error("no user {}", .0.as_str())]
    NotFound(UserId),
    #[error("user {} is suspended", .0.as_str())]
    Suspended(UserId),
    #[error("the user store failed: {0}")]
    Store(#[from] DbError),
}

impl UserError {
    /// The machine-readable reason the caller branches on.
    pub fn reason(&self) -> Reason {
        match self {
            UserError::InvalidId(_) => Reason::InvalidUserId,
            UserError::NotFound(_) => Reason::UserNotFound,
            UserError::Suspended(_) => Reason::UserSuspended,
            UserError::Store(_) => Reason::Internal,
        }
    }
}

impl From<UserError> for tonic::Status {
    fn from(error: UserError) -> Self {
        let reason = error.reason();
        if let UserError::Store(_) = error {
            tracing::warn!(error = %error, reason = reason.as_str(), "user request failed");
            // The details are in the log and the DB span; the caller gets no SQL.
            return reason.status("internal error in the user service");
        }
        tracing::debug!(error = %error, reason = reason.as_str(), "user request refused");
        reason.status(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn id(raw: &str) -> UserId {
        UserId::parse(raw).unwrap()
    }

    #[test]
    fn every_error_maps_to_its_code_and_reason() {
        let cases = [
            (
                UserError::InvalidId("x".into()),
                Code::InvalidArgument,
                Reason::InvalidUserId,
            ),
            (
                UserError::NotFound(id("u-1")),
                Code::NotFound,
                Reason::UserNotFound,
            ),
            (
                UserError::Suspended(id("u-1099")),
                Code::FailedPrecondition,
                Reason::UserSuspended,
            ),
            (
                UserError::Store(DbError::Task("boom".into())),
                Code::Internal,
                Reason::Internal,
            ),
        ];
        for (error, code, reason) in cases {
            let status = tonic::Status::from(error);
            assert_eq!(status.code(), code, "{status:?}");
            assert_eq!(Reason::of(&status), Some(reason));
        }
    }

    #[test]
    fn store_failures_do_not_leak_their_details_to_the_caller() {
        let status = tonic::Status::from(UserError::Store(DbError::Task(
            "SELECT secret FROM users".into(),
        )));
        assert!(!status.message().contains("SELECT"), "{}", status.message());
    }

    #[test]
    fn a_huge_invalid_id_is_cut_short_in_the_message() {
        let status = tonic::Status::from(UserError::InvalidId("9".repeat(100_000)));
        assert!(status.message().len() < 200, "{}", status.message().len());
    }
}
