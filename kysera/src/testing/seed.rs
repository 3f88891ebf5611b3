//! Seeding a database from fixture files (`seedDatabase` in the TypeScript Kysera): SQL run as
//! it is, or rows per table in JSON or YAML, inserted through the executor.

use std::path::Path;

use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;
use crate::executor::Executor;
use crate::query::{Insert, Value};

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
    let tables = match doc {
        serde_json::Value::Object(map) => map.into_iter().collect(),
        other => table_list(other, "JSON")?,
    };
    insert_rows(db, tables, "JSON").await
}

/// Inserts YAML rows through the executor, as [`seed_json`] does: a mapping of tables
/// (`users: [{id: 1, email: a@x}]`), inserted in the order the file gives them, or a list of
/// `{table, rows}`. Returns the rows inserted.
pub async fn seed_yaml(db: &Executor, yaml: &str) -> Result<u64> {
    let mut doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml)
        .map_err(|e| Error::InvalidQuery(format!("fixture YAML: {e}")))?;
    // `<<: *defaults` merges, as YAML fixtures use them.
    doc.apply_merge()
        .map_err(|e| Error::InvalidQuery(format!("fixture YAML: {e}")))?;
    let json = |v: serde_yaml_ng::Value| {
        serde_json::to_value(v).map_err(|e| Error::InvalidQuery(format!("fixture YAML: {e}")))
    };
    let tables = match doc {
        // Mappings keep the file's order: tables go in as they are written.
        serde_yaml_ng::Value::Mapping(map) => {
            let mut tables = Vec::new();
            for (k, v) in map {
                let serde_yaml_ng::Value::String(name) = k else {
                    return Err(Error::InvalidQuery(
                        "fixture YAML: a table's name must be a string".into(),
                    ));
                };
                tables.push((name, json(v)?));
            }
            tables
        }
        other => table_list(json(other)?, "YAML")?,
    };
    insert_rows(db, tables, "YAML").await
}

/// The list form: `[{"table": …, "rows": […]}, …]`.
fn table_list(doc: serde_json::Value, format: &str) -> Result<Vec<(String, serde_json::Value)>> {
    let serde_json::Value::Array(items) = doc else {
        return Err(Error::InvalidQuery(format!(
            "fixture {format}: a list of {{table, rows}} or a map of tables"
        )));
    };
    items
        .into_iter()
        .map(|mut item| {
            let table = item
                .get("table")
                .and_then(|t| t.as_str())
                .map(str::to_string);
            match (table, item.get_mut("rows").map(serde_json::Value::take)) {
                (Some(t), Some(rows)) => Ok((t, rows)),
                _ => Err(Error::InvalidQuery(format!(
                    "fixture {format}: each item needs \"table\" and \"rows\""
                ))),
            }
        })
        .collect()
}

/// Inserts each table's rows, in order, in one transaction (the sequences PostgreSQL fills moved
/// past the ids given).
async fn insert_rows(
    db: &Executor,
    tables: Vec<(String, serde_json::Value)>,
    format: &str,
) -> Result<u64> {
    let mut checked = Vec::with_capacity(tables.len());
    for (t, rows) in tables {
        let serde_json::Value::Array(rows) = rows else {
            return Err(Error::InvalidQuery(format!(
                "fixture {format}: `{t}` is not a list of rows"
            )));
        };
        checked.push((t, rows));
    }
    let tables = checked;
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
                    Error::InvalidQuery(format!("fixture {format}: a row of `{table}` is not an object"))
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
                let pg = Dialect::Postgres.adapter();
                let (c, t) = (pg.escape_identifier(column)?, pg.escape_identifier(table)?);
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

/// Loads fixtures: a `.sql` file (run as it is), a `.json` file ([`seed_json`]), a `.yaml` or
/// `.yml` file ([`seed_yaml`]), or a folder of them in name order; all in one transaction where the database allows.
pub async fn seed_database(db: &Executor, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let files = if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| Error::InvalidQuery(format!("fixtures `{}`: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| ["sql", "json", "yaml", "yml"].iter().any(|e| x == *e))
            })
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
                Some("yaml" | "yml") => {
                    seed_yaml(&tx, &text).await?;
                }
                Some("sql") => {
                    tx.raw()
                        .execute_sql(sqlx::AssertSqlSafe(text), vec![])
                        .await?;
                }
                _ => {
                    return Err(Error::InvalidQuery(format!(
                        "fixture `{}`: a .sql, .json, .yaml or .yml file",
                        file.display()
                    )));
                }
            }
        }
        Ok(())
    })
    .await
}
