//! Upserts: insert a model's rows, or update the rows already there with the same key — the
//! primary key or a unique key the rows give — with every behaviour applied as to a create or
//! an update: timestamps (a created row gets both, an updated one its update time), soft delete
//! (a deleted row with the key is revived), audit (a `create` entry for a new row, an `update`
//! entry with the old values for an existing one) and row-level security (a row of another
//! tenant, or one the policies do not let this context update, is never changed).
//!
//! The same statements run on every database, so the outcome does not depend on which one:
//! the rows with the keys are read first (with the statement's own policies, then locked by
//! primary key), the new ones inserted in batches and the existing ones updated by primary key.
//! A key the read did not find but the database holds (inserted concurrently, or equal under the
//! column's collation) makes the batch start again row by row, each row inserted or, when its
//! key is taken, updated — so concurrent upserts of one new key both succeed, one creating and
//! one updating. A key taken by a row this context cannot see (another tenant's) is the
//! database's [`Error::UniqueViolation`], as a plain create gets.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::pin::Pin;

use super::write::{ValueRow, insert_rows, insert_rows_with, rows_per_statement};
use super::{Context, decode_all, update_returning};
use crate::behaviour::audit::{self, Audit, Change};
use crate::core::error::{Error, Result};
use crate::model::{Columns, Model, TimestampKind};
use crate::query::{DeletedRows, Filter, Operation, Order, Query, Update, Value, col, is_null};

/// What an upsert does with a row whose key is taken: update it ([`DoUpdate`], the default) or
/// leave it ([`DoNothing`]).
pub trait UpsertAction: sealed::Sealed + Send + Sync + 'static {
    /// What an upsert of one row returns: the row (`M`) when it updates, the inserted row if
    /// any (`Option<M>`) when it does nothing.
    type One<M: Send>: Send;
    #[doc(hidden)]
    const __DO_NOTHING: bool;
    #[doc(hidden)]
    fn __one<M: Model>(rows: Vec<M>) -> Result<Self::One<M>>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::DoUpdate {}
    impl Sealed for super::DoNothing {}
}

/// A taken key updates its row (`ON CONFLICT … DO UPDATE`).
#[derive(Debug, Clone, Copy)]
pub struct DoUpdate;

/// A taken key leaves its row as it is and the input row is skipped (`ON CONFLICT … DO NOTHING`).
#[derive(Debug, Clone, Copy)]
pub struct DoNothing;

impl UpsertAction for DoUpdate {
    type One<M: Send> = M;
    const __DO_NOTHING: bool = false;
    fn __one<M: Model>(rows: Vec<M>) -> Result<M> {
        rows.into_iter().next().ok_or_else(|| {
            Error::NotFound(Some(format!(
                "the upsert into `{}` returned no row",
                M::INFO.table
            )))
        })
    }
}

impl UpsertAction for DoNothing {
    type One<M: Send> = Option<M>;
    const __DO_NOTHING: bool = true;
    fn __one<M: Model>(rows: Vec<M>) -> Result<Option<M>> {
        Ok(rows.into_iter().next())
    }
}

/// How an upsert of model `M` finds the row a new one collides with, and what it does then.
///
/// ```no_run
/// # #[derive(kysera::Repository)]
/// # struct User { #[kysera(generated)] id: i64, email: String, name: String, visits: i64 }
/// use kysera::dal::Upsert;
/// # async fn f(db: &kysera::Executor) -> kysera::Result<()> {
/// let users = User::repo(db);
/// let new = || NewUser { email: "ada@example.com".into(), name: "Ada".into(), visits: 1 };
/// // Insert, or update the user with this email (every column the row gives, but the key).
/// let ada = users.upsert_with(&Upsert::on(User::EMAIL), new()).await?;
/// // Only the name changes when the email is taken.
/// let ada = users.upsert_with(&Upsert::on(User::EMAIL).update(User::NAME), new()).await?;
/// // Insert unless the email is taken: `None` then, and the row is left alone.
/// let inserted: Option<User> = users.upsert_with(&Upsert::on(User::EMAIL).do_nothing(), new()).await?;
/// # Ok(()) }
/// ```
pub struct Upsert<M, A = DoUpdate> {
    key: Option<Vec<&'static str>>,
    update: Option<Vec<&'static str>>,
    _marker: PhantomData<fn() -> (M, A)>,
}

impl<M, A> Clone for Upsert<M, A> {
    fn clone(&self) -> Self {
        Upsert {
            key: self.key.clone(),
            update: self.update.clone(),
            _marker: PhantomData,
        }
    }
}

impl<M: Model, A> std::fmt::Debug for Upsert<M, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upsert")
            .field("model", &M::INFO.name)
            .field("key", &self.key_columns())
            .field("update", &self.update)
            .field("action", &std::any::type_name::<A>())
            .finish()
    }
}

impl<M: Model> Upsert<M> {
    /// On the primary key (which the rows must give: not a generated key), updating every
    /// column the row gives.
    pub fn on_primary_key() -> Self {
        Upsert {
            key: None,
            update: None,
            _marker: PhantomData,
        }
    }

    /// On these columns, which a unique constraint of the table covers (the database's
    /// `ON CONFLICT` target), updating every column the row gives.
    pub fn on(key: impl Columns<M>) -> Self {
        Upsert {
            key: Some(key.names()),
            update: None,
            _marker: PhantomData,
        }
    }

    /// A taken key updates only these columns (of those the row gives).
    pub fn update(mut self, columns: impl Columns<M>) -> Self {
        self.update = Some(columns.names());
        self
    }

    /// A taken key leaves its row alone; only new rows are inserted.
    pub fn do_nothing(self) -> Upsert<M, DoNothing> {
        Upsert {
            key: self.key,
            update: None,
            _marker: PhantomData,
        }
    }
}

impl<M: Model, A> Upsert<M, A> {
    fn key_columns(&self) -> Vec<&'static str> {
        self.key
            .clone()
            .unwrap_or_else(|| M::INFO.primary_key.to_vec())
    }
}

impl<M: Model> Default for Upsert<M> {
    fn default() -> Self {
        Self::on_primary_key()
    }
}

/// Inserts the row, or updates the row with its primary key (reviving it if soft-deleted);
/// returns the row as stored. See [`upsert_with`] for other keys.
pub async fn upsert<M: Model>(ctx: &Context, new: M::New) -> Result<M> {
    upsert_with(ctx, &Upsert::on_primary_key(), new).await
}

/// [`upsert`] for many rows, all or nothing; returns them in input order.
pub async fn upsert_many<M: Model>(ctx: &Context, news: Vec<M::New>) -> Result<Vec<M>> {
    upsert_many_with(ctx, &Upsert::on_primary_key(), news).await
}

/// Inserts the row, or resolves a taken key as `how` says: updates the row (returns it) or does
/// nothing (returns `None`).
pub async fn upsert_with<M: Model, A: UpsertAction>(
    ctx: &Context,
    how: &Upsert<M, A>,
    new: M::New,
) -> Result<A::One<M>> {
    A::__one(upsert_many_with(ctx, how, vec![new]).await?)
}

/// [`upsert_with`] for many rows, all or nothing. Updating, returns every row in input order;
/// doing nothing, the rows inserted, in input order. Two rows of one batch with the same key are
/// refused.
pub async fn upsert_many_with<M: Model, A: UpsertAction>(
    ctx: &Context,
    how: &Upsert<M, A>,
    news: Vec<M::New>,
) -> Result<Vec<M>> {
    erased(run(ctx, how, news)).await
}

async fn run<M: Model, A: UpsertAction>(
    ctx: &Context,
    how: &Upsert<M, A>,
    news: Vec<M::New>,
) -> Result<Vec<M>> {
    super::model::<M>()?;
    for new in &news {
        M::validate_new(new).map_err(Error::Validation)?;
    }
    let plan = Plan::<M>::new(how.key_columns(), how.update.clone())?;
    let rows: Vec<ValueRow> = news.iter().map(M::insert_values).collect();
    let keys = plan.keys(&rows)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let creates = audit::for_change::<M>(ctx, Change::Create)?;
    if A::__DO_NOTHING {
        let key = plan.key.clone();
        return match creates {
            None => insert_rows_with::<M>(ctx, rows, Some(&key)).await,
            Some(audit) => {
                ctx.atomic(async move |tx| {
                    let made = insert_rows_with::<M>(&tx, rows, Some(&key)).await?;
                    record(&tx, &audit, "create", made.iter().map(|m| (None, Some(m)))).await?;
                    Ok(made)
                })
                .await
            }
        };
    }
    let updates = audit::for_change::<M>(ctx, Change::Update)?;
    ctx.atomic(async move |tx| {
        let per_chunk = rows_per_statement(tx.dialect(), plan.widest(&rows)).min(1_000);
        let mut out = Vec::with_capacity(rows.len());
        let mut rows = rows.into_iter().zip(keys).peekable();
        while rows.peek().is_some() {
            let chunk: Vec<(ValueRow, String)> = rows.by_ref().take(per_chunk).collect();
            // In a savepoint: a key found taken only when inserting undoes the chunk, which is
            // then done row by row.
            let fast = tx
                .atomic(async |sp| erased(plan.chunk(&sp, &chunk)).await)
                .await;
            let done = match fast {
                Err(Error::UniqueViolation(_)) => erased(plan.row_by_row(&tx, chunk)).await?,
                other => other?,
            };
            out.extend(done);
        }
        if let Some(audit) = &creates {
            let made = out.iter().filter_map(|o| match o {
                Outcome::Created(m) => Some((None, Some(m))),
                Outcome::Updated(..) => None,
            });
            record(&tx, audit, "create", made).await?;
        }
        if let Some(audit) = &updates {
            let changed = out.iter().filter_map(|o| match o {
                Outcome::Updated(old, new) => Some((Some(old), Some(new))),
                Outcome::Created(_) => None,
            });
            record(&tx, audit, "update", changed).await?;
        }
        Ok(out
            .into_iter()
            .map(|o| match o {
                Outcome::Created(m) | Outcome::Updated(_, m) => m,
            })
            .collect())
    })
    .await
}

/// A future behind a pointer, its type erased: the nested transaction sections of an upsert
/// make a future type deeper than the compiler's layout queries allow (release builds fail with
/// "queries overflow the depth limit") when left inline.
fn erased<'a, T>(
    f: impl Future<Output = Result<T>> + Send + 'a,
) -> Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>> {
    Box::pin(f)
}

async fn record<'a, M: Model>(
    tx: &Context,
    audit: &Audit,
    operation: &str,
    pairs: impl Iterator<Item = (Option<&'a M>, Option<&'a M>)>,
) -> Result<()> {
    let pairs: Vec<_> = pairs.collect();
    if pairs.is_empty() {
        return Ok(());
    }
    audit::record(tx, audit, operation, &pairs).await
}

/// What happened to one input row.
enum Outcome<M> {
    Created(M),
    Updated(M, M),
}

/// The checked key and update columns of one upsert.
struct Plan<M> {
    key: Vec<&'static str>,
    update: Option<Vec<&'static str>>,
    _model: PhantomData<fn() -> M>,
}

fn invalid<M: Model>(what: String) -> Error {
    Error::InvalidQuery(format!("upsert into `{}`: {what}", M::INFO.table))
}

impl<M: Model> Plan<M> {
    fn new(key: Vec<&'static str>, update: Option<Vec<&'static str>>) -> Result<Self> {
        if key.is_empty() {
            return Err(invalid::<M>("the key names no column".into()));
        }
        for (n, c) in key.iter().enumerate() {
            if key[..n].contains(c) {
                return Err(invalid::<M>(format!("the key names `{c}` twice")));
            }
            match M::INFO.column(c) {
                None => {
                    return Err(invalid::<M>(format!(
                        "`{c}` is not a column of {}",
                        M::INFO.name
                    )));
                }
                Some(info) if info.generated => {
                    return Err(invalid::<M>(format!(
                        "the key column `{c}` is generated by the database, so a new row cannot give it; upsert on a unique key the rows give (`Upsert::on(…)`)"
                    )));
                }
                Some(_) => {}
            }
        }
        if let Some(cols) = &update {
            for c in cols {
                if key.contains(c) {
                    return Err(invalid::<M>(format!(
                        "`{c}` is the conflict key; it cannot also be updated"
                    )));
                }
                if !Self::updatable(c) {
                    return Err(invalid::<M>(format!(
                        "`{c}` cannot be updated by an upsert (the primary key, a generated column, a behaviour's column, or not a column of {})",
                        M::INFO.name
                    )));
                }
            }
        }
        Ok(Plan {
            key,
            update,
            _model: PhantomData,
        })
    }

    /// A column an upsert may overwrite: not the primary key, a generated column, the creation
    /// time, the tenant or the deletion mark (the behaviours own those).
    fn updatable(c: &str) -> bool {
        let Some(info) = M::INFO.column(c) else {
            return false;
        };
        let owned = [M::INFO.created_at, M::INFO.soft_delete]
            .iter()
            .flatten()
            .any(|t| t.name == c)
            || M::INFO.tenant == Some(c);
        !info.primary_key && !info.generated && !owned
    }

    /// Each row's key, as text to compare: every key column given and not NULL, and no two rows
    /// with the same key.
    fn keys(&self, rows: &[ValueRow]) -> Result<Vec<String>> {
        let mut seen: HashMap<String, usize> = HashMap::with_capacity(rows.len());
        let mut keys = Vec::with_capacity(rows.len());
        for (n, row) in rows.iter().enumerate() {
            let mut values = Vec::with_capacity(self.key.len());
            for c in &self.key {
                match row.iter().find(|(rc, _)| rc == c) {
                    Some((_, v)) if !is_null(v) => values.push(v.clone()),
                    _ => {
                        return Err(invalid::<M>(format!(
                            "row {n} gives no value for the key column `{c}`"
                        )));
                    }
                }
            }
            let key = key_text(&values);
            if let Some(first) = seen.insert(key.clone(), n) {
                return Err(invalid::<M>(format!(
                    "rows {first} and {n} have the same key {key}; give each key once"
                )));
            }
            keys.push(key);
        }
        Ok(keys)
    }

    /// The most values one row binds.
    fn widest(&self, rows: &[ValueRow]) -> usize {
        rows.iter().map(Vec::len).max().unwrap_or(0).max(1)
    }

    /// The values a taken key writes to its row.
    fn update_values(&self, row: &ValueRow) -> Vec<(&'static str, Value)> {
        row.iter()
            .filter(|(c, _)| !self.key.contains(c) && Self::updatable(c))
            .filter(|(c, _)| self.update.as_ref().is_none_or(|u| u.contains(c)))
            .cloned()
            .collect()
    }

    /// The key condition for these rows' keys.
    fn key_filter<'a>(&self, rows: impl Iterator<Item = &'a ValueRow>) -> Filter {
        let values = |row: &'a ValueRow| {
            self.key.iter().map(move |c| {
                row.iter()
                    .find(|(rc, _)| rc == c)
                    .map_or(Value::String(None), |(_, v)| v.clone())
            })
        };
        match self.key.as_slice() {
            [k] => col(k).is_in(rows.flat_map(values)),
            _ => Filter::Or(
                rows.map(|row| {
                    Filter::And(
                        self.key
                            .iter()
                            .zip(values(row))
                            .map(|(c, v)| col(c).eq(v))
                            .collect(),
                    )
                })
                .collect(),
            ),
        }
    }

    /// The existing rows these rows' keys name that this context may update (its update policies
    /// and tenant applied, soft-deleted rows included), locked by primary key.
    async fn existing<'a>(
        &self,
        ctx: &Context,
        rows: impl Iterator<Item = &'a ValueRow> + Clone,
        first: &ValueRow,
    ) -> Result<Vec<M>> {
        // The filter an update of these rows would carry, after every plugin and policy.
        let mut probe = Update::table(M::INFO.table)
            .filter(self.key_filter(rows))
            .with_deleted();
        for (c, v) in self.update_values(first) {
            probe.set_value(c, v);
        }
        let Query::Update(probe) = ctx.intercept(probe)? else {
            return Err(invalid::<M>(
                "a plugin turned the update into another statement".into(),
            ));
        };
        let mut select = M::select();
        select.table.name = probe.table.clone();
        select.filter = probe.filter.clone();
        // A plain read first: the key condition may name rows that do not exist, and a locking
        // read of a missing key locks a range on MySQL (two upserts of one new key would
        // deadlock). The rows found are then locked by primary key, in key order.
        let found: Vec<M> = decode_all(ctx.fetch_all_unchecked(select.clone().into()).await?)?;
        if found.is_empty() {
            return Ok(found);
        }
        let mut locked = select;
        locked.add_filter(super::write::keys_of::<M>(&found));
        for pk in M::INFO.primary_key {
            locked = locked.order_by(col(pk), Order::Asc);
        }
        decode_all(ctx.fetch_locked(locked).await?)
    }

    /// Updates `old` with the row's values (and revives it), by primary key; returns it as stored.
    async fn update_one(&self, ctx: &Context, old: &M, row: &ValueRow) -> Result<M> {
        let mut upd = update_returning::<M>(M::id_filter(&old.id())).with_deleted();
        for (c, v) in self.update_values(row) {
            upd.set_value(c, v);
        }
        if let Some(sd) = M::INFO.soft_delete {
            upd.set_value(
                sd.name,
                match sd.kind {
                    TimestampKind::Utc => Value::ChronoDateTimeUtc(None),
                    TimestampKind::Naive => Value::ChronoDateTime(None),
                },
            );
        }
        let rows: Vec<M> = if upd.values.is_empty() && M::INFO.updated_at.is_none() {
            // Nothing to write: the row as it is.
            let mut s = M::select().filter(M::id_filter(&old.id()));
            s.deleted = DeletedRows::Include;
            super::fetch(ctx, s).await?
        } else {
            ctx.fetch_decoded(upd, M::from_row).await?
        };
        rows.into_iter().next().ok_or_else(|| Error::AccessDenied {
            table: M::INFO.table.into(),
            operation: Operation::Update,
            reason: format!(
                "the row with key {} may not be updated in this context",
                key_text(&M::id_values(&old.id()))
            ),
        })
    }

    /// One chunk: the taken keys' rows read and locked, the others inserted in batches, the
    /// taken ones updated. A key taken but not read is a unique violation (the caller goes row
    /// by row).
    async fn chunk(&self, ctx: &Context, chunk: &[(ValueRow, String)]) -> Result<Vec<Outcome<M>>> {
        let Some((first, _)) = chunk.first() else {
            return Ok(Vec::new());
        };
        let existing = self
            .existing(ctx, chunk.iter().map(|(r, _)| r), first)
            .await?;
        let mut by_key: HashMap<String, M> = HashMap::with_capacity(existing.len());
        for row in existing {
            let key = self.key_of(&row)?;
            if by_key.insert(key.clone(), row).is_some() {
                return Err(invalid::<M>(format!(
                    "several rows have the key {key}: the key columns {:?} are not unique",
                    self.key
                )));
            }
        }
        let mut new_rows = Vec::new();
        let mut slots: Vec<Option<Outcome<M>>> = Vec::with_capacity(chunk.len());
        let mut taken = Vec::new();
        for (n, (row, key)) in chunk.iter().enumerate() {
            match by_key.remove(key) {
                Some(old) => taken.push((n, old, row)),
                None => new_rows.push((n, row.clone())),
            }
            slots.push(None);
        }
        let (positions, rows): (Vec<usize>, Vec<ValueRow>) = new_rows.into_iter().unzip();
        for (n, made) in positions
            .into_iter()
            .zip(insert_rows::<M>(ctx, rows).await?)
        {
            slots[n] = Some(Outcome::Created(made));
        }
        for (n, old, row) in taken {
            let new = self.update_one(ctx, &old, row).await?;
            slots[n] = Some(Outcome::Updated(old, new));
        }
        slots
            .into_iter()
            .map(|s| s.ok_or_else(|| invalid::<M>("a row was neither inserted nor updated".into())))
            .collect()
    }

    /// The chunk row by row: each inserted (in a savepoint) or, when its key is taken, its row
    /// read, locked and updated. A key taken by a row this context cannot update keeps the
    /// database's unique violation.
    async fn row_by_row(
        &self,
        ctx: &Context,
        chunk: Vec<(ValueRow, String)>,
    ) -> Result<Vec<Outcome<M>>> {
        let mut out = Vec::with_capacity(chunk.len());
        for (row, _) in chunk {
            let one = vec![row];
            let inserted = ctx
                .atomic(async |sp| erased(insert_rows::<M>(&sp, one.clone())).await)
                .await;
            match inserted {
                Ok(mut made) => {
                    let made = made
                        .pop()
                        .ok_or_else(|| invalid::<M>("the insert returned no row".into()))?;
                    out.push(Outcome::Created(made));
                }
                Err(Error::UniqueViolation(v)) => {
                    let row = &one[0];
                    let old = self
                        .existing(ctx, std::iter::once(row), row)
                        .await?
                        .into_iter()
                        .next();
                    let Some(old) = old else {
                        // Taken by a row this context cannot see, or on another unique key.
                        return Err(Error::UniqueViolation(v));
                    };
                    let new = self.update_one(ctx, &old, row).await?;
                    out.push(Outcome::Updated(old, new));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The key of a stored row, as [`keys`](Self::keys) writes an input row's.
    fn key_of(&self, row: &M) -> Result<String> {
        let values = self
            .key
            .iter()
            .map(|c| {
                row.column_value(c)
                    .ok_or_else(|| invalid::<M>(format!("`{c}` is not a column")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(key_text(&values))
    }
}

/// A key's values as text, exact for every type (floats print their shortest round-trip form).
fn key_text(values: &[Value]) -> String {
    format!("{values:?}")
}
