//! The columns of a unique violation on MySQL / MariaDB, which name only the key ("Duplicate
//! entry 'x' for key 'users_email_key'"): read from the database's catalogue
//! (`information_schema.STATISTICS`) and cached per pool, so `v.columns` and `v.table` say
//! "it was the email" on every database, as PostgreSQL and SQLite report it.
#![cfg(feature = "mysql")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sqlx::Row as _;

use crate::core::error::{ConstraintViolation, Error};

/// The catalogue's answer for one key: its table and columns, or `None` when no single table of
/// the schema has a key of that name (ambiguous or unknown).
type Answer = Option<(String, Vec<String>)>;

/// (pool, table hint, key) → answer. A pool's identity is the address of its shared marker.
type Cache = Mutex<HashMap<(usize, Option<String>, String), Answer>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// How long the catalogue lookup may take before the error is returned as it was.
const LOOKUP_LIMIT: Duration = Duration::from_secs(2);

/// `err` with the columns and table of its unique key filled in, when it is a MySQL unique
/// violation that names only a key. `table` is the statement's table when known (the key
/// `PRIMARY` exists on every table). Any failure of the lookup leaves the error as it was.
pub(super) async fn explain(
    pool: &sqlx::MySqlPool,
    pool_id: &Arc<()>,
    table: Option<&str>,
    err: Error,
) -> Error {
    let Error::UniqueViolation(v) = &err else {
        return err;
    };
    let Some(key) = v.constraint.clone().filter(|_| v.columns.is_empty()) else {
        return err;
    };
    // MySQL 8 names the table itself ("for key 'users.users_email_key'").
    let table = v.table.clone().or(table.map(str::to_string));
    let id = (Arc::as_ptr(pool_id) as usize, table.clone(), key.clone());
    let known = cache().lock().ok().and_then(|c| c.get(&id).cloned());
    let answer = match known {
        Some(answer) => answer,
        // Every connection is taken (a transaction may hold the last one): the lookup would
        // only wait; the error is returned as the database gave it.
        None if pool.num_idle() == 0 && pool.size() >= pool.options().get_max_connections() => {
            return err;
        }
        None => {
            // In a task of its own: a caller dropped mid-lookup leaves no query half-done.
            let lookup = tokio::spawn(lookup(pool.clone(), table, key));
            match tokio::time::timeout(LOOKUP_LIMIT, lookup).await {
                Ok(Ok(Ok(answer))) => {
                    if let Ok(mut c) = cache().lock() {
                        c.insert(id, answer.clone());
                    }
                    answer
                }
                _ => return err,
            }
        }
    };
    match (err, answer) {
        (Error::UniqueViolation(v), Some((table, columns))) => {
            Error::UniqueViolation(ConstraintViolation {
                table: Some(table),
                columns,
                ..v
            })
        }
        (err, _) => err,
    }
}

async fn lookup(
    pool: sqlx::MySqlPool,
    table: Option<String>,
    key: String,
) -> Result<Answer, sqlx::Error> {
    let mut sql = String::from(
        "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS \
         WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME = ?",
    );
    if table.is_some() {
        sql.push_str(" AND TABLE_NAME = ?");
    }
    sql.push_str(" ORDER BY TABLE_NAME, SEQ_IN_INDEX");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&key);
    if let Some(t) = &table {
        q = q.bind(t);
    }
    let rows = q.fetch_all(&pool).await?;
    let mut found: Option<(String, Vec<String>)> = None;
    for row in rows {
        // The catalogue's columns are binary strings on some servers: read bytes.
        let t = text(&row, 0)?;
        let c = text(&row, 1)?;
        match &mut found {
            None => found = Some((t, vec![c])),
            Some((first, cols)) if *first == t => cols.push(c),
            // The same key name on two tables, and no table to choose: say nothing.
            Some(_) => return Ok(None),
        }
    }
    Ok(found)
}

fn text(row: &sqlx::mysql::MySqlRow, i: usize) -> Result<String, sqlx::Error> {
    match row.try_get::<String, _>(i) {
        Ok(s) => Ok(s),
        Err(_) => {
            let bytes: Vec<u8> = row.try_get(i)?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
    }
}
