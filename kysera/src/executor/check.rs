//! The rows-written check of an INSERT or UPDATE ([`Insert::check`](crate::query::Insert)): a
//! row-level policy's WITH CHECK that Rust could not decide from the values alone, decided by
//! the database before the statement writes anything.
//!
//! - An INSERT: the condition with each row's values in place of the columns, evaluated by the
//!   database with no table (its collation, its three-valued logic); a row it does not find
//!   true refuses the statement.
//! - An UPDATE: the rows it would change whose new version (the condition with the values set
//!   in place of those columns; the other columns keep their value) is not true are counted
//!   first: any refuses the statement. The statement then also carries that condition, so a
//!   row changed concurrently in between is not written out of policy either.

use sqlx::Row as _;

use super::{Executor, Target, sqlx_query};
use crate::core::error::{Error, Result};
use crate::query::{Expr, Filter, Query, Select, Value, lower_truths};
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

impl Executor {
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
                    let row = on_target!(self.target().await?, |c, wrap| sqlx_query(l)
                        .fetch_one(c)
                        .await
                        .map(wrap)
                        .map_err(Error::from))?;
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
