//! The model functions that write: create, update and delete, one row or many, audited when
//! the model declares `#[audit]`.

use super::{Context, all_columns, decode_all, find_by_id, not_found, update_returning};
use crate::behaviour::audit::{self, Change};
use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;
use crate::model::{FilterOn, Model};
use crate::query::{
    CHANGE_AFTER, CHANGE_CHECKED, Delete, Filter, Insert, Query, Returning, Update, Value, col,
    lower_locked, lower_locked_change,
};

pub(super) fn insert_for<M: Model>() -> Insert {
    Insert::into(M::INFO.table)
        .primary_key(M::INFO.primary_key.iter().copied())
        .returning(all_columns::<M>())
}

/// Validates and inserts one row; returns it as stored (database defaults filled in).
pub async fn create<M: Model>(ctx: &Context, new: M::New) -> Result<M> {
    super::model::<M>()?;
    M::validate_new(&new).map_err(Error::Validation)?;
    insert_row::<M>(ctx, new_insert::<M>(&new)).await
}

pub(super) fn new_insert<M: Model>(new: &M::New) -> Insert {
    let mut ins = insert_for::<M>();
    for (c, v) in M::insert_values(new) {
        ins.set_value(c, v);
    }
    if ins.rows.is_empty() {
        ins.rows.push(Vec::new());
    }
    ins
}

/// Inserts one row (audited when `M` audits creates) and returns it.
pub(super) async fn insert_row<M: Model>(ctx: &Context, ins: Insert) -> Result<M> {
    let Some(audit) = audit::for_change::<M>(ctx, Change::Create)? else {
        // Decoded before the insert commits: a row that cannot be read undoes it.
        let rows = ctx.fetch_decoded(ins, M::from_row).await?;
        return rows.into_iter().next().ok_or_else(|| {
            Error::NotFound(Some(format!(
                "the insert into `{}` returned no row",
                M::INFO.table
            )))
        });
    };
    ctx.atomic(async move |tx| {
        let row = M::from_row(&tx.fetch_one(ins).await?)?;
        audit::record(&tx, &audit, "create", &[(None, Some(&row))]).await?;
        Ok(row)
    })
    .await
}

/// Validates every input, then inserts them all (one statement when they name the same columns,
/// otherwise one per row inside a transaction); returns the rows as the database returns them
/// (in input order on all three databases, though SQL does not promise it for one statement).
/// A batch larger than one statement can bind (SQLite allows 32,766 parameters, PostgreSQL and
/// MySQL 65,535) is split into several statements in one transaction: all rows or none.
pub async fn create_many<M: Model>(ctx: &Context, news: Vec<M::New>) -> Result<Vec<M>> {
    super::model::<M>()?;
    for new in &news {
        M::validate_new(new).map_err(Error::Validation)?;
    }
    match audit::for_change::<M>(ctx, Change::Create)? {
        None => create_many_unvalidated(ctx, news).await,
        Some(audit) => {
            ctx.atomic(async move |tx| {
                let rows = create_many_unvalidated::<M>(&tx, news).await?;
                let pairs: Vec<_> = rows.iter().map(|r| (None, Some(r))).collect();
                audit::record(&tx, &audit, "create", &pairs).await?;
                Ok(rows)
            })
            .await
        }
    }
}

/// How many parameters one statement may bind: SQLite 32,766; PostgreSQL and MySQL 65,535.
fn max_parameters(dialect: Dialect) -> usize {
    match dialect {
        Dialect::Sqlite => 32_766,
        _ => 65_535,
    }
}

pub(super) async fn create_many_unvalidated<M: Model>(
    ctx: &Context,
    news: Vec<M::New>,
) -> Result<Vec<M>> {
    insert_rows::<M>(ctx, news.iter().map(|n| M::insert_values(n)).collect()).await
}

/// The values one input row inserts, column by column.
pub(super) type ValueRow = Vec<(&'static str, Value)>;

/// Inserts already validated rows (one statement when they name the same columns, split by the
/// parameter limit; otherwise one per row), all or nothing; returns them in input order.
pub(super) async fn insert_rows<M: Model>(ctx: &Context, rows: Vec<ValueRow>) -> Result<Vec<M>> {
    let expected = rows.len();
    let out = insert_rows_with::<M>(ctx, rows, None).await?;
    if out.len() != expected {
        // Never report a batch as written when rows are missing from what it returned.
        return Err(Error::NotFound(Some(format!(
            "the insert into `{}` returned {} of {expected} rows",
            M::INFO.table,
            out.len()
        ))));
    }
    Ok(out)
}

/// [`insert_rows`], or with `on_conflict_skip` naming a key, `ON CONFLICT (key) DO NOTHING`:
/// rows whose key is taken are skipped, and only the inserted rows are returned.
pub(super) async fn insert_rows_with<M: Model>(
    ctx: &Context,
    rows: Vec<ValueRow>,
    on_conflict_skip: Option<&[&'static str]>,
) -> Result<Vec<M>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let statement = |ins: Insert| match on_conflict_skip {
        Some(key) => ins.on_conflict_do_nothing(key.iter().copied()),
        None => ins,
    };
    let columns: Vec<&str> = rows[0].iter().map(|(c, _)| *c).collect();
    let uniform = rows
        .iter()
        .all(|r| r.iter().map(|(c, _)| *c).eq(columns.iter().copied()));
    if uniform && !columns.is_empty() {
        // One statement binds every value: split by the database's parameter limit (room left
        // for the columns the behaviours add), all in one transaction so the batch is all or
        // nothing.
        let per_statement = rows_per_statement(ctx.dialect(), columns.len());
        let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        let mut values: Vec<Vec<Value>> = rows
            .into_iter()
            .map(|r| r.into_iter().map(|(_, v)| v).collect())
            .collect();
        if values.len() <= per_statement {
            let mut ins = insert_for::<M>().columns(columns);
            ins.rows = values;
            return ctx.fetch_decoded(statement(ins), M::from_row).await;
        }
        return ctx
            .atomic(async move |tx| {
                let mut out = Vec::with_capacity(values.len());
                while !values.is_empty() {
                    let rest = values.split_off(per_statement.min(values.len()));
                    let mut ins = insert_for::<M>().columns(columns.clone());
                    ins.rows = std::mem::replace(&mut values, rest);
                    out.extend(tx.fetch_decoded(statement(ins), M::from_row).await?);
                }
                Ok(out)
            })
            .await;
    }
    ctx.atomic(async move |tx| {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut ins = insert_for::<M>();
            for (c, v) in row {
                ins.set_value(c, v);
            }
            if ins.rows.is_empty() {
                ins.rows.push(Vec::new());
            }
            out.extend(tx.fetch_decoded(statement(ins), M::from_row).await?);
        }
        Ok(out)
    })
    .await
}

/// How many rows of `columns` values one statement may bind (room left for the columns the
/// behaviours add).
pub(super) fn rows_per_statement(dialect: Dialect, columns: usize) -> usize {
    (max_parameters(dialect) / (columns + 4)).max(1)
}

/// Validates the patch and updates one row; returns it as stored. A missing row is
/// [`Error::NotFound`]; an empty patch changes nothing and returns the row.
pub async fn update<M: Model>(ctx: &Context, id: &M::Id, patch: M::Patch) -> Result<M> {
    super::model::<M>()?;
    M::validate_patch(&patch).map_err(Error::Validation)?;
    let values = M::patch_values(&patch);
    if values.is_empty() {
        return find_by_id::<M>(ctx, id)
            .await?
            .ok_or_else(|| not_found::<M>(id));
    }
    let mut upd = update_returning::<M>(M::id_filter(id));
    upd.values = values
        .into_iter()
        .map(|(c, v)| (c.to_string(), v))
        .collect();
    one(write::<M>(ctx, Change::Update, "update", upd.into()).await?)
        .ok_or_else(|| not_found::<M>(id))
}

/// Validates the patch and applies it to every row matching `filter`; returns how many.
pub async fn update_many<M: Model>(
    ctx: &Context,
    filter: impl FilterOn<M>,
    patch: M::Patch,
) -> Result<u64> {
    let filter = filter.into_filter();
    super::model::<M>()?;
    M::validate_patch(&patch).map_err(Error::Validation)?;
    let values = M::patch_values(&patch);
    if values.is_empty() {
        return Err(Error::InvalidQuery(format!(
            "update_many on {} with an empty patch",
            M::INFO.name
        )));
    }
    let mut upd = Update::table(M::INFO.table).filter(filter);
    upd.values = values
        .into_iter()
        .map(|(c, v)| (c.to_string(), v))
        .collect();
    Ok(write::<M>(ctx, Change::Update, "update", upd.into())
        .await?
        .0)
}

/// Deletes the row with this primary key; a missing row is [`Error::NotFound`]. On a
/// `#[soft_delete]` model this is a hard delete (as in the TypeScript Kysera): it removes the row,
/// deleted or not; [`soft_delete`](super::soft_delete) marks it instead.
pub async fn delete<M: Model>(ctx: &Context, id: &M::Id) -> Result<()> {
    super::model::<M>()?;
    let del = Delete::from(M::INFO.table).filter(M::id_filter(id));
    match write::<M>(ctx, Change::Delete, "delete", del.into())
        .await?
        .0
    {
        0 => Err(not_found::<M>(id)),
        _ => Ok(()),
    }
}

/// Deletes every row matching `filter`; returns how many.
pub async fn delete_many<M: Model>(ctx: &Context, filter: impl FilterOn<M>) -> Result<u64> {
    let filter = filter.into_filter();
    super::model::<M>()?;
    let del = Delete::from(M::INFO.table).filter(filter);
    Ok(write::<M>(ctx, Change::Delete, "delete", del.into())
        .await?
        .0)
}

/// The one row a single-row write returned.
pub(super) fn one<M>((_, rows): (u64, Vec<M>)) -> Option<M> {
    rows.into_iter().next()
}

/// Runs an UPDATE or DELETE of `M`'s table: the number of rows it changed and, for an update
/// with RETURNING, the rows as they are now. When `M` audits the change it goes through
/// [`audited`].
pub(super) async fn write<M: Model>(
    ctx: &Context,
    change: Change,
    operation: &'static str,
    query: Query,
) -> Result<(u64, Vec<M>)> {
    let Some(audit) = audit::for_change::<M>(ctx, change)? else {
        return if matches!(query.returning(), Returning::None) {
            Ok((ctx.execute(query).await?, Vec::new()))
        } else {
            let rows: Vec<M> = ctx.fetch_decoded(query, M::from_row).await?;
            Ok((rows.len() as u64, rows))
        };
    };
    ctx.atomic(async move |tx| audited::<M>(&tx, &audit, operation, query).await)
        .await
}

/// The primary keys of `rows` as one condition (`pk IN (…)` for a single-column key).
pub(super) fn keys_of<M: Model>(rows: &[M]) -> Filter {
    if let [pk] = M::INFO.primary_key {
        let values: Vec<Value> = rows.iter().flat_map(|r| M::id_values(&r.id())).collect();
        return col(pk).is_in(values);
    }
    Filter::Or(rows.iter().map(|r| M::id_filter(&r.id())).collect())
}

/// An audited UPDATE or DELETE, inside an atomic section: the statement passes through the
/// plugins and the model's policies first; the rows it would change are then locked and read
/// with its final condition, the statement is limited to exactly those rows, and each row's old
/// and new state is recorded. On PostgreSQL that is one statement ([`lower_locked_change`]);
/// elsewhere the rows are read (locked where the database can), the statement runs in batches
/// limited to their keys, and a row count that differs from the rows read (a concurrent change)
/// undoes it all.
pub(super) async fn audited<M: Model>(
    tx: &Context,
    audit: &audit::Audit,
    operation: &'static str,
    query: Query,
) -> Result<(u64, Vec<M>)> {
    let mut query = tx.intercept(query)?;
    match &mut query {
        Query::Update(u) => u.returning = Returning::None,
        Query::Delete(d) => d.returning = Returning::None,
        _ => {
            return Err(Error::InvalidQuery(
                "only updates and deletes are audited this way".into(),
            ));
        }
    }
    let deleting = matches!(query, Query::Delete(_));
    let (olds, news, changed) = if tx.dialect() == Dialect::Postgres {
        let columns: Vec<&str> = M::INFO.columns.iter().map(|c| c.name).collect();
        let rows = tx
            .fetch_lowered(lower_locked_change(&query, &columns, M::INFO.primary_key)?)
            .await?;
        let (mut olds, mut news, mut changed, mut refused) = (Vec::new(), Vec::new(), 0, 0);
        for r in &rows {
            if !r.get::<bool>(CHANGE_AFTER)? {
                olds.push(M::from_row(r)?);
            } else {
                changed += 1;
                if !r.get::<bool>(CHANGE_CHECKED)? {
                    refused += 1;
                }
                if !deleting {
                    news.push(M::from_row(r)?);
                }
            }
        }
        if refused > 0 {
            // The atomic section undoes the write.
            return Err(Error::AccessDenied {
                table: query.table().to_string(),
                operation: query.operation(),
                reason: format!("{refused} row(s) written are not ones the policies allow"),
            });
        }
        // The lock makes these equal; a difference is a change this one did not account for.
        if changed != olds.len() {
            return Err(Error::ConcurrentChange {
                table: M::INFO.table.into(),
                operation: operation.into(),
                expected: olds.len() as u64,
                changed: olds.len().abs_diff(changed) as u64,
            });
        }
        (olds, news, changed as u64)
    } else {
        batched::<M>(tx, operation, &query, deleting).await?
    };
    let by_key: std::collections::HashMap<String, &M> = news
        .iter()
        .map(|n| (audit::entity_id::<M>(&n.id()), n))
        .collect();
    let pairs: Vec<(Option<&M>, Option<&M>)> = olds
        .iter()
        .map(|o| {
            (
                Some(o),
                by_key.get(&audit::entity_id::<M>(&o.id())).copied(),
            )
        })
        .collect();
    audit::record(tx, audit, operation, &pairs).await?;
    Ok((changed, news))
}

/// The rows an audited write changes, before and after (none after a DELETE), and how many it
/// changed, where one statement cannot do it: the rows are read (locked where the database
/// can), then the write runs in batches limited to their keys and the rows are read again,
/// each batch checked to change every row it names.
async fn batched<M: Model>(
    tx: &Context,
    operation: &str,
    query: &Query,
    deleting: bool,
) -> Result<(Vec<M>, Vec<M>, u64)> {
    const BATCH: usize = 500;
    // The table the statement really writes (a plugin may have named it differently).
    let mut select = M::select();
    select.table.name = query.table().to_string();
    select.filter = query.filter().cloned();
    let olds: Vec<M> = decode_all(
        tx.fetch_lowered(lower_locked(select, tx.dialect())?)
            .await?,
    )?;
    let mut news = Vec::with_capacity(if deleting { 0 } else { olds.len() });
    let mut total = 0;
    for batch in olds.chunks(BATCH) {
        let keys = keys_of::<M>(batch);
        let mut part = query.clone();
        part.add_filter(keys.clone())?;
        let changed = tx.execute_unchecked(part).await? as usize;
        if !deleting {
            // Read again rather than returned: SQLite's RETURNING does not show what AFTER
            // triggers changed, and MySQL has none for updates.
            let mut after = M::select().filter(keys);
            after.table.name = query.table().to_string();
            news.extend(decode_all::<M>(
                tx.fetch_all_unchecked(after.into()).await?,
            )?);
        }
        if changed != batch.len() {
            return Err(Error::ConcurrentChange {
                table: M::INFO.table.into(),
                operation: operation.into(),
                expected: batch.len() as u64,
                changed: batch.len().abs_diff(changed) as u64,
            });
        }
        total += changed as u64;
    }
    Ok((olds, news, total))
}
