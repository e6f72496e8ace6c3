//! The checks a charge request must pass before it reaches the provider.
//! A request that fails one is a 400 naming the field, is not charged, and
//! is not remembered under its idempotency key (so the client can fix it
//! and retry with the same key, as at Stripe).

use crate::api::ChargeRequest;
use crate::error::PaymentError;
use crate::provider;

/// The longest `description` accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// The first problem with `request`, if any.
pub fn validate(request: &ChargeRequest) -> Result<(), PaymentError> {
    let invalid = |code: &'static str, message: &str| {
        Err(PaymentError::InvalidRequest {
            code,
            message: message.to_owned(),
        })
    };
    if request.amount_cents <= 0 {
        return invalid(
            "invalid_request",
            "amount_cents must be a positive number of cents",
        );
    }
    let currency = &request.currency;
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
        return invalid(
            "invalid_request",
            "currency must be three lowercase letters, e.g. usd",
        );
    }
    if request
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
    {
        return invalid(
            "invalid_request",
            "description must be at most 500 characters",
        );
    }
    let card = &request.card;
    if !provider::valid_number(&card.number) {
        return invalid(
            "invalid_number",
            "card.number is not a card number: 12 to 19 digits passing the Luhn check",
        );
    }
    if !(1..=12).contains(&card.exp_month) {
        return invalid("invalid_expiry_month", "card.exp_month must be 1 to 12");
    }
    if !(1000..=9999).contains(&card.exp_year) {
        return invalid(
            "invalid_expiry_year",
            "card.exp_year must be a four-digit year",
        );
    }
    if !(3..=4).contains(&card.cvc.len()) || !card.cvc.bytes().all(|b| b.is_ascii_digit()) {
        return invalid("invalid_cvc", "card.cvc must be 3 or 4 digits");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Card;

    fn valid_request() -> ChargeRequest {
        ChargeRequest {
            amount_cents: 8900,
            currency: "usd".to_owned(),
            card: Card {
                number: provider::CARD_SUCCEEDS.to_owned(),
                exp_month: 12,
                exp_year: 2040,
                cvc: "123".to_owned(),
            },
            description: Some("order o-1".to_owned()),
        }
    }

    /// The error code and message for `request`, which must be invalid.
    fn rejection(request: &ChargeRequest) -> (&'static str, String) {
        match validate(request) {
            Err(e @ PaymentError::InvalidRequest { .. }) => (e.code(), e.to_string()),
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_request_passes() {
        validate(&valid_request()).unwrap();
        let mut amex_cvc = valid_request();
        amex_cvc.card.cvc = "1234".to_owned();
        validate(&amex_cvc).unwrap();
    }

    #[test]
    fn each_invalid_field_is_named_with_its_code() {
        // How to spoil a valid request, the code expected, the field named.
        type Spoil = fn(&mut ChargeRequest);
        let cases: [(Spoil, &str, &str); 9] = [
            (|r| r.amount_cents = 0, "invalid_request", "amount_cents"),
            (|r| r.amount_cents = -5, "invalid_request", "amount_cents"),
            (
                |r| r.currency = "USD".to_owned(),
                "invalid_request",
                "currency",
            ),
            (
                |r| r.currency = "usdx".to_owned(),
                "invalid_request",
                "currency",
            ),
            (
                |r| r.description = Some("x".repeat(501)),
                "invalid_request",
                "description",
            ),
            (
                |r| r.card.number = "4242424242424241".to_owned(),
                "invalid_number",
                "card.number",
            ),
            (
                |r| r.card.exp_month = 13,
                "invalid_expiry_month",
                "card.exp_month",
            ),
            (
                |r| r.card.exp_year = 30,
                "invalid_expiry_year",
                "card.exp_year",
            ),
            (|r| r.card.cvc = "12a".to_owned(), "invalid_cvc", "card.cvc"),
        ];
        for (spoil, code, field) in cases {
            let mut request = valid_request();
            spoil(&mut request);
            let (got_code, message) = rejection(&request);
            assert_eq!(got_code, code, "{message}");
            assert!(message.starts_with(field), "{message} should name {field}");
        }
    }

    #[test]
    fn a_rejection_never_echoes_the_card_number() {
        let mut request = valid_request();
        request.card.number = "4242424242424241".to_owned();
        let (_, message) = rejection(&request);
        assert!(!message.contains("4242424242424241"), "{message}");
    }
}
