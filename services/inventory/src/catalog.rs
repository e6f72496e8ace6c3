//! The catalog that ListProducts answers (`GET /api/products` at the gateway).
//!
//! ===========================================================================
//! PLANTED BOTTLENECK (on purpose, for teaching): an N+1 query.
//!
//! By default the catalog is read the way an ORM's lazy loading reads it:
//! one `SELECT products` for the names and prices, then one `SELECT stock`
//! per product for its stock, each a round trip of its own. The eight
//! products of the seed make nine CLIENT spans under inventory's
//! ListProducts SERVER span, one after another, where one would do: the
//! trace shows a staircase of short, identical `SELECT stock` spans, and
//! their count grows with the catalog.
//!
//! `--fix-catalog-queries` (TRACEMESH_FIX_CATALOG_QUERIES) reads the
//! catalog with the one join instead: one `SELECT products` span. The
//! answer is the same in both modes (the tests compare them).
//! ===========================================================================

use rusqlite::OptionalExtension;
use tracemesh_runtime::db::{Db, DbError, Statement};

use crate::Config;
use crate::domain::Product;
use crate::store::{STOCK_OF, Store};

/// The fix: the whole catalog with its stock in one statement.
const LIST_PRODUCTS: Statement = Statement {
    operation: "SELECT",
    collection: "products",
    query: "SELECT p.sku, p.name, p.price_cents, s.available \
            FROM products AS p JOIN stock AS s ON s.sku = p.sku ORDER BY p.sku",
};

/// The N+1's "1": names and prices only. Its "N" is [`STOCK_OF`], once per
/// product.
const LIST_PRODUCT_NAMES: Statement = Statement {
    operation: "SELECT",
    collection: "products",
    query: "SELECT sku, name, price_cents FROM products ORDER BY sku",
};

/// How the catalog is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogQueries {
    /// The default: one query for the products, then one per product.
    NPlusOne,
    /// `--fix-catalog-queries`: one join.
    Join,
}

impl CatalogQueries {
    pub fn from_config(config: &Config) -> CatalogQueries {
        if config.fix_catalog_queries {
            CatalogQueries::Join
        } else {
            CatalogQueries::NPlusOne
        }
    }
}

/// The catalog reader, sharing the store's connection.
#[derive(Debug, Clone)]
pub struct Catalog {
    db: Db,
    queries: CatalogQueries,
}

impl Catalog {
    pub fn new(store: &Store, queries: CatalogQueries) -> Catalog {
        Catalog {
            db: store.db().clone(),
            queries,
        }
    }

    /// The whole catalog with current stock, by SKU.
    pub async fn list_products(&self) -> Result<Vec<Product>, DbError> {
        match self.queries {
            CatalogQueries::Join => self.joined().await,
            CatalogQueries::NPlusOne => self.one_query_per_product().await,
        }
    }

    async fn joined(&self) -> Result<Vec<Product>, DbError> {
        self.db
            .call(LIST_PRODUCTS, |conn| {
                let mut statement = conn.prepare_cached(LIST_PRODUCTS.query)?;
                let rows = statement.query_map([], |row| {
                    Ok(Product {
                        sku: row.get(0)?,
                        name: row.get(1)?,
                        price_cents: row.get(2)?,
                        available: row.get(3)?,
                    })
                })?;
                rows.collect()
            })
            .await
    }

    /// The N+1. Each statement is its own [`Db::call`], so its own span and
    /// its own trip to the connection, as a lazy-loading ORM would make it.
    async fn one_query_per_product(&self) -> Result<Vec<Product>, DbError> {
        let names = self
            .db
            .call(LIST_PRODUCT_NAMES, |conn| {
                let mut statement = conn.prepare_cached(LIST_PRODUCT_NAMES.query)?;
                let rows = statement.query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, i64>(2)?,
                    ))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let mut products = Vec::with_capacity(names.len());
        for (sku, name, price_cents) in names {
            let key = sku.clone();
            let available = self
                .db
                .call(STOCK_OF, move |conn| {
                    conn.prepare_cached(STOCK_OF.query)?
                        .query_row([key.as_str()], |row| row.get::<_, i64>(0))
                        .optional()
                })
                .await?;
            // A product without a stock row is left out, as the join's
            // inner join leaves it out: the two modes answer alike.
            if let Some(available) = available {
                products.push(Product {
                    sku,
                    name,
                    price_cents,
                    available,
                });
            }
        }
        Ok(products)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CATALOG;
    use crate::store::tests::open;

    #[tokio::test]
    async fn the_join_returns_the_seeded_catalog_by_sku() {
        let (_dir, store) = open();
        let products = Catalog::new(&store, CatalogQueries::Join)
            .list_products()
            .await
            .unwrap();
        assert_eq!(products.len(), CATALOG.len());
        assert_eq!(products[0].sku, "CAB-004");
        let lamp = products.iter().find(|p| p.sku == "LMP-006").unwrap();
        assert_eq!((lamp.price_cents, lamp.available), (3400, 3));
    }

    #[tokio::test]
    async fn the_n_plus_one_answers_exactly_what_the_join_answers() {
        let (_dir, store) = open();
        // Move some stock first, so "the same" is about current levels too.
        store
            .db()
            .setup(|c| c.execute("UPDATE stock SET available = 7 WHERE sku = 'KEY-001'", []))
            .unwrap();
        let joined = Catalog::new(&store, CatalogQueries::Join)
            .list_products()
            .await
            .unwrap();
        let n_plus_one = Catalog::new(&store, CatalogQueries::NPlusOne)
            .list_products()
            .await
            .unwrap();
        assert_eq!(n_plus_one, joined);
        assert_eq!(joined.len(), CATALOG.len());
        assert!(
            joined
                .iter()
                .any(|p| p.sku == "KEY-001" && p.available == 7)
        );
    }

    #[test]
    fn the_queries_are_the_n_plus_one_unless_the_fix_flag_is_set() {
        let config = |fix_catalog_queries| Config {
            warehouse_check_ms: 15,
            fix_inventory_lock: false,
            fix_catalog_queries,
        };
        assert_eq!(
            CatalogQueries::from_config(&config(false)),
            CatalogQueries::NPlusOne
        );
        assert_eq!(
            CatalogQueries::from_config(&config(true)),
            CatalogQueries::Join
        );
    }
}
