//! Building application queries out of query functions: [`create_query`], [`compose`],
//! [`parallel`] and [`with_transaction`].

use std::future::Future;
use std::sync::Arc;

use futures_util::future::{BoxFuture, FutureExt, try_join_all};

use super::Context;
use crate::core::error::{Error, Result};

/// A reusable query function over a context (`createQuery` in the TypeScript Kysera): cheap to clone, and
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

/// `first`, then `second` on its output, on the same context (`compose` in the TypeScript Kysera).
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
/// error (`parallel` in the TypeScript Kysera). On a pool they use separate connections; inside a transaction
/// they share its one connection and run one after another. For results of different types use
/// `tokio::try_join!`.
pub async fn parallel<T, F>(queries: impl IntoIterator<Item = F>) -> Result<Vec<T>>
where
    F: Future<Output = Result<T>>,
{
    try_join_all(queries).await
}

/// Runs `f` in a transaction on `ctx` (a savepoint when `ctx` is already a transaction); see
/// [`Executor::transaction`](crate::Executor::transaction).
pub async fn with_transaction<F, Fut, T>(ctx: &Context, f: F) -> Result<T>
where
    F: FnOnce(Context) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    ctx.transaction(f).await
}

/// [`with_transaction`] with an error type of your own (see
/// [`Executor::transaction_with_error`](crate::Executor::transaction_with_error)).
pub async fn with_transaction_with_error<F, Fut, T, E>(
    ctx: &Context,
    f: F,
) -> std::result::Result<T, E>
where
    F: FnOnce(Context) -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
    E: From<Error>,
{
    ctx.transaction_with_error(f).await
}
