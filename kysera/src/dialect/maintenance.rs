//! Emptying tables in the order their foreign keys allow (`truncateAllTables`), and the size
//! of the database (`getDatabaseSize`) — what tests and maintenance scripts need.

use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;
use crate::executor::Executor;
use crate::query::Delete;

use super::introspect::tables;

/// Empties every table of the database (the current schema on PostgreSQL, the current
/// database on MySQL) but those of `exclude` (compared without case; pass the migration
/// history, `kysera_migrations`, to keep it), with `TRUNCATE`: identity and auto-increment
/// counters restart. Tables are emptied in an order their foreign keys allow. Returns the tables
/// emptied. On MySQL, `TRUNCATE` commits a transaction, so it is refused inside one.
///
/// ```no_run
/// # async fn f(db: kysera::Executor) -> kysera::Result<()> {
/// let emptied = kysera::dialect::truncate_all_tables(&db, &["kysera_migrations"]).await?;
/// # Ok(()) }
/// ```
pub async fn truncate_all_tables(db: &Executor, exclude: &[&str]) -> Result<Vec<String>> {
    let mut names: Vec<String> = tables(db, None)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    names.retain(|t| !exclude.iter().any(|k| k.eq_ignore_ascii_case(t)));
    empty_tables(db, names, true).await
}

/// The database's size in bytes, as the database reports it (PostgreSQL: the whole database;
/// MySQL: data and indexes of the current database's tables; SQLite: its pages).
pub async fn database_size(db: &Executor) -> Result<u64> {
    let sql = match db.dialect() {
        Dialect::Postgres => "SELECT pg_database_size(current_database())::bigint AS size",
        Dialect::MySql => {
            "SELECT CAST(COALESCE(SUM(data_length + index_length), 0) AS SIGNED) AS size FROM information_schema.tables WHERE table_schema = DATABASE()"
        }
        _ => "SELECT page_count * page_size AS size FROM pragma_page_count(), pragma_page_size()",
    };
    let rows = db.raw().fetch_all_sql(sql, vec![]).await?;
    let size: i64 = rows
        .first()
        .map(|r| r.get("size"))
        .transpose()?
        .unwrap_or(0);
    Ok(u64::try_from(size).unwrap_or(0))
}

/// Empties `left` in an order the foreign keys allow: a table whose rows others still
/// reference is emptied after them. `truncate`: counters restart (`TRUNCATE … RESTART IDENTITY`
/// on PostgreSQL; foreign-key checks off on a connection of its own on MySQL; the
/// `sqlite_sequence` row on SQLite). Returns the tables emptied. Writes go around the plugins
/// (`raw`): emptying is not an application write.
pub(crate) async fn empty_tables(
    db: &Executor,
    mut left: Vec<String>,
    truncate: bool,
) -> Result<Vec<String>> {
    let d = db.dialect();
    if truncate && d != Dialect::Sqlite {
        return truncate_now(db, left).await;
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
                        if truncate {
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
async fn truncate_now(db: &Executor, tables: Vec<String>) -> Result<Vec<String>> {
    if tables.is_empty() {
        return Ok(tables);
    }
    let d = db.dialect();
    let list = tables
        .iter()
        .map(|t| d.adapter().escape_identifier(t))
        .collect::<Result<Vec<String>>>()?;
    if d == Dialect::Postgres {
        let sql = format!("TRUNCATE {} RESTART IDENTITY", list.join(", "));
        db.raw()
            .execute_sql(sqlx::AssertSqlSafe(sql), vec![])
            .await?;
        return Ok(tables);
    }
    if db.in_transaction() {
        return Err(Error::InvalidQuery(
            "TRUNCATE commits a MySQL transaction: inside one, empty the tables with DELETE".into(),
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
