//! The user service's domain types: [`UserId`] (from the runtime's
//! `shop`, validated in its one `parse`) and [`UserStatus`].

/// A user id, validated where every service validates it.
pub use tracemesh_runtime::shop::UserId;

/// Whether a user may place orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Active,
    Suspended,
}

impl UserStatus {
    /// The text stored in the `status` column and sent in `User.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Suspended => "suspended",
        }
    }

    /// Reads the `status` column; `None` for a value the schema should
    /// have refused.
    pub fn from_column(text: &str) -> Option<UserStatus> {
        match text {
            "active" => Some(UserStatus::Active),
            "suspended" => Some(UserStatus::Suspended),
            _ => None,
        }
    }
}

/// A user as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub status: UserStatus,
}

impl From<User> for tracemesh_proto::user::v1::User {
    fn from(user: User) -> Self {
        tracemesh_proto::user::v1::User {
            id: user.id,
            name: user.name,
            email: user.email,
            status: user.status.as_str().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_its_column_text() {
        for status in [UserStatus::Active, UserStatus::Suspended] {
            assert_eq!(UserStatus::from_column(status.as_str()), Some(status));
        }
        assert_eq!(UserStatus::from_column("deleted"), None);
    }
}
