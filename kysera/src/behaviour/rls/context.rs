//! Who is acting: the [`AuthContext`] of a task-local scope, and the ways to enter one.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use crate::core::error::{Error, Result};
use crate::query::Value;

tokio::task_local! {
    static AUTH: Arc<AuthContext>;
}

/// Who is acting: the context every query in a [`with_context`] scope runs under.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct AuthContext {
    /// The acting user.
    pub user_id: Option<Value>,
    /// The tenant whose rows the user may see (compared with `#[rls(tenant)]` columns, so give it
    /// the column's type: a string for a text column, an integer for a numeric one).
    pub tenant_id: Option<Value>,
    /// Role names.
    pub roles: Vec<String>,
    /// Permission names.
    pub permissions: Vec<String>,
    /// Anything else policies may look at.
    pub attributes: HashMap<String, serde_json::Value>,
    /// Bypasses every policy. Only [`AuthContext::system`] sets it.
    pub system: bool,
}

impl AuthContext {
    /// A context for user `id`.
    pub fn user(id: impl Into<Value>) -> Self {
        AuthContext {
            user_id: Some(id.into()),
            ..Default::default()
        }
    }

    /// The system context: bypasses every row-level policy. For migrations, jobs and admin tools,
    /// asked for explicitly; never the default.
    pub fn system() -> Self {
        AuthContext {
            system: true,
            ..Default::default()
        }
    }

    /// With a tenant.
    pub fn with_tenant(mut self, tenant: impl Into<Value>) -> Self {
        self.tenant_id = Some(tenant.into());
        self
    }

    /// With roles.
    pub fn with_roles<S: Into<String>>(mut self, roles: impl IntoIterator<Item = S>) -> Self {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// With permissions.
    pub fn with_permissions<S: Into<String>>(mut self, p: impl IntoIterator<Item = S>) -> Self {
        self.permissions.extend(p.into_iter().map(Into::into));
        self
    }

    /// With a free attribute.
    pub fn with_attribute(mut self, key: impl Into<String>, value: serde_json::Value) -> Self {
        self.attributes.insert(key.into(), value);
        self
    }

    /// Whether the context has this role.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the context has this permission.
    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

/// Runs `f` with `ctx` as the auth context of every query it makes (in this task).
///
/// `f` may be any future. When it is an `async { …?; Ok(x) }` block, its error type cannot be
/// inferred from here (rustc asks for `Ok::<_, kysera::Error>(x)`); [`within`] takes only
/// `kysera::Result` futures and needs no annotation.
pub async fn with_context<F: Future>(ctx: AuthContext, f: F) -> F::Output {
    AUTH.scope(Arc::new(ctx), f).await
}

/// [`with_context`] for a future that returns a `kysera::Result`, so the error type of an
/// `async` block is known: `rls::within(ctx, async { let n = repo.count(None).await?; Ok(n) })`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> kysera::Result<()> {
/// use kysera::rls::{self, AuthContext};
/// let db = kysera::connect("sqlite::memory:").await?;
/// let n = rls::within(AuthContext::user("u-1").with_tenant("acme"), async {
///     let rows = db.raw().fetch_all_sql("SELECT 1 AS one", vec![]).await?;
///     Ok(rows.len())
/// })
/// .await?;
/// assert_eq!(n, 1);
/// # Ok(()) }
/// ```
pub async fn within<T, F>(ctx: AuthContext, f: F) -> F::Output
where
    F: Future<Output = Result<T>>,
{
    with_context(ctx, f).await
}

/// Runs `f` with the system context, which bypasses every row-level policy.
pub async fn as_system<F: Future>(f: F) -> F::Output {
    with_context(AuthContext::system(), f).await
}

/// The auth context of the current scope, if any.
pub fn current() -> Option<Arc<AuthContext>> {
    AUTH.try_with(Arc::clone).ok()
}

/// `tokio::spawn` that carries the current auth context into the new task (a plain
/// `tokio::spawn` starts without one, and its queries on protected tables are refused).
pub fn spawn<F>(f: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match current() {
        Some(ctx) => tokio::spawn(AUTH.scope(ctx, f)),
        None => tokio::spawn(f),
    }
}

/// `f`, run with the current task's auth context wherever it is polled (for work the library
/// moves to a task of its own). The context is taken now, not when `f` first runs.
pub(crate) fn carry<F: Future + Send + 'static>(
    f: F,
) -> impl Future<Output = F::Output> + Send + 'static {
    let ctx = current();
    async move {
        match ctx {
            Some(ctx) => AUTH.scope(ctx, f).await,
            None => f.await,
        }
    }
}

/// The context a query on `table` runs under: `Ok(None)` for the system context (no policy
/// applies), an error when there is none.
pub(crate) fn context_for(table: &str) -> Result<Option<Arc<AuthContext>>> {
    match current() {
        None => Err(Error::NoAuthContext {
            table: table.to_string(),
        }),
        Some(ctx) if ctx.system => Ok(None),
        Some(ctx) => Ok(Some(ctx)),
    }
}
