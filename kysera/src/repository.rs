//! Repositories: a model's data access functions bound to a context.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use crate::behaviour::audit::{self, AuditFilter, AuditRecord};
use crate::behaviour::registry;
use crate::core::error::Result;
use crate::dal::{self, Upsert, UpsertAction};
use crate::executor::Executor;
use crate::model::{
    AuditedModel, FilterOn, HasCreatedAt, HasUpdatedAt, MaybeFilterOn, Model, SoftDeleteModel,
};
use crate::pagination::{CursorPage, Page, PageRequest};
use crate::query::{DeletedRows, OrderBy, Select};

/// The repository of model `M` over one context (an executor or a transaction): `User::repo(&db)`.
///
/// Every method is the [`dal`] function of the same name; a repository only remembers the
/// context. It is cheap to create and to clone.
///
/// ```no_run
/// # #[derive(kysera::Repository)] struct User { #[kysera(generated)] id: i64, email: String, name: String }
/// # async fn f(db: &kysera::Executor) -> kysera::Result<()> {
/// let users = User::repo(db);
/// let ada = users.create(NewUser { email: "ada@example.com".into(), name: "Ada".into() }).await?;
/// let same = users.find_by_id(ada.id).await?;
/// let page = users.find().filter(User::NAME.like("A%")).order_by(User::ID.desc()).page(1, 20).await?;
/// users.update(ada.id, UserPatch::default().name("Ada Lovelace")).await?;
/// users.delete(ada.id).await?;
/// # Ok(()) }
/// ```
pub struct Repository<M> {
    ctx: Executor,
    _model: PhantomData<fn() -> M>,
}

impl<M> Clone for Repository<M> {
    fn clone(&self) -> Self {
        Repository {
            ctx: self.ctx.clone(),
            _model: PhantomData,
        }
    }
}

impl<M: Model> std::fmt::Debug for Repository<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("model", &M::INFO.name)
            .field("ctx", &self.ctx)
            .finish()
    }
}

impl<M: Model> Repository<M> {
    /// The repository of `M` over `ctx`.
    pub fn new(ctx: &Executor) -> Self {
        Repository {
            ctx: ctx.clone(),
            _model: PhantomData,
        }
    }

    /// The context this repository runs on.
    pub fn executor(&self) -> &Executor {
        &self.ctx
    }

    /// The row with this primary key, if any.
    pub async fn find_by_id(&self, id: M::Id) -> Result<Option<M>> {
        dal::find_by_id(&self.ctx, &id).await
    }
    /// Every row.
    pub async fn find_all(&self) -> Result<Vec<M>> {
        dal::find_all(&self.ctx).await
    }
    /// The first row matching `filter`.
    pub async fn find_one(&self, filter: impl FilterOn<M>) -> Result<Option<M>> {
        dal::find_one(&self.ctx, filter).await
    }
    /// Every row matching `filter`.
    pub async fn find_many(&self, filter: impl FilterOn<M>) -> Result<Vec<M>> {
        dal::find_many(&self.ctx, filter).await
    }
    /// A query on this model to refine with filters, order, limit and offset, then run.
    pub fn find(&self) -> Find<M> {
        Find {
            ctx: self.ctx.clone(),
            select: M::select(),
            _model: PhantomData,
        }
    }
    /// Validates and inserts one row.
    pub async fn create(&self, new: M::New) -> Result<M> {
        boxed(dal::create(&self.ctx, new)).await
    }
    /// Validates and inserts many rows.
    pub async fn create_many(&self, news: Vec<M::New>) -> Result<Vec<M>> {
        boxed(dal::create_many(&self.ctx, news)).await
    }
    /// Inserts the row, or updates the row with its primary key (reviving a soft-deleted one);
    /// see [`dal::upsert`].
    pub async fn upsert(&self, new: M::New) -> Result<M> {
        boxed(dal::upsert(&self.ctx, new)).await
    }
    /// [`upsert`](Self::upsert) for many rows, all or nothing, in input order.
    pub async fn upsert_many(&self, news: Vec<M::New>) -> Result<Vec<M>> {
        boxed(dal::upsert_many(&self.ctx, news)).await
    }
    /// Inserts the row, or resolves a taken key as `how` says (another unique key, the columns
    /// to update, or nothing); see [`dal::upsert_with`].
    pub async fn upsert_with<A: UpsertAction>(
        &self,
        how: &Upsert<M, A>,
        new: M::New,
    ) -> Result<A::One<M>> {
        boxed(dal::upsert_with(&self.ctx, how, new)).await
    }
    /// [`upsert_with`](Self::upsert_with) for many rows, all or nothing; see
    /// [`dal::upsert_many_with`].
    pub async fn upsert_many_with<A: UpsertAction>(
        &self,
        how: &Upsert<M, A>,
        news: Vec<M::New>,
    ) -> Result<Vec<M>> {
        boxed(dal::upsert_many_with(&self.ctx, how, news)).await
    }
    /// Validates the patch and updates one row; a missing row is `NotFound`.
    pub async fn update(&self, id: M::Id, patch: M::Patch) -> Result<M> {
        boxed(dal::update(&self.ctx, &id, patch)).await
    }
    /// Validates the patch and applies it to every row matching `filter`.
    pub async fn update_many(&self, filter: impl FilterOn<M>, patch: M::Patch) -> Result<u64> {
        dal::update_many::<M>(&self.ctx, filter, patch).await
    }
    /// Deletes one row; a missing row is `NotFound`. On a `#[soft_delete]` model this is a
    /// hard delete, as [`hard_delete`](Self::hard_delete).
    pub async fn delete(&self, id: M::Id) -> Result<()> {
        boxed(dal::delete::<M>(&self.ctx, &id)).await
    }
    /// Deletes every row matching `filter`.
    pub async fn delete_many(&self, filter: impl FilterOn<M>) -> Result<u64> {
        dal::delete_many::<M>(&self.ctx, filter).await
    }
    /// Compares the model with its live table
    /// ([`dialect::check_schema`](crate::dialect::check_schema)).
    pub async fn check_schema(&self) -> Result<crate::dialect::SchemaReport> {
        crate::dialect::check_schema::<M>(&self.ctx).await
    }
    /// Counts rows matching `filter` (`None`: every row).
    pub async fn count(&self, filter: impl MaybeFilterOn<M>) -> Result<i64> {
        dal::count::<M>(&self.ctx, filter).await
    }
    /// Whether a row matches `filter` (`None`: any row).
    pub async fn exists(&self, filter: impl MaybeFilterOn<M>) -> Result<bool> {
        dal::exists::<M>(&self.ctx, filter).await
    }
}

/// Methods of `#[soft_delete]` models. (Bounds on each method rather than on the block, so a
/// call on another model is an error that says which attribute to add, not "method not found".)
impl<M: Model> Repository<M> {
    /// Marks one row deleted and returns it; missing or already deleted is `NotFound`.
    pub async fn soft_delete(&self, id: M::Id) -> Result<M>
    where
        M: SoftDeleteModel,
    {
        boxed(dal::soft_delete(&self.ctx, &id)).await
    }
    /// Marks every matching row deleted; returns how many.
    pub async fn soft_delete_many(&self, filter: impl FilterOn<M>) -> Result<u64>
    where
        M: SoftDeleteModel,
    {
        dal::soft_delete_many::<M>(&self.ctx, filter).await
    }
    /// Brings a soft-deleted row back; missing or not deleted is `NotFound`.
    pub async fn restore(&self, id: M::Id) -> Result<M>
    where
        M: SoftDeleteModel,
    {
        boxed(dal::restore(&self.ctx, &id)).await
    }
    /// Brings back the soft-deleted rows among `ids` and returns them; ids that are missing
    /// or not deleted are left alone.
    pub async fn restore_many(&self, ids: &[M::Id]) -> Result<Vec<M>>
    where
        M: SoftDeleteModel,
    {
        boxed(dal::restore_many(&self.ctx, ids)).await
    }
    /// Removes a row for good, deleted or not; missing is `NotFound`.
    pub async fn hard_delete(&self, id: M::Id) -> Result<()>
    where
        M: SoftDeleteModel,
    {
        boxed(dal::delete::<M>(&self.ctx, &id)).await
    }
    /// The row with this key, even if soft-deleted.
    pub async fn find_by_id_with_deleted(&self, id: M::Id) -> Result<Option<M>>
    where
        M: SoftDeleteModel,
    {
        self.find_with_deleted()
            .filter(M::id_filter(&id))
            .one()
            .await
    }
    /// A query that sees deleted rows too.
    pub fn find_with_deleted(&self) -> Find<M>
    where
        M: SoftDeleteModel,
    {
        self.find().with_deleted()
    }
    /// A query that sees only deleted rows.
    pub fn find_deleted(&self) -> Find<M>
    where
        M: SoftDeleteModel,
    {
        self.find().only_deleted()
    }
}

/// Methods of `#[audit]` models.
impl<M: Model> Repository<M> {
    /// Every audit entry of one row, oldest first.
    pub async fn audit_history(&self, id: M::Id) -> Result<Vec<AuditRecord>>
    where
        M: AuditedModel,
    {
        audit::history::<M>(&self.ctx, &id).await
    }
    /// One page of this model's audit log (newest first), filtered.
    pub async fn audit_log(
        &self,
        filter: AuditFilter,
        page: u64,
        limit: u64,
    ) -> Result<Page<AuditRecord>>
    where
        M: AuditedModel,
    {
        audit::audit_log(&self.ctx, filter.table(M::INFO.table), page, limit).await
    }
    /// Re-applies the old values of an audit entry (re-creating a deleted row).
    pub async fn restore_from_audit(&self, entry_id: i64) -> Result<M>
    where
        M: AuditedModel,
    {
        boxed(dal::restore_from_audit(&self.ctx, entry_id)).await
    }
    /// [`restore_from_audit`](Self::restore_from_audit) with values of its own, written over
    /// the entry's: how a re-created row gets the columns its audit excludes.
    pub async fn restore_from_audit_with(&self, entry_id: i64, fill: M::Patch) -> Result<M>
    where
        M: AuditedModel,
    {
        boxed(dal::restore_from_audit_with(&self.ctx, entry_id, fill)).await
    }
}

/// Methods of `#[timestamps]` models with a creation timestamp.
impl<M: Model> Repository<M> {
    /// Rows created after `t`, oldest first.
    pub async fn find_created_after(&self, t: chrono::DateTime<chrono::Utc>) -> Result<Vec<M>>
    where
        M: HasCreatedAt,
    {
        dal::find_by_time(&self.ctx, M::INFO.created_at, t, true).await
    }
    /// Rows created before `t`, oldest first.
    pub async fn find_created_before(&self, t: chrono::DateTime<chrono::Utc>) -> Result<Vec<M>>
    where
        M: HasCreatedAt,
    {
        dal::find_by_time(&self.ctx, M::INFO.created_at, t, false).await
    }
}

/// Methods of `#[timestamps]` models with an update timestamp.
impl<M: Model> Repository<M> {
    /// Sets the row's update timestamp to now and returns it; missing (or soft-deleted) is
    /// `NotFound`.
    pub async fn touch(&self, id: M::Id) -> Result<M>
    where
        M: HasUpdatedAt,
    {
        boxed(dal::touch(&self.ctx, &id)).await
    }
    /// Rows updated after `t`, oldest first.
    pub async fn find_updated_after(&self, t: chrono::DateTime<chrono::Utc>) -> Result<Vec<M>>
    where
        M: HasUpdatedAt,
    {
        dal::find_by_time(&self.ctx, M::INFO.updated_at, t, true).await
    }
    /// Rows updated before `t`, oldest first.
    pub async fn find_updated_before(&self, t: chrono::DateTime<chrono::Utc>) -> Result<Vec<M>>
    where
        M: HasUpdatedAt,
    {
        dal::find_by_time(&self.ctx, M::INFO.updated_at, t, false).await
    }
}

/// A query on one model, built up then run: `repo.find().filter(…).order_by(…).all()`.
pub struct Find<M> {
    ctx: Executor,
    select: Select,
    _model: PhantomData<fn() -> M>,
}

impl<M> Clone for Find<M> {
    fn clone(&self) -> Self {
        Find {
            ctx: self.ctx.clone(),
            select: self.select.clone(),
            _model: PhantomData,
        }
    }
}

impl<M: Model> Find<M> {
    /// ANDs a condition in.
    pub fn filter(mut self, f: impl FilterOn<M>) -> Self {
        let f = f.into_filter();
        self.select.add_filter(f);
        self
    }
    /// Adds an order term (`User::ID.desc()`).
    pub fn order_by(mut self, o: OrderBy) -> Self {
        self.select.order_by.push(o);
        self
    }
    /// At most `n` rows.
    pub fn limit(mut self, n: u64) -> Self {
        self.select.limit = Some(n);
        self
    }
    /// Skips `n` rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.select.offset = Some(n);
        self
    }
    /// Sees soft-deleted rows too.
    pub fn with_deleted(mut self) -> Self
    where
        M: SoftDeleteModel,
    {
        self.select.deleted = DeletedRows::Include;
        self
    }
    /// Sees only soft-deleted rows.
    pub fn only_deleted(mut self) -> Self
    where
        M: SoftDeleteModel,
    {
        self.select.deleted = DeletedRows::Only;
        self
    }
    /// The IR select this query runs.
    pub fn into_select(self) -> Select {
        self.select
    }
    /// Every matching row.
    pub async fn all(self) -> Result<Vec<M>> {
        dal::fetch(&self.ctx, self.select).await
    }
    /// The first matching row.
    pub async fn one(self) -> Result<Option<M>> {
        Ok(dal::fetch(&self.ctx, self.select.limit(1))
            .await?
            .into_iter()
            .next())
    }
    /// The number of matching rows.
    pub async fn count(self) -> Result<i64> {
        registry::ensure(M::INFO)?;
        self.ctx.count(self.select).await
    }
    /// Whether any row matches.
    pub async fn exists(self) -> Result<bool> {
        registry::ensure(M::INFO)?;
        self.ctx.exists(self.select).await
    }
    /// Page `page` (from 1) of `limit` rows, with the total.
    pub async fn page(self, page: u64, limit: u64) -> Result<Page<M>> {
        dal::paginate(&self.ctx, self.select, PageRequest::new(page, limit)).await
    }
    /// The `limit` rows after `cursor` (the first page for `None`), with the next cursor.
    pub async fn cursor(self, limit: u64, cursor: Option<&str>) -> Result<CursorPage<M>> {
        dal::paginate_cursor(&self.ctx, self.select, limit, cursor).await
    }
}

/// Declares a set of repositories bound to one context — all on the same transaction when built
/// from a transaction's executor (`createRepositoriesFactory` in the TypeScript Kysera).
///
/// ```no_run
/// # #[derive(kysera::Repository)] struct User { #[kysera(generated)] id: i64, email: String }
/// # #[derive(kysera::Repository)] struct Post { #[kysera(generated)] id: i64, user_id: i64 }
/// kysera::repositories! {
///     /// Everything the handlers need.
///     pub struct Repos { users: User, posts: Post }
/// }
/// # async fn f(db: &kysera::Executor) -> kysera::Result<()> {
/// db.transaction(async |tx| {
///     let repos = Repos::new(&tx);
///     let user = repos.users.create(NewUser { email: "a@b.co".into() }).await?;
///     repos.posts.create(NewPost { user_id: user.id }).await?;
///     kysera::Result::<()>::Ok(())
/// }).await
/// # }
/// ```
#[macro_export]
macro_rules! repositories {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($field:ident : $model:ty),* $(,)? }) => {
        $(#[$meta])*
        $vis struct $name {
            $(
                #[doc = concat!("The `", stringify!($model), "` repository.")]
                pub $field: $crate::Repository<$model>,
            )*
        }
        impl $name {
            /// Every repository, on `ctx` (an executor or a transaction).
            pub fn new(ctx: &$crate::Executor) -> Self {
                Self { $($field: $crate::Repository::new(ctx),)* }
            }
        }
    };
}

/// A write's future behind a pointer. A write nests transactions, savepoints and statements,
/// and an application that awaits several inside nested `async` blocks (a request handler in
/// `rls::within`, a test) could pass the compiler's limit on how deep a future's layout may be
/// ("queries overflow the depth limit"); one allocation per write keeps them shallow.
fn boxed<'a, T>(
    f: impl Future<Output = Result<T>> + Send + 'a,
) -> Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>> {
    Box::pin(f)
}
