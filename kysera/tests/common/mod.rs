//! Shared helpers for the integration tests: the databases to run on and unique table names.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use kysera::{Dialect, Executor};

/// Environment variable naming the PostgreSQL test database.
pub const POSTGRES_ENV: &str = "KYSERA_TEST_POSTGRES_URL";
/// Environment variable naming the MySQL / MariaDB test database.
pub const MYSQL_ENV: &str = "KYSERA_TEST_MYSQL_URL";

/// In-memory SQLite always; PostgreSQL and MySQL when their URL variables are set. A set
/// variable whose server cannot be reached fails the test rather than skipping it.
pub async fn databases() -> Vec<Executor> {
    let mut out = vec![kysera::connect("sqlite::memory:").await.expect("sqlite")];
    for var in [POSTGRES_ENV, MYSQL_ENV] {
        if let Ok(url) = std::env::var(var)
            && !url.is_empty()
        {
            let db = kysera::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("{var} is set but unusable: {e}"));
            out.push(db);
        }
    }
    out
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
