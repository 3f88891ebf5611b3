//! Shared helpers for the integration tests: the databases to run on and unique table names.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use kysera::{Dialect, Executor};

pub mod oracle;

/// Environment variable naming the PostgreSQL test database.
pub const POSTGRES_ENV: &str = "KYSERA_TEST_POSTGRES_URL";
/// Environment variable naming the MySQL / MariaDB test database.
pub const MYSQL_ENV: &str = "KYSERA_TEST_MYSQL_URL";

/// In-memory SQLite always; PostgreSQL and MySQL when their URL variables are set. A set
/// variable whose server cannot be reached fails the test rather than skipping it.
pub async fn databases() -> Vec<Executor> {
    let mut out = vec![sqlite().await];
    out.extend(postgres().await);
    out.extend(mysql().await);
    out
}

/// A fresh in-memory SQLite database.
pub async fn sqlite() -> Executor {
    kysera::connect("sqlite::memory:").await.expect("sqlite")
}

/// The PostgreSQL test database, when `KYSERA_TEST_POSTGRES_URL` is set.
pub async fn postgres() -> Option<Executor> {
    server(POSTGRES_ENV).await
}

/// The MySQL / MariaDB test database, when `KYSERA_TEST_MYSQL_URL` is set.
pub async fn mysql() -> Option<Executor> {
    server(MYSQL_ENV).await
}

async fn server(var: &str) -> Option<Executor> {
    let url = std::env::var(var).ok().filter(|u| !u.is_empty());
    let Some(url) = url else {
        eprintln!("skipped: {var} is not set");
        return None;
    };
    Some(
        kysera::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{var} is set but unusable: {e}")),
    )
}

/// One test per database for a scenario: `name::sqlite`, `name::postgres` and `name::mysql`
/// (which runs it on MariaDB's native RETURNING and again on the emulation Oracle MySQL gets),
/// so a failure on one database does not hide the others and one backend can be run alone
/// (`cargo test name::mysql`). A server whose URL variable is unset is skipped (see
/// [`databases`]). `#[flavor(…)]` passes arguments to `#[tokio::test]`.
#[allow(unused_macros)]
macro_rules! per_database {
    (
        $(#[doc = $doc:literal])*
        $(#[flavor($($flavor:tt)*)])?
        async fn $name:ident($db:ident) $body:block
    ) => {
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn scenario($db: kysera::Executor) $body

            #[tokio::test $(($($flavor)*))?]
            async fn sqlite() {
                // Boxed: a scenario is a large future, and the test thread's stack is small.
                Box::pin(scenario(crate::common::sqlite().await)).await
            }

            #[tokio::test $(($($flavor)*))?]
            async fn postgres() {
                if let Some(db) = crate::common::postgres().await {
                    Box::pin(scenario(db)).await
                }
            }

            #[tokio::test $(($($flavor)*))?]
            async fn mysql() {
                if let Some(db) = crate::common::mysql().await {
                    // Twice: with MariaDB's own RETURNING (what `connect` finds), then with the
                    // read-back emulation Oracle MySQL gets — one after the other, since
                    // scenarios reuse their tables.
                    Box::pin(scenario(db)).await;
                    if let Some(db) = crate::common::mysql().await {
                        let emulating = kysera::Executor::new(db.pool().clone());
                        Box::pin(scenario(emulating)).await
                    }
                }
            }
        }
    };
}

/// A table name no other test (or concurrent test run) uses.
pub fn table(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let salt = uuid::Uuid::new_v4().simple().to_string();
    format!("k_{prefix}_{}_{n}_{}", std::process::id(), &salt[..6])
}

/// An auto-increment 64-bit primary key column definition.
pub fn id_column(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "id INTEGER PRIMARY KEY AUTOINCREMENT",
        Dialect::Postgres => "id BIGSERIAL PRIMARY KEY",
        _ => "id BIGINT AUTO_INCREMENT PRIMARY KEY",
    }
}

/// A timestamp-without-time-zone column type.
pub fn timestamp_type(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "TEXT",
        Dialect::Postgres => "TIMESTAMP",
        _ => "DATETIME(6)",
    }
}

/// Runs DDL (or any statement without parameters), bypassing plugins.
pub async fn ddl(db: &Executor, sql: &str) {
    db.raw()
        .execute_sql(kysera::AssertSqlSafe(sql), vec![])
        .await
        .unwrap_or_else(|e| panic!("{} DDL failed: {e}\n{sql}", db.dialect()));
}

/// Drops tables created by a test (children first).
pub async fn drop_tables(db: &Executor, tables: &[&str]) {
    for t in tables {
        let q = match db.dialect() {
            Dialect::MySql => format!("DROP TABLE IF EXISTS `{t}`"),
            _ => format!("DROP TABLE IF EXISTS \"{t}\""),
        };
        let _ = db.raw().execute_sql(kysera::AssertSqlSafe(q), vec![]).await;
    }
}

/// A `users` table with id, email (unique), name, age (nullable), active, org.
pub async fn users_table(db: &Executor) -> String {
    let t = table("users");
    let d = db.dialect();
    ddl(
        db,
        &format!(
            "CREATE TABLE {t} ({}, email VARCHAR(255) NOT NULL UNIQUE, name VARCHAR(255) NOT NULL, \
             age BIGINT NULL, active BOOLEAN NOT NULL DEFAULT TRUE, org VARCHAR(64) NOT NULL DEFAULT 'a')",
            id_column(d)
        ),
    )
    .await;
    t
}
