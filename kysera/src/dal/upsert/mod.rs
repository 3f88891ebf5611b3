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

use std::marker::PhantomData;
use std::pin::Pin;

mod plan;

use plan::{Outcome, Plan};

use super::Context;
use super::write::{ValueRow, insert_rows_with, rows_per_statement};
use crate::behaviour::audit::{self, Audit, Change};
use crate::behaviour::rls;
use crate::core::error::{Error, Result};
use crate::model::{Columns, Model};

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
    let mut rows: Vec<ValueRow> = news.iter().map(M::insert_values).collect();
    // A tenant column in the key, left to the auth context as `create` leaves it: the
    // context's tenant, which the insert would write.
    if let Some(tc) = M::INFO.tenant
        && plan.key.contains(&tc)
        && let Some(t) = rls::current()
            .filter(|c| !c.system)
            .and_then(|c| c.tenant_id.clone())
    {
        for row in &mut rows {
            if !row.iter().any(|(c, _)| *c == tc) {
                row.push((tc, t.clone()));
            }
        }
    }
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
    let audits = (creates.as_ref(), updates.as_ref());
    // Outside a transaction the upsert owns its own, and a deadlock or serialization failure
    // (concurrent upserts of one key on MySQL, whose losers all hold a shared lock on the row)
    // rolled all of it back: it runs again, up to three times.
    let mut tries = 0;
    loop {
        let result = erased(apply(ctx, &plan, &rows, &keys, audits)).await;
        match result {
            Err(e) if tries < 3 && !ctx.in_transaction() && e.undid_transaction() => tries += 1,
            other => return other,
        }
    }
}

/// The updating upsert of `rows`, chunk by chunk, in one transaction (or a savepoint of the
/// caller's), with its audit entries.
async fn apply<M: Model>(
    ctx: &Context,
    plan: &Plan<M>,
    rows: &[ValueRow],
    keys: &[String],
    (creates, updates): (Option<&Audit>, Option<&Audit>),
) -> Result<Vec<M>> {
    ctx.atomic(async move |tx| {
        let per_chunk = rows_per_statement(tx.dialect(), plan.widest(rows)).min(1_000);
        let mut out = Vec::with_capacity(rows.len());
        for (chunk_rows, chunk_keys) in rows.chunks(per_chunk).zip(keys.chunks(per_chunk)) {
            let chunk: Vec<(ValueRow, String)> = chunk_rows
                .iter()
                .cloned()
                .zip(chunk_keys.iter().cloned())
                .collect();
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
        if let Some(audit) = creates {
            let made = out.iter().filter_map(|o| match o {
                Outcome::Created(m) => Some((None, Some(m))),
                Outcome::Updated(..) | Outcome::Kept(_) => None,
            });
            record(&tx, audit, "create", made).await?;
        }
        if let Some(audit) = updates {
            let changed = out.iter().filter_map(|o| match o {
                Outcome::Updated(old, new) => Some((Some(old), Some(new))),
                Outcome::Created(_) | Outcome::Kept(_) => None,
            });
            record(&tx, audit, "update", changed).await?;
        }
        Ok(out
            .into_iter()
            .map(|o| match o {
                Outcome::Created(m) | Outcome::Updated(_, m) | Outcome::Kept(m) => m,
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
