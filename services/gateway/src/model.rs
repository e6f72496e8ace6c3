//! The JSON the gateway speaks, and the validation of what clients send.
//!
//! Requests arrive as loosely typed *bodies* (`CheckoutBody`: what serde can
//! read), and each has one `parse` that turns it into validated values
//! (`Checkout`) or a [`FieldError`] naming the first bad field. Handlers only
//! ever see validated values, so no downstream service is called with input
//! the gateway could have refused itself. The shop's own values (SKU, user
//! id, quantity) are parsed by `tracemesh_runtime::shop`, as in every
//! service; [`FieldError::named`] says which field broke which rule.
//!
//! Responses are plain views of the gRPC messages, built with `From`.

use std::fmt;

use axum::http::HeaderValue;
use serde::{Deserialize, Serialize};
use tracemesh_proto::inventory::v1 as inventory;
use tracemesh_proto::order::v1 as order;
use tracemesh_proto::user::v1 as user;
use tracemesh_runtime::shop::{Invalid, MAX_ITEMS, Quantity, Sku, UserId, last4};

/// The first invalid field of a request, e.g. `items[1].sku`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// `parsed`, or the rule it broke as the error of `field`.
    pub fn named<T>(field: impl Into<String>, parsed: Result<T, Invalid>) -> Result<T, FieldError> {
        parsed.map_err(|rule| FieldError::new(field, rule.to_string()))
    }
}

// ---------------------------------------------------------------- ids

/// An order id. The order service chooses the format, so the gateway only
/// refuses what no id can be: empty, over 64 characters, or characters that
/// are not letters, digits, `-` or `_`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderId(String);

impl OrderId {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let valid = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(OrderId(raw.to_owned()))
        } else {
            Err(FieldError::new(
                field,
                "must be 1 to 64 letters, digits, `-` or `_`",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The `Idempotency-Key` header: a retried checkout with the same key places
/// one order. Without the header every checkout gets a fresh key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const HEADER: &'static str = "idempotency-key";

    pub fn parse(header: Option<&HeaderValue>) -> Result<Self, FieldError> {
        let Some(value) = header else {
            return Ok(IdempotencyKey(uuid::Uuid::new_v4().to_string()));
        };
        // Visible ASCII only: the key travels on as gRPC metadata and as the
        // payment provider's idempotency key.
        let key = value
            .to_str()
            .ok()
            .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()));
        match key {
            Some(key) => Ok(IdempotencyKey(key.to_owned())),
            None => Err(FieldError::new(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn all_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

// ---------------------------------------------------------------- checkout

/// `POST /api/checkout`, as sent.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutBody {
    pub user_id: String,
    pub items: Vec<ItemBody>,
    pub card: CardBody,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ItemBody {
    pub sku: String,
    /// Signed: see [`Quantity::parse`].
    pub quantity: i64,
}

#[derive(Clone, Deserialize)]
pub struct CardBody {
    pub number: String,
    pub exp_month: u32,
    pub exp_year: u32,
    pub cvc: String,
}

/// Never prints the number or the CVC: a request logged with `{:?}` must not
/// leak a card (only the last four digits ever appear anywhere).
impl fmt::Debug for CardBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardBody")
            .field("last4", &last4(&self.number))
            .field("exp_month", &self.exp_month)
            .field("exp_year", &self.exp_year)
            .finish_non_exhaustive()
    }
}

/// A checkout that passed validation.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub user_id: UserId,
    pub items: Vec<Item>,
    pub card: CardBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub sku: Sku,
    pub quantity: Quantity,
}

impl Checkout {
    /// Validates every field, in body order, and names the first bad one.
    pub fn parse(body: CheckoutBody) -> Result<Self, FieldError> {
        let user_id = FieldError::named("user_id", UserId::parse(&body.user_id))?;
        if !(1..=MAX_ITEMS).contains(&body.items.len()) {
            return Err(FieldError::new(
                "items",
                format!("must hold 1 to {MAX_ITEMS} items"),
            ));
        }
        let items = body
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                Ok(Item {
                    sku: FieldError::named(format!("items[{i}].sku"), Sku::parse(&item.sku))?,
                    quantity: FieldError::named(
                        format!("items[{i}].quantity"),
                        Quantity::parse(item.quantity),
                    )?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let card = body.card;
        // Only the shape is checked here; the Luhn check and the decision
        // belong to the payment provider, as they would in a real shop.
        if !((12..=19).contains(&card.number.len()) && all_digits(&card.number)) {
            return Err(FieldError::new("card.number", "must be 12 to 19 digits"));
        }
        if !(1..=12).contains(&card.exp_month) {
            return Err(FieldError::new(
                "card.exp_month",
                "must be between 1 and 12",
            ));
        }
        if !(2000..=2099).contains(&card.exp_year) {
            return Err(FieldError::new(
                "card.exp_year",
                "must be a four-digit year, 2000 to 2099",
            ));
        }
        if !((3..=4).contains(&card.cvc.len()) && all_digits(&card.cvc)) {
            return Err(FieldError::new("card.cvc", "must be 3 or 4 digits"));
        }
        Ok(Checkout {
            user_id,
            items,
            card,
        })
    }

    /// The order service's request for this checkout.
    pub fn into_place_order(self, key: IdempotencyKey) -> order::PlaceOrderRequest {
        order::PlaceOrderRequest {
            user_id: self.user_id.as_str().to_owned(),
            items: self
                .items
                .into_iter()
                .map(|item| order::OrderItem {
                    sku: item.sku.as_str().to_owned(),
                    quantity: item.quantity.get(),
                })
                .collect(),
            card: Some(order::Card {
                number: self.card.number,
                exp_month: self.card.exp_month,
                exp_year: self.card.exp_year,
                cvc: self.card.cvc,
            }),
            idempotency_key: key.0,
        }
    }
}

// ---------------------------------------------------------------- W3C test

/// One instruction of the W3C trace-context test harness: POST `arguments`
/// (as JSON) to `url`. The body of `POST /test` is a list of these.
#[derive(Debug, Clone, Deserialize)]
pub struct ForwardBody {
    pub url: String,
    pub arguments: serde_json::Value,
}

/// A validated instruction.
#[derive(Debug, Clone)]
pub struct Forward {
    pub url: reqwest::Url,
    pub arguments: serde_json::Value,
}

impl Forward {
    pub fn parse_all(bodies: Vec<ForwardBody>) -> Result<Vec<Forward>, FieldError> {
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| {
                let field = || format!("[{i}].url");
                let url = reqwest::Url::parse(&body.url)
                    .map_err(|e| FieldError::new(field(), format!("not a URL: {e}")))?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(FieldError::new(field(), "must be an http or https URL"));
                }
                Ok(Forward {
                    url,
                    arguments: body.arguments,
                })
            })
            .collect()
    }
}

// ---------------------------------------------------------------- responses

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductList {
    pub products: Vec<ProductView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductView {
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
}

impl From<inventory::ListProductsResponse> for ProductList {
    fn from(response: inventory::ListProductsResponse) -> Self {
        ProductList {
            products: response
                .products
                .into_iter()
                .map(|p| ProductView {
                    sku: p.sku,
                    name: p.name,
                    price_cents: p.price_cents,
                    stock: p.stock,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: String,
    pub name: String,
    pub email: String,
    pub status: String,
}

impl From<user::User> for UserView {
    fn from(u: user::User) -> Self {
        UserView {
            id: u.id,
            name: u.name,
            email: u.email,
            status: u.status,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderView {
    pub id: String,
    pub user_id: String,
    pub lines: Vec<OrderLineView>,
    pub total_cents: i64,
    pub status: String,
    pub payment_id: String,
    pub card_last4: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLineView {
    pub sku: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

impl From<order::Order> for OrderView {
    fn from(o: order::Order) -> Self {
        OrderView {
            id: o.id,
            user_id: o.user_id,
            lines: o
                .lines
                .into_iter()
                .map(|l| OrderLineView {
                    sku: l.sku,
                    quantity: l.quantity,
                    unit_price_cents: l.unit_price_cents,
                })
                .collect(),
            total_cents: o.total_cents,
            status: o.status,
            payment_id: o.payment_id,
            card_last4: o.card_last4,
            created_at: o.created_at,
        }
    }
}

/// `GET /readyz`: `{"status":"ready"}` or
/// `{"status":"not_ready","unavailable":["order"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessView {
    pub status: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemesh_runtime::shop::MAX_QUANTITY;

    fn body() -> CheckoutBody {
        CheckoutBody {
            user_id: "u-1001".into(),
            items: vec![ItemBody {
                sku: "KEY-001".into(),
                quantity: 1,
            }],
            card: CardBody {
                number: "4242424242424242".into(),
                exp_month: 12,
                exp_year: 2030,
                cvc: "123".into(),
            },
        }
    }

    fn bad_field(body: CheckoutBody) -> String {
        Checkout::parse(body).unwrap_err().field
    }

    #[test]
    fn a_well_formed_checkout_parses() {
        let checkout = Checkout::parse(body()).unwrap();
        assert_eq!(checkout.user_id.as_str(), "u-1001");
        assert_eq!(checkout.items.len(), 1);
    }

    #[test]
    fn a_malformed_user_id_is_named() {
        for id in ["", "u-", "1001", "U-1001", "u-10a1", "u-1234567890123"] {
            let mut b = body();
            b.user_id = id.into();
            assert_eq!(bad_field(b), "user_id", "{id:?}");
        }
    }

    #[test]
    fn an_empty_or_oversized_cart_is_refused() {
        let mut empty = body();
        empty.items.clear();
        assert_eq!(bad_field(empty), "items");

        let mut full = body();
        full.items = vec![full.items[0].clone(); MAX_ITEMS + 1];
        assert_eq!(bad_field(full), "items");

        let mut twenty = body();
        twenty.items = vec![twenty.items[0].clone(); MAX_ITEMS];
        assert!(Checkout::parse(twenty).is_ok());
    }

    #[test]
    fn a_sku_must_match_the_catalog_format() {
        for sku in [
            "", "key-001", "KEY001", "KEY-01", "KEY-0001", "KE1-001", "ÄEY-001",
        ] {
            let mut b = body();
            b.items.push(ItemBody {
                sku: sku.into(),
                quantity: 1,
            });
            assert_eq!(bad_field(b), "items[1].sku", "{sku:?}");
        }
    }

    #[test]
    fn a_quantity_must_be_between_1_and_1000() {
        for quantity in [0, -1, MAX_QUANTITY + 1, i64::MAX] {
            let mut b = body();
            b.items[0].quantity = quantity;
            assert_eq!(bad_field(b), "items[0].quantity", "{quantity}");
        }
        let mut b = body();
        b.items[0].quantity = MAX_QUANTITY;
        assert!(Checkout::parse(b).is_ok());
    }

    #[test]
    fn a_card_number_must_be_12_to_19_digits() {
        for number in [
            "",
            "42424242424",
            "42424242424242424242",
            "4242 4242 4242 4242",
            "4242x42424242424",
        ] {
            let mut b = body();
            b.card.number = number.into();
            assert_eq!(bad_field(b), "card.number", "{number:?}");
        }
    }

    #[test]
    fn card_expiry_and_cvc_are_checked() {
        let mut b = body();
        b.card.exp_month = 13;
        assert_eq!(bad_field(b), "card.exp_month");
        let mut b = body();
        b.card.exp_month = 0;
        assert_eq!(bad_field(b), "card.exp_month");
        let mut b = body();
        b.card.exp_year = 30;
        assert_eq!(bad_field(b), "card.exp_year");
        let mut b = body();
        b.card.cvc = "12".into();
        assert_eq!(bad_field(b), "card.cvc");
        let mut b = body();
        b.card.cvc = "12a".into();
        assert_eq!(bad_field(b), "card.cvc");
    }

    #[test]
    fn a_card_never_prints_its_number_or_cvc() {
        let printed = format!("{:?}", body());
        assert!(!printed.contains("4242424242424242"), "{printed}");
        assert!(!printed.contains("123"), "{printed}");
        assert!(printed.contains("4242"), "{printed}");
    }

    #[test]
    fn the_order_request_carries_the_key_and_every_line() {
        let key = IdempotencyKey::parse(Some(&HeaderValue::from_static("retry-1"))).unwrap();
        let request = Checkout::parse(body()).unwrap().into_place_order(key);
        assert_eq!(request.idempotency_key, "retry-1");
        assert_eq!(request.user_id, "u-1001");
        assert_eq!(request.items.len(), 1);
        assert_eq!(request.items[0].sku, "KEY-001");
        assert_eq!(request.card.unwrap().exp_year, 2030);
    }

    #[test]
    fn a_missing_idempotency_key_is_generated_fresh_each_time() {
        let a = IdempotencyKey::parse(None).unwrap();
        let b = IdempotencyKey::parse(None).unwrap();
        assert_ne!(a, b);
        assert!(uuid::Uuid::parse_str(a.as_str()).is_ok());
    }

    #[test]
    fn a_malformed_idempotency_key_is_refused() {
        let spaced = HeaderValue::from_static("two words");
        assert!(IdempotencyKey::parse(Some(&spaced)).is_err());
        let empty = HeaderValue::from_static("");
        assert!(IdempotencyKey::parse(Some(&empty)).is_err());
        let long = HeaderValue::from_str(&"k".repeat(256)).unwrap();
        assert!(IdempotencyKey::parse(Some(&long)).is_err());
        let opaque = HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap();
        assert!(IdempotencyKey::parse(Some(&opaque)).is_err());
    }

    #[test]
    fn order_ids_refuse_only_what_no_id_can_be() {
        assert!(OrderId::parse("id", "o-3f2a_9").is_ok());
        assert!(OrderId::parse("id", "").is_err());
        assert!(OrderId::parse("id", "a/b").is_err());
        assert!(OrderId::parse("id", &"a".repeat(65)).is_err());
    }

    #[test]
    fn forward_urls_must_be_http() {
        let parse = |url: &str| {
            Forward::parse_all(vec![ForwardBody {
                url: url.into(),
                arguments: serde_json::json!([]),
            }])
        };
        assert!(parse("http://127.0.0.1:7777/1").is_ok());
        assert_eq!(parse("file:///etc/passwd").unwrap_err().field, "[0].url");
        assert_eq!(parse("not a url").unwrap_err().field, "[0].url");
    }
}
