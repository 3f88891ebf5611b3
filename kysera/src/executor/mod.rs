//! The executor: a connection pool (or a transaction) plus the ordered plugin chain, through
//! which every query passes before it is lowered to SQL and run.
//!
//! - `connect`: URLs, [`Pool`], [`connect`];
//! - `transaction`: transactions, nested savepoints, atomic sections, cancellation guards;
//! - `returning`: RETURNING and exact DO NOTHING counts emulated on MySQL;
//! - `raw`: [`Raw`], the way around the plugins;
//! - `hook`: the one narrow entry through which the behaviours models declare (soft delete,
//!   timestamps, tenant isolation) are enforced, without this layer naming any of them.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use sea_query_sqlx::SqlxValues;
use sqlx::AssertSqlSafe;

use crate::clock::{Clock, SystemClock};
use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;
use crate::pagination::CursorKey;
use crate::plugin::{Plugin, PluginChain, QueryContext};
#[cfg(feature = "mysql")]
use crate::query::Returning;
use crate::query::{Lowered, Query, Select, Value, lower, lower_count, lower_exists};
use crate::row::Row;

/// A statement's future behind a pointer (see `fetch_all_unchecked`).
type Erased<'a, T> = std::pin::Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

fn sqlx_query<DB: sqlx::Database>(l: Lowered) -> sqlx::query::Query<'static, DB, SqlxValues>
where
    SqlxValues: sqlx::IntoArguments<DB>,
{
    sqlx::query_with(AssertSqlSafe(l.sql), SqlxValues(l.values))
}

#[macro_use]
mod target;
mod breaker;
mod check;
mod connect;
mod decode;
pub(crate) mod finish;
pub(crate) mod hook;
mod isolation;
mod observe;
mod raw;
#[cfg(feature = "mysql")]
mod returning;
#[cfg(feature = "mysql")]
use returning::mysql_checks_conflicts;
mod shared;
mod transaction;
mod tx_conn;
#[cfg(feature = "mysql")]
mod unique_keys;

pub use breaker::{BreakerOptions, BreakerState, CircuitBreaker};
pub use connect::{Pool, connect};
use hook::{Behaviours, Enforce};
pub use isolation::IsolationLevel;
pub use observe::{QueryObserver, StatementEvent};
pub use raw::Raw;
use target::{Target, To};
#[cfg(feature = "postgres")]
use transaction::TxConn;
use transaction::TxHandle;

/// A database handle with an ordered chain of plugins: every query it runs passes through the
/// plugins' interceptors first.
///
/// An `Executor` is cheap to clone (the pool and plugins are shared). The executor handed to a
/// [`transaction`](Executor::transaction) closure is an `Executor` too, bound to that
/// transaction, so code written against `&Executor` (DAL functions, repositories) runs the same
/// inside and outside transactions, with the same plugins.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> kysera::Result<()> {
/// use kysera::query::{col, Insert, Select};
///
/// let db = kysera::connect("sqlite::memory:").await?;
/// db.raw().execute_sql("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL)", vec![]).await?;
/// db.execute(Insert::into("users").set("email", "a@example.com")).await?;
/// let n = db.count(Select::from("users").filter(col("email").like("%@example.com"))).await?;
/// assert_eq!(n, 1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Executor {
    pool: Pool,
    chain: Arc<PluginChain>,
    clock: Arc<dyn Clock>,
    /// PostgreSQL native RLS: pass the auth context to each transaction.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    postgres_rls: bool,
    /// The savepoint scope this executor's statements belong to (`None`: the outermost level).
    /// A statement runs only while its scope is the innermost one open on the transaction.
    scope: Option<Arc<str>>,
    /// Identifies this pool among executors made from it (clones share it), so code running
    /// inside one of its transactions can be told apart.
    pool_id: Arc<()>,
    tx: Option<Arc<TxHandle>>,
    /// How pagination cursors are signed or encrypted, if the application set a key.
    cursor_key: Option<CursorKey>,
    /// The server is MariaDB 10.5 or later, whose INSERT and DELETE take RETURNING (found by
    /// [`connect`]; an executor made from a pool of one's own emulates it, as on MySQL).
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    mariadb_returning: bool,
    /// The circuit breaker every statement goes through, if any.
    breaker: Option<CircuitBreaker>,
    /// The level this executor's transactions begin at (`None`: the database's default).
    isolation: Option<IsolationLevel>,
    /// Who hears about each statement, and when one is slow.
    observers: observe::Observers,
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("dialect", &self.dialect())
            .field("plugins", &*self.chain)
            .field(
                "transaction",
                &self
                    .tx
                    .as_ref()
                    .map(|t| t.savepoint.as_deref().unwrap_or("outermost")),
            )
            .finish()
    }
}

impl Executor {
    /// An executor over an existing pool, with no plugins.
    pub fn new(pool: impl Into<Pool>) -> Self {
        Executor {
            pool: pool.into(),
            chain: Arc::new(PluginChain::default()),
            clock: Arc::new(SystemClock),
            postgres_rls: false,
            scope: None,
            pool_id: Arc::new(()),
            tx: None,
            cursor_key: None,
            mariadb_returning: false,
            breaker: None,
            isolation: None,
            observers: observe::Observers::default(),
        }
    }

    /// A new executor over the same pool with `plugins` as its chain (replacing any it had).
    ///
    /// The plugins are validated and ordered here: a duplicate name, a missing dependency, a
    /// conflict or a dependency cycle is an [`Error::PluginConfig`]. Order: dependencies first,
    /// then higher [`priority`](Plugin::priority), then name.
    pub fn with_plugins(&self, plugins: Vec<Arc<dyn Plugin>>) -> Result<Executor> {
        Ok(Executor {
            chain: Arc::new(PluginChain::new(plugins)?),
            ..self.clone()
        })
    }

    /// PostgreSQL native row-level security: when on, every transaction this executor begins
    /// inside an [`rls`](crate::rls) scope first sets `kysera.tenant_id`, `kysera.user_id`,
    /// `kysera.roles` (comma-separated) and `kysera.system` (`on`/`off`) for that transaction
    /// only (`set_config(…, true)`, the bound-parameter form of `SET LOCAL`), so policies such as
    /// those of [`rls::postgres_tenant_policy`](crate::rls::postgres_tenant_policy) can read them
    /// with `current_setting(…, true)`. Queries outside a transaction get no settings (and such
    /// a policy then shows no rows). No effect on other databases.
    pub fn with_postgres_rls(&self, on: bool) -> Executor {
        Executor {
            postgres_rls: on,
            ..self.clone()
        }
    }

    /// A new executor over the same pool and plugins whose clock sets timestamps and soft
    /// deletes (by default the system clock; tests use a [`FixedClock`](crate::FixedClock)).
    pub fn with_clock(&self, clock: Arc<dyn Clock>) -> Executor {
        Executor {
            clock,
            ..self.clone()
        }
    }

    /// A new executor over the same pool and plugins whose pagination cursors are signed with
    /// HMAC-SHA256 under `key` (a secret of the application's, 32 random bytes or more): a
    /// cursor this executor did not make — forged, edited, made under another key, or
    /// unsigned — is [`Error::InvalidCursor`]. Without a key cursors are only checksummed:
    /// anyone can make one with other values, which selects nothing the query could not
    /// select anyway, but lets values of another type reach the database. A signed cursor's
    /// values stay readable (base64 of JSON); [`with_encrypted_cursors`](Self::with_encrypted_cursors)
    /// hides them too.
    pub fn with_cursor_key(&self, key: impl AsRef<[u8]>) -> Executor {
        Executor {
            cursor_key: Some(CursorKey::sign(key.as_ref())),
            ..self.clone()
        }
    }

    /// A new executor whose pagination cursors are encrypted and authenticated
    /// (ChaCha20-Poly1305, with a 256-bit key derived from `key` and a fresh random nonce per
    /// cursor): a client can neither read the last row's values a cursor carries (an email, a
    /// balance) nor make or edit one — anything this executor did not make is
    /// [`Error::InvalidCursor`]. Replaces a signing key set with
    /// [`with_cursor_key`](Self::with_cursor_key). `key`: a secret of the application's, 32
    /// random bytes or more (`db.with_encrypted_cursors(std::env::var("CURSOR_SECRET")?)`).
    pub fn with_encrypted_cursors(&self, key: impl AsRef<[u8]>) -> Executor {
        Executor {
            cursor_key: Some(CursorKey::encrypt(key.as_ref())),
            ..self.clone()
        }
    }

    /// How cursors are signed or encrypted, if at all.
    pub(crate) fn cursor_key(&self) -> Option<&CursorKey> {
        self.cursor_key.as_ref()
    }

    /// The current time by this executor's clock, in whole microseconds (what every database
    /// here stores, so a timestamp reads back equal to the one written).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        crate::clock::to_micros(self.clock.now())
    }

    /// The plugins, in the order they run.
    pub fn plugins(&self) -> &[Arc<dyn Plugin>] {
        &self.chain.plugins
    }

    /// The database dialect.
    pub fn dialect(&self) -> Dialect {
        self.pool.dialect()
    }

    /// The underlying pool (shared, not a transaction's connection).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Whether this executor is bound to a transaction.
    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }

    /// Direct access that **bypasses every plugin**: queries run exactly as given, and raw SQL
    /// can be sent. Use it for migrations, maintenance, and queries that must see what the
    /// plugins hide; it stays inside the transaction if this executor is in one.
    pub fn raw(&self) -> Raw<'_> {
        Raw { exec: self }
    }

    fn context(&self) -> QueryContext {
        QueryContext {
            dialect: self.dialect(),
            in_transaction: self.tx.is_some(),
        }
    }

    /// [`intercept`](Self::intercept) for a SELECT that must stay one.
    fn intercept_select(&self, select: Select) -> Result<Select> {
        match self.intercept(select)? {
            Query::Select(s) => Ok(s),
            _ => Err(Error::InvalidQuery(
                "a plugin turned a SELECT into another statement".into(),
            )),
        }
    }

    pub(crate) fn intercept(&self, query: impl Into<Query>) -> Result<Query> {
        let mut query = query.into();
        // Before anything walks its conditions: flattened, and refused when too deep.
        query.normalize_filters()?;
        if !self.chain.interceptors.is_empty() {
            if observe::noting(self) {
                let started = std::time::Instant::now();
                let rewritten_by = self.chain.intercept_noted(&mut query, &self.context())?;
                observe::Notes {
                    plugin_time: started.elapsed(),
                    rewritten_by,
                    table: query.table().to_string(),
                }
                .leave();
            } else {
                self.chain.intercept(&mut query, &self.context())?;
            }
        }
        // The behaviours models declare come last, so no plugin can undo them (a plugin that
        // adds a join or renames the table is checked like any query).
        Behaviours::enforce(&mut query, &|| self.now())?;
        Ok(query)
    }

    async fn target(&self) -> Result<Target> {
        let permit = self.admit()?;
        match self.target_to().await {
            Ok(to) => Ok(Target {
                to,
                permit,
                tx: self.tx.as_ref().map(|h| h.shared.clone()),
            }),
            Err(e) => {
                if let Some(p) = permit {
                    p.record_error(&e);
                }
                Err(e)
            }
        }
    }

    async fn target_to(&self) -> Result<To> {
        match &self.tx {
            #[cfg(feature = "postgres")]
            None if self.postgres_rls && matches!(self.pool, Pool::Postgres(_)) => {
                // The settings exist only inside a transaction: a lone statement gets its own.
                let settings = Behaviours::transaction_settings();
                match (&self.pool, settings.is_empty()) {
                    (Pool::Postgres(p), false) => {
                        // Begun to completion even if this future is dropped (and then rolled
                        // back at once), like every transaction.
                        let pool = p.clone();
                        let conn = transaction::detached(
                            async move {
                                let mut tx = pool
                                    .begin()
                                    .await
                                    .map_err(crate::core::classify::not_sent)?;
                                transaction::set_settings(&mut tx, settings).await?;
                                Ok::<_, Error>(TxConn::Postgres(tx))
                            },
                            |begun| {
                                if let Ok(conn) = begun {
                                    transaction::roll_back_soon(conn);
                                }
                            },
                        )
                        .await??;
                        Ok(To::PgLocal(transaction::OwnedTx::new(conn)))
                    }
                    _ => Ok(To::Pool(self.pool.clone())),
                }
            }
            None => {
                // A pool of one connection (an in-memory SQLite database) held by a transaction
                // this code runs inside can never give this statement a connection: say so now
                // instead of waiting for the acquire timeout.
                #[cfg(feature = "sqlite")]
                if let Pool::Sqlite(p) = &self.pool
                    && p.options().get_max_connections() == 1
                    && transaction::holds_pool(&self.pool_id)
                {
                    return Err(Error::ConnectionHeldByTransaction);
                }
                Ok(To::Pool(self.pool.clone()))
            }
            Some(h) => {
                if !h.open.load(Ordering::Acquire) {
                    return Err(Error::TransactionClosed);
                }
                if h.shared.poisoned.load(Ordering::Acquire) {
                    return Err(Error::TransactionPoisoned);
                }
                Ok(To::Tx(h.shared.lock_for(self.scope.as_deref()).await?))
            }
        }
    }

    /// Starts watching a lowered statement (see `observe`).
    fn probe_lowered(&self, l: &Lowered, table: Option<&str>) -> observe::Probe {
        self.probe(&l.sql, l.values.0.len(), Some(l), table)
    }

    /// The SQL and parameters `query` becomes on this database, after the plugins have run.
    ///
    /// On MySQL, RETURNING is not part of the SQL (it is emulated with extra statements).
    pub fn to_sql(&self, query: impl Into<Query>) -> Result<(String, Vec<Value>)> {
        let intercepted = self.intercept(query);
        observe::Notes::discard();
        let l = lower(&intercepted?, self.dialect())?;
        let values = l
            .values
            .0
            .into_iter()
            .map(|v| {
                let shown = format!("{v:?}");
                Value::from_sea(v).ok_or_else(|| {
                    Error::InvalidQuery(format!(
                        "the SQL builder bound a value Kysera does not know: {shown}"
                    ))
                })
            })
            .collect::<Result<_>>()?;
        Ok((l.sql, values))
    }

    /// Runs a query through the plugins and returns its rows (for INSERT / UPDATE / DELETE,
    /// the rows named by its RETURNING; none without one).
    pub async fn fetch_all(&self, query: impl Into<Query>) -> Result<Vec<Row>> {
        self.fetch_all_unchecked(self.intercept(query)?).await
    }

    /// Runs a query and returns its first row, if any.
    pub async fn fetch_optional(&self, query: impl Into<Query>) -> Result<Option<Row>> {
        self.fetch_optional_unchecked(self.intercept(query)?).await
    }

    /// Runs a query and returns its first row; no row is [`Error::NotFound`].
    pub async fn fetch_one(&self, query: impl Into<Query>) -> Result<Row> {
        let query = self.intercept(query)?;
        let table = query.table().to_string();
        self.fetch_optional_unchecked(query)
            .await?
            .ok_or_else(|| Error::NotFound(Some(format!("no matching row in `{table}`"))))
    }

    /// Runs a query and returns the number of rows it affected (for a SELECT, the rows returned).
    pub async fn execute(&self, query: impl Into<Query>) -> Result<u64> {
        self.execute_unchecked(self.intercept(query)?).await
    }

    /// The number of rows `select` would return (its ORDER BY ignored, its LIMIT/OFFSET kept).
    pub async fn count(&self, select: Select) -> Result<i64> {
        let select = self.intercept_select(select)?;
        self.count_unchecked(select).await
    }

    /// The rows of a statement already lowered (no plugins: the library's own statements, such
    /// as [`lower_locked`](crate::query::lower_locked)'s reads).
    pub(crate) async fn fetch_lowered(&self, l: Lowered) -> Result<Vec<Row>> {
        self.fetch_lowered_of(l, None).await
    }

    /// The rows of a lowered statement on `table` (for its span), run as it is.
    async fn fetch_lowered_of(&self, l: Lowered, table: Option<&str>) -> Result<Vec<Row>> {
        on_target!(
            self.probe_lowered(&l, table),
            self.target().await,
            |c, wrap| sqlx_query(l)
                .fetch_all(c)
                .await
                .map(|rows| rows.into_iter().map(wrap).collect())
                .map_err(Error::from)
        )
    }

    /// [`count`](Self::count) without plugins (for the library's own tables).
    pub(crate) async fn count_unchecked(&self, select: Select) -> Result<i64> {
        let l = lower_count(&select, self.dialect())?;
        let row = on_target!(
            self.probe_lowered(&l, Some(&select.table.name)),
            self.target().await,
            |c, wrap| sqlx_query(l)
                .fetch_one(c)
                .await
                .map(wrap)
                .map_err(Error::from)
        )?;
        row.get::<i64>(0)
    }

    /// Whether `select` returns at least one row.
    pub async fn exists(&self, select: Select) -> Result<bool> {
        let select = self.intercept_select(select)?;
        let Some(l) = lower_exists(&select, self.dialect())? else {
            return Ok(false);
        };
        on_target!(
            self.probe_lowered(&l, Some(&select.table.name)),
            self.target().await,
            |c, _wrap| sqlx_query(l)
                .fetch_optional(c)
                .await
                .map(|r| r.is_some())
                .map_err(Error::from)
        )
    }

    pub(crate) async fn fetch_all_unchecked(&self, query: Query) -> Result<Vec<Row>> {
        // Type-erased: inline, this future made an application's futures too deep for the
        // compiler ("queries overflow the depth limit"). One allocation per statement.
        let on_target: Erased<'_, Vec<Row>> = Box::pin(self.fetch_all_on_target(&query));
        let result = on_target.await;
        self.explained(Some(query.table()), result).await
    }

    async fn fetch_all_on_target(&self, query: &Query) -> Result<Vec<Row>> {
        if query.check().is_some() {
            return self.checked_write(query).await;
        }
        #[cfg(feature = "mysql")]
        if self.dialect() == Dialect::MySql
            && !(self.mariadb_returning && returning::mariadb_returns(query))
            && (!matches!(query.returning(), Returning::None) || mysql_checks_conflicts(query))
            && let Some((rows, _)) = self.mysql_emulated(query).await?
        {
            return Ok(rows);
        }
        #[allow(unused_mut)]
        let mut l = lower(query, self.dialect())?;
        #[cfg(feature = "mysql")]
        if self.dialect() == Dialect::MySql && self.mariadb_returning {
            returning::append_mariadb_returning(&mut l, query)?;
        }
        self.fetch_lowered_of(l, Some(query.table())).await
    }

    async fn fetch_optional_unchecked(&self, query: Query) -> Result<Option<Row>> {
        if !matches!(query, Query::Select(_)) {
            return Ok(self.fetch_all_unchecked(query).await?.into_iter().next());
        }
        let l = lower(&query, self.dialect())?;
        on_target!(
            self.probe_lowered(&l, Some(query.table())),
            self.target().await,
            |c, wrap| sqlx_query(l)
                .fetch_optional(c)
                .await
                .map(|r| r.map(wrap))
                .map_err(Error::from)
        )
    }

    /// A failed statement's error, explained where the database says too little: a MySQL
    /// unique violation gets the columns (and table) of the key it names.
    async fn explained<T>(&self, table: Option<&str>, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            self.poison_if_undone(e);
        }
        match (result, &self.pool) {
            #[cfg(feature = "mysql")]
            (Err(e @ Error::UniqueViolation(_)), Pool::MySql(pool)) => {
                Err(unique_keys::explain(pool, &self.pool_id, table, e).await)
            }
            (result, _) => {
                let _ = table;
                result
            }
        }
    }

    pub(crate) async fn execute_unchecked(&self, query: Query) -> Result<u64> {
        let on_target: Erased<'_, u64> = Box::pin(self.execute_on_target(&query));
        let result = on_target.await;
        self.explained(Some(query.table()), result).await
    }

    async fn execute_on_target(&self, query: &Query) -> Result<u64> {
        if query.check().is_some() {
            if check::declared_key(query).is_empty() {
                // Decided on the values first; then the statement runs for its row count.
                let mut query = query.clone();
                self.decide_check(&mut query).await?;
                return Box::pin(self.execute_on_target(&query)).await;
            }
            return Ok(self.checked_write(query).await?.len() as u64);
        }
        #[cfg(feature = "mysql")]
        if self.dialect() == Dialect::MySql
            && mysql_checks_conflicts(query)
            && let Some((_, n)) = self.mysql_emulated(query).await?
        {
            return Ok(n);
        }
        let l = lower(query, self.dialect())?;
        if let Query::Select(_) = query {
            return on_target!(
                self.probe_lowered(&l, Some(query.table())),
                self.target().await,
                |c, _wrap| sqlx_query(l)
                    .fetch_all(c)
                    .await
                    .map(|r| r.len() as u64)
                    .map_err(Error::from)
            );
        }
        on_target!(
            self.probe_lowered(&l, Some(query.table())),
            self.target().await,
            |c, _wrap| sqlx_query(l)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
                .map_err(Error::from)
        )
    }
}
