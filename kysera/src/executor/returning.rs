//! RETURNING on MySQL, which has none: the statement runs, then the rows it changed are read
//! back by key, all on one connection inside a transaction or savepoint. Also exact
//! `ON CONFLICT DO NOTHING` counts (the conflict key is checked first).
#![cfg(feature = "mysql")]

use sqlx::Row as _;
use sqlx::mysql::MySqlConnection;

use super::connect::Pool;
use super::decode::mysql_value;
use super::hook::{Behaviours, Enforce};
use super::transaction::{OwnedTx, PendingSavepoint, TxConn, detached};
use super::{Executor, Target, To, sqlx_query};
use crate::core::classify::not_sent;
use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;
use crate::query::{
    ConflictAction, Delete, Expr, Filter, Insert, Query, Returning, Select, Update, Value, col,
    is_null, lower,
};
use crate::row::Row;

impl Executor {
    #[cfg(feature = "mysql")]
    /// A read-back of emulated RETURNING: exactly the rows the statement wrote, by key, as
    /// PostgreSQL and SQLite return them — not narrowed by the plugins' read filters (a plugin
    /// hiding `visible = false` rows must not make a create fail), still under the declared
    /// tenant isolation, and seeing soft-deleted rows (a soft delete returns its row).
    fn read_back(&self, select: Select) -> Result<Select> {
        let mut query = Query::Select(select.with_deleted());
        Behaviours::enforce(&mut query, &|| self.now())?;
        match query {
            Query::Select(s) => Ok(s),
            _ => Err(Error::InvalidQuery(
                "the read-back of RETURNING stopped being a SELECT".into(),
            )),
        }
    }

    #[cfg(feature = "mysql")]
    /// Emulates RETURNING (and exact DO NOTHING counts) on MySQL: the rows and the number of
    /// rows affected. `None` when the query is not a data-changing one.
    // In a MySQL-only build the checks of the connection's kind cannot fail.
    #[allow(irrefutable_let_patterns, unreachable_patterns)]
    pub(super) async fn mysql_emulated(&self, query: &Query) -> Result<Option<(Vec<Row>, u64)>> {
        if matches!(query, Query::Select(_)) {
            return Ok(None);
        }
        // Watched as one statement, the write (its read-backs run inside the same span).
        let probe = self.probe_lowered(&lower(query, Dialect::MySql)?, Some(query.table()));
        let result = match self.target().await {
            Ok(Target { to, permit, .. }) => {
                // In a task of their own (with the caller's auth context, for the read-backs'
                // policies), to completion even if this future is dropped.
                let (exec, query) = (self.clone(), query.clone());
                let result = detached(
                    tracing::Instrument::instrument(
                        Behaviours::carry(async move { exec.mysql_emulated_on(to, &query).await }),
                        probe.span(),
                    ),
                    drop,
                )
                .await
                .and_then(|r| r);
                if let Some(p) = permit {
                    p.record(&result);
                }
                result
            }
            Err(e) => Err(e),
        };
        probe.finish(&result);
        result
    }

    #[cfg(feature = "mysql")]
    // In a MySQL-only build the checks of the connection's kind cannot fail.
    #[allow(irrefutable_let_patterns, unreachable_patterns)]
    async fn mysql_emulated_on(
        &self,
        target: To,
        query: &Query,
    ) -> Result<Option<(Vec<Row>, u64)>> {
        let rows = match target {
            To::Tx(mut guard) => {
                let read = |s: Select| self.read_back(s);
                let Some(conn) = guard.as_mut().filter(|c| matches!(c, TxConn::MySql(_))) else {
                    return Err(Error::TransactionClosed);
                };
                // Several statements: in a savepoint, so a failure (or a cancelled future)
                // undoes all of them.
                let shared = &self.tx.as_ref().ok_or(Error::TransactionClosed)?.shared;
                let name = shared.new_savepoint();
                shared.open_on(conn, &name).await?;
                let mut pending = PendingSavepoint(shared.clone(), Some(name.clone()));
                let TxConn::MySql(tx) = conn else {
                    return Ok(None);
                };
                let outcome = mysql_emulate(tx, query, &read).await;
                let rows = match outcome {
                    Ok(rows) => match shared.release(conn, &name).await {
                        Ok(()) => rows,
                        Err(e) => {
                            let _ = shared.undo(conn, &name).await;
                            pending.1 = None;
                            return Err(e);
                        }
                    },
                    Err(e) => {
                        let _ = shared.undo(conn, &name).await;
                        pending.1 = None;
                        return Err(e);
                    }
                };
                pending.1 = None;
                rows
            }
            #[cfg(feature = "mysql")]
            To::Pool(Pool::MySql(pool)) => {
                // The statements must see one consistent state: run them in a transaction.
                let mut owned = OwnedTx::new(TxConn::MySql(pool.begin().await.map_err(not_sent)?));
                let TxConn::MySql(tx) = owned.conn()? else {
                    return Err(Error::TransactionClosed);
                };
                let read = |s: Select| self.read_back(s);
                let rows = mysql_emulate(tx, query, &read).await?;
                owned.commit().await?;
                rows
            }
            _ => return Ok(None),
        };
        Ok(Some(rows))
    }
}

/// Whether MariaDB (10.5 or later) returns this statement's rows itself: an INSERT without
/// ON CONFLICT (MariaDB's RETURNING does not say which rows a duplicate-key update touched, and
/// DO NOTHING needs its exact count) or a DELETE, with RETURNING asked for.
pub(super) fn mariadb_returns(query: &Query) -> bool {
    match query {
        Query::Insert(i) => i.on_conflict.is_none() && i.returning != Returning::None,
        Query::Delete(d) => d.returning != Returning::None,
        _ => false,
    }
}

/// Appends MariaDB's `RETURNING …` to a lowered INSERT or DELETE that [`mariadb_returns`]
/// (sea-query writes none for MySQL).
pub(super) fn append_mariadb_returning(l: &mut crate::query::Lowered, query: &Query) -> Result<()> {
    if !mariadb_returns(query) {
        return Ok(());
    }
    let list = match query.returning() {
        Returning::None => return Ok(()),
        Returning::All => "*".to_string(),
        Returning::Columns(cols) if cols.is_empty() => {
            return Err(Error::InvalidQuery("RETURNING names no column".into()));
        }
        // Escaped as the lowering escapes names (a NUL or an empty name is refused).
        Returning::Columns(cols) => cols
            .iter()
            .map(|c| Dialect::MySql.adapter().escape_identifier(c))
            .collect::<Result<Vec<_>>>()?
            .join(", "),
    };
    l.sql.push_str(" RETURNING ");
    l.sql.push_str(&list);
    Ok(())
}

#[cfg(feature = "mysql")]
/// Whether a row with this key exists, for `DO NOTHING`: any row, whoever may read it (the
/// database's unique constraint sees them all, and PostgreSQL and SQLite skip a row whose key
/// another tenant holds just the same). A plain read first, which locks nothing (a locking read
/// of a missing key locks a range, and two inserts of one new key would deadlock); after a
/// duplicate-key error, a shared locking read, which sees the row the other transaction
/// committed and needs no more than the shared lock the error left on it (an exclusive one
/// would deadlock with another session that lost the same race).
async fn mysql_key_exists(
    conn: &mut MySqlConnection,
    table: &str,
    key: &Filter,
    locking: bool,
) -> Result<bool> {
    let probe = Select::from(table).filter(key.clone()).limit(1);
    let suffix = if locking { " LOCK IN SHARE MODE" } else { "" };
    Ok(!mysql_fetch(conn, probe, suffix).await?.is_empty())
}

#[cfg(feature = "mysql")]
/// Whether a key filter compares with NULL (which matches nothing).
fn filter_has_null(f: &Filter) -> bool {
    match f {
        Filter::Compare {
            right: Expr::Value(v),
            ..
        } => is_null(v),
        Filter::And(v) | Filter::Or(v) => v.iter().any(filter_has_null),
        _ => false,
    }
}

#[cfg(feature = "mysql")]
/// `col1 = v1 AND col2 = v2 …`
fn key_filter(cols: &[String], values: impl IntoIterator<Item = Value>) -> Filter {
    Filter::And(cols.iter().zip(values).map(|(c, v)| col(c).eq(v)).collect())
}

#[cfg(feature = "mysql")]
fn returning_select(table: &str, returning: &Returning, key: Filter) -> Select {
    let mut s = Select::from(table).filter(key);
    if let Returning::Columns(cols) = returning {
        s = s.columns(cols.iter().map(|c| col(c)));
    }
    s
}

#[cfg(feature = "mysql")]
async fn mysql_fetch(
    conn: &mut MySqlConnection,
    q: impl Into<Query>,
    suffix: &str,
) -> Result<Vec<Row>> {
    let mut l = lower(&q.into(), Dialect::MySql)?;
    l.sql.push_str(suffix);
    Ok(sqlx_query(l)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(Row::MySql)
        .collect())
}

#[cfg(feature = "mysql")]
fn needs_key(what: &str, table: &str) -> Error {
    Error::Unsupported {
        dialect: Dialect::MySql,
        what: format!(
            "RETURNING from {what} `{table}` without a declared primary key (MySQL has no RETURNING; Kysera reads the rows back by key)"
        ),
    }
}

#[cfg(feature = "mysql")]
/// Whether an insert has `ON CONFLICT (cols) DO NOTHING`, which MySQL cannot report exactly:
/// sqlx connects with `CLIENT_FOUND_ROWS`, so a skipped duplicate counts as one affected row.
/// Kysera checks the conflict key itself instead (see [`mysql_insert`]).
pub(super) fn mysql_checks_conflicts(query: &Query) -> bool {
    matches!(query, Query::Insert(Insert { on_conflict: Some(oc), .. })
        if oc.action == ConflictAction::DoNothing && !oc.columns.is_empty())
}

#[cfg(feature = "mysql")]
/// RETURNING on MySQL: the statement, then a read of the affected rows by key, on one connection
/// inside a transaction. Returns the rows and the number of rows affected.
/// `read` puts the emulation's own reads (probes and read-backs) under the statement's policies.
type ReadBack<'a> = &'a (dyn Fn(Select) -> Result<Select> + Sync);

#[cfg(feature = "mysql")]
// In a MySQL-only build the check of the row's kind cannot fail.
#[allow(irrefutable_let_patterns)]
async fn mysql_emulate(
    conn: &mut MySqlConnection,
    query: &Query,
    read: ReadBack<'_>,
) -> Result<(Vec<Row>, u64)> {
    match query {
        Query::Insert(ins) => mysql_insert(conn, ins, read).await,
        Query::Update(upd) => mysql_update_returning(conn, upd, read).await,
        Query::Delete(del) => {
            let mut plain = Delete {
                returning: Returning::None,
                ..del.clone()
            };
            let mut filter = del.filter.clone();
            if !del.primary_key.is_empty() {
                // With a key: the rows are locked and read by key, and exactly those deleted.
                let pk = &del.primary_key;
                let keys_select = Select {
                    filter: del.filter.clone(),
                    ..Select::from(&del.table).columns(pk.iter().map(|c| col(c)))
                };
                let mut keys = Vec::new();
                for row in mysql_fetch(conn, keys_select, " FOR UPDATE").await? {
                    let Row::MySql(r) = &row else { continue };
                    let key = (0..pk.len())
                        .map(|i| mysql_value(r, i))
                        .collect::<Result<Vec<_>>>()?;
                    keys.push(key_filter(pk, key));
                }
                filter = Some(Filter::Or(keys));
                plain.filter = filter.clone();
            }
            let before = Select {
                filter,
                ..returning_select(&del.table, &del.returning, Filter::And(vec![]))
            };
            let rows = mysql_fetch(conn, before, " FOR UPDATE").await?;
            let n = sqlx_query(lower(&plain.into(), Dialect::MySql)?)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            Ok((rows, n))
        }
        Query::Select(_) => Ok((Vec::new(), 0)),
    }
}

#[cfg(feature = "mysql")]
/// Inserts row by row. With `ON CONFLICT (cols) DO NOTHING`, a row whose conflict key is
/// already present (whoever may read it) is skipped, as PostgreSQL and SQLite skip it.
/// With RETURNING, each inserted row is read back by its conflict key, its given primary key, or
/// `LAST_INSERT_ID()` for a single auto-increment key.
async fn mysql_insert(
    conn: &mut MySqlConnection,
    ins: &Insert,
    read: ReadBack<'_>,
) -> Result<(Vec<Row>, u64)> {
    let want_rows = ins.returning != Returning::None;
    if want_rows
        && ins.on_conflict.is_none()
        && ins.rows.len() > 1
        && let [pk] = ins.primary_key.as_slice()
        && !ins.columns.iter().any(|c| c.eq_ignore_ascii_case(pk))
        && let Some(step) = mysql_consecutive_ids(conn).await?
    {
        return mysql_insert_many(conn, ins, pk, step, read).await;
    }
    let mut out = Vec::with_capacity(if want_rows { ins.rows.len() } else { 0 });
    let mut inserted = 0;
    for (n, row) in ins.rows.iter().enumerate() {
        let given = |cols: &[String]| -> Option<Vec<Value>> {
            cols.iter().map(|c| ins.value(n, c).cloned()).collect()
        };
        let conflict_key = match &ins.on_conflict {
            Some(oc) if !oc.columns.is_empty() => {
                let vals = given(&oc.columns).ok_or_else(|| {
                    Error::InvalidQuery(format!(
                        "INSERT INTO `{}`: the conflict columns must all be given",
                        ins.table
                    ))
                })?;
                Some((
                    key_filter(&oc.columns, vals),
                    oc.action == ConflictAction::DoNothing,
                ))
            }
            _ => None,
        };
        let skip_on_conflict = matches!(&conflict_key, Some((_, true)));
        if let Some((key, true)) = &conflict_key
            && mysql_key_exists(conn, &ins.table, key, false).await?
        {
            continue;
        }
        let single = Insert {
            rows: vec![row.clone()],
            returning: Returning::None,
            // DO NOTHING is the probe above; `ON DUPLICATE KEY UPDATE c = c` would also swallow
            // a clash on another unique key, which PostgreSQL and SQLite report.
            on_conflict: if skip_on_conflict {
                None
            } else {
                ins.on_conflict.clone()
            },
            ..ins.clone()
        };
        let done = match sqlx_query(lower(&single.into(), Dialect::MySql)?)
            .execute(&mut *conn)
            .await
            .map_err(Error::from)
        {
            Ok(done) => done,
            // Inserted by someone else since the probe: skip it, as DO NOTHING would.
            Err(Error::UniqueViolation(_))
                if skip_on_conflict
                    && let Some((key, _)) = &conflict_key
                    && mysql_key_exists(conn, &ins.table, key, true).await? =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        inserted += done.rows_affected().min(1);
        if !want_rows {
            continue;
        }
        let key = match conflict_key {
            Some((key, _)) => key,
            None if ins.on_conflict.is_some() && done.rows_affected() == 0 => continue,
            None if ins.primary_key.is_empty() => {
                return Err(needs_key("an insert into", &ins.table));
            }
            None => match given(&ins.primary_key) {
                Some(vals) => key_filter(&ins.primary_key, vals),
                None if ins.primary_key.len() == 1 && done.last_insert_id() != 0 => key_filter(
                    &ins.primary_key,
                    [Value::BigUnsigned(Some(done.last_insert_id()))],
                ),
                None if ins.primary_key.len() == 1 => {
                    return Err(Error::Unsupported {
                        dialect: Dialect::MySql,
                        what: format!(
                            "RETURNING from an insert into `{}` whose key `{}` is neither given nor AUTO_INCREMENT (MySQL has no RETURNING; Kysera reads the row back by key)",
                            ins.table, ins.primary_key[0]
                        ),
                    });
                }
                None => {
                    return Err(Error::InvalidQuery(format!(
                        "INSERT INTO `{}`: every column of the composite primary key must be given",
                        ins.table
                    )));
                }
            },
        };
        if key.columns().is_empty() || filter_has_null(&key) {
            return Err(Error::InvalidQuery(format!(
                "INSERT INTO `{}`: the row cannot be read back by a NULL key",
                ins.table
            )));
        }
        let back = read(returning_select(&ins.table, &ins.returning, key))?;
        let back = mysql_fetch(conn, back, "").await?;
        if back.is_empty() {
            // Never report success for a row that cannot be returned: the caller's
            // transaction (or ours) is rolled back by this error.
            return Err(Error::NotFound(Some(format!(
                "the row just inserted into `{}` could not be read back by its key",
                ins.table
            ))));
        }
        out.extend(back);
    }
    Ok((out, inserted))
}

#[cfg(feature = "mysql")]
/// The step between the AUTO_INCREMENT values one multi-row insert takes, when they are
/// consecutive: `innodb_autoinc_lock_mode` 0 or 1 (MariaDB's default, and MySQL's before 8.0)
/// gives the rows of one simple insert values `first, first + step, …` in row order, whatever
/// other sessions insert. With mode 2 (MySQL 8's default, Galera) values interleave: `None`,
/// and rows go one by one.
async fn mysql_consecutive_ids(conn: &mut MySqlConnection) -> Result<Option<u64>> {
    // A server without these variables (not InnoDB's) gets the row-by-row path.
    let Ok(row) = sqlx::query(
        "SELECT CAST(@@innodb_autoinc_lock_mode AS SIGNED), CAST(@@auto_increment_increment AS SIGNED)",
    )
    .fetch_one(&mut *conn)
    .await
    else {
        return Ok(None);
    };
    let mode: Option<i64> = row.try_get(0).ok().flatten();
    let step: Option<i64> = row.try_get(1).ok().flatten();
    Ok(match (mode, step) {
        (Some(0 | 1), Some(step)) if step >= 1 => Some(step as u64),
        _ => None,
    })
}

#[cfg(feature = "mysql")]
/// A multi-row insert whose AUTO_INCREMENT keys are consecutive (see
/// [`mysql_consecutive_ids`]): one statement, then the rows read back by the keys it took, in
/// key order — the input order. Any row missing from the read-back is an error, which undoes the
/// insert.
async fn mysql_insert_many(
    conn: &mut MySqlConnection,
    ins: &Insert,
    pk: &str,
    step: u64,
    read: ReadBack<'_>,
) -> Result<(Vec<Row>, u64)> {
    let n = ins.rows.len() as u64;
    let plain = Insert {
        returning: Returning::None,
        ..ins.clone()
    };
    let done = sqlx_query(lower(&plain.into(), Dialect::MySql)?)
        .execute(&mut *conn)
        .await?;
    let first = done.last_insert_id();
    if first == 0 {
        return Err(Error::Unsupported {
            dialect: Dialect::MySql,
            what: format!(
                "RETURNING from an insert into `{}` whose key `{pk}` is neither given nor AUTO_INCREMENT (MySQL has no RETURNING; Kysera reads the rows back by key)",
                ins.table
            ),
        });
    }
    // With a step of 1 the keys are one range, all this statement's; otherwise the list.
    let last = first + (n - 1) * step;
    let keys = if step == 1 {
        Filter::And(vec![
            col(pk).gte(Value::BigUnsigned(Some(first))),
            col(pk).lte(Value::BigUnsigned(Some(last))),
        ])
    } else {
        col(pk).is_in((0..n).map(|k| Value::BigUnsigned(Some(first + k * step))))
    };
    let back = read(
        returning_select(&ins.table, &ins.returning, keys)
            .order_by(col(pk), crate::query::Order::Asc),
    )?;
    let rows = mysql_fetch(conn, back, "").await?;
    if rows.len() as u64 != n || done.rows_affected() != n {
        return Err(Error::NotFound(Some(format!(
            "{} of the {n} rows just inserted into `{}` could be read back by their keys",
            rows.len(),
            ins.table
        ))));
    }
    Ok((rows, n))
}

#[cfg(feature = "mysql")]
#[allow(irrefutable_let_patterns)]
async fn mysql_update_returning(
    conn: &mut MySqlConnection,
    upd: &Update,
    read: ReadBack<'_>,
) -> Result<(Vec<Row>, u64)> {
    if upd.primary_key.is_empty() {
        return Err(needs_key("an update of", &upd.table));
    }
    let pk = &upd.primary_key;
    let keys_select = Select {
        filter: upd.filter.clone(),
        ..Select::from(&upd.table).columns(pk.iter().map(|c| col(c)))
    };
    let mut keys = Vec::new();
    for row in mysql_fetch(conn, keys_select, " FOR UPDATE").await? {
        let Row::MySql(r) = &row else { continue };
        let mut key = Vec::with_capacity(pk.len());
        for (i, c) in pk.iter().enumerate() {
            // A key column the update changes is found under its new value.
            key.push(match upd.values.iter().find(|(vc, _)| vc == c) {
                Some((_, v)) => v.clone(),
                None => mysql_value(r, i)?,
            });
        }
        keys.push(key);
    }
    let plain = Update {
        returning: Returning::None,
        ..upd.clone()
    };
    let n = sqlx_query(lower(&plain.into(), Dialect::MySql)?)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if keys.is_empty() {
        return Ok((Vec::new(), n));
    }
    let expected = keys.len();
    let any = Filter::Or(keys.into_iter().map(|k| key_filter(pk, k)).collect());
    let back = read(returning_select(&upd.table, &upd.returning, any))?;
    let rows = mysql_fetch(conn, back, "").await?;
    if rows.len() != expected {
        // Never report an update whose rows cannot be returned (a read policy hides them):
        // the error undoes it.
        return Err(Error::InvalidQuery(format!(
            "{} of {expected} updated rows of `{}` could not be read back",
            expected - rows.len().min(expected),
            upd.table
        )));
    }
    Ok((rows, n))
}
