//! The simulated card provider: what it decides for a card, and how long it
//! takes to decide.
//!
//! The decisions are pure functions ([`valid_number`], [`decide`]) so they
//! are tested without a clock or a server. [`Provider::authorize`] adds what
//! a real provider would add, network and issuer latency, inside an INTERNAL
//! span `provider.authorize`, so a trace shows where a charge spent its time.
//!
//! The test cards are Stripe's, so the mesh behaves like a real integration
//! in test mode: any other valid number is approved.

use std::time::Duration;

use rand::Rng;
use tracing::Instrument;

use crate::api::Card;

/// Approved (also: any valid number not listed here).
pub const CARD_SUCCEEDS: &str = "4242424242424242";
/// Declined with `generic_decline`.
pub const CARD_DECLINED: &str = "4000000000000002";
/// Declined with `insufficient_funds`.
pub const CARD_INSUFFICIENT_FUNDS: &str = "4000000000009995";
/// The provider fails to process the charge (503 `processing_error`).
pub const CARD_PROCESSING_ERROR: &str = "4000000000000119";

/// Why an issuer declined a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclineCode {
    GenericDecline,
    InsufficientFunds,
}

impl DeclineCode {
    pub fn as_str(self) -> &'static str {
        match self {
            DeclineCode::GenericDecline => "generic_decline",
            DeclineCode::InsufficientFunds => "insufficient_funds",
        }
    }
}

/// The provider's answer to one authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Approved,
    Expired,
    Declined(DeclineCode),
    ProcessingError,
}

impl Outcome {
    /// A low-cardinality name for the span attribute `payment.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Approved => "approved",
            Outcome::Expired => "expired_card",
            Outcome::Declined(code) => code.as_str(),
            Outcome::ProcessingError => "processing_error",
        }
    }
}

/// A month of a year, to compare with a card's expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct YearMonth {
    pub year: u32,
    pub month: u32,
}

impl YearMonth {
    /// The current month, in UTC.
    pub fn now() -> YearMonth {
        let now = time::OffsetDateTime::now_utc();
        YearMonth {
            // Years before 0 cannot come out of the system clock.
            year: u32::try_from(now.year()).unwrap_or(0),
            month: u32::from(u8::from(now.month())),
        }
    }
}

/// A card number is 12 to 19 digits and passes the Luhn check.
pub fn valid_number(number: &str) -> bool {
    (12..=19).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
        && luhn_checksum_ok(number)
}

/// The Luhn check on a string of ASCII digits: from the right, double every
/// second digit (subtracting 9 when that exceeds 9); the sum must end in 0.
fn luhn_checksum_ok(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .map(|b| u32::from(b - b'0'))
        .enumerate()
        .map(|(i, d)| match (i % 2 == 1, d * 2) {
            (false, _) => d,
            (true, doubled) if doubled > 9 => doubled - 9,
            (true, doubled) => doubled,
        })
        .sum();
    sum.is_multiple_of(10)
}

/// What the provider answers for a card whose number is valid. A card is
/// good through the last day of its expiry month.
pub fn decide(card: &Card, today: YearMonth) -> Outcome {
    let expiry = YearMonth {
        year: card.exp_year,
        month: card.exp_month,
    };
    if expiry < today {
        return Outcome::Expired;
    }
    match card.number.as_str() {
        CARD_DECLINED => Outcome::Declined(DeclineCode::GenericDecline),
        CARD_INSUFFICIENT_FUNDS => Outcome::Declined(DeclineCode::InsufficientFunds),
        CARD_PROCESSING_ERROR => Outcome::ProcessingError,
        _ => Outcome::Approved,
    }
}

/// The simulated provider, with its latency.
#[derive(Debug, Clone)]
pub struct Provider {
    latency: Duration,
    jitter_ms: u64,
}

impl Provider {
    /// Each authorization takes `latency_ms` plus up to `jitter_ms` more,
    /// drawn uniformly.
    pub fn new(latency_ms: u64, jitter_ms: u64) -> Provider {
        Provider {
            latency: Duration::from_millis(latency_ms),
            jitter_ms,
        }
    }

    /// Asks the "issuer" about `card`, taking the simulated latency.
    pub async fn authorize(&self, card: &Card) -> Outcome {
        let span = tracing::info_span!(
            "provider.authorize",
            otel.kind = "internal",
            payment.outcome = tracing::field::Empty
        );
        let delay =
            self.latency + Duration::from_millis(rand::rng().random_range(0..=self.jitter_ms));
        async {
            tokio::time::sleep(delay).await;
            let outcome = decide(card, YearMonth::now());
            tracing::Span::current().record("payment.outcome", outcome.as_str());
            outcome
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: YearMonth = YearMonth {
        year: 2026,
        month: 11,
    };

    fn card(number: &str, exp_month: u32, exp_year: u32) -> Card {
        Card {
            number: number.to_owned(),
            exp_month,
            exp_year,
            cvc: "123".to_owned(),
        }
    }

    #[test]
    fn the_test_cards_pass_the_luhn_check() {
        for number in [
            CARD_SUCCEEDS,
            CARD_DECLINED,
            CARD_INSUFFICIENT_FUNDS,
            CARD_PROCESSING_ERROR,
            "5555555555554444",
            "378282246310005",
        ] {
            assert!(valid_number(number), "{number}");
        }
    }

    #[test]
    fn a_number_with_a_wrong_check_digit_is_invalid() {
        assert!(!valid_number("4242424242424241"));
        assert!(!valid_number("4000000000000003"));
    }

    #[test]
    fn a_number_must_be_12_to_19_digits() {
        // "0" * n passes Luhn, so only the length can reject these.
        assert!(!valid_number(&"0".repeat(11)));
        assert!(valid_number(&"0".repeat(12)));
        assert!(valid_number(&"0".repeat(19)));
        assert!(!valid_number(&"0".repeat(20)));
        assert!(!valid_number(""));
    }

    #[test]
    fn a_number_with_anything_but_digits_is_invalid() {
        assert!(!valid_number("4242 4242 4242 4242"));
        assert!(!valid_number("4242-4242-4242-4242"));
        assert!(!valid_number("42424242424242é"));
    }

    #[test]
    fn each_test_card_gets_its_outcome() {
        let cases = [
            (CARD_SUCCEEDS, Outcome::Approved),
            (
                CARD_DECLINED,
                Outcome::Declined(DeclineCode::GenericDecline),
            ),
            (
                CARD_INSUFFICIENT_FUNDS,
                Outcome::Declined(DeclineCode::InsufficientFunds),
            ),
            (CARD_PROCESSING_ERROR, Outcome::ProcessingError),
            ("5555555555554444", Outcome::Approved),
        ];
        for (number, expected) in cases {
            assert_eq!(decide(&card(number, 12, 2030), TODAY), expected, "{number}");
        }
    }

    #[test]
    fn a_card_is_good_through_its_expiry_month() {
        assert_eq!(
            decide(&card(CARD_SUCCEEDS, 11, 2026), TODAY),
            Outcome::Approved
        );
        assert_eq!(
            decide(&card(CARD_SUCCEEDS, 10, 2026), TODAY),
            Outcome::Expired
        );
        assert_eq!(
            decide(&card(CARD_SUCCEEDS, 12, 2025), TODAY),
            Outcome::Expired
        );
    }

    #[test]
    fn an_expired_card_is_declined_as_expired_before_anything_else() {
        assert_eq!(
            decide(&card(CARD_PROCESSING_ERROR, 1, 2020), TODAY),
            Outcome::Expired
        );
    }

    #[tokio::test]
    async fn authorize_decides_like_decide() {
        let provider = Provider::new(0, 0);
        assert_eq!(
            provider.authorize(&card(CARD_DECLINED, 12, 2099)).await,
            Outcome::Declined(DeclineCode::GenericDecline)
        );
    }
}
