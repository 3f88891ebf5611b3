//! Cleaning a database between tests (`cleanDatabase` in the TypeScript Kysera).

use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;
use crate::executor::Executor;
use crate::query::Delete;

/// How [`clean_database`] empties tables.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Clean {
    /// `TRUNCATE` (identity and auto-increment counters restart) instead of `DELETE`.
    pub truncate: bool,
    /// Tables left as they are (the migration history, by default).
    pub keep: Vec<String>,
    /// Only these tables (all of the database's own when empty).
    pub only: Vec<String>,
}

impl Default for Clean {
    fn default() -> Self {
        Clean {
            truncate: false,
            keep: vec!["kysera_migrations".into()],
            only: Vec::new(),
        }
    }
}

impl Clean {
    /// `DELETE` every table but the migration history.
    pub fn delete() -> Self {
        Clean::default()
    }
    /// `TRUNCATE` every table but the migration history (counters restart).
    pub fn truncate() -> Self {
        Clean {
            truncate: true,
            ..Clean::default()
        }
    }
    /// Leaves these tables too.
    pub fn keep<S: Into<String>>(mut self, tables: impl IntoIterator<Item = S>) -> Self {
        self.keep.extend(tables.into_iter().map(Into::into));
        self
    }
    /// Cleans only these tables.
    pub fn only<S: Into<String>>(mut self, tables: impl IntoIterator<Item = S>) -> Self {
        self.only = tables.into_iter().map(Into::into).collect();
        self
    }
}

pub(super) fn quoted(dialect: Dialect, name: &str) -> String {
    let q = if dialect == Dialect::MySql { '`' } else { '"' };
    format!("{q}{}{q}", name.replace(q, &format!("{q}{q}")))
}

/// The database's own tables (the current schema on PostgreSQL, the current database on MySQL).
async fn tables(db: &Executor) -> Result<Vec<String>> {
    let sql = match db.dialect() {
        Dialect::Postgres => {
            "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        }
        Dialect::MySql => {
            "SELECT CAST(table_name AS CHAR) AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY 1"
        }
        Dialect::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    db.raw()
        .fetch_all_sql(sql, vec![])
        .await?
        .iter()
        .map(|r| r.get::<String>("name"))
        .collect()
}

/// Empties the database's tables (or `how.only`), all but `how.keep`, in an order the foreign
/// keys allow: a table whose rows others still reference is emptied after them. Returns the
/// tables emptied. Writes go around the plugins (`raw`): cleaning is not an application write.
pub async fn clean_database(db: &Executor, how: &Clean) -> Result<Vec<String>> {
    let d = db.dialect();
    let mut left: Vec<String> = if how.only.is_empty() {
        tables(db).await?
    } else {
        how.only.clone()
    };
    left.retain(|t| !how.keep.iter().any(|k| k.eq_ignore_ascii_case(t)));
    if how.truncate && d != Dialect::Sqlite {
        return truncate(db, left).await;
    }
    // DELETE in rounds: a table still referenced fails (a foreign-key violation, undone by its
    // savepoint) and waits for the next round; a round that empties nothing is a cycle.
    let mut done = Vec::with_capacity(left.len());
    db.atomic(async |tx| {
        while !left.is_empty() {
            let before = left.len();
            let mut waiting = Vec::new();
            let mut last = None;
            for t in std::mem::take(&mut left) {
                let attempt = tx
                    .atomic(async |sp| sp.raw().execute(Delete::from(t.clone())).await)
                    .await;
                match attempt {
                    Ok(_) => {
                        if how.truncate {
                            // SQLite: the AUTOINCREMENT counters restart too (the table of
                            // counters exists only once one is used).
                            let reset = Delete::from("sqlite_sequence")
                                .filter(crate::query::col("name").eq(t.clone()));
                            let _ = tx.atomic(async |sp| sp.raw().execute(reset).await).await;
                        }
                        done.push(t);
                    }
                    Err(e @ Error::ForeignKeyViolation(_)) => {
                        last = Some(e);
                        waiting.push(t);
                    }
                    Err(e) => return Err(e),
                }
            }
            if waiting.len() == before {
                // Nothing could be emptied this round: the tables reference each other.
                return Err(last.unwrap_or_else(|| {
                    Error::InvalidQuery("tables reference each other in a cycle".into())
                }));
            }
            left = waiting;
        }
        Ok(())
    })
    .await?;
    Ok(done)
}

/// `TRUNCATE` on PostgreSQL (one statement, `RESTART IDENTITY`: a table another one outside the
/// list references is an error, as for `DELETE`) and MySQL (on a connection of its own, taken
/// out of the pool, with foreign-key checks off: dropped, it closes, so no pooled connection is
/// left without checks; refused inside a transaction, which MySQL's `TRUNCATE` would commit).
async fn truncate(db: &Executor, tables: Vec<String>) -> Result<Vec<String>> {
    if tables.is_empty() {
        return Ok(tables);
    }
    let d = db.dialect();
    let list: Vec<String> = tables.iter().map(|t| quoted(d, t)).collect();
    if d == Dialect::Postgres {
        let sql = format!("TRUNCATE {} RESTART IDENTITY", list.join(", "));
        db.raw()
            .execute_sql(sqlx::AssertSqlSafe(sql), vec![])
            .await?;
        return Ok(tables);
    }
    if db.in_transaction() {
        return Err(Error::InvalidQuery(
            "TRUNCATE commits a MySQL transaction: inside one, clean with Clean::delete()".into(),
        ));
    }
    mysql_truncate(db, &list).await?;
    Ok(tables)
}

#[cfg(feature = "mysql")]
// In a MySQL-only build the pool's kind cannot be another.
#[allow(irrefutable_let_patterns)]
async fn mysql_truncate(db: &Executor, list: &[String]) -> Result<()> {
    use sqlx::Connection as _;
    let crate::executor::Pool::MySql(pool) = db.pool() else {
        return Err(Error::InvalidQuery("not a MySQL pool".into()));
    };
    let mut conn = pool.acquire().await?.detach();
    sqlx::raw_sql("SET FOREIGN_KEY_CHECKS = 0")
        .execute(&mut conn)
        .await?;
    let mut result = Ok(());
    for t in list {
        let sql = format!("TRUNCATE TABLE {t}");
        if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
        {
            result = Err(Error::from(e));
            break;
        }
    }
    let _ = conn.close().await;
    result
}

#[cfg(not(feature = "mysql"))]
async fn mysql_truncate(_db: &Executor, _list: &[String]) -> Result<()> {
    Err(Error::InvalidQuery("kysera was built without MySQL".into()))
}
