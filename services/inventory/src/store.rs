//! The inventory tables: schema, the seed written on first start, and the
//! queries (ListProducts' are in [`crate::catalog`]). Every runtime access goes through [`Db::call`], so each query or
//! transaction is one CLIENT span carrying its parameterised SQL.
//!
//! Why stock is never oversold: a Reserve takes stock with
//! `UPDATE stock SET available = available - ?1 WHERE sku = ?2 AND available >= ?1`.
//! The check and the decrement are one statement, inside one transaction
//! with every other line of the reservation, so two Reserves can never both
//! see "3 left" and both take it; and `CHECK (available >= 0)` would refuse
//! the write even if a future query forgot the guard.

use std::path::Path;
use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use tracemesh_runtime::db::{Db, DbError, Statement};

use crate::domain::{Reservation, ReservationId, ReservationRequest, ReservedLine, Sku};
use crate::error::InventoryError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS products (
    sku         TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0)
);
CREATE TABLE IF NOT EXISTS stock (
    sku       TEXT PRIMARY KEY REFERENCES products (sku),
    available INTEGER NOT NULL CHECK (available >= 0)
);
CREATE TABLE IF NOT EXISTS reservations (
    id               TEXT NOT NULL,
    sku              TEXT NOT NULL REFERENCES products (sku),
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents INTEGER NOT NULL,
    released         INTEGER NOT NULL DEFAULT 0 CHECK (released IN (0, 1)),
    PRIMARY KEY (id, sku)
);";

/// A catalog entry of the seed: SKU, name, price in cents, initial stock.
pub type SeedProduct = (&'static str, &'static str, i64, i64);

/// The catalog every service and test agrees on. LMP-006 is scarce (out of
/// stock is reachable), CHR-007 is always out of stock.
pub const CATALOG: &[SeedProduct] = &[
    ("KEY-001", "Mechanical keyboard", 8900, 1000),
    ("MOU-002", "Wireless mouse", 2900, 1000),
    ("MON-003", "27-inch monitor", 24900, 500),
    ("CAB-004", "USB-C cable", 900, 5000),
    ("HDP-005", "Headphones", 7900, 1000),
    ("LMP-006", "Desk lamp", 3400, 3),
    ("CHR-007", "Office chair", 19900, 0),
    ("DSK-008", "Standing desk", 45900, 20),
];

/// One SKU's stock: run once per requested SKU inside one read transaction
/// by GetStock, and once per product by the planted N+1 of
/// [`crate::catalog`].
pub(crate) const STOCK_OF: Statement = Statement {
    operation: "SELECT",
    collection: "stock",
    query: "SELECT available FROM stock WHERE sku = ?1",
};

// The statements of a Reserve, in the order they run.
const FIND_RESERVATION: &str = "SELECT sku, quantity, unit_price_cents, released \
     FROM reservations WHERE id = ?1 ORDER BY sku";
const PRICE_OF: &str = "SELECT price_cents FROM products WHERE sku = ?1";
const TAKE_STOCK: &str =
    "UPDATE stock SET available = available - ?1 WHERE sku = ?2 AND available >= ?1";
const RECORD_LINE: &str = "INSERT INTO reservations (id, sku, quantity, unit_price_cents, released) \
     VALUES (?1, ?2, ?3, ?4, 0)";

// The statements of a Release. `released = 0` in the WHERE clause is what
// makes a second Release find nothing and give nothing back.
const MARK_RELEASED: &str =
    "UPDATE reservations SET released = 1 WHERE id = ?1 AND released = 0 RETURNING sku, quantity";
const RETURN_STOCK: &str = "UPDATE stock SET available = available + ?1 WHERE sku = ?2";

/// A transaction is one span (one `Db::call`), so its `db.query.text` is
/// every statement it may run, in order; built from the constants above so
/// the span can never disagree with the SQL that runs.
static RESERVE_SQL: LazyLock<String> =
    LazyLock::new(|| [FIND_RESERVATION, PRICE_OF, TAKE_STOCK, RECORD_LINE].join(";\n"));
static RELEASE_SQL: LazyLock<String> = LazyLock::new(|| [MARK_RELEASED, RETURN_STOCK].join(";\n"));

/// Semantic conventions name a multi-statement operation `BATCH`.
fn reserve_statement() -> Statement {
    Statement {
        operation: "BATCH",
        collection: "stock",
        query: RESERVE_SQL.as_str(),
    }
}

fn release_statement() -> Statement {
    Statement {
        operation: "BATCH",
        collection: "reservations",
        query: RELEASE_SQL.as_str(),
    }
}

/// The inventory store, cheap to clone (one shared connection).
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    /// Opens the database at `path`, creating the schema and, on first
    /// start, the seeded catalog and stock.
    pub fn open(path: &Path) -> Result<Store, DbError> {
        let db = Db::open(path)?;
        db.setup(|conn| {
            conn.execute_batch(SCHEMA)?;
            seed_if_empty(conn)
        })?;
        Ok(Store { db })
    }

    /// The connection, for [`crate::catalog`], which reads the catalog.
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// The stock of each SKU, in the order asked; the first unknown SKU
    /// fails the whole request with [`InventoryError::UnknownSku`].
    pub async fn stock_levels(&self, skus: Vec<Sku>) -> Result<Vec<(Sku, i64)>, InventoryError> {
        // `?` takes off the database's failure; what is left is the answer.
        self.db
            .call(STOCK_OF, move |conn| {
                // One read transaction: every level is from the same moment.
                let tx = conn.transaction()?;
                let mut levels = Vec::with_capacity(skus.len());
                {
                    let mut statement = tx.prepare_cached(STOCK_OF.query)?;
                    for sku in skus {
                        let available = statement
                            .query_row([sku.as_str()], |row| row.get::<_, i64>(0))
                            .optional()?;
                        match available {
                            Some(available) => levels.push((sku, available)),
                            None => return Ok(Err(InventoryError::UnknownSku(sku))),
                        }
                    }
                }
                tx.commit()?;
                Ok(Ok(levels))
            })
            .await?
    }

    /// Reserves every line of `request` or none, in one transaction.
    ///
    /// Idempotent by reservation id: if an unreleased reservation with this
    /// id holds the same lines, it is returned as it was taken (same unit
    /// prices), and no stock moves. An unknown SKU is reported before any
    /// shortage, whatever the order of the lines.
    pub async fn reserve(
        &self,
        request: ReservationRequest,
    ) -> Result<Reservation, InventoryError> {
        // `?` takes off the database's failure; what is left is the answer.
        self.db
            .call(reserve_statement(), move |conn| {
                // IMMEDIATE takes the write lock at BEGIN rather than at the
                // first write, so this transaction cannot deadlock upgrading
                // a read lock against another writer.
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let outcome = reserve_in(&tx, &request)?;
                // A refused request returns without committing: dropping
                // the transaction rolls back any line already taken.
                if outcome.is_ok() {
                    tx.commit()?;
                }
                Ok(outcome)
            })
            .await?
    }

    /// Gives a reservation's stock back. `false` when there was nothing to
    /// release: never reserved, or released already.
    pub async fn release(&self, id: ReservationId) -> Result<bool, DbError> {
        self.db
            .call(release_statement(), move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let lines = {
                    let mut mark = tx.prepare_cached(MARK_RELEASED)?;
                    let rows = mark.query_map([id.as_str()], |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                    })?;
                    rows.collect::<rusqlite::Result<Vec<_>>>()?
                };
                {
                    let mut give_back = tx.prepare_cached(RETURN_STOCK)?;
                    for (sku, quantity) in &lines {
                        give_back.execute((quantity, sku))?;
                    }
                }
                tx.commit()?;
                Ok(!lines.is_empty())
            })
            .await
    }
}

/// The body of the Reserve transaction. The outer `Result` is the database
/// failing; the inner one is the request being refused.
fn reserve_in(
    tx: &Transaction<'_>,
    request: &ReservationRequest,
) -> rusqlite::Result<Result<Reservation, InventoryError>> {
    let id = request.id.as_str();

    // 1. A retry of a reservation we already hold?
    let existing = {
        let mut find = tx.prepare_cached(FIND_RESERVATION)?;
        let rows = find.query_map([id], |row| {
            let line = ReservedLine {
                sku: row.get(0)?,
                quantity: row.get(1)?,
                unit_price_cents: row.get(2)?,
            };
            Ok((line, row.get::<_, bool>(3)?))
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    if !existing.is_empty() {
        if existing.iter().any(|(_, released)| *released) {
            return Ok(Err(InventoryError::ReservationReleased(request.id.clone())));
        }
        let lines: Vec<ReservedLine> = existing.into_iter().map(|(line, _)| line).collect();
        // Both sides are sorted by SKU (the query's ORDER BY, the request's
        // parse), so equal requests compare line for line.
        let same_lines = lines.len() == request.lines.len()
            && lines.iter().zip(&request.lines).all(|(held, wanted)| {
                held.sku == wanted.sku.as_str() && held.quantity == wanted.quantity
            });
        return Ok(if same_lines {
            Ok(Reservation {
                id: id.to_owned(),
                lines,
            })
        } else {
            Err(InventoryError::ReservationMismatch(request.id.clone()))
        });
    }

    // 2. Price every line first, so an unknown SKU is NOT_FOUND even when
    //    another line is short.
    let mut lines = Vec::with_capacity(request.lines.len());
    {
        let mut price_of = tx.prepare_cached(PRICE_OF)?;
        for wanted in &request.lines {
            let price = price_of
                .query_row([wanted.sku.as_str()], |row| row.get::<_, i64>(0))
                .optional()?;
            let Some(unit_price_cents) = price else {
                return Ok(Err(InventoryError::UnknownSku(wanted.sku.clone())));
            };
            lines.push(ReservedLine {
                sku: wanted.sku.as_str().to_owned(),
                quantity: wanted.quantity,
                unit_price_cents,
            });
        }
    }

    // 3. Take the stock and record each line; the first short line refuses
    //    the whole reservation (the caller drops the transaction).
    {
        let mut take = tx.prepare_cached(TAKE_STOCK)?;
        let mut record = tx.prepare_cached(RECORD_LINE)?;
        for (line, wanted) in lines.iter().zip(&request.lines) {
            if take.execute((line.quantity, &line.sku))? == 0 {
                return Ok(Err(InventoryError::OutOfStock {
                    sku: wanted.sku.clone(),
                    requested: line.quantity,
                }));
            }
            record.execute((id, &line.sku, line.quantity, line.unit_price_cents))?;
        }
    }
    Ok(Ok(Reservation {
        id: id.to_owned(),
        lines,
    }))
}

/// Seeds only an empty catalog, so a restart keeps the stock as it was left,
/// and in one transaction, so a crash mid-seed leaves nothing half-written.
fn seed_if_empty(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let count: i64 = tx.query_row("SELECT COUNT(*) FROM products", [], |row| row.get(0))?;
    if count == 0 {
        let mut product =
            tx.prepare("INSERT INTO products (sku, name, price_cents) VALUES (?1, ?2, ?3)")?;
        let mut stock = tx.prepare("INSERT INTO stock (sku, available) VALUES (?1, ?2)")?;
        for (sku, name, price_cents, available) in CATALOG {
            product.execute((sku, name, price_cents))?;
            stock.execute((sku, available))?;
        }
    }
    tx.commit()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::WantedLine;

    /// A store in a fresh temporary directory (kept alive by the first
    /// value); the catalog's tests open theirs here too.
    pub(crate) fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("inventory.db")).unwrap();
        (dir, store)
    }

    fn sku(raw: &str) -> Sku {
        Sku::parse(raw).unwrap()
    }

    fn request(id: &str, lines: &[(&str, i64)]) -> ReservationRequest {
        ReservationRequest {
            id: ReservationId::parse(id).unwrap(),
            lines: lines
                .iter()
                .map(|(s, quantity)| WantedLine {
                    sku: sku(s),
                    quantity: *quantity,
                })
                .collect(),
        }
    }

    async fn available(store: &Store, raw: &str) -> i64 {
        store.stock_levels(vec![sku(raw)]).await.unwrap()[0].1
    }

    #[test]
    fn the_transaction_span_text_is_the_sql_that_runs() {
        for statement in [FIND_RESERVATION, PRICE_OF, TAKE_STOCK, RECORD_LINE] {
            assert!(reserve_statement().query.contains(statement));
        }
        for statement in [MARK_RELEASED, RETURN_STOCK] {
            assert!(release_statement().query.contains(statement));
        }
    }

    #[tokio::test]
    async fn stock_levels_fail_with_the_first_unknown_sku() {
        let (_dir, store) = open();
        let err = store
            .stock_levels(vec![sku("KEY-001"), sku("ZZZ-998"), sku("ZZZ-999")])
            .await
            .unwrap_err();
        assert!(
            matches!(&err, InventoryError::UnknownSku(s) if s.as_str() == "ZZZ-998"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn reserve_takes_stock_and_prices_the_lines() {
        let (_dir, store) = open();
        let reservation = store
            .reserve(request("r-1", &[("KEY-001", 2), ("CAB-004", 3)]))
            .await
            .unwrap();
        assert_eq!(reservation.total_cents(), 2 * 8900 + 3 * 900);
        assert_eq!(available(&store, "KEY-001").await, 998);
        assert_eq!(available(&store, "CAB-004").await, 4997);
    }

    #[tokio::test]
    async fn a_replayed_reserve_returns_the_same_lines_without_reserving_again() {
        let (_dir, store) = open();
        let first = store
            .reserve(request("r-1", &[("LMP-006", 2)]))
            .await
            .unwrap();
        let again = store
            .reserve(request("r-1", &[("LMP-006", 2)]))
            .await
            .unwrap();
        assert_eq!(first, again);
        assert_eq!(available(&store, "LMP-006").await, 1);
    }

    #[tokio::test]
    async fn reusing_a_reservation_id_for_other_lines_is_refused() {
        let (_dir, store) = open();
        store
            .reserve(request("r-1", &[("KEY-001", 1)]))
            .await
            .unwrap();
        let err = store
            .reserve(request("r-1", &[("KEY-001", 2)]))
            .await
            .unwrap_err();
        assert!(
            matches!(err, InventoryError::ReservationMismatch(_)),
            "{err:?}"
        );
        assert_eq!(available(&store, "KEY-001").await, 999);
    }

    #[tokio::test]
    async fn reserve_takes_every_line_or_none() {
        let (_dir, store) = open();
        // KEY-001 is fine, CHR-007 has no stock: the keyboard must not go.
        let err = store
            .reserve(request("r-1", &[("CHR-007", 1), ("KEY-001", 5)]))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, InventoryError::OutOfStock { sku, requested: 1 } if sku.as_str() == "CHR-007"),
            "{err:?}"
        );
        assert_eq!(available(&store, "KEY-001").await, 1000);
        // And nothing was recorded: the id is still free.
        store
            .reserve(request("r-1", &[("KEY-001", 5)]))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn an_unknown_sku_is_not_found_even_when_another_line_is_short() {
        let (_dir, store) = open();
        let err = store
            .reserve(request("r-1", &[("CHR-007", 1), ("ZZZ-999", 1)]))
            .await
            .unwrap_err();
        assert!(matches!(err, InventoryError::UnknownSku(_)), "{err:?}");
    }

    #[tokio::test]
    async fn release_gives_the_stock_back_once() {
        let (_dir, store) = open();
        store
            .reserve(request("r-1", &[("LMP-006", 3)]))
            .await
            .unwrap();
        assert_eq!(available(&store, "LMP-006").await, 0);
        let id = ReservationId::parse("r-1").unwrap();
        assert!(store.release(id.clone()).await.unwrap());
        assert_eq!(available(&store, "LMP-006").await, 3);
        assert!(!store.release(id).await.unwrap());
        assert_eq!(available(&store, "LMP-006").await, 3);
    }

    #[tokio::test]
    async fn releasing_an_unknown_reservation_releases_nothing() {
        let (_dir, store) = open();
        let id = ReservationId::parse("never-reserved").unwrap();
        assert!(!store.release(id).await.unwrap());
    }

    #[tokio::test]
    async fn a_released_reservation_id_cannot_reserve_again() {
        let (_dir, store) = open();
        store
            .reserve(request("r-1", &[("LMP-006", 1)]))
            .await
            .unwrap();
        store
            .release(ReservationId::parse("r-1").unwrap())
            .await
            .unwrap();
        let err = store
            .reserve(request("r-1", &[("LMP-006", 1)]))
            .await
            .unwrap_err();
        assert!(
            matches!(err, InventoryError::ReservationReleased(_)),
            "{err:?}"
        );
        assert_eq!(available(&store, "LMP-006").await, 3);
    }

    #[tokio::test]
    async fn the_seed_is_written_only_on_first_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory.db");
        let store = Store::open(&path).unwrap();
        store
            .reserve(request("r-1", &[("DSK-008", 5)]))
            .await
            .unwrap();
        drop(store);
        let reopened = Store::open(&path).unwrap();
        assert_eq!(available(&reopened, "DSK-008").await, 15);
    }
}
