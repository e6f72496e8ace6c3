//! The inventory's domain types. Everything a client sends is validated
//! here, in one `parse` per type, before it reaches the warehouse or the
//! database; the rest of the crate only sees values that passed.

use std::collections::BTreeMap;

use tracemesh_proto::inventory::v1 as pb;

use tracemesh_runtime::shop::{Quantity, shown};

use crate::error::InventoryError;

/// A stock-keeping unit, validated where every service validates it.
pub use tracemesh_runtime::shop::Sku;

/// The most lines (or SKUs) one request may name: the catalog is small, so
/// more than this is a client bug, and it bounds the work of one request.
pub const MAX_LINES: usize = 100;

/// The longest reservation id accepted (a UUID is 36).
pub const MAX_RESERVATION_ID_LEN: usize = 128;

/// The caller's name for a reservation, so that a retried Reserve is
/// recognised instead of reserving twice. Any printable ASCII without
/// spaces: callers use UUIDs or order ids, and we do not care which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationId(String);

impl ReservationId {
    pub fn parse(raw: &str) -> Result<ReservationId, InventoryError> {
        if raw.is_empty() {
            return Err(InventoryError::InvalidArgument(
                "reservation_id must not be empty".to_owned(),
            ));
        }
        if raw.len() > MAX_RESERVATION_ID_LEN || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InventoryError::InvalidArgument(format!(
                "reservation_id {} must be at most {MAX_RESERVATION_ID_LEN} printable ASCII characters without spaces",
                shown(raw)
            )));
        }
        Ok(ReservationId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ReservationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A list of SKUs to look up (GetStock), in the order asked.
pub fn parse_skus(raw: &[String]) -> Result<Vec<Sku>, InventoryError> {
    if raw.is_empty() {
        return Err(InventoryError::InvalidArgument(
            "skus must name at least one SKU (ListProducts lists them all)".to_owned(),
        ));
    }
    if raw.len() > MAX_LINES {
        return Err(InventoryError::InvalidArgument(format!(
            "skus names {} SKUs, more than the {MAX_LINES} allowed",
            raw.len()
        )));
    }
    raw.iter().map(|s| parse_sku(s)).collect()
}

fn parse_sku(raw: &str) -> Result<Sku, InventoryError> {
    Sku::parse(raw)
        .map_err(|rule| InventoryError::InvalidArgument(format!("sku {} {rule}", shown(raw))))
}

/// One line to reserve: `quantity` units of `sku`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedLine {
    pub sku: Sku,
    pub quantity: i64,
}

/// A validated Reserve request.
///
/// Duplicate SKUs are *merged*: `[KEY-001 x1, KEY-001 x2]` reserves three
/// keyboards on one line. A cart that lists an item twice means "both", and
/// merging keeps one line per SKU, which is also what the `reservations`
/// table's primary key `(id, sku)` holds. The merged quantity must still be
/// within `1..=MAX_QUANTITY`. Lines come out sorted by SKU, the same order
/// the store reads them back in, so a replayed Reserve compares and answers
/// line for line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationRequest {
    pub id: ReservationId,
    pub lines: Vec<WantedLine>,
}

impl ReservationRequest {
    pub fn parse(request: &pb::ReserveRequest) -> Result<ReservationRequest, InventoryError> {
        let id = ReservationId::parse(&request.reservation_id)?;
        if request.items.is_empty() {
            return Err(InventoryError::InvalidArgument(
                "items must hold at least one line".to_owned(),
            ));
        }
        if request.items.len() > MAX_LINES {
            return Err(InventoryError::InvalidArgument(format!(
                "items holds {} lines, more than the {MAX_LINES} allowed",
                request.items.len()
            )));
        }
        let mut merged: BTreeMap<Sku, i64> = BTreeMap::new();
        for item in &request.items {
            let sku = parse_sku(&item.sku)?;
            check_quantity(&sku, item.quantity)?;
            // Both terms are at most MAX_QUANTITY: no overflow.
            *merged.entry(sku).or_default() += item.quantity;
        }
        let lines = merged
            .into_iter()
            .map(|(sku, quantity)| {
                check_quantity(&sku, quantity)?;
                Ok(WantedLine { sku, quantity })
            })
            .collect::<Result<_, InventoryError>>()?;
        Ok(ReservationRequest { id, lines })
    }
}

fn check_quantity(sku: &Sku, quantity: i64) -> Result<Quantity, InventoryError> {
    Quantity::parse(quantity).map_err(|rule| {
        InventoryError::InvalidArgument(format!(
            "quantity of {} is {quantity}; it {rule}",
            sku.as_str()
        ))
    })
}

/// A catalog entry with its current stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub available: i64,
}

/// One reserved line, at the price it was reserved at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservedLine {
    pub sku: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

/// A reservation as taken (or as found, when a Reserve is replayed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub id: String,
    pub lines: Vec<ReservedLine>,
}

impl Reservation {
    /// The sum of quantity x unit price. At most 100 lines x 1000 units x a
    /// catalog price: far inside an i64.
    pub fn total_cents(&self) -> i64 {
        self.lines
            .iter()
            .map(|l| l.quantity * l.unit_price_cents)
            .sum()
    }
}

impl From<Product> for pb::Product {
    fn from(p: Product) -> Self {
        pb::Product {
            sku: p.sku,
            name: p.name,
            price_cents: p.price_cents,
            stock: p.available,
        }
    }
}

impl From<Reservation> for pb::ReserveResponse {
    fn from(r: Reservation) -> Self {
        let total_cents = r.total_cents();
        pb::ReserveResponse {
            reservation_id: r.id,
            lines: r
                .lines
                .into_iter()
                .map(|l| pb::ReservedLine {
                    sku: l.sku,
                    quantity: l.quantity,
                    unit_price_cents: l.unit_price_cents,
                })
                .collect(),
            total_cents,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemesh_runtime::shop::MAX_QUANTITY;

    fn item(sku: &str, quantity: i64) -> pb::LineItem {
        pb::LineItem {
            sku: sku.to_owned(),
            quantity,
        }
    }

    fn reserve(id: &str, items: Vec<pb::LineItem>) -> pb::ReserveRequest {
        pb::ReserveRequest {
            reservation_id: id.to_owned(),
            items,
        }
    }

    fn is_invalid<T: std::fmt::Debug>(result: Result<T, InventoryError>) -> bool {
        matches!(result, Err(InventoryError::InvalidArgument(_)))
    }

    #[test]
    fn a_malformed_sku_is_an_invalid_argument() {
        assert!(is_invalid(parse_skus(&["lmp-006".to_owned()])));
    }

    #[test]
    fn reservation_id_must_be_non_empty_printable_and_short() {
        assert!(ReservationId::parse("ord-42:res").is_ok());
        assert!(is_invalid(ReservationId::parse("")));
        assert!(is_invalid(ReservationId::parse("has space")));
        assert!(is_invalid(ReservationId::parse("tab\t")));
        assert!(is_invalid(ReservationId::parse(&"r".repeat(129))));
    }

    #[test]
    fn a_reserve_request_needs_an_id_and_at_least_one_line() {
        assert!(is_invalid(ReservationRequest::parse(&reserve(
            "",
            vec![item("KEY-001", 1)]
        ))));
        assert!(is_invalid(ReservationRequest::parse(&reserve(
            "r-1",
            vec![]
        ))));
    }

    #[test]
    fn quantities_must_be_between_one_and_the_maximum() {
        for quantity in [0, -1, MAX_QUANTITY + 1, i64::MAX, i64::MIN] {
            let request = reserve("r-1", vec![item("KEY-001", quantity)]);
            assert!(
                is_invalid(ReservationRequest::parse(&request)),
                "{quantity} should be rejected"
            );
        }
        let request = reserve("r-1", vec![item("KEY-001", MAX_QUANTITY)]);
        assert!(ReservationRequest::parse(&request).is_ok());
    }

    #[test]
    fn a_bad_sku_in_any_line_rejects_the_request() {
        let request = reserve("r-1", vec![item("KEY-001", 1), item("nope", 1)]);
        assert!(is_invalid(ReservationRequest::parse(&request)));
    }

    #[test]
    fn too_many_lines_are_rejected() {
        let items = (0..=MAX_LINES).map(|_| item("KEY-001", 1)).collect();
        assert!(is_invalid(ReservationRequest::parse(&reserve(
            "r-1", items
        ))));
    }

    #[test]
    fn duplicate_skus_are_merged_and_lines_sorted_by_sku() {
        let request = reserve(
            "r-1",
            vec![item("MOU-002", 1), item("KEY-001", 2), item("MOU-002", 3)],
        );
        let parsed = ReservationRequest::parse(&request).unwrap();
        let lines: Vec<(&str, i64)> = parsed
            .lines
            .iter()
            .map(|l| (l.sku.as_str(), l.quantity))
            .collect();
        assert_eq!(lines, [("KEY-001", 2), ("MOU-002", 4)]);
    }

    #[test]
    fn merged_duplicates_must_stay_within_the_maximum() {
        let request = reserve(
            "r-1",
            vec![item("KEY-001", MAX_QUANTITY), item("KEY-001", 1)],
        );
        assert!(is_invalid(ReservationRequest::parse(&request)));
    }

    #[test]
    fn get_stock_needs_between_one_and_the_maximum_skus() {
        assert!(is_invalid(parse_skus(&[])));
        assert!(is_invalid(parse_skus(&vec![
            "KEY-001".to_owned();
            MAX_LINES + 1
        ])));
        assert!(is_invalid(parse_skus(&[
            "KEY-001".to_owned(),
            "bad".to_owned()
        ])));
        assert_eq!(parse_skus(&["KEY-001".to_owned()]).unwrap().len(), 1);
    }

    #[test]
    fn total_is_the_sum_of_quantity_times_unit_price() {
        let reservation = Reservation {
            id: "r-1".to_owned(),
            lines: vec![
                ReservedLine {
                    sku: "KEY-001".to_owned(),
                    quantity: 2,
                    unit_price_cents: 8900,
                },
                ReservedLine {
                    sku: "CAB-004".to_owned(),
                    quantity: 3,
                    unit_price_cents: 900,
                },
            ],
        };
        assert_eq!(reservation.total_cents(), 2 * 8900 + 3 * 900);
        assert_eq!(pb::ReserveResponse::from(reservation).total_cents, 20500);
    }
}
