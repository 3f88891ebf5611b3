//! The history table, the runner's lock, and one migration applied or reverted with its history
//! row in one transaction.

use std::time::Instant;

use chrono::{DateTime, Utc};

use super::{Body, Migration};
use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;
use crate::executor::Executor;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use crate::executor::Pool;
use crate::query::{Delete, Insert, Order, Select, Value, col};

/// One row of the history.
pub(super) struct Applied {
    pub version: i64,
    pub name: String,
    pub checksum: String,
    pub applied_at: DateTime<Utc>,
    pub duration_ms: i64,
}

/// Creates the history table if it does not exist.
pub(super) async fn ensure_table(db: &Executor, table: &str) -> Result<()> {
    let d = db.dialect();
    let (text, ts) = match d {
        Dialect::Postgres => ("TEXT", "TIMESTAMPTZ"),
        Dialect::MySql => ("VARCHAR(255)", "DATETIME(6)"),
        Dialect::Sqlite => ("TEXT", "TEXT"),
    };
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {} (version BIGINT PRIMARY KEY, name {text} NOT NULL, \
         checksum {text} NOT NULL, applied_at {ts} NOT NULL, duration_ms BIGINT NOT NULL)",
        d.adapter().escape_identifier(table)?
    );
    match db
        .raw()
        .execute_sql(sqlx::AssertSqlSafe(sql.clone()), vec![])
        .await
    {
        Ok(_) => Ok(()),
        // Two runners creating it at once on PostgreSQL: one wins, the other's IF NOT EXISTS
        // fails on the catalogue; it exists now.
        Err(_) => db
            .raw()
            .execute_sql(sqlx::AssertSqlSafe(sql), vec![])
            .await
            .map(drop),
    }
}

/// The history, oldest first.
pub(super) async fn read(db: &Executor, table: &str) -> Result<Vec<Applied>> {
    let select = Select::from(table)
        .columns([
            col("version"),
            col("name"),
            col("checksum"),
            col("applied_at"),
            col("duration_ms"),
        ])
        .order_by(col("version"), Order::Asc);
    db.raw()
        .fetch_all(select)
        .await?
        .iter()
        .map(|r| {
            Ok(Applied {
                version: r.get("version")?,
                name: r.get("name")?,
                checksum: r.get("checksum")?,
                applied_at: r.get("applied_at")?,
                duration_ms: r.get("duration_ms")?,
            })
        })
        .collect()
}

async fn recorded(tx: &Executor, table: &str, version: i64) -> Result<bool> {
    let select = Select::from(table)
        .columns([col("version")])
        .filter(col("version").eq(version));
    Ok(!tx.raw().fetch_all(select).await?.is_empty())
}

/// An error of migration `m`, with the cause's text (its sources included).
fn failed(m: &Migration, e: &Error) -> Error {
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    m.error(format!("failed: {reason}"))
}

/// Whether SQL text holds nothing but comments and blank space (MySQL refuses such a query:
/// "Query was empty"); a new migration's template is one.
fn blank(sql: &str) -> bool {
    let mut rest = sql.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else {
            return rest.is_empty();
        }
    }
}

async fn run(tx: &Executor, body: &Body) -> Result<()> {
    match body {
        Body::Sql(sql) if blank(sql) => Ok(()),
        Body::Sql(sql) => tx
            .raw()
            .execute_sql(sqlx::AssertSqlSafe(sql.clone()), vec![])
            .await
            .map(drop),
        Body::Code(step) => step(tx.clone()).await,
    }
}

/// Whether a SQL migration asks to run outside a transaction (its first line is
/// `-- no-transaction`, as in sqlx: PostgreSQL's `CREATE INDEX CONCURRENTLY` cannot run in one).
fn outside_transaction(body: &Body) -> bool {
    matches!(body, Body::Sql(sql) if sql.lines().next().is_some_and(|l| l.trim() == "-- no-transaction"))
}

/// Applies `m` with its history row, in one transaction, unless it is recorded already (by a
/// runner that got there first); whether it was applied. A migration marked
/// `-- no-transaction` runs on its own, then its row is written (under the runner's lock).
pub(super) async fn apply(db: &Executor, table: &str, m: &Migration) -> Result<bool> {
    if outside_transaction(&m.up) {
        if recorded(db, table, m.version).await? {
            return Ok(false);
        }
        let started = Instant::now();
        run(db, &m.up).await.map_err(|e| failed(m, &e))?;
        record(db, table, m, started).await?;
        return Ok(true);
    }
    db.atomic(async |tx| {
        if recorded(&tx, table, m.version).await? {
            return Ok(false);
        }
        let started = Instant::now();
        run(&tx, &m.up).await.map_err(|e| failed(m, &e))?;
        record(&tx, table, m, started).await?;
        Ok(true)
    })
    .await
}

/// Writes `m`'s history row.
async fn record(tx: &Executor, table: &str, m: &Migration, started: Instant) -> Result<()> {
    let took = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let row = Insert::into(table)
        .columns(["version", "name", "checksum", "applied_at", "duration_ms"])
        .values([
            Value::from(m.version),
            Value::from(m.name.clone()),
            Value::from(m.checksum()),
            Value::from(tx.now()),
            Value::from(took),
        ]);
    tx.raw().execute(row).await.map(drop)
}

/// Reverts `m` and removes its history row, in one transaction, unless it is not recorded (a
/// runner reverted it first); whether it was reverted.
pub(super) async fn revert(db: &Executor, table: &str, m: &Migration) -> Result<bool> {
    let Some(down) = &m.down else {
        return Err(m.error("has no down migration; it cannot be reverted"));
    };
    if outside_transaction(down) {
        if !recorded(db, table, m.version).await? {
            return Ok(false);
        }
        run(db, down).await.map_err(|e| failed(m, &e))?;
        db.raw()
            .execute(Delete::from(table).filter(col("version").eq(m.version)))
            .await?;
        return Ok(true);
    }
    db.atomic(async |tx| {
        if !recorded(&tx, table, m.version).await? {
            return Ok(false);
        }
        run(&tx, down).await.map_err(|e| failed(m, &e))?;
        tx.raw()
            .execute(Delete::from(table).filter(col("version").eq(m.version)))
            .await?;
        Ok(true)
    })
    .await
}

/// The lock that lets one runner work at a time: on PostgreSQL and MySQL a session lock held
/// on a connection of its own (taken out of the pool: dropped, it closes, and the server
/// releases the lock), on SQLite nothing (each migration's transaction is a writing one, and
/// SQLite has one writer).
pub(super) enum Lock {
    None,
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgConnection),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlConnection, String),
}

/// The PostgreSQL advisory lock key of the runner ("kyseramg").
#[cfg(feature = "postgres")]
const KEY: i64 = 0x6b79_7365_7261_6d67;
/// The prefix of the MySQL lock name of the runner.
#[cfg(feature = "mysql")]
const NAME: &str = "kysera_migrate:";

impl Lock {
    /// Waits for the lock.
    #[allow(clippy::match_single_binding)]
    pub(super) async fn acquire(db: &Executor, table: &str) -> Result<Lock> {
        let _ = table;
        match db.pool() {
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => {
                let mut conn = p.acquire().await?.detach();
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(KEY)
                    .execute(&mut conn)
                    .await?;
                Ok(Lock::Postgres(conn))
            }
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => {
                let mut conn = p.acquire().await?.detach();
                // Named after the database and the history table (MySQL's lock names are
                // server-wide, and at most 64 characters).
                let name: String = sqlx::query_scalar(
                    "SELECT CONCAT(?, LEFT(SHA1(CONCAT(IFNULL(DATABASE(), ''), '/', ?)), 40))",
                )
                .bind(NAME)
                .bind(table)
                .fetch_one(&mut conn)
                .await?;
                let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 600)")
                    .bind(&name)
                    .fetch_one(&mut conn)
                    .await?;
                if got != Some(1) {
                    return Err(Error::Migration {
                        version: 0,
                        name: NAME.into(),
                        reason: "another runner held the migration lock for 10 minutes".into(),
                    });
                }
                Ok(Lock::MySql(conn, name))
            }
            #[allow(unreachable_patterns)]
            _ => Ok(Lock::None),
        }
    }

    /// Releases the lock and closes its connection.
    pub(super) async fn release(self) {
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        use sqlx::Connection as _;
        match self {
            Lock::None => {}
            #[cfg(feature = "postgres")]
            Lock::Postgres(mut conn) => {
                let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(KEY)
                    .execute(&mut conn)
                    .await;
                let _ = conn.close().await;
            }
            #[cfg(feature = "mysql")]
            Lock::MySql(mut conn, name) => {
                let _ = sqlx::query("SELECT RELEASE_LOCK(?)")
                    .bind(name)
                    .execute(&mut conn)
                    .await;
                let _ = conn.close().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn comment_only_sql_is_blank() {
        for sql in ["", "  \n", "-- x", "-- x\n/* y */\n  -- z\n", "/* a */"] {
            assert!(super::blank(sql), "{sql:?}");
        }
        for sql in [
            "SELECT 1",
            "-- x\nSELECT 1",
            "/* a */ DROP TABLE t",
            "/* open",
        ] {
            assert_eq!(super::blank(sql), sql == "/* open", "{sql:?}");
        }
    }
}
