//! The user service's domain types, each validated in one `parse`.

use crate::error::UserError;

/// A user id: `u-` followed by digits, e.g. `u-1001`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserId(String);

/// More digits than this is not an id anyone was given; rejecting it early
/// keeps absurd input out of the database and the logs.
const MAX_ID_DIGITS: usize = 18;

impl UserId {
    /// Checks the shape of a client-supplied id. Whether the user exists is
    /// the store's question, not this one's.
    pub fn parse(raw: &str) -> Result<UserId, UserError> {
        let digits = raw
            .strip_prefix("u-")
            .ok_or_else(|| UserError::InvalidId(raw.to_owned()))?;
        let well_formed = !digits.is_empty()
            && digits.len() <= MAX_ID_DIGITS
            && digits.bytes().all(|b| b.is_ascii_digit());
        if well_formed {
            Ok(UserId(raw.to_owned()))
        } else {
            Err(UserError::InvalidId(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

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
    fn parse_accepts_u_dash_digits() {
        assert_eq!(UserId::parse("u-1001").unwrap().as_str(), "u-1001");
        assert_eq!(UserId::parse("u-7").unwrap().as_str(), "u-7");
    }

    #[test]
    fn parse_rejects_empty_and_malformed_ids() {
        for raw in [
            "",
            "u-",
            "u1001",
            "U-1001",
            "x-1001",
            "u-10a1",
            " u-1001",
            "u-1001 ",
            "u--1",
            "u-1001; DROP TABLE users",
            "u-1234567890123456789",
        ] {
            assert!(
                matches!(UserId::parse(raw), Err(UserError::InvalidId(_))),
                "{raw:?} should be rejected"
            );
        }
    }

    #[test]
    fn status_round_trips_through_its_column_text() {
        for status in [UserStatus::Active, UserStatus::Suspended] {
            assert_eq!(UserStatus::from_column(status.as_str()), Some(status));
        }
        assert_eq!(UserStatus::from_column("deleted"), None);
    }
}
