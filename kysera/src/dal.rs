//! The functional data access layer (the seed's `@kysera/dal`): query functions over a context.
//!
//! A context is an [`Executor`] — the plain one or the one a transaction hands out — so every
//! function here runs the same inside and outside transactions, with the executor's plugins
//! applied. The model functions ([`find_by_id`], [`create`], [`paginate`], …) are what
//! [`Repository`](struct@crate::Repository) calls; [`create_query`], [`compose`], [`parallel`] and
//! [`with_transaction`] build application queries out of them.
//!
//! ```no_run
//! use kysera::dal::{self, Context};
//! # #[derive(kysera::Repository)] struct User { id: i64, email: String }
//!
//! // A query function: any context in, a result out.
//! let by_email = dal::create_query(|ctx: Context, email: String| async move {
//!     dal::find_one::<User>(&ctx, User::EMAIL.eq(email)).await
//! });
//! # async fn f(db: kysera::Executor, by_email: dal::DalQuery<String, Option<User>>) -> kysera::Result<()> {
//! let ada = by_email.run(&db, "ada@example.com".into()).await?;
//! dal::with_transaction(&db, async |tx| by_email.run(&tx, "bob@example.com".into()).await).await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::Arc;

use futures_util::future::{BoxFuture, FutureExt, try_join_all};

use crate::audit::{self, Change};
use crate::behaviour::DeletedRows;
use crate::model::{AuditedModel, HasUpdatedAt, Model, SoftDeleteModel};
use crate::pagination::{self, CursorPage, Page, PageRequest};
use crate::query::{Delete, Filter, Insert, OrderBy, Query, Returning, Select, Update};
use crate::{Error, Executor, Result};

/// What query functions run against: an executor, or the executor of a transaction.
pub type Context = Executor;

fn all_columns<M: Model>() -> Returning {
    Returning::Columns(M::INFO.columns.iter().map(|c| c.name.to_string()).collect())
}

fn not_found<M: Model>(id: &M::Id) -> Error {
    Error::NotFound(Some(format!("{} with id {:?}", M::INFO.name, id)))
}

fn decode_all<M: Model>(rows: Vec<crate::Row>) -> Result<Vec<M>> {
    rows.iter().map(M::from_row).collect()
}

/// The row with this primary key, if any.
pub async fn find_by_id<M: Model>(ctx: &Context, id: &M::Id) -> Result<Option<M>> {
    find_one(ctx, M::id_filter(id)).await
}

/// Every row.
pub async fn find_all<M: Model>(ctx: &Context) -> Result<Vec<M>> {
    fetch(ctx, M::select()).await
}

/// The first row matching `filter`, if any.
pub async fn find_one<M: Model>(ctx: &Context, filter: Filter) -> Result<Option<M>> {
    ctx.fetch_optional(M::select().filter(filter))
        .await?
        .as_ref()
        .map(M::from_row)
        .transpose()
}

/// Every row matching `filter`.
pub async fn find_many<M: Model>(ctx: &Context, filter: Filter) -> Result<Vec<M>> {
    fetch(ctx, M::select().filter(filter)).await
}

/// Runs a select of the model's columns (from [`Model::select`], refined) and decodes the rows.
pub async fn fetch<M: Model>(ctx: &Context, select: Select) -> Result<Vec<M>> {
    decode_all(ctx.fetch_all(select).await?)
}

fn insert_for<M: Model>() -> Insert {
    Insert::into(M::INFO.table)
        .primary_key(M::INFO.primary_key.iter().copied())
        .returning(all_columns::<M>())
}

/// Validates and inserts one row; returns it as stored (database defaults filled in).
pub async fn create<M: Model>(ctx: &Context, new: M::New) -> Result<M> {
    M::validate_new(&new).map_err(Error::Validation)?;
    insert_row::<M>(ctx, new_insert::<M>(&new)).await
}

fn new_insert<M: Model>(new: &M::New) -> Insert {
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
async fn insert_row<M: Model>(ctx: &Context, ins: Insert) -> Result<M> {
    let Some(audit) = audit::for_change::<M>(ctx, Change::Create)? else {
        return M::from_row(&ctx.fetch_one(ins).await?);
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
/// One statement binds every value: very large batches should be split (SQLite allows 32 766
/// parameters, PostgreSQL and MySQL 65 535).
pub async fn create_many<M: Model>(ctx: &Context, news: Vec<M::New>) -> Result<Vec<M>> {
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

async fn create_many_unvalidated<M: Model>(ctx: &Context, news: Vec<M::New>) -> Result<Vec<M>> {
    if news.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Vec<_>> = news.iter().map(|n| M::insert_values(n)).collect();
    let columns: Vec<&str> = rows[0].iter().map(|(c, _)| *c).collect();
    let uniform = rows
        .iter()
        .all(|r| r.iter().map(|(c, _)| *c).eq(columns.iter().copied()));
    if uniform && !columns.is_empty() {
        let mut ins = insert_for::<M>().columns(columns);
        ins.rows = rows
            .into_iter()
            .map(|r| r.into_iter().map(|(_, v)| v).collect())
            .collect();
        return decode_all(ctx.fetch_all(ins).await?);
    }
    ctx.atomic(async move |tx| {
        let mut out = Vec::with_capacity(news.len());
        for new in &news {
            out.push(M::from_row(&tx.fetch_one(new_insert::<M>(new)).await?)?);
        }
        Ok(out)
    })
    .await
}

/// Validates the patch and updates one row; returns it as stored. A missing row is
/// [`Error::NotFound`]; an empty patch changes nothing and returns the row.
pub async fn update<M: Model>(ctx: &Context, id: &M::Id, patch: M::Patch) -> Result<M> {
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
pub async fn update_many<M: Model>(ctx: &Context, filter: Filter, patch: M::Patch) -> Result<u64> {
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
/// `#[soft_delete]` model this is a hard delete (as in the original Kysera): it removes the row,
/// deleted or not; [`soft_delete`] marks it instead.
pub async fn delete<M: Model>(ctx: &Context, id: &M::Id) -> Result<()> {
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
pub async fn delete_many<M: Model>(ctx: &Context, filter: Filter) -> Result<u64> {
    let del = Delete::from(M::INFO.table).filter(filter);
    Ok(write::<M>(ctx, Change::Delete, "delete", del.into())
        .await?
        .0)
}

/// The one row a single-row write returned.
fn one<M>((_, rows): (u64, Vec<M>)) -> Option<M> {
    rows.into_iter().next()
}

/// Runs an UPDATE or DELETE of `M`'s table: the number of rows it changed and, for an update
/// with RETURNING, the rows as they are now. When `M` audits the change it goes through
/// [`audited`].
async fn write<M: Model>(
    ctx: &Context,
    change: Change,
    operation: &'static str,
    query: Query,
) -> Result<(u64, Vec<M>)> {
    let Some(audit) = audit::for_change::<M>(ctx, change)? else {
        return if matches!(query.returning(), Returning::None) {
            Ok((ctx.execute(query).await?, Vec::new()))
        } else {
            let rows: Vec<M> = decode_all(ctx.fetch_all(query).await?)?;
            Ok((rows.len() as u64, rows))
        };
    };
    ctx.atomic(async move |tx| audited::<M>(&tx, &audit, operation, query).await)
        .await
}

/// The primary keys of `rows` as one condition (`pk IN (…)` for a single-column key).
fn keys_of<M: Model>(rows: &[M]) -> Filter {
    if let [pk] = M::INFO.primary_key {
        let values: Vec<crate::Value> = rows.iter().flat_map(|r| M::id_values(&r.id())).collect();
        return crate::query::col(pk).is_in(values);
    }
    Filter::Or(rows.iter().map(|r| M::id_filter(&r.id())).collect())
}

/// An audited UPDATE or DELETE, inside an atomic section: the statement passes through the
/// plugins and the model's policies first; the rows it would change are then read (locked where
/// the database can) with its final condition, the statement is limited to exactly those rows
/// (in batches), and a row count that differs from the rows read (a concurrent change) undoes
/// it all. Each row's old and new state is recorded.
async fn audited<M: Model>(
    tx: &Context,
    audit: &audit::Audit,
    operation: &'static str,
    query: Query,
) -> Result<(u64, Vec<M>)> {
    const BATCH: usize = 500;
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
    // The table the statement really writes (a plugin may have named it differently).
    let mut select = M::select();
    select.table.name = query.table().to_string();
    select.filter = query.filter().cloned();
    let olds: Vec<M> = decode_all(tx.fetch_locked(select).await?)?;
    let mut changed = 0;
    let mut news = Vec::with_capacity(if deleting { 0 } else { olds.len() });
    for batch in olds.chunks(BATCH) {
        let keys = keys_of::<M>(batch);
        let mut part = query.clone();
        part.add_filter(keys.clone())?;
        let n = tx.execute_unchecked(part).await?;
        if n as usize != batch.len() {
            return Err(Error::InvalidQuery(format!(
                "{} of {} rows of `{}` changed while the audited {operation} ran; nothing was written",
                batch.len() as u64 - n.min(batch.len() as u64),
                batch.len(),
                M::INFO.table
            )));
        }
        changed += n;
        if !deleting {
            let mut after = M::select().filter(keys);
            after.table.name = query.table().to_string();
            news.extend(decode_all::<M>(
                tx.fetch_all_unchecked(after.into()).await?,
            )?);
        }
    }
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

/// Counts the rows matching `filter` (every row for `None`).
pub async fn count<M: Model>(ctx: &Context, filter: Option<Filter>) -> Result<i64> {
    let mut s = Select::from(M::INFO.table);
    s.filter = filter;
    ctx.count(s).await
}

/// Whether any row matches `filter` (any row at all for `None`).
pub async fn exists<M: Model>(ctx: &Context, filter: Option<Filter>) -> Result<bool> {
    let mut s = Select::from(M::INFO.table);
    s.filter = filter;
    ctx.exists(s).await
}

/// One page of `select` (a select of the model's columns, with its filter and order).
pub async fn paginate<M: Model>(
    ctx: &Context,
    select: Select,
    page: PageRequest,
) -> Result<Page<M>> {
    let offset = page.check()?;
    let mut counted = select.clone();
    counted.limit = None;
    counted.offset = None;
    let total = ctx.count(counted).await?;
    let items = fetch(ctx, select.limit(page.limit).offset(offset)).await?;
    Ok(Page {
        items,
        total,
        page: page.page,
        limit: page.limit,
        total_pages: pagination::total_pages(total, page.limit),
    })
}

/// One page of `select` after `cursor`, in the select's order (the primary key is added as the
/// last order term when missing, so the order is total). Order columns must not be NULL.
pub async fn paginate_cursor<M: Model>(
    ctx: &Context,
    mut select: Select,
    limit: u64,
    cursor: Option<&str>,
) -> Result<CursorPage<M>> {
    if limit == 0 {
        return Err(Error::InvalidQuery(
            "cursor page limit must be at least 1".into(),
        ));
    }
    for pk in M::INFO.primary_key {
        // The model's own key: unqualified or qualified by its table (not a joined table's).
        let table = select.table.reference().to_string();
        let present = select.order_by.iter().any(|o| {
            matches!(&o.expr, crate::query::Expr::Column(c)
                if c.column == *pk && c.table.as_deref().is_none_or(|t| t == table))
        });
        if !present {
            select.order_by.push(OrderBy {
                expr: crate::query::col(pk),
                order: crate::query::Order::Asc,
            });
        }
    }
    let order = select.order_by.clone();
    if let Some(c) = cursor {
        let values = pagination::decode_cursor(&order, c)?;
        select.add_filter(pagination::after(&order, values));
    }
    select.offset = None;
    let mut items: Vec<M> = fetch(ctx, select.limit(limit.saturating_add(1))).await?;
    let has_more = items.len() as u64 > limit;
    items.truncate(limit as usize);
    let next_cursor = match (has_more, items.last()) {
        (true, Some(last)) => {
            let values = order
                .iter()
                .map(|o| match &o.expr {
                    crate::query::Expr::Column(c) => {
                        last.column_value(&c.column).ok_or_else(|| {
                            Error::InvalidQuery(format!(
                                "cursor order column `{}` is not a column of {}",
                                c.column,
                                M::INFO.name
                            ))
                        })
                    }
                    _ => Err(Error::InvalidQuery(
                        "cursor pagination orders by columns only".into(),
                    )),
                })
                .collect::<Result<Vec<_>>>()?;
            Some(pagination::encode_cursor(&order, &values)?)
        }
        _ => None,
    };
    Ok(CursorPage {
        items,
        next_cursor,
        has_more,
    })
}

/// A reusable query function over a context (the seed's `createQuery`): cheap to clone, and
/// composable with [`compose`].
pub struct DalQuery<I, O> {
    f: Arc<dyn Fn(Context, I) -> BoxFuture<'static, Result<O>> + Send + Sync>,
}

impl<I, O> Clone for DalQuery<I, O> {
    fn clone(&self) -> Self {
        DalQuery { f: self.f.clone() }
    }
}

impl<I, O> std::fmt::Debug for DalQuery<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DalQuery")
    }
}

/// Wraps an async function of a context and an input as a [`DalQuery`].
pub fn create_query<I, O, F, Fut>(f: F) -> DalQuery<I, O>
where
    F: Fn(Context, I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O>> + Send + 'static,
{
    DalQuery {
        f: Arc::new(move |ctx, input| f(ctx, input).boxed()),
    }
}

impl<I: Send + 'static, O: Send + 'static> DalQuery<I, O> {
    /// Runs the query on `ctx` (an executor or a transaction).
    pub async fn run(&self, ctx: &Context, input: I) -> Result<O> {
        (self.f)(ctx.clone(), input).await
    }

    /// This query, then `next` on its output, on the same context.
    pub fn then<O2: Send + 'static>(self, next: DalQuery<O, O2>) -> DalQuery<I, O2> {
        compose(self, next)
    }
}

/// `first`, then `second` on its output, on the same context (the seed's `compose`).
pub fn compose<I, M, O>(first: DalQuery<I, M>, second: DalQuery<M, O>) -> DalQuery<I, O>
where
    I: Send + 'static,
    M: Send + 'static,
    O: Send + 'static,
{
    DalQuery {
        f: Arc::new(move |ctx: Context, input| {
            let (first, second) = (first.clone(), second.clone());
            async move {
                let mid = (first.f)(ctx.clone(), input).await?;
                (second.f)(ctx, mid).await
            }
            .boxed()
        }),
    }
}

/// Runs independent queries concurrently and returns their results in order, or the first
/// error (the seed's `parallel`). On a pool they use separate connections; inside a transaction
/// they share its one connection and run one after another. For results of different types use
/// `tokio::try_join!`.
pub async fn parallel<T, F>(queries: impl IntoIterator<Item = F>) -> Result<Vec<T>>
where
    F: Future<Output = Result<T>>,
{
    try_join_all(queries).await
}

/// Runs `f` in a transaction on `ctx` (a savepoint when `ctx` is already a transaction); see
/// [`Executor::transaction`].
pub async fn with_transaction<F, Fut, T, E>(ctx: &Context, f: F) -> std::result::Result<T, E>
where
    F: FnOnce(Context) -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
    E: From<Error>,
{
    ctx.transaction(f).await
}

fn soft_delete_column<M: Model>() -> Result<crate::model::TimestampColumn> {
    M::INFO
        .soft_delete
        .ok_or_else(|| Error::InvalidQuery(format!("{} has no soft-delete column", M::INFO.name)))
}

fn null_timestamp(kind: crate::model::TimestampKind) -> crate::Value {
    match kind {
        crate::model::TimestampKind::Utc => crate::Value::ChronoDateTimeUtc(None),
        crate::model::TimestampKind::Naive => crate::Value::ChronoDateTime(None),
    }
}

fn update_returning<M: Model>(filter: Filter) -> Update {
    Update::table(M::INFO.table)
        .filter(filter)
        .primary_key(M::INFO.primary_key.iter().copied())
        .returning(all_columns::<M>())
}

/// Sets `column` to `value` and the model's update timestamp to `now` (one statement, one
/// instant), taking the timestamp over from the executor.
fn stamp<M: Model>(
    upd: Update,
    column: Option<(crate::model::TimestampColumn, crate::Value)>,
    now: chrono::DateTime<chrono::Utc>,
) -> Update {
    let mut upd = match column {
        Some((c, value)) => upd.set(c.name, value),
        None => upd,
    };
    if let Some(ts) = M::INFO.updated_at {
        upd = upd
            .set(ts.name, crate::behaviour::timestamp_value(ts.kind, now))
            .preserve_timestamps();
    }
    upd
}

/// Marks one row deleted (its deletion column set to the executor's clock) and returns it; a
/// missing or already deleted row is [`Error::NotFound`].
pub async fn soft_delete<M: SoftDeleteModel>(ctx: &Context, id: &M::Id) -> Result<M> {
    let sd = soft_delete_column::<M>()?;
    let now = ctx.now();
    let value = crate::behaviour::timestamp_value(sd.kind, now);
    let upd = stamp::<M>(
        update_returning::<M>(M::id_filter(id)),
        Some((sd, value)),
        now,
    );
    one(write::<M>(ctx, Change::Update, "soft_delete", upd.into()).await?).ok_or_else(|| {
        Error::NotFound(Some(format!(
            "{} with id {:?} (missing or already deleted)",
            M::INFO.name,
            id
        )))
    })
}

/// Marks every matching row that is not yet deleted as deleted; returns how many.
pub async fn soft_delete_many<M: SoftDeleteModel>(ctx: &Context, filter: Filter) -> Result<u64> {
    let sd = soft_delete_column::<M>()?;
    let now = ctx.now();
    let value = crate::behaviour::timestamp_value(sd.kind, now);
    let upd = stamp::<M>(
        Update::table(M::INFO.table).filter(filter),
        Some((sd, value)),
        now,
    );
    Ok(write::<M>(ctx, Change::Update, "soft_delete", upd.into())
        .await?
        .0)
}

/// Brings a soft-deleted row back and returns it; a missing row, or one that is not deleted,
/// is [`Error::NotFound`].
pub async fn restore<M: SoftDeleteModel>(ctx: &Context, id: &M::Id) -> Result<M> {
    let sd = soft_delete_column::<M>()?;
    let restored = Some((sd, null_timestamp(sd.kind)));
    let upd =
        stamp::<M>(update_returning::<M>(M::id_filter(id)), restored, ctx.now()).only_deleted();
    one(write::<M>(ctx, Change::Update, "restore", upd.into()).await?).ok_or_else(|| {
        Error::NotFound(Some(format!(
            "{} with id {:?} (missing or not deleted)",
            M::INFO.name,
            id
        )))
    })
}

/// Sets the update timestamp of one row to the executor's clock and returns the row; a missing
/// row (or, on a soft-delete model, a deleted one) is [`Error::NotFound`].
pub async fn touch<M: HasUpdatedAt>(ctx: &Context, id: &M::Id) -> Result<M> {
    if M::INFO.updated_at.is_none() {
        return Err(Error::InvalidQuery(format!(
            "{} has no update timestamp",
            M::INFO.name
        )));
    }
    let upd = stamp::<M>(update_returning::<M>(M::id_filter(id)), None, ctx.now());
    one(write::<M>(ctx, Change::Update, "update", upd.into()).await?)
        .ok_or_else(|| not_found::<M>(id))
}

/// Rows whose timestamp column `ts` is after (`after = true`) or before `t`, oldest first.
pub(crate) async fn find_by_time<M: Model>(
    ctx: &Context,
    ts: Option<crate::model::TimestampColumn>,
    t: chrono::DateTime<chrono::Utc>,
    after: bool,
) -> Result<Vec<M>> {
    let ts =
        ts.ok_or_else(|| Error::InvalidQuery(format!("{} has no such timestamp", M::INFO.name)))?;
    let column = crate::query::col(ts.name);
    let value = crate::query::val(crate::behaviour::timestamp_value(ts.kind, t));
    let op = if after {
        crate::query::CmpOp::Gt
    } else {
        crate::query::CmpOp::Lt
    };
    let select = M::select()
        .filter(column.clone().compare(op, value))
        .order_by(column, crate::query::Order::Asc);
    fetch(ctx, select).await
}

/// Re-applies the old values an audit entry recorded for a row of `M`: updates the row when it
/// exists (soft-deleted or not; its update timestamp then says when), re-creates it with its key
/// and its old timestamps when it was deleted. The write is audited and checked by the policies
/// like any other. Generated columns are left to the database, and columns the audit excludes
/// keep their value (a re-created row needs defaults for them); a PostgreSQL
/// `GENERATED ALWAYS AS IDENTITY` key cannot be re-created (use `BIGSERIAL` or `BY DEFAULT`).
pub async fn restore_from_audit<M: AuditedModel>(ctx: &Context, entry_id: i64) -> Result<M> {
    let entry = audit::entry(ctx, entry_id).await?;
    if entry.table_name != M::INFO.table {
        return Err(Error::InvalidQuery(format!(
            "audit entry {entry_id} is for `{}`, not `{}`",
            entry.table_name,
            M::INFO.table
        )));
    }
    let Some(serde_json::Value::Object(old)) = &entry.old_values else {
        return Err(Error::InvalidQuery(format!(
            "audit entry {entry_id} ({}) has no old values to restore",
            entry.operation
        )));
    };
    let values = M::values_from_json(old)?;
    let key: Vec<Filter> = M::INFO
        .primary_key
        .iter()
        .map(|pk| {
            values
                .iter()
                .find(|(c, _)| c == pk)
                .map(|(c, v)| crate::query::col(c).eq(v.clone()))
                .ok_or_else(|| {
                    Error::InvalidQuery(format!("audit entry {entry_id} lacks key column `{pk}`"))
                })
        })
        .collect::<Result<_>>()?;
    let key = Filter::And(key);
    let settable = |c: &str, with_key: bool| {
        M::INFO.column(c).is_some_and(|i| {
            if i.primary_key {
                with_key
            } else {
                !i.generated
            }
        })
    };
    let mut probe = M::select().filter(key.clone());
    probe.deleted = DeletedRows::Include;
    // Whether the row is there at all (the write below is still checked by the policies).
    let exists = !ctx.fetch_all_unchecked(probe.into()).await?.is_empty();
    if exists {
        let mut upd = update_returning::<M>(key).with_deleted();
        for (c, v) in values {
            if settable(c, false) {
                upd.set_value(c, v);
            }
        }
        one(write::<M>(ctx, Change::Update, "update", upd.into()).await?)
            .ok_or_else(|| Error::NotFound(Some(format!("the row of audit entry {entry_id}"))))
    } else {
        let mut ins = insert_for::<M>().preserve_timestamps();
        for (c, v) in values {
            if settable(c, true) {
                ins.set_value(c, v);
            }
        }
        insert_row::<M>(ctx, ins).await
    }
}
