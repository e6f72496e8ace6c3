//! The `users` table: schema, the seed written on first start, and the
//! queries, each run through [`Db::call`] so it gets its own CLIENT span.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Row};
use tracemesh_runtime::db::{Db, DbError, Statement};

use crate::domain::{User, UserId, UserStatus};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id     TEXT PRIMARY KEY,
    name   TEXT NOT NULL,
    email  TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended'))
);";

/// The users every service and test agrees on (see DESIGN / the brief):
/// five active customers and one suspended account to exercise refusals.
pub const SEED: &[(&str, &str, &str, UserStatus)] = &[
    (
        "u-1001",
        "Ada Lovelace",
        "ada@example.com",
        UserStatus::Active,
    ),
    (
        "u-1002",
        "Grace Hopper",
        "grace@example.com",
        UserStatus::Active,
    ),
    (
        "u-1003",
        "Alan Turing",
        "alan@example.com",
        UserStatus::Active,
    ),
    (
        "u-1004",
        "Katherine Johnson",
        "katherine@example.com",
        UserStatus::Active,
    ),
    (
        "u-1005",
        "Edsger Dijkstra",
        "edsger@example.com",
        UserStatus::Active,
    ),
    (
        "u-1099",
        "Mallory Suspended",
        "mallory@example.com",
        UserStatus::Suspended,
    ),
];

const FIND_USER: Statement = Statement {
    operation: "SELECT",
    collection: "users",
    query: "SELECT id, name, email, status FROM users WHERE id = ?1",
};

/// The user store, cheap to clone (one shared connection).
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    /// Opens the database at `path`, creating the schema and, on first
    /// start, the seed.
    pub fn open(path: &Path) -> Result<Store, DbError> {
        let db = Db::open(path)?;
        db.setup(|conn| {
            conn.execute_batch(SCHEMA)?;
            seed_if_empty(conn)
        })?;
        Ok(Store { db })
    }

    /// The user with `id`, if there is one.
    pub async fn find(&self, id: &UserId) -> Result<Option<User>, DbError> {
        let id = id.as_str().to_owned();
        self.db
            .call(FIND_USER, move |conn| {
                conn.query_row(FIND_USER.query, [&id], user_from_row)
                    .optional()
            })
            .await
    }
}

/// Seeds only an empty table, so a restart keeps whatever changed since,
/// and in one transaction, so a crash mid-seed leaves an empty table that
/// the next start seeds again rather than half a seed that it would skip.
fn seed_if_empty(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let count: i64 = tx.query_row("SELECT COUNT(*) FROM users", [], |row| row.get(0))?;
    if count == 0 {
        let mut insert =
            tx.prepare("INSERT INTO users (id, name, email, status) VALUES (?1, ?2, ?3, ?4)")?;
        for (id, name, email, status) in SEED {
            insert.execute((id, name, email, status.as_str()))?;
        }
    }
    tx.commit()
}

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    let status: String = row.get(3)?;
    let status = UserStatus::from_column(&status).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            3,
            rusqlite::types::Type::Text,
            format!("unknown user status {status:?}").into(),
        )
    })?;
    Ok(User {
        id: row.get(0)?,
        name: row.get(1)?,
        email: row.get(2)?,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(raw: &str) -> UserId {
        UserId::parse(raw).unwrap()
    }

    #[tokio::test]
    async fn find_returns_a_seeded_user() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("user.db")).unwrap();
        let ada = store.find(&id("u-1001")).await.unwrap().unwrap();
        assert_eq!(ada.name, "Ada Lovelace");
        assert_eq!(ada.status, UserStatus::Active);
        let mallory = store.find(&id("u-1099")).await.unwrap().unwrap();
        assert_eq!(mallory.status, UserStatus::Suspended);
    }

    #[tokio::test]
    async fn find_returns_none_for_an_unknown_user() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("user.db")).unwrap();
        assert_eq!(store.find(&id("u-4242")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_seed_is_written_only_on_first_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("user.db");
        let store = Store::open(&path).unwrap();
        // A change made while running must survive a restart.
        store
            .db
            .setup(|c| c.execute("DELETE FROM users WHERE id = 'u-1005'", []))
            .unwrap();
        drop(store);

        let reopened = Store::open(&path).unwrap();
        let count: i64 = reopened
            .db
            .setup(|c| c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(count, SEED.len() as i64 - 1);
        assert_eq!(reopened.find(&id("u-1005")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_unknown_status_in_the_table_is_a_store_error_not_a_guess() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("user.db")).unwrap();
        // The CHECK constraint refuses it, so bypass it the way a bad
        // migration would: a fresh table without the constraint.
        store
            .db
            .setup(|c| {
                c.execute_batch(
                    "DROP TABLE users;
                     CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT, email TEXT, status TEXT);
                     INSERT INTO users VALUES ('u-1', 'X', 'x@example.com', 'deleted');",
                )
            })
            .unwrap();
        assert!(store.find(&id("u-1")).await.is_err());
    }
}
