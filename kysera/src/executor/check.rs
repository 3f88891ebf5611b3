//! The rows-written check of an INSERT or UPDATE ([`Insert::check`](crate::query::Insert)): a
//! row-level policy's WITH CHECK.
//!
//! - With the primary key declared on the statement: the statement runs, its rows are read
//!   back by key in the same transaction (or savepoint) and checked as stored — after the
//!   column's type, collation and defaults apply — and a failing row undoes it all.
//! - Without a key, decided by the database before anything is written. An INSERT: the
//!   condition with each row's values in place of the columns, evaluated with no table, in
//!   groups. An UPDATE: the rows it would change whose new version (the set values in place of
//!   those columns) is not true are counted first, and the statement also carries that
//!   condition, so a row changed concurrently in between is not written out of policy either.

use sqlx::Row as _;

use super::{Executor, sqlx_query};
use crate::core::error::{Error, Result};
use crate::query::{Expr, Filter, Query, Returning, Select, Value, col, lower_truths};
use crate::row::Row;

/// `f` with each column the statement writes replaced by the value written; `None` when it
/// names a column the statement does not write and `all_written` is asked.
fn substitute(f: &Filter, written: &[(&str, &Value)], all_written: bool) -> Option<Filter> {
    let expr = |e: &Expr| -> Option<Expr> {
        match e {
            Expr::Column(c) => match written
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(&c.column))
            {
                Some((_, v)) => Some(Expr::Value((*v).clone())),
                None if all_written => None,
                None => Some(e.clone()),
            },
            Expr::Aggregate(..) if all_written => None,
            other => Some(other.clone()),
        }
    };
    let sub = |f: &Filter| substitute(f, written, all_written);
    Some(match f {
        Filter::Compare { left, op, right } => Filter::Compare {
            left: expr(left)?,
            op: *op,
            right: expr(right)?,
        },
        Filter::In {
            expr: e,
            values,
            negated,
        } => Filter::In {
            expr: expr(e)?,
            values: values.clone(),
            negated: *negated,
        },
        Filter::Like {
            expr: e,
            pattern,
            negated,
        } => Filter::Like {
            expr: expr(e)?,
            pattern: pattern.clone(),
            negated: *negated,
        },
        Filter::IsNull { expr: e, negated } => Filter::IsNull {
            expr: expr(e)?,
            negated: *negated,
        },
        Filter::Identical { left, right } => Filter::Identical {
            left: expr(left)?,
            right: expr(right)?,
        },
        Filter::And(v) => Filter::And(v.iter().map(sub).collect::<Option<_>>()?),
        Filter::Or(v) => Filter::Or(v.iter().map(sub).collect::<Option<_>>()?),
        Filter::Not(f) => Filter::Not(Box::new(sub(f)?)),
        Filter::NotTrue(f) => Filter::NotTrue(Box::new(sub(f)?)),
    })
}

fn refused(query: &Query, reason: impl Into<String>) -> Error {
    Error::AccessDenied {
        table: query.table().to_string(),
        operation: query.operation(),
        reason: reason.into(),
    }
}

/// The primary key an insert or update declares (empty when it declares none).
pub(super) fn declared_key(query: &Query) -> Vec<String> {
    match query {
        Query::Insert(i) => i.primary_key.clone(),
        Query::Update(u) => u.primary_key.clone(),
        _ => Vec::new(),
    }
}

/// `returning` with the key columns added.
fn with_key(returning: &Returning, pk: &[String]) -> Returning {
    match returning {
        Returning::All => Returning::All,
        Returning::None => Returning::Columns(pk.to_vec()),
        Returning::Columns(c) => {
            let mut c = c.clone();
            c.extend(
                pk.iter()
                    .filter(|k| !c.contains(k))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            Returning::Columns(c)
        }
    }
}

/// A key column's value in a returned row, as stored.
fn key_value(row: &Row, column: &str) -> Result<Value> {
    // Unused in a MySQL-only build, whose rows carry their own value reader.
    #[allow(unused_macros)]
    macro_rules! first_of {
        ($r:expr, $($t:ty),*) => {{
            $(if let Ok(v) = sqlx::Row::try_get::<$t, _>($r, column) { return Ok(Value::from(v)); })*
        }};
    }
    match row {
        #[cfg(feature = "sqlite")]
        Row::Sqlite(r) => first_of!(r, i64, String, uuid::Uuid, Vec<u8>),
        #[cfg(all(feature = "postgres", not(feature = "rust_decimal")))]
        Row::Postgres(r) => first_of!(r, i64, i32, i16, String, uuid::Uuid),
        #[cfg(all(feature = "postgres", feature = "rust_decimal"))]
        Row::Postgres(r) => first_of!(r, i64, i32, i16, String, uuid::Uuid, rust_decimal::Decimal),
        #[cfg(feature = "mysql")]
        Row::MySql(r) => {
            if let Some(i) = sqlx::Row::columns(r)
                .iter()
                .position(|c| sqlx::Column::name(c) == column)
            {
                return super::decode::mysql_value(r, i);
            }
        }
    }
    Err(Error::InvalidQuery(format!(
        "the key column `{column}` of a checked write could not be read back"
    )))
}

impl Executor {
    /// Runs a write that carries a rows-written check. With the table's primary key declared
    /// on the statement, the rows it writes are read back by key in the same transaction (or
    /// savepoint) and checked **as stored** — after the column's type and collation apply — and
    /// a row that fails undoes the statement ([`Error::AccessDenied`]). Without a key, the
    /// check is decided on the values before anything is written ([`decide_check`]).
    pub(super) async fn checked_write(&self, query: &Query) -> Result<Vec<Row>> {
        let pk = declared_key(query);
        let Some(check) = query.check().cloned() else {
            return Box::pin(self.fetch_all_on_target(query)).await;
        };
        let mut query = query.clone();
        if pk.is_empty() {
            self.decide_check(&mut query).await?;
            return Box::pin(self.fetch_all_on_target(&query)).await;
        }
        match &mut query {
            Query::Insert(i) => {
                i.check = None;
                i.returning = with_key(&i.returning, &pk);
            }
            Query::Update(u) => {
                u.check = None;
                u.returning = with_key(&u.returning, &pk);
            }
            _ => {}
        }
        self.atomic(async move |tx| {
            let rows = Box::pin(tx.fetch_all_on_target(&query)).await?;
            if rows.is_empty() {
                return Ok(rows);
            }
            let keys = rows
                .iter()
                .map(|r| {
                    pk.iter()
                        .map(|c| key_value(r, c).map(|v| col(c).eq(v)))
                        .collect::<Result<Vec<_>>>()
                        .map(Filter::And)
                })
                .collect::<Result<Vec<_>>>()?;
            let mut stored = Select::from(query.table().to_string());
            stored.filter = Some(Filter::Or(keys).and(check.is_not_true()));
            let failing = tx.count_unchecked(stored).await?;
            if failing > 0 {
                return Err(refused(
                    &query,
                    format!("{failing} row(s) written are not ones the policies allow"),
                ));
            }
            Ok(rows)
        })
        .await
    }

    /// Decides `query`'s rows-written check (see the module docs) and takes it off the query:
    /// `Ok` when every row it writes meets it, [`Error::AccessDenied`] (nothing written)
    /// otherwise.
    pub(super) async fn decide_check(&self, query: &mut Query) -> Result<()> {
        let Some(check) = query.check().cloned() else {
            return Ok(());
        };
        match query {
            Query::Insert(i) => {
                i.check = None;
                let mut conds = Vec::with_capacity(i.rows.len());
                for row in &i.rows {
                    let written: Vec<(&str, &Value)> = i
                        .columns
                        .iter()
                        .map(String::as_str)
                        .zip(row.iter())
                        .collect();
                    let Some(c) = substitute(&check, &written, true) else {
                        return Err(refused(
                            query,
                            "a policy's condition names a column this insert does not set (so its default is not known here); set it explicitly",
                        ));
                    };
                    conds.push(c);
                }
                if conds.is_empty() {
                    return Ok(());
                }
                // In groups: a select list is limited (PostgreSQL 1,664 entries, SQLite 2,000)
                // and so are the parameters.
                const GROUP: usize = 400;
                for (g, group) in conds.chunks(GROUP).enumerate() {
                    let l = lower_truths(group, self.dialect())?;
                    let row = on_target!(
                        self.probe_lowered(&l, Some(query.table())),
                        self.target().await,
                        |c, wrap| sqlx_query(l)
                            .fetch_one(c)
                            .await
                            .map(wrap)
                            .map_err(Error::from)
                    )?;
                    for n in 0..group.len() {
                        if truth(&row, n)? != 1 {
                            return Err(refused(
                                query,
                                format!("row {} is not one the policies allow", g * GROUP + n),
                            ));
                        }
                    }
                }
                Ok(())
            }
            Query::Update(u) => {
                u.check = None;
                let written: Vec<(&str, &Value)> =
                    u.values.iter().map(|(c, v)| (c.as_str(), v)).collect();
                let new_row = substitute(&check, &written, false).ok_or_else(|| {
                    Error::InvalidQuery("the update's check could not be prepared".into())
                })?;
                let mut select = Select::from(u.table.clone());
                select.filter = u.filter.clone();
                select.add_filter(new_row.clone().is_not_true());
                let out_of_policy = self.count_unchecked(select).await?;
                if out_of_policy > 0 {
                    return Err(refused(
                        query,
                        format!(
                            "the new values would take {out_of_policy} row(s) out of what the policies allow"
                        ),
                    ));
                }
                u.add_filter(new_row);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Column `n` of a `lower_truths` row: 1 for true, 0 otherwise.
fn truth(row: &Row, n: usize) -> Result<i64> {
    let v = match row {
        #[cfg(feature = "sqlite")]
        Row::Sqlite(r) => r.try_get::<i64, _>(n),
        #[cfg(feature = "postgres")]
        Row::Postgres(r) => r.try_get::<i64, _>(n),
        #[cfg(feature = "mysql")]
        Row::MySql(r) => r.try_get::<i64, _>(n),
    };
    v.map_err(Error::from)
}
