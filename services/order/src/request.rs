//! [`PlaceOrder`]: a `PlaceOrderRequest` that passed validation, in one
//! [`PlaceOrder::parse`]. Every rejection is INVALID_ARGUMENT naming the
//! field, before anything is reserved or charged.
//!
//! The card becomes a `tracemesh_payment::api::Card`, whose `Debug` prints
//! only the last four digits. (The generated `PlaceOrderRequest` derives a
//! `Debug` that prints the whole card: never log a request.)

use std::collections::HashSet;

use tracemesh_payment::api::Card;
use tracemesh_proto::order::v1::PlaceOrderRequest;
use tracemesh_runtime::shop::{MAX_ITEMS, Quantity};

use crate::error::OrderError;

/// One line of an order as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub sku: String,
    pub quantity: i64,
}

/// A valid PlaceOrder request.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub user_id: String,
    pub items: Vec<Item>,
    pub card: Card,
    /// Also the inventory reservation id and the payment idempotency key.
    pub idempotency_key: String,
}

impl PlaceOrder {
    pub fn parse(request: PlaceOrderRequest) -> Result<PlaceOrder, OrderError> {
        let invalid = |message: String| Err(OrderError::InvalidArgument(message));
        if request.user_id.is_empty() {
            return invalid("user_id must not be empty".to_owned());
        }
        if !(1..=MAX_ITEMS).contains(&request.items.len()) {
            return invalid(format!("items: an order has 1 to {MAX_ITEMS} items"));
        }
        let mut seen = HashSet::new();
        for (i, item) in request.items.iter().enumerate() {
            if item.sku.is_empty() {
                return invalid(format!("items[{i}].sku must not be empty"));
            }
            if let Err(rule) = Quantity::parse(item.quantity) {
                return invalid(format!("items[{i}].quantity {rule}"));
            }
            // One line per SKU: a repeated SKU is almost surely a client bug,
            // and refusing it keeps "the line of SKU x" unambiguous.
            if !seen.insert(item.sku.as_str()) {
                return invalid(format!("items[{i}].sku repeats {}", item.sku));
            }
        }
        let Some(card) = request.card.filter(|card| !card.number.is_empty()) else {
            return invalid("card.number is required".to_owned());
        };
        // The key goes to payment in an HTTP header: it must be one.
        let key = &request.idempotency_key;
        if key.is_empty()
            || key.len() > tracemesh_payment::MAX_IDEMPOTENCY_KEY_LEN
            || !key.bytes().all(|b| b.is_ascii_graphic())
        {
            return invalid(format!(
                "idempotency_key must be 1 to {} visible ASCII characters",
                tracemesh_payment::MAX_IDEMPOTENCY_KEY_LEN
            ));
        }
        Ok(PlaceOrder {
            items: request
                .items
                .into_iter()
                .map(|item| Item {
                    sku: item.sku,
                    quantity: item.quantity,
                })
                .collect(),
            user_id: request.user_id,
            card: Card {
                number: card.number,
                exp_month: card.exp_month,
                exp_year: card.exp_year,
                cvc: card.cvc,
            },
            idempotency_key: request.idempotency_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemesh_proto::order::v1::{Card as ProtoCard, OrderItem};
    use tracemesh_runtime::shop::MAX_QUANTITY;

    fn valid_request() -> PlaceOrderRequest {
        PlaceOrderRequest {
            user_id: "u-1001".to_owned(),
            items: vec![
                OrderItem {
                    sku: "KEY-001".to_owned(),
                    quantity: 1,
                },
                OrderItem {
                    sku: "MOU-002".to_owned(),
                    quantity: 2,
                },
            ],
            card: Some(ProtoCard {
                number: "4242424242424242".to_owned(),
                exp_month: 12,
                exp_year: 2040,
                cvc: "123".to_owned(),
            }),
            idempotency_key: "order-key-1".to_owned(),
        }
    }

    /// The message of the INVALID_ARGUMENT that `request` must get.
    fn rejection(request: PlaceOrderRequest) -> String {
        match PlaceOrder::parse(request) {
            Err(OrderError::InvalidArgument(message)) => message,
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_request_parses_with_its_items_in_order() {
        let order = PlaceOrder::parse(valid_request()).unwrap();
        assert_eq!(order.user_id, "u-1001");
        assert_eq!(
            order.items,
            vec![
                Item {
                    sku: "KEY-001".to_owned(),
                    quantity: 1
                },
                Item {
                    sku: "MOU-002".to_owned(),
                    quantity: 2
                },
            ]
        );
        assert_eq!(order.card.last4(), "4242");
        assert_eq!(order.idempotency_key, "order-key-1");
    }

    fn item(sku: &str, quantity: i64) -> OrderItem {
        OrderItem {
            sku: sku.to_owned(),
            quantity,
        }
    }

    #[test]
    fn each_invalid_field_is_named() {
        // How to spoil a valid request, and the field the error must name.
        type Spoil = fn(&mut PlaceOrderRequest);
        let cases: [(Spoil, &str); 12] = [
            (|r| r.user_id.clear(), "user_id"),
            (|r| r.items.clear(), "items"),
            (
                |r| r.items = (0..21).map(|i| item(&format!("S-{i}"), 1)).collect(),
                "items",
            ),
            (|r| r.items[1] = item("", 1), "items[1].sku"),
            (|r| r.items[0] = item("KEY-001", 0), "items[0].quantity"),
            (|r| r.items[1] = item("MOU-002", 1001), "items[1].quantity"),
            (|r| r.items[1] = item("KEY-001", 1), "items[1].sku"),
            (|r| r.card = None, "card.number"),
            (
                |r| {
                    if let Some(card) = r.card.as_mut() {
                        card.number.clear();
                    }
                },
                "card.number",
            ),
            (|r| r.idempotency_key.clear(), "idempotency_key"),
            (|r| r.idempotency_key = "k".repeat(256), "idempotency_key"),
            (
                |r| r.idempotency_key = "has space".to_owned(),
                "idempotency_key",
            ),
        ];
        for (spoil, field) in cases {
            let mut request = valid_request();
            spoil(&mut request);
            let message = rejection(request);
            assert!(message.starts_with(field), "{message} should name {field}");
        }
    }

    #[test]
    fn the_limits_themselves_are_accepted() {
        let mut request = valid_request();
        request.items = (0..MAX_ITEMS)
            .map(|i| OrderItem {
                sku: format!("SKU-{i:03}"),
                quantity: MAX_QUANTITY,
            })
            .collect();
        request.idempotency_key = "k".repeat(255);
        PlaceOrder::parse(request).unwrap();
    }

    #[test]
    fn debug_of_a_parsed_order_does_not_show_the_card() {
        let order = PlaceOrder::parse(valid_request()).unwrap();
        let printed = format!("{order:?}");
        assert!(!printed.contains("4242424242424242"), "{printed}");
        assert!(!printed.contains("\"123\""), "{printed}");
    }
}
