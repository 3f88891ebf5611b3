//! Seeding a database from fixture files and cleaning it between tests (`seedDatabase`,
//! `cleanDatabase` in the TypeScript Kysera).

use std::path::Path;

use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;
use crate::executor::Executor;
use crate::query::{Delete, Insert, Value};

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

fn quoted(dialect: Dialect, name: &str) -> String {
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

/// A JSON value as a bound value (`None` for null: the column is left to its default). `sql_type`
/// is the column's type on PostgreSQL, which binds text as `text` and will not store it in a
/// date, time, UUID or JSON column: text for those is read as that type.
fn json_value(v: &serde_json::Value, sql_type: Option<&str>) -> Result<Option<Value>> {
    use serde_json::Value as J;
    let bad =
        |what: &str, s: &str| Error::InvalidQuery(format!("fixture JSON: `{s}` is not a {what}"));
    Ok(Some(match v {
        J::Null => return Ok(None),
        J::Bool(b) => Value::Bool(Some(*b)),
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::BigInt(Some(i)),
            (None, Some(u)) => Value::BigUnsigned(Some(u)),
            _ => Value::Double(n.as_f64()),
        },
        J::String(s) => match sql_type {
            Some("timestamp with time zone") => Value::ChronoDateTimeUtc(Some(
                chrono::DateTime::parse_from_rfc3339(s)
                    .map_err(|_| bad("timestamp with a time zone (RFC 3339)", s))?
                    .with_timezone(&chrono::Utc),
            )),
            Some("timestamp without time zone") => Value::ChronoDateTime(Some(
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
                    .map_err(|_| bad("timestamp", s))?,
            )),
            Some("date") => Value::ChronoDate(Some(s.parse().map_err(|_| bad("date", s))?)),
            Some("time without time zone") => {
                Value::ChronoTime(Some(s.parse().map_err(|_| bad("time", s))?))
            }
            Some("uuid") => Value::Uuid(Some(s.parse().map_err(|_| bad("UUID", s))?)),
            Some("json" | "jsonb") => Value::Json(Some(Box::new(
                serde_json::from_str(s).map_err(|_| bad("JSON document", s))?,
            ))),
            _ => Value::String(Some(s.clone())),
        },
        other => Value::Json(Some(Box::new(other.clone()))),
    }))
}

/// PostgreSQL: each column's type, and the columns a sequence fills (to move the sequence past
/// the ids a fixture gives, so rows created afterwards do not collide with them).
async fn postgres_columns(
    db: &Executor,
    table: &str,
) -> Result<(std::collections::HashMap<String, String>, Vec<String>)> {
    let rows = db
        .raw()
        .fetch_all_sql(
            "SELECT column_name::text AS name, data_type::text AS ty, \
             COALESCE(column_default LIKE 'nextval(%' OR is_identity = 'YES', FALSE) AS seq \
             FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
            vec![Value::from(table)],
        )
        .await?;
    let mut types = std::collections::HashMap::new();
    let mut sequenced = Vec::new();
    for r in &rows {
        let name: String = r.get("name")?;
        if r.get::<bool>("seq")? {
            sequenced.push(name.clone());
        }
        types.insert(name, r.get::<String>("ty")?);
    }
    Ok((types, sequenced))
}

/// Inserts JSON rows through the executor (plugins and behaviours apply: timestamps are set,
/// tenants checked): `[{"table": "users", "rows": [{"id": 1, "email": "a@x"}]}, …]` in that
/// order, or `{"users": [ … ], …}` (tables in the order of their names: use the list form when
/// foreign keys need another). A `null` leaves the column to its default. Returns the rows
/// inserted.
pub async fn seed_json(db: &Executor, json: &str) -> Result<u64> {
    let doc: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::InvalidQuery(format!("fixture JSON: {e}")))?;
    let mut tables: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
    match doc {
        serde_json::Value::Array(items) => {
            for item in items {
                let table = item
                    .get("table")
                    .and_then(|t| t.as_str())
                    .map(str::to_string);
                let rows = item.get("rows").and_then(|r| r.as_array()).cloned();
                match (table, rows) {
                    (Some(t), Some(r)) => tables.push((t, r)),
                    _ => {
                        return Err(Error::InvalidQuery(
                            "fixture JSON: each item needs \"table\" and \"rows\"".into(),
                        ));
                    }
                }
            }
        }
        serde_json::Value::Object(map) => {
            for (t, rows) in map {
                let rows = rows.as_array().cloned().ok_or_else(|| {
                    Error::InvalidQuery(format!("fixture JSON: `{t}` is not a list of rows"))
                })?;
                tables.push((t, rows));
            }
        }
        _ => {
            return Err(Error::InvalidQuery(
                "fixture JSON: a list of {table, rows} or an object of tables".into(),
            ));
        }
    }
    let postgres = db.dialect() == Dialect::Postgres;
    db.atomic(async |tx| {
        let mut n = 0;
        for (table, rows) in &tables {
            let (types, sequenced) = if postgres {
                postgres_columns(&tx, table).await?
            } else {
                Default::default()
            };
            for row in rows {
                let obj = row.as_object().ok_or_else(|| {
                    Error::InvalidQuery(format!("fixture JSON: a row of `{table}` is not an object"))
                })?;
                let mut ins = Insert::into(table.clone());
                for (c, v) in obj {
                    if let Some(v) = json_value(v, types.get(c).map(String::as_str))? {
                        ins.set_value(c.clone(), v);
                    }
                }
                if ins.rows.is_empty() {
                    ins.rows.push(Vec::new());
                }
                n += tx.execute(ins).await?;
            }
            for column in &sequenced {
                let (c, t) = (quoted(Dialect::Postgres, column), quoted(Dialect::Postgres, table));
                let sql = format!(
                    "SELECT setval(pg_get_serial_sequence($1, $2), GREATEST(COALESCE((SELECT MAX({c}) FROM {t}), 0), 1), (SELECT COUNT(*) > 0 FROM {t}))"
                );
                tx.raw()
                    .fetch_all_sql(
                        sqlx::AssertSqlSafe(sql),
                        vec![Value::from(t.clone()), Value::from(column.clone())],
                    )
                    .await?;
            }
        }
        Ok(n)
    })
    .await
}

/// Loads fixtures: a `.sql` file (run as it is), a `.json` file ([`seed_json`]), or a folder of
/// them in name order; all in one transaction where the database allows.
pub async fn seed_database(db: &Executor, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let files = if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| Error::InvalidQuery(format!("fixtures `{}`: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sql" || x == "json"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    db.atomic(async |tx| {
        for file in &files {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Error::InvalidQuery(format!("fixture `{}`: {e}", file.display())))?;
            match file.extension().and_then(|x| x.to_str()) {
                Some("json") => {
                    seed_json(&tx, &text).await?;
                }
                Some("sql") => {
                    tx.raw()
                        .execute_sql(sqlx::AssertSqlSafe(text), vec![])
                        .await?;
                }
                _ => {
                    return Err(Error::InvalidQuery(format!(
                        "fixture `{}`: a .sql or .json file",
                        file.display()
                    )));
                }
            }
        }
        Ok(())
    })
    .await
}
