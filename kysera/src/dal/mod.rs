//! Query functions over a context: typed reads, writes and pages of a model, usable alike on
//! the plain executor and inside a transaction.
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

mod behaviour;
mod compose;
mod upsert;
mod write;

use crate::behaviour::registry;
use crate::core::error::{Error, Result};
use crate::executor::Executor;
use crate::model::{FilterOn, MaybeFilterOn, Model};
use crate::pagination::{self, CursorPage, Page, PageRequest};
use crate::query::{Expr, Filter, Order, OrderBy, Query, Returning, Select, Update, Value, col};
use crate::row::Row;

pub(crate) use behaviour::find_by_time;
pub use behaviour::{
    restore, restore_from_audit, restore_from_audit_with, restore_many, soft_delete,
    soft_delete_many, touch,
};
pub use compose::{
    DalQuery, compose, create_query, parallel, with_transaction, with_transaction_with_error,
};
pub use upsert::{
    DoNothing, DoUpdate, Upsert, UpsertAction, upsert, upsert_many, upsert_many_with, upsert_with,
};
pub use write::{create, create_many, delete, delete_many, update, update_many};

/// What query functions run against: an executor, or the executor of a transaction.
pub type Context = Executor;

/// Makes sure `M`'s declared behaviours are enforced before its first query (adding them when
/// its link-time registration is missing); a conflict with another model of its table is an
/// error.
pub(super) fn model<M: Model>() -> Result<()> {
    registry::ensure(M::INFO)
}

pub(super) fn all_columns<M: Model>() -> Returning {
    Returning::Columns(M::INFO.columns.iter().map(|c| c.name.to_string()).collect())
}

pub(super) fn not_found<M: Model>(id: &M::Id) -> Error {
    Error::NotFound(Some(format!("{} with id {:?}", M::INFO.name, id)))
}

pub(super) fn decode_all<M: Model>(rows: Vec<Row>) -> Result<Vec<M>> {
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
pub async fn find_one<M: Model>(ctx: &Context, filter: impl FilterOn<M>) -> Result<Option<M>> {
    model::<M>()?;
    ctx.fetch_optional(M::select().filter(filter.into_filter()))
        .await?
        .as_ref()
        .map(M::from_row)
        .transpose()
}

/// Every row matching `filter`.
pub async fn find_many<M: Model>(ctx: &Context, filter: impl FilterOn<M>) -> Result<Vec<M>> {
    fetch(ctx, M::select().filter(filter.into_filter())).await
}

/// Runs a select of the model's columns (from [`Model::select`], refined) and decodes the rows.
pub async fn fetch<M: Model>(ctx: &Context, select: Select) -> Result<Vec<M>> {
    model::<M>()?;
    decode_all(ctx.fetch_all(select).await?)
}

/// Counts the rows matching `filter` (every row for `None`).
pub async fn count<M: Model>(ctx: &Context, filter: impl MaybeFilterOn<M>) -> Result<i64> {
    model::<M>()?;
    let mut s = Select::from(M::INFO.table);
    s.filter = filter.into_filter();
    ctx.count(s).await
}

/// Whether any row matches `filter` (any row at all for `None`).
pub async fn exists<M: Model>(ctx: &Context, filter: impl MaybeFilterOn<M>) -> Result<bool> {
    model::<M>()?;
    let mut s = Select::from(M::INFO.table);
    s.filter = filter.into_filter();
    ctx.exists(s).await
}

/// One page of `select` (a select of the model's columns, with its filter and order).
pub async fn paginate<M: Model>(
    ctx: &Context,
    select: Select,
    page: PageRequest,
) -> Result<Page<M>> {
    model::<M>()?;
    let offset = page.check()?;
    let select = Query::normalize_select(select)?;
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

/// Whether `filter` requires `column IS NOT NULL` at its top level (ANDed in), for the
/// main table's column (unqualified, or qualified by `table`).
fn excludes_nulls(filter: Option<&Filter>, column: &str, table: &str) -> bool {
    let not_null = |f: &Filter| {
        matches!(f, Filter::IsNull { expr: Expr::Column(c), negated: true }
            if c.column.eq_ignore_ascii_case(column)
                && c.table.as_deref().is_none_or(|t| t.eq_ignore_ascii_case(table)))
    };
    match filter {
        Some(Filter::And(v)) => v.iter().any(not_null),
        Some(f) => not_null(f),
        None => false,
    }
}

/// One page of `select` after `cursor`, in the select's order (the primary key is added as the
/// last order term when missing, so the order is total). Order columns must not be NULL.
pub async fn paginate_cursor<M: Model>(
    ctx: &Context,
    select: Select,
    limit: u64,
    cursor: Option<&str>,
) -> Result<CursorPage<M>> {
    model::<M>()?;
    if limit == 0 {
        return Err(Error::InvalidQuery(
            "cursor page limit must be at least 1".into(),
        ));
    }
    let mut select = Query::normalize_select(select)?;
    // A NULL in an order column sorts first on one database and last on another, and `>` never
    // passes it: refused, the same on every database, before any SQL.
    for o in &select.order_by {
        if let Expr::Column(c) = &o.expr
            && let Some(info) = M::INFO.column(&c.column)
            && info.nullable
            && !excludes_nulls(select.filter.as_ref(), &c.column, select.table.reference())
        {
            return Err(Error::InvalidQuery(format!(
                "cursor pagination cannot order by `{}`, which may be NULL (NULLs sort differently on each database and no cursor can pass them); order by non-null columns, or add `.filter(…is_not_null())` for it and page the NULL rows separately",
                c.column
            )));
        }
    }
    for pk in M::INFO.primary_key {
        // The model's own key: unqualified or qualified by its table (not a joined table's).
        let table = select.table.reference().to_string();
        let present = select.order_by.iter().any(|o| {
            matches!(&o.expr, Expr::Column(c)
                if c.column == *pk && c.table.as_deref().is_none_or(|t| t == table))
        });
        if !present {
            select.order_by.push(OrderBy {
                expr: col(pk),
                order: Order::Asc,
            });
        }
    }
    let order = select.order_by.clone();
    if let Some(c) = cursor {
        let values = pagination::decode_cursor(&order, c, ctx.cursor_key())?;
        select.add_filter(pagination::after(&order, values));
    }
    select.offset = None;
    model::<M>()?;
    let mut rows = ctx.fetch_all(select.limit(limit.saturating_add(1))).await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let items: Vec<M> = rows.iter().map(M::from_row).collect::<Result<_>>()?;
    let next_cursor = match (has_more, items.last(), rows.last()) {
        (true, Some(last), Some(raw)) => {
            let values = order
                .iter()
                .map(|o| match &o.expr {
                    Expr::Column(c) => match last.column_value(&c.column) {
                        // An `f32` field may hold a column's `f64` inexactly: the cursor carries
                        // the value as stored, or ties would be skipped or repeated.
                        // (A PostgreSQL `REAL` holds exact f32 values and is read as one.)
                        Some(v @ Value::Float(Some(_))) => Ok(raw
                            .get::<f64>(c.column.as_str())
                            .map_or(v, |f| Value::Double(Some(f)))),
                        Some(v) => Ok(v),
                        None => Err(Error::InvalidQuery(format!(
                            "cursor order column `{}` is not a column of {}",
                            c.column,
                            M::INFO.name
                        ))),
                    },
                    _ => Err(Error::InvalidQuery(
                        "cursor pagination orders by columns only".into(),
                    )),
                })
                .collect::<Result<Vec<_>>>()?;
            Some(pagination::encode_cursor(
                &order,
                &values,
                ctx.cursor_key(),
            )?)
        }
        _ => None,
    };
    Ok(CursorPage {
        items,
        next_cursor,
        has_more,
    })
}

pub(super) fn update_returning<M: Model>(filter: Filter) -> Update {
    Update::table(M::INFO.table)
        .filter(filter)
        .primary_key(M::INFO.primary_key.iter().copied())
        .returning(all_columns::<M>())
}
