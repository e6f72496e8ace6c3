//! The orders database (`order.db`): orders and their lines, written in one
//! transaction, read back with one join.
//!
//! Only what an order needs is stored: of the card, its last four digits.
//! `idempotency_key` is UNIQUE, so two concurrent PlaceOrder calls with the
//! same key cannot both store an order: the second insert reports the key
//! as taken and the saga returns the first order.

use std::path::Path;
use std::sync::LazyLock;

use rusqlite::{Connection, ErrorCode};
use tracemesh_proto::order::v1::{Order, OrderLine};
use tracemesh_runtime::db::{Db, DbError, Statement};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS orders (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    total_cents     INTEGER NOT NULL,
    status          TEXT NOT NULL,
    payment_id      TEXT NOT NULL,
    card_last4      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS order_lines (
    order_id         TEXT NOT NULL REFERENCES orders (id),
    sku              TEXT NOT NULL,
    quantity         INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL,
    PRIMARY KEY (order_id, sku)
);
";

const INSERT_ORDER: &str = "INSERT INTO orders \
    (id, user_id, total_cents, status, payment_id, card_last4, created_at, idempotency_key) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
const INSERT_LINE: &str =
    "INSERT INTO order_lines (order_id, sku, quantity, unit_price_cents) VALUES (?1, ?2, ?3, ?4)";
/// The span of the insert transaction shows both statements it runs.
static INSERT_ORDER_AND_LINES: LazyLock<String> =
    LazyLock::new(|| format!("{INSERT_ORDER}; {INSERT_LINE}"));

/// An order and its lines, one row per line, in the order they were written.
const SELECT_BY_ID: &str = "SELECT o.id, o.user_id, o.total_cents, o.status, o.payment_id, \
    o.card_last4, o.created_at, l.sku, l.quantity, l.unit_price_cents \
    FROM orders o JOIN order_lines l ON l.order_id = o.id \
    WHERE o.id = ?1 ORDER BY l.rowid";
const SELECT_BY_IDEMPOTENCY_KEY: &str = "SELECT o.id, o.user_id, o.total_cents, o.status, \
    o.payment_id, o.card_last4, o.created_at, l.sku, l.quantity, l.unit_price_cents \
    FROM orders o JOIN order_lines l ON l.order_id = o.id \
    WHERE o.idempotency_key = ?1 ORDER BY l.rowid";

/// The orders database.
#[derive(Debug, Clone)]
pub struct OrderStore {
    db: Db,
}

/// What [`OrderStore::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    Stored,
    /// Another order already has this idempotency key; nothing was written.
    KeyTaken,
}

impl OrderStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<OrderStore, DbError> {
        let db = Db::open(path)?;
        db.setup(|conn| conn.execute_batch(SCHEMA))?;
        Ok(OrderStore { db })
    }

    /// Stores `order` and its lines in one transaction.
    pub async fn insert(&self, order: Order, idempotency_key: String) -> Result<Inserted, DbError> {
        let stmt = Statement {
            operation: "INSERT",
            collection: "orders",
            query: INSERT_ORDER_AND_LINES.as_str(),
        };
        self.db
            .call(stmt, move |conn| {
                let tx = conn.transaction()?;
                let inserted = tx.execute(
                    INSERT_ORDER,
                    rusqlite::params![
                        order.id,
                        order.user_id,
                        order.total_cents,
                        order.status,
                        order.payment_id,
                        order.card_last4,
                        order.created_at,
                        idempotency_key,
                    ],
                );
                match inserted {
                    Err(e) if is_unique_violation(&e) => return Ok(Inserted::KeyTaken),
                    other => other?,
                };
                {
                    let mut insert_line = tx.prepare(INSERT_LINE)?;
                    for line in &order.lines {
                        insert_line.execute(rusqlite::params![
                            order.id,
                            line.sku,
                            line.quantity,
                            line.unit_price_cents
                        ])?;
                    }
                }
                tx.commit()?;
                Ok(Inserted::Stored)
            })
            .await
    }

    /// The order with this id.
    pub async fn get(&self, id: String) -> Result<Option<Order>, DbError> {
        let stmt = Statement {
            operation: "SELECT",
            collection: "orders",
            query: SELECT_BY_ID,
        };
        self.db
            .call(stmt, move |conn| select_order(conn, stmt.query, &id))
            .await
    }

    /// The order placed with this idempotency key.
    pub async fn find_by_idempotency_key(&self, key: String) -> Result<Option<Order>, DbError> {
        let stmt = Statement {
            operation: "SELECT",
            collection: "orders",
            query: SELECT_BY_IDEMPOTENCY_KEY,
        };
        self.db
            .call(stmt, move |conn| select_order(conn, stmt.query, &key))
            .await
    }
}

/// Runs one of the `SELECT_BY_*` joins and folds its rows into an order.
fn select_order(conn: &Connection, query: &str, param: &str) -> rusqlite::Result<Option<Order>> {
    let mut statement = conn.prepare(query)?;
    let mut rows = statement.query([param])?;
    let Some(first) = rows.next()? else {
        return Ok(None);
    };
    let mut order = Order {
        id: first.get(0)?,
        user_id: first.get(1)?,
        total_cents: first.get(2)?,
        status: first.get(3)?,
        payment_id: first.get(4)?,
        card_last4: first.get(5)?,
        created_at: first.get(6)?,
        lines: vec![line(first)?],
    };
    while let Some(row) = rows.next()? {
        order.lines.push(line(row)?);
    }
    Ok(Some(order))
}

fn line(row: &rusqlite::Row<'_>) -> rusqlite::Result<OrderLine> {
    Ok(OrderLine {
        sku: row.get(7)?,
        quantity: row.get(8)?,
        unit_price_cents: row.get(9)?,
    })
}

/// A UNIQUE constraint failed: here, only `orders.idempotency_key` is one.
fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(err, _)
            if err.code == ErrorCode::ConstraintViolation
                && err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str) -> Order {
        Order {
            id: id.to_owned(),
            user_id: "u-1001".to_owned(),
            lines: vec![
                OrderLine {
                    sku: "MOU-002".to_owned(),
                    quantity: 2,
                    unit_price_cents: 2900,
                },
                OrderLine {
                    sku: "KEY-001".to_owned(),
                    quantity: 1,
                    unit_price_cents: 8900,
                },
            ],
            total_cents: 14700,
            status: "paid".to_owned(),
            payment_id: "ch_1".to_owned(),
            card_last4: "4242".to_owned(),
            created_at: "2026-11-03T10:00:00Z".to_owned(),
        }
    }

    fn store() -> (tempfile::TempDir, OrderStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = OrderStore::open(&dir.path().join("order.db")).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn a_stored_order_reads_back_whole_by_id_and_by_key() {
        let (_dir, store) = store();
        let inserted = store
            .insert(order("ord_1"), "key-1".to_owned())
            .await
            .unwrap();
        assert_eq!(inserted, Inserted::Stored);
        assert_eq!(
            store.get("ord_1".to_owned()).await.unwrap(),
            Some(order("ord_1"))
        );
        assert_eq!(
            store
                .find_by_idempotency_key("key-1".to_owned())
                .await
                .unwrap(),
            Some(order("ord_1"))
        );
    }

    #[tokio::test]
    async fn an_unknown_order_is_none() {
        let (_dir, store) = store();
        assert_eq!(store.get("ord_missing".to_owned()).await.unwrap(), None);
        assert_eq!(
            store
                .find_by_idempotency_key("nope".to_owned())
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn a_second_order_with_the_same_key_is_not_stored() {
        let (_dir, store) = store();
        store
            .insert(order("ord_1"), "key-1".to_owned())
            .await
            .unwrap();
        let second = store
            .insert(order("ord_2"), "key-1".to_owned())
            .await
            .unwrap();
        assert_eq!(second, Inserted::KeyTaken);
        assert_eq!(store.get("ord_2".to_owned()).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_failing_line_rolls_the_whole_order_back() {
        let (_dir, store) = store();
        let mut bad = order("ord_1");
        // The same SKU twice breaks the lines' primary key.
        bad.lines.push(bad.lines[0].clone());
        assert!(store.insert(bad, "key-1".to_owned()).await.is_err());
        assert_eq!(store.get("ord_1".to_owned()).await.unwrap(), None);
    }
}
