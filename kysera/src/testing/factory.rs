//! Factories (`createFactory` in the TypeScript Kysera): insert inputs made from a sequence
//! number, changed per call, saved through the repository so every plugin applies.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::core::error::{Error, Result};
use crate::dal;
use crate::executor::Executor;
use crate::model::Model;

type Make<M> = Arc<dyn Fn(u64) -> <M as Model>::New + Send + Sync>;
type MakeWith<M> = Arc<
    dyn Fn(Executor, u64) -> Pin<Box<dyn Future<Output = Result<<M as Model>::New>> + Send>>
        + Send
        + Sync,
>;

enum Recipe<M: Model> {
    Plain(Make<M>),
    /// Needs the database (to create the rows it refers to: a post's author).
    WithDb(MakeWith<M>),
}

impl<M: Model> Clone for Recipe<M> {
    fn clone(&self) -> Self {
        match self {
            Recipe::Plain(f) => Recipe::Plain(f.clone()),
            Recipe::WithDb(f) => Recipe::WithDb(f.clone()),
        }
    }
}

/// Makes rows of model `M` for tests: each input from the next sequence number (1, 2, …; one
/// sequence per factory, shared by its clones), changed per call if wanted, and created through
/// [`dal::create`] — validated, with timestamps, audit and row-level security applied.
///
/// ```no_run
/// use kysera::testing::Factory;
/// # #[derive(Debug, kysera::Repository)]
/// # struct User { #[kysera(generated)] id: i64, email: String }
/// # #[derive(Debug, kysera::Repository)]
/// # struct Post { #[kysera(generated)] id: i64, author_id: i64, title: String }
/// # async fn f(db: kysera::Executor) -> kysera::Result<()> {
/// let users = Factory::<User>::new(|n| NewUser { email: format!("user{n}@example.com") });
/// // A post factory that creates its author.
/// let posts = Factory::<Post>::with_db({
///     let users = users.clone();
///     move |db, n| {
///         let users = users.clone();
///         async move {
///             let author = users.create(&db).await?;
///             Ok(NewPost { author_id: author.id, title: format!("Post {n}") })
///         }
///     }
/// });
/// let post = posts.create_with(&db, |p| p.title = "Hello".into()).await?;
/// # Ok(()) }
/// ```
pub struct Factory<M: Model> {
    recipe: Recipe<M>,
    seq: Arc<AtomicU64>,
}

impl<M: Model> Clone for Factory<M> {
    fn clone(&self) -> Self {
        Factory {
            recipe: self.recipe.clone(),
            seq: self.seq.clone(),
        }
    }
}

impl<M: Model> std::fmt::Debug for Factory<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Factory")
            .field("model", &M::INFO.name)
            .field("next", &(self.seq.load(Ordering::Relaxed) + 1))
            .finish()
    }
}

impl<M: Model> Factory<M> {
    /// A factory making each input from its sequence number.
    pub fn new(make: impl Fn(u64) -> M::New + Send + Sync + 'static) -> Self {
        Factory {
            recipe: Recipe::Plain(Arc::new(make)),
            seq: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A factory whose inputs need the database (an association: a post's author created
    /// first, with the same executor — the test's transaction, if it is one).
    pub fn with_db<F, Fut>(make: F) -> Self
    where
        F: Fn(Executor, u64) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<M::New>> + Send + 'static,
    {
        Factory {
            recipe: Recipe::WithDb(Arc::new(move |db, n| Box::pin(make(db, n)))),
            seq: Arc::new(AtomicU64::new(0)),
        }
    }

    fn next(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The next input, not saved (for a factory made with [`new`](Self::new); one made with
    /// [`with_db`](Self::with_db) needs [`build_in`](Self::build_in)).
    pub fn build(&self) -> Result<M::New> {
        match &self.recipe {
            Recipe::Plain(make) => Ok(make(self.next())),
            Recipe::WithDb(_) => Err(Error::InvalidQuery(format!(
                "the factory of {} needs a database to build: use build_in",
                M::INFO.name
            ))),
        }
    }

    /// The next input, not saved (rows it refers to are created in `db`).
    pub async fn build_in(&self, db: &Executor) -> Result<M::New> {
        let n = self.next();
        match &self.recipe {
            Recipe::Plain(make) => Ok(make(n)),
            Recipe::WithDb(make) => make(db.clone(), n).await,
        }
    }

    /// Creates the next row.
    pub async fn create(&self, db: &Executor) -> Result<M> {
        self.create_with(db, |_| {}).await
    }

    /// Creates the next row, changed by `change` first.
    pub async fn create_with(&self, db: &Executor, change: impl FnOnce(&mut M::New)) -> Result<M> {
        let mut new = self.build_in(db).await?;
        change(&mut new);
        dal::create::<M>(db, new).await
    }

    /// Creates `n` rows (in one batch: all or none).
    pub async fn create_many(&self, db: &Executor, n: usize) -> Result<Vec<M>> {
        let mut news = Vec::with_capacity(n);
        for _ in 0..n {
            news.push(self.build_in(db).await?);
        }
        dal::create_many::<M>(db, news).await
    }
}
