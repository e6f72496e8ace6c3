//! The shop's vocabulary: SKUs, user ids, quantities, the size of an order,
//! each validated in one `parse`, and the one part of a card ever shown
//! ([`last4`]). It lives in the runtime because several services check the
//! same values (the gateway at the edge, inventory and user behind it):
//! defined once, they cannot disagree on what a SKU is. An [`Invalid`]
//! states the broken rule, never the value; each service puts it in its own
//! error, naming the field.

/// At most this many lines per order.
pub const MAX_ITEMS: usize = 20;

/// The most units of one SKU an order line (or a reservation line) may
/// take. A larger number is a client bug (or an attack on the stock), not a
/// shopping cart.
pub const MAX_QUANTITY: i64 = 1000;

/// A value that breaks its rule; the message is the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("must match ^[A-Z]{{3}}-[0-9]{{3}}$, e.g. KEY-001")]
    Sku,
    #[error("must be `u-` followed by 1 to 12 digits, e.g. u-1001")]
    UserId,
    #[error("must be between 1 and {MAX_QUANTITY}")]
    Quantity,
}

/// A stock-keeping unit: three capital letters, a dash, three digits
/// (`KEY-001`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Sku, Invalid> {
        let b = raw.as_bytes();
        let valid = b.len() == 7
            && b[..3].iter().all(u8::is_ascii_uppercase)
            && b[3] == b'-'
            && b[4..].iter().all(u8::is_ascii_digit);
        valid.then(|| Sku(raw.to_owned())).ok_or(Invalid::Sku)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user id: `u-` followed by 1 to 12 digits (`u-1001`); more is not an id
/// anyone was given. Whether the user exists is the user store's question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserId(String);

impl UserId {
    pub fn parse(raw: &str) -> Result<UserId, Invalid> {
        let valid = raw.strip_prefix("u-").is_some_and(|digits| {
            (1..=12).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
        });
        valid.then(|| UserId(raw.to_owned())).ok_or(Invalid::UserId)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How many units of one SKU: 1 to [`MAX_QUANTITY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(i64);

impl Quantity {
    /// Signed on purpose: `-1` is refused here with the rule, rather than
    /// by a deserializer with a type error.
    pub fn parse(raw: i64) -> Result<Quantity, Invalid> {
        (1..=MAX_QUANTITY)
            .contains(&raw)
            .then_some(Quantity(raw))
            .ok_or(Invalid::Quantity)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// The last four characters of a card number (fewer if it is shorter): the
/// only part of a card that may be shown, logged or stored.
pub fn last4(number: &str) -> &str {
    // Cut at a character boundary: the number is client input, and slicing
    // inside a multi-byte character would panic.
    number
        .char_indices()
        .rev()
        .nth(3)
        .map_or(number, |(i, _)| &number[i..])
}

/// Client input echoed in an error message, quoted and cut short: messages
/// travel in headers, and a megabyte of "SKU" must not become a megabyte
/// of header.
pub fn shown(raw: &str) -> String {
    const MAX: usize = 64;
    match raw.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}...", &raw[..cut]),
        None => format!("{raw:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sku_is_the_catalog_format() {
        assert_eq!(Sku::parse("LMP-006").unwrap().as_str(), "LMP-006");
        for raw in [
            "", "lmp-006", "LMP006", "LMP-06", "LMP-0066", "LM-0066", "LMP_006", "ÄBC-001",
            " LMP-006", "KE1-001",
        ] {
            assert_eq!(Sku::parse(raw), Err(Invalid::Sku), "{raw:?}");
        }
    }

    #[test]
    fn a_user_id_is_u_dash_digits() {
        assert_eq!(UserId::parse("u-1001").unwrap().as_str(), "u-1001");
        assert_eq!(UserId::parse("u-7").unwrap().as_str(), "u-7");
        assert!(UserId::parse("u-123456789012").is_ok());
        for raw in [
            "",
            "u-",
            "1001",
            "u1001",
            "U-1001",
            "x-1001",
            "u-10a1",
            " u-1001",
            "u-1001 ",
            "u--1",
            "u-1001; DROP TABLE users",
            "u-1234567890123",
        ] {
            assert_eq!(UserId::parse(raw), Err(Invalid::UserId), "{raw:?}");
        }
    }

    #[test]
    fn a_quantity_is_between_one_and_the_maximum() {
        for raw in [0, -1, MAX_QUANTITY + 1, i64::MAX, i64::MIN] {
            assert_eq!(Quantity::parse(raw), Err(Invalid::Quantity), "{raw}");
        }
        assert_eq!(Quantity::parse(MAX_QUANTITY).unwrap().get(), MAX_QUANTITY);
    }

    #[test]
    fn a_huge_echo_is_cut_short() {
        assert_eq!(shown("KEY"), "\"KEY\"");
        assert!(shown(&"9".repeat(100_000)).len() < 80);
    }
}
