//! The wire types of `POST /v1/charges`, shared by the server (this crate)
//! and its callers (the order service), so both sides read one definition.
//!
//! The card number and CVC travel in [`Card`], whose `Debug` prints only the
//! last four digits: a `?request` in a log line can never leak a card.

use serde::{Deserialize, Serialize};

/// The body of `POST /v1/charges`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargeRequest {
    /// The amount to charge, in the smallest unit of `currency` (> 0).
    pub amount_cents: i64,
    /// An ISO 4217 code in lowercase, e.g. `usd`.
    pub currency: String,
    pub card: Card,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A card as the customer typed it. Only the last four digits are ever
/// kept, logged or put on a span.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Card {
    pub number: String,
    pub exp_month: u32,
    pub exp_year: u32,
    pub cvc: String,
}

impl Card {
    /// The last four characters of the number (fewer if it is shorter).
    pub fn last4(&self) -> &str {
        tracemesh_runtime::shop::last4(&self.number)
    }
}

impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Card")
            .field("last4", &self.last4())
            .field("exp_month", &self.exp_month)
            .field("exp_year", &self.exp_year)
            .finish_non_exhaustive()
    }
}

/// A successful charge: the body of a 201.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    /// `ch_` and a UUID.
    pub id: String,
    /// Always `succeeded`: a failed charge is an error response instead.
    pub status: String,
    pub amount_cents: i64,
    pub currency: String,
    pub card_last4: String,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// The body of every error of `POST /v1/charges`: the mesh's usual
/// `{"error": {"code", "message"}}` (the runtime's `ErrorBody`), plus
/// Stripe's `decline_code` when the card was declined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeErrorBody {
    pub error: ChargeErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeErrorDetail {
    /// `card_declined`, `expired_card`, `processing_error`, `invalid_number`...
    pub code: String,
    pub message: String,
    /// Why the issuer declined: `generic_decline` or `insufficient_funds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(number: &str) -> Card {
        Card {
            number: number.to_owned(),
            exp_month: 12,
            exp_year: 2040,
            cvc: "123".to_owned(),
        }
    }

    #[test]
    fn debug_of_a_card_shows_only_the_last_four_digits() {
        let printed = format!("{:?}", card("4242424242424242"));
        assert!(printed.contains("\"4242\""), "{printed}");
        assert!(!printed.contains("424242424242"), "{printed}");
        assert!(!printed.contains("123"), "cvc leaked: {printed}");
    }

    #[test]
    fn last4_of_a_short_or_odd_number_does_not_panic() {
        assert_eq!(card("42").last4(), "42");
        assert_eq!(card("").last4(), "");
        assert_eq!(card("12345é").last4(), "345é");
    }

    #[test]
    fn an_error_body_without_decline_code_has_the_mesh_error_shape() {
        let body = ChargeErrorBody {
            error: ChargeErrorDetail {
                code: "processing_error".to_owned(),
                message: "try again".to_owned(),
                decline_code: None,
            },
        };
        let mesh = tracemesh_runtime::error_body::ErrorBody::new("processing_error", "try again");
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::to_value(&mesh).unwrap()
        );
    }
}
