//! The behaviours layer's side of the executor's hook
//! ([`Enforce`](crate::executor::hook::Enforce)): every query that names a table some model
//! declared a behaviour for gets that behaviour, after the plugins ran.

use chrono::{DateTime, Utc};

use super::registry::{Registry, registry};
use super::rls::tenant;
use super::{rls, soft_delete, timestamps};
use crate::core::error::{Error, Result};
use crate::executor::hook::{Behaviours, Enforce};
use crate::query::{JoinKind, Query, Select};

impl Enforce for Behaviours {
    fn enforce(query: &mut Query, now: &dyn Fn() -> DateTime<Utc>) -> Result<()> {
        match registry() {
            Some(reg) => apply(&reg, query, now),
            None => Ok(()),
        }
    }

    fn transaction_settings() -> Vec<(&'static str, String)> {
        rls::transaction_settings()
    }

    fn carry<F>(fut: F) -> impl std::future::Future<Output = F::Output> + Send + 'static
    where
        F: std::future::Future + Send + 'static,
    {
        rls::carry(fut)
    }
}

/// Applies soft delete, timestamps and tenant isolation to `query`.
fn apply(reg: &Registry, query: &mut Query, now: &dyn Fn() -> DateTime<Utc>) -> Result<()> {
    // A table whose models disagree is refused before anything else.
    reg.get(query.table())?;
    for joined in query.joined_tables() {
        reg.get(&joined.name)?;
    }
    match query {
        Query::Select(s) => {
            refuse_outer_joins(reg, s)?;
            soft_delete::select(reg, s);
            tenant::select(reg, s)?;
        }
        Query::Update(u) => {
            let Some(b) = reg.declared(&u.table).copied() else {
                return Ok(());
            };
            tenant::update(reg, u)?;
            soft_delete::update(&b, u);
            timestamps::update(&b, u, now);
        }
        Query::Insert(i) => {
            let Some(b) = reg.declared(&i.table).copied() else {
                return Ok(());
            };
            tenant::insert(reg, i)?;
            soft_delete::insert(&b, i);
            timestamps::insert(&b, i, now);
        }
        Query::Delete(d) => tenant::delete(reg, d)?,
    }
    Ok(())
}

/// Under RIGHT or FULL JOIN a table's hidden rows would come back NULL-extended or unfiltered
/// (another tenant's rows, deleted rows): refused rather than leaked.
fn refuse_outer_joins(reg: &Registry, s: &Select) -> Result<()> {
    let outer = s
        .joins
        .iter()
        .any(|j| matches!(j.kind, JoinKind::Right | JoinKind::Full));
    if outer
        && (reg.hides_rows(&s.table.name) || s.joins.iter().any(|j| reg.hides_rows(&j.table.name)))
    {
        return Err(Error::InvalidQuery(format!(
            "RIGHT or FULL JOIN with a soft-delete or row-level-security table in a query on `{}`; write it as a LEFT JOIN from the other table",
            s.table.name
        )));
    }
    Ok(())
}
