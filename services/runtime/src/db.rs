//! SQLite with a CLIENT span per statement (or per transaction).
//!
//! [`Db::call`] runs a closure on the connection in a blocking thread, inside
//! a span named `{db.operation.name} {db.collection.name}` that carries the
//! *parameterised* query text: values are bound as parameters and never
//! appear in a span.
//!
//! One connection behind a mutex: SQLite serialises writers anyway, and a
//! single connection makes every transaction's isolation obvious to a reader.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::Status;
use opentelemetry_semantic_conventions::attribute as semconv;
use rusqlite::Connection;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::metrics::clock::SpanClock;
use crate::metrics::labels::DbClientLabels;

/// Describes one statement for its span. `query` must be the SQL with
/// placeholders (`?1`), never with values.
#[derive(Debug, Clone, Copy)]
pub struct Statement {
    pub operation: &'static str,
    pub collection: &'static str,
    pub query: &'static str,
}

/// A database failure.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database task failed: {0}")]
    Task(String),
}

/// A shared SQLite database file.
#[derive(Debug, Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl Db {
    /// Opens (creating if needed) the database at `path`, in WAL mode.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` without a span: for schema creation and seeding at start-up.
    pub fn setup<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, DbError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        Ok(f(&mut conn)?)
    }

    /// Runs `f` on a blocking thread inside a CLIENT span for `stmt`.
    pub async fn call<T, F>(&self, stmt: Statement, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        // A `&str` rather than `%`: see `crate::grpc_server`.
        let name = format!("{} {}", stmt.operation, stmt.collection);
        let span =
            tracing::info_span!("db.client", otel.name = name.as_str(), otel.kind = "client");
        // Taken as the span starts: the histogram's value is its duration.
        let clock = SpanClock::start();
        span.set_attribute(semconv::DB_SYSTEM_NAME, "sqlite");
        span.set_attribute(semconv::DB_OPERATION_NAME, stmt.operation);
        span.set_attribute(semconv::DB_COLLECTION_NAME, stmt.collection);
        span.set_attribute(semconv::DB_QUERY_TEXT, stmt.query);
        let conn = self.conn.clone();
        let task_span = span.clone();
        let result = tokio::task::spawn_blocking(move || {
            let _entered = task_span.enter();
            // A panic in another statement cannot corrupt the connection
            // itself (SQLite rolls back an unfinished transaction), so a
            // poisoned lock is still safe to use.
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            let result = f(&mut conn);
            // The span ends as `_entered` exits, here: the histogram's value
            // is measured now, not after the wait for this task's result.
            (result, clock.stop())
        })
        .await;
        let (result, measured) = match result {
            Ok((inner, measured)) => (inner.map_err(DbError::from), measured),
            Err(join) => (Err(DbError::Task(join.to_string())), clock.stop()),
        };
        if let Err(e) = &result {
            span.set_attribute(semconv::ERROR_TYPE, error_type(e));
            span.set_status(Status::error(e.to_string()));
        }
        crate::metrics::global().observe_db_client(
            DbClientLabels {
                db_system_name: "sqlite",
                db_operation_name: stmt.operation,
                db_collection_name: stmt.collection,
            },
            &span,
            measured,
        );
        result
    }
}

fn error_type(e: &DbError) -> String {
    match e {
        DbError::Sqlite(rusqlite::Error::SqliteFailure(err, _)) => format!("{:?}", err.code),
        DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows) => "no_rows".to_owned(),
        DbError::Sqlite(_) => "sqlite_error".to_owned(),
        DbError::Task(_) => "task_failed".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn call_runs_the_closure_and_returns_its_value() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        db.setup(|c| c.execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (41);"))
            .unwrap();
        let stmt = Statement {
            operation: "SELECT",
            collection: "t",
            query: "SELECT v + ?1 FROM t",
        };
        let v: i64 = db
            .call(stmt, |c| c.query_row(stmt.query, [1], |r| r.get(0)))
            .await
            .unwrap();
        assert_eq!(v, 42);
    }

    #[tokio::test]
    async fn errors_come_back_as_db_errors() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let stmt = Statement {
            operation: "SELECT",
            collection: "missing",
            query: "SELECT * FROM missing",
        };
        let err = db
            .call(stmt, |c| c.execute(stmt.query, []))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
