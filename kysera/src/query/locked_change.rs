//! Reads that lock the rows a write will change: `SELECT … FOR UPDATE`, and an audited UPDATE
//! or DELETE on PostgreSQL as one statement (a round trip instead of three) — a data-modifying
//! CTE that locks the rows the write's condition selects, changes exactly those, and returns
//! each one before and after.

use sea_query::{ExprTrait, LockType, Query as Sq, UnionType};

use super::lower::{Lowered, build, delete_statement, update_statement};
use super::lower_filter::{condition, iden};
use super::shape::lower;
use super::{Query, Returning, Select};
use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;

/// `select` locked for update where the database can (PostgreSQL, MySQL; SQLite serialises
/// writers): the rows an already intercepted write will change, read without plugins.
pub(crate) fn lower_locked(select: Select, dialect: Dialect) -> Result<Lowered> {
    let mut l = lower(&Query::Select(select), dialect)?;
    if dialect.adapter().row_locks() {
        l.sql.push_str(" FOR UPDATE");
    }
    Ok(l)
}

/// The name of the column that tells whether a row after an UPDATE meets its rows-written
/// check (always `TRUE` for the rows before, and without a check).
pub(crate) const CHECKED: &str = "__kysera_checked";

/// The name of the column that tells a row's state after the write (`true`) from its state
/// before (`false`).
pub(crate) const AFTER: &str = "__kysera_after";

/// `write` (an UPDATE or DELETE, its plugins and policies already applied) as
///
/// ```sql
/// WITH "__kysera_old" AS (SELECT <columns> FROM t WHERE <condition> FOR UPDATE),
///      "__kysera_new" AS (UPDATE t SET … WHERE <condition>
///                           AND (<key>) IN (SELECT <key> FROM "__kysera_old") RETURNING <columns>)
/// SELECT FALSE AS "__kysera_after", <columns> FROM "__kysera_old"
/// UNION ALL SELECT TRUE, <columns> FROM "__kysera_new"
/// ```
///
/// The lock makes the rows read the rows changed: a row a concurrent transaction changes first
/// is read in its new state (or left out when it no longer matches), and nothing else is
/// written. For a DELETE the rows after are the rows removed (to count them).
///
/// An UPDATE with a rows-written check (a row policy's WITH CHECK) returns every column of
/// the changed rows, and each row after says in [`CHECKED`] whether it meets the check as
/// stored (`FALSE` for NULL); the caller undoes the write when one does not. The check may
/// name the table (the rows after are read under its name) and columns the model lacks.
pub(crate) fn lower_locked_change(
    write: &Query,
    columns: &[&str],
    key: &[&str],
) -> Result<Lowered> {
    if write.too_deep() {
        return Err(super::expr::too_deep());
    }
    write.null_comparison()?;
    const OLD: &str = "__kysera_old";
    const NEW: &str = "__kysera_new";
    let d = Dialect::Postgres;
    let table = write.table();
    let mut old = Sq::select();
    old.columns(columns.iter().map(|c| iden(c)))
        .from(iden(table))
        .lock(LockType::Update);
    if let Some(f) = write.filter() {
        old.cond_where(condition(f, d));
    }
    let mut keys = Sq::select();
    keys.columns(key.iter().map(|c| iden(c))).from(iden(OLD));
    let qualified = |c: &&str| sea_query::Expr::col((iden(table), iden(c)));
    let locked = match key {
        [one] => qualified(one).in_subquery(keys),
        _ => sea_query::Expr::tuple(key.iter().map(qualified)).in_subquery(keys),
    };
    let returning = Sq::returning().columns(columns.iter().map(|c| iden(c)));
    let check = match write {
        Query::Update(u) => u.check.clone(),
        _ => None,
    };
    let change: sea_query::SubQueryStatement = match write {
        Query::Update(u) => {
            let mut u = u.clone();
            u.returning = Returning::None;
            u.check = None;
            let mut q = update_statement(&u, d)?;
            q.and_where(locked);
            match check {
                Some(_) => q.returning(Sq::returning().all()),
                None => q.returning(returning),
            };
            q.into()
        }
        Query::Delete(del) => {
            let mut del = del.clone();
            del.returning = Returning::None;
            let mut q = delete_statement(&del, d);
            q.and_where(locked).returning(returning);
            q.into()
        }
        _ => {
            return Err(Error::InvalidQuery(
                "only updates and deletes are audited this way".into(),
            ));
        }
    };
    let side = |from: &str, after: bool| {
        let mut s = Sq::select();
        s.expr_as(
            sea_query::Expr::cust(if after { "TRUE" } else { "FALSE" }),
            iden(AFTER),
        )
        .columns(columns.iter().map(|c| iden(c)));
        match (&check, after) {
            (Some(f), true) => {
                // Read under the table's name, so a check that names it still resolves.
                s.expr_as(
                    sea_query::Expr::case(condition(f, d), sea_query::Expr::cust("TRUE"))
                        .finally(sea_query::Expr::cust("FALSE")),
                    iden(CHECKED),
                )
                .from_as(iden(from), iden(table));
            }
            _ => {
                s.expr_as(sea_query::Expr::cust("TRUE"), iden(CHECKED))
                    .from(iden(from));
            }
        }
        s
    };
    let mut body = side(OLD, false);
    body.union(UnionType::All, side(NEW, true));
    let mut old_cte = sea_query::CommonTableExpression::new();
    old_cte.table_name(iden(OLD)).query(old);
    let mut new_cte = sea_query::CommonTableExpression::new();
    new_cte.table_name(iden(NEW)).query(change);
    let with = sea_query::WithClause::new()
        .cte(old_cte)
        .cte(new_cte)
        .to_owned()
        .query(body);
    build(&with, d)
}
