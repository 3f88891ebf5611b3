//! The live schema, read from the database's catalog (`getTables`, `getTableColumns`,
//! `tableExists` in the TypeScript Kysera; indexes and foreign keys beyond it). A table name
//! may be schema-qualified on PostgreSQL (`audit.entries`); otherwise it is looked up in the
//! current schema (PostgreSQL), the current database (MySQL) or `main` (SQLite). Every query
//! binds its names: none is written into SQL.

use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;
use crate::executor::Executor;
use crate::query::Value;
use crate::row::Row;

/// A table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Table {
    /// Its schema (PostgreSQL), database (MySQL) or `main` (SQLite).
    pub schema: String,
    /// Its name.
    pub name: String,
}

/// A column of a table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type as the database spells it (`character varying(100)`, `bigint`,
    /// `varchar(100)`, `INTEGER`, …).
    pub sql_type: String,
    /// Whether it accepts NULL.
    pub nullable: bool,
    /// Its default, as the database's SQL (`nextval('users_id_seq'::regclass)`, `'a'`, …).
    pub default: Option<String>,
    /// Whether it is part of the primary key.
    pub primary_key: bool,
    /// Whether the database fills it itself: an identity, serial or auto-increment column (a
    /// SQLite `INTEGER PRIMARY KEY`), or a generated column.
    pub generated: bool,
}

/// An index of a table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Index {
    /// Its name.
    pub name: String,
    /// Its columns, in order (an expression in an index is left out).
    pub columns: Vec<String>,
    /// Whether it is unique.
    pub unique: bool,
    /// Whether it is the primary key's.
    pub primary: bool,
}

/// A foreign key of a table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ForeignKey {
    /// The constraint's name (SQLite gives none).
    pub name: Option<String>,
    /// The referencing columns, in order.
    pub columns: Vec<String>,
    /// The referenced table.
    pub references_table: String,
    /// The referenced columns, in the same order.
    pub references_columns: Vec<String>,
    /// `NO ACTION`, `RESTRICT`, `CASCADE`, `SET NULL` or `SET DEFAULT`.
    pub on_delete: String,
    /// As `on_delete`, on update.
    pub on_update: String,
}

/// A table with its columns, indexes and foreign keys.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct TableSchema {
    /// The table.
    pub table: Table,
    /// Its columns, in their order.
    pub columns: Vec<Column>,
    /// Its indexes, by name.
    pub indexes: Vec<Index>,
    /// Its foreign keys, by name.
    pub foreign_keys: Vec<ForeignKey>,
}

/// The schema and table of a name, `None` for the current schema.
fn split(db: &Executor, table: &str) -> (Option<String>, String) {
    match table.split_once('.') {
        Some((s, t)) if db.dialect() != Dialect::Sqlite => (Some(s.to_string()), t.to_string()),
        _ => (None, table.to_string()),
    }
}

async fn rows(db: &Executor, sql: &'static str, values: Vec<Value>) -> Result<Vec<Row>> {
    db.raw().fetch_all_sql(sql, values).await
}

/// A boolean however the database returns it (MySQL: an integer).
fn flag(r: &Row, column: &str) -> Result<bool> {
    r.get::<bool>(column)
        .or_else(|_| r.get::<i64>(column).map(|n| n != 0))
}

/// A list of names from PostgreSQL's `json_agg`.
fn json_names(text: Option<String>) -> Result<Vec<String>> {
    match text {
        None => Ok(Vec::new()),
        Some(t) => serde_json::from_str(&t)
            .map_err(|e| Error::InvalidQuery(format!("unexpected catalog answer `{t}`: {e}"))),
    }
}

/// The tables of `schema` (the current one when `None`), by name; views are left out.
pub async fn tables(db: &Executor, schema: Option<&str>) -> Result<Vec<Table>> {
    let schema = Value::from(schema.map(str::to_string));
    let found = match db.dialect() {
        Dialect::Postgres => {
            rows(
                db,
                "SELECT n.nspname::text AS s, c.relname::text AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname = COALESCE($1, current_schema()) ORDER BY c.relname",
                vec![schema],
            )
            .await?
        }
        Dialect::MySql => {
            rows(
                db,
                "SELECT CAST(table_schema AS CHAR) AS s, CAST(table_name AS CHAR) AS n FROM information_schema.tables WHERE table_type IN ('BASE TABLE', 'SYSTEM VERSIONED') AND table_schema = COALESCE(?, DATABASE()) ORDER BY table_name",
                vec![schema],
            )
            .await?
        }
        _ if schema.is_null() => {
            rows(
                db,
                "SELECT 'main' AS s, name AS n FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
                vec![],
            )
            .await?
        }
        // Another attached database (`temp`, or one `ATTACH`ed).
        _ => {
            rows(
                db,
                "SELECT schema AS s, name AS n FROM pragma_table_list WHERE schema = ? AND type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
                vec![schema],
            )
            .await?
        }
    };
    found
        .iter()
        .map(|r| {
            Ok(Table {
                schema: r.get("s")?,
                name: r.get("n")?,
            })
        })
        .collect()
}

/// Whether `table` exists (a table or a view). SQLite compares names without case, as it
/// resolves them.
pub async fn table_exists(db: &Executor, table: &str) -> Result<bool> {
    let (schema, name) = split(db, table);
    let (schema, name) = (Value::from(schema), Value::from(name));
    let found = match db.dialect() {
        Dialect::Postgres => {
            rows(
                db,
                "SELECT 1 AS x FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname = $1 AND n.nspname = COALESCE($2, current_schema())",
                vec![name, schema],
            )
            .await?
        }
        Dialect::MySql => {
            rows(
                db,
                "SELECT 1 AS x FROM information_schema.tables WHERE table_name = ? AND table_schema = COALESCE(?, DATABASE())",
                vec![name, schema],
            )
            .await?
        }
        _ => {
            rows(
                db,
                "SELECT 1 AS x FROM sqlite_master WHERE type IN ('table', 'view') AND name = ? COLLATE NOCASE",
                vec![name],
            )
            .await?
        }
    };
    Ok(!found.is_empty())
}

/// The columns of `table`, in their order; an error when the table does not exist.
pub async fn columns(db: &Executor, table: &str) -> Result<Vec<Column>> {
    let (schema, name) = split(db, table);
    let (s, n) = (Value::from(schema), Value::from(name));
    let found = match db.dialect() {
        Dialect::Postgres => {
            rows(
                db,
                "SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS sql_type, NOT a.attnotnull AS nullable, pg_get_expr(d.adbin, d.adrelid) AS dflt, \
                 EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND a.attnum = ANY (i.indkey)) AS pk, \
                 (a.attidentity <> '' OR a.attgenerated <> '' OR COALESCE(pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', FALSE)) AS generated \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace ns ON ns.oid = c.relnamespace \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE c.relname = $1 AND ns.nspname = COALESCE($2, current_schema()) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                vec![n, s],
            )
            .await?
        }
        Dialect::MySql => {
            rows(
                db,
                "SELECT CAST(column_name AS CHAR) AS name, CAST(column_type AS CHAR) AS sql_type, CAST(is_nullable = 'YES' AS SIGNED) AS nullable, CAST(column_default AS CHAR) AS dflt, \
                 CAST(column_key = 'PRI' AS SIGNED) AS pk, CAST(extra LIKE '%auto_increment%' OR extra LIKE '%VIRTUAL GENERATED%' OR extra LIKE '%STORED GENERATED%' OR extra LIKE '%PERSISTENT%' AS SIGNED) AS generated \
                 FROM information_schema.columns WHERE table_name = ? AND table_schema = COALESCE(?, DATABASE()) ORDER BY ordinal_position",
                vec![n, s],
            )
            .await?
        }
        _ => {
            // `hidden` 2 and 3 are generated columns; `pk` numbers the key's columns.
            rows(
                db,
                "SELECT name, type AS sql_type, \"notnull\" = 0 AND pk = 0 AS nullable, dflt_value AS dflt, pk > 0 AS pk, \
                 hidden IN (2, 3) OR (pk = 1 AND upper(type) = 'INTEGER' AND (SELECT COUNT(*) FROM pragma_table_info(?1) WHERE pk > 0) = 1) AS generated \
                 FROM pragma_table_xinfo(?1) WHERE hidden <> 1 ORDER BY cid",
                vec![n],
            )
            .await?
        }
    };
    if found.is_empty() && !table_exists(db, table).await? {
        return Err(Error::InvalidQuery(format!("no table `{table}`")));
    }
    let mariadb_null = db.dialect() == Dialect::MySql;
    found
        .iter()
        .map(|r| {
            let default: Option<String> = r.get("dflt")?;
            Ok(Column {
                name: r.get("name")?,
                sql_type: r.get("sql_type")?,
                nullable: flag(r, "nullable")?,
                // MariaDB writes a NULL default as the text NULL (a text default is quoted).
                default: default.filter(|d| !(mariadb_null && d == "NULL")),
                primary_key: flag(r, "pk")?,
                generated: flag(r, "generated")?,
            })
        })
        .collect()
}

/// The indexes of `table`, by name (SQLite's `INTEGER PRIMARY KEY` is the table's row id, not
/// an index, so it has none).
pub async fn indexes(db: &Executor, table: &str) -> Result<Vec<Index>> {
    let (schema, name) = split(db, table);
    let (s, n) = (Value::from(schema), Value::from(name.clone()));
    let mut out: Vec<Index> = Vec::new();
    match db.dialect() {
        Dialect::Postgres => {
            let found = rows(
                db,
                "SELECT ic.relname::text AS name, i.indisunique AS uniq, i.indisprimary AS prim, \
                 (SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)::text AS cols \
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace ns ON ns.oid = c.relnamespace \
                 WHERE c.relname = $1 AND ns.nspname = COALESCE($2, current_schema()) ORDER BY ic.relname",
                vec![n, s],
            )
            .await?;
            for r in &found {
                out.push(Index {
                    name: r.get("name")?,
                    columns: json_names(r.get("cols")?)?,
                    unique: flag(r, "uniq")?,
                    primary: flag(r, "prim")?,
                });
            }
        }
        Dialect::MySql => {
            let found = rows(
                db,
                "SELECT CAST(index_name AS CHAR) AS name, CAST(non_unique AS SIGNED) AS non_unique, CAST(column_name AS CHAR) AS col \
                 FROM information_schema.statistics WHERE table_name = ? AND table_schema = COALESCE(?, DATABASE()) ORDER BY index_name, seq_in_index",
                vec![n, s],
            )
            .await?;
            for r in &found {
                let name: String = r.get("name")?;
                let col: Option<String> = r.get("col")?;
                if out.last().is_none_or(|i| i.name != name) {
                    out.push(Index {
                        primary: name == "PRIMARY",
                        unique: r.get::<i64>("non_unique")? == 0,
                        name,
                        columns: Vec::new(),
                    });
                }
                let last = out.last_mut().expect("pushed above");
                last.columns.extend(col);
            }
        }
        _ => {
            let list = rows(
                db,
                "SELECT name, \"unique\" AS uniq, origin FROM pragma_index_list(?) ORDER BY name",
                vec![n],
            )
            .await?;
            for r in &list {
                let index: String = r.get("name")?;
                let cols = rows(
                    db,
                    "SELECT name FROM pragma_index_info(?) ORDER BY seqno",
                    vec![Value::from(index.clone())],
                )
                .await?;
                out.push(Index {
                    columns: cols
                        .iter()
                        .filter_map(|c| c.get::<Option<String>>("name").transpose())
                        .collect::<Result<_>>()?,
                    unique: flag(r, "uniq")?,
                    primary: r.get::<String>("origin")? == "pk",
                    name: index,
                });
            }
        }
    }
    Ok(out)
}

fn pg_action(code: &str) -> String {
    match code {
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        _ => "NO ACTION",
    }
    .to_string()
}

/// The foreign keys of `table`, by name (SQLite: in the order it declares them).
pub async fn foreign_keys(db: &Executor, table: &str) -> Result<Vec<ForeignKey>> {
    let (schema, name) = split(db, table);
    let (s, n) = (Value::from(schema), Value::from(name.clone()));
    let mut out: Vec<ForeignKey> = Vec::new();
    match db.dialect() {
        Dialect::Postgres => {
            let found = rows(
                db,
                "SELECT con.conname::text AS name, fc.relname::text AS ref_table, con.confdeltype::text AS on_delete, con.confupdtype::text AS on_update, \
                 (SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum)::text AS cols, \
                 (SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum)::text AS ref_cols \
                 FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace ns ON ns.oid = c.relnamespace JOIN pg_class fc ON fc.oid = con.confrelid \
                 WHERE con.contype = 'f' AND c.relname = $1 AND ns.nspname = COALESCE($2, current_schema()) ORDER BY con.conname",
                vec![n, s],
            )
            .await?;
            for r in &found {
                out.push(ForeignKey {
                    name: r.get("name")?,
                    columns: json_names(r.get("cols")?)?,
                    references_table: r.get("ref_table")?,
                    references_columns: json_names(r.get("ref_cols")?)?,
                    on_delete: pg_action(&r.get::<String>("on_delete")?),
                    on_update: pg_action(&r.get::<String>("on_update")?),
                });
            }
        }
        Dialect::MySql => {
            let found = rows(
                db,
                "SELECT CAST(k.constraint_name AS CHAR) AS name, CAST(k.column_name AS CHAR) AS col, CAST(k.referenced_table_name AS CHAR) AS ref_table, \
                 CAST(k.referenced_column_name AS CHAR) AS ref_col, CAST(r.delete_rule AS CHAR) AS on_delete, CAST(r.update_rule AS CHAR) AS on_update \
                 FROM information_schema.key_column_usage k JOIN information_schema.referential_constraints r \
                 ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name AND r.table_name = k.table_name \
                 WHERE k.table_name = ? AND k.table_schema = COALESCE(?, DATABASE()) AND k.referenced_table_name IS NOT NULL \
                 ORDER BY k.constraint_name, k.ordinal_position",
                vec![n, s],
            )
            .await?;
            for r in &found {
                let name: String = r.get("name")?;
                if out.last().is_none_or(|f| f.name.as_deref() != Some(&name)) {
                    out.push(ForeignKey {
                        name: Some(name),
                        columns: Vec::new(),
                        references_table: r.get("ref_table")?,
                        references_columns: Vec::new(),
                        on_delete: r.get("on_delete")?,
                        on_update: r.get("on_update")?,
                    });
                }
                let last = out.last_mut().expect("pushed above");
                last.columns.push(r.get("col")?);
                last.references_columns.push(r.get("ref_col")?);
            }
        }
        _ => {
            let found = rows(
                db,
                "SELECT id, \"table\" AS ref_table, \"from\" AS col, \"to\" AS ref_col, on_delete, on_update FROM pragma_foreign_key_list(?) ORDER BY id, seq",
                vec![n],
            )
            .await?;
            let mut current = None;
            for r in &found {
                let id: i64 = r.get("id")?;
                let ref_table: String = r.get("ref_table")?;
                if current != Some(id) {
                    current = Some(id);
                    out.push(ForeignKey {
                        name: None,
                        columns: Vec::new(),
                        references_table: ref_table.clone(),
                        references_columns: Vec::new(),
                        on_delete: r.get("on_delete")?,
                        on_update: r.get("on_update")?,
                    });
                }
                let last = out.last_mut().expect("pushed above");
                last.columns.push(r.get("col")?);
                // No column named: the referenced table's primary key.
                if let Some(c) = r.get::<Option<String>>("ref_col")? {
                    last.references_columns.push(c);
                }
            }
            for fk in &mut out {
                // (Left empty when that table does not exist: SQLite lets a key name one.)
                if fk.references_columns.is_empty()
                    && table_exists(db, &fk.references_table).await?
                {
                    fk.references_columns = Box::pin(columns(db, &fk.references_table))
                        .await?
                        .into_iter()
                        .filter(|c| c.primary_key)
                        .map(|c| c.name)
                        .collect();
                }
            }
        }
    }
    Ok(out)
}

/// `table` whole: its columns, indexes and foreign keys.
pub async fn table_schema(db: &Executor, table: &str) -> Result<TableSchema> {
    let columns = columns(db, table).await?;
    let (schema, name) = split(db, table);
    let schema = match schema {
        Some(s) => s,
        None => {
            let sql = match db.dialect() {
                Dialect::Postgres => "SELECT current_schema()::text AS s",
                Dialect::MySql => "SELECT CAST(DATABASE() AS CHAR) AS s",
                _ => "SELECT 'main' AS s",
            };
            rows(db, sql, vec![]).await?[0].get("s")?
        }
    };
    Ok(TableSchema {
        table: Table { schema, name },
        columns,
        indexes: indexes(db, table).await?,
        foreign_keys: foreign_keys(db, table).await?,
    })
}
