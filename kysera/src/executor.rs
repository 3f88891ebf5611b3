//! The executor: a connection pool (or a transaction) plus the ordered plugin chain.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use futures_util::FutureExt;
use sea_query_sqlx::SqlxValues;
use sqlx::AssertSqlSafe;
#[cfg(feature = "mysql")]
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions};
#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
#[cfg(feature = "sqlite")]
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
#[cfg(feature = "mysql")]
use sqlx::{Column, Row as _, TypeInfo};
use tokio::sync::{Mutex, MutexGuard, OwnedMutexGuard};

use crate::clock::{Clock, SystemClock};
use crate::error::redact_url;
use crate::plugin::{PluginChain, QueryContext};
#[cfg(feature = "mysql")]
use crate::query::{ConflictAction, Delete, Filter, Insert, Returning, Update, col};
use crate::query::{Lowered, Query, Select, Value, lower, lower_count, lower_exists};
use crate::{Error, FromRow, Plugin, Result, Row};

/// The SQL dialect of a connection, chosen at run time from the URL or the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
    /// SQLite.
    Sqlite,
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::MySql => "MySQL",
            Dialect::Sqlite => "SQLite",
        })
    }
}

impl Dialect {
    /// The dialect a connection URL names: `sqlite:`, `postgres:`/`postgresql:`, `mysql:`/`mariadb:`.
    ///
    /// ```
    /// use kysera::Dialect;
    /// assert_eq!(Dialect::from_url("postgres://localhost/app").unwrap(), Dialect::Postgres);
    /// assert_eq!(Dialect::from_url("sqlite::memory:").unwrap(), Dialect::Sqlite);
    /// assert!(Dialect::from_url("oracle://x").is_err());
    /// ```
    pub fn from_url(url: &str) -> Result<Dialect> {
        let scheme = url
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Ok(Dialect::Sqlite),
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            "mysql" | "mariadb" => Ok(Dialect::MySql),
            _ => Err(Error::InvalidUrl {
                url: redact_url(url),
                reason: "the scheme must be sqlite:, postgres:, postgresql:, mysql: or mariadb:"
                    .into(),
            }),
        }
    }
}

/// A connection pool for one of the three databases.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Pool {
    /// A SQLite pool.
    #[cfg(feature = "sqlite")]
    Sqlite(SqlitePool),
    /// A PostgreSQL pool.
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
    /// A MySQL / MariaDB pool.
    #[cfg(feature = "mysql")]
    MySql(MySqlPool),
}

impl Pool {
    /// The dialect of this pool.
    pub fn dialect(&self) -> Dialect {
        match self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "mysql")]
            Pool::MySql(_) => Dialect::MySql,
        }
    }

    /// Closes every connection (waiting for those in use to be returned).
    pub async fn close(&self) {
        match self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => p.close().await,
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => p.close().await,
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => p.close().await,
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<SqlitePool> for Pool {
    fn from(p: SqlitePool) -> Self {
        Pool::Sqlite(p)
    }
}
#[cfg(feature = "postgres")]
impl From<PgPool> for Pool {
    fn from(p: PgPool) -> Self {
        Pool::Postgres(p)
    }
}
#[cfg(feature = "mysql")]
impl From<MySqlPool> for Pool {
    fn from(p: MySqlPool) -> Self {
        Pool::MySql(p)
    }
}

/// Connects to `url` and returns an executor with no plugins.
///
/// The dialect comes from the URL scheme (see [`Dialect::from_url`]). An in-memory SQLite
/// database (`sqlite::memory:`) lives in one connection, so its pool holds exactly one connection
/// that is never recycled; a SQLite file is created if it does not exist.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> kysera::Result<()> {
/// let db = kysera::connect("sqlite::memory:").await?;
/// assert_eq!(db.dialect(), kysera::Dialect::Sqlite);
/// assert!(matches!(
///     kysera::connect("nosuchdb://x").await,
///     Err(kysera::Error::InvalidUrl { .. })
/// ));
/// # Ok(()) }
/// ```
pub async fn connect(url: &str) -> Result<Executor> {
    let pool = match Dialect::from_url(url)? {
        Dialect::Sqlite => connect_sqlite(url).await?,
        Dialect::Postgres => connect_postgres(url).await?,
        Dialect::MySql => connect_mysql(url).await?,
    };
    Ok(Executor::new(pool))
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
fn invalid_url(url: &str) -> impl Fn(sqlx::Error) -> Error + '_ {
    move |e| Error::InvalidUrl {
        url: redact_url(url),
        reason: e.to_string(),
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
fn unreachable_at(url: &str) -> impl Fn(sqlx::Error) -> Error + '_ {
    move |e| Error::Connection {
        url: redact_url(url),
        source: e,
    }
}

/// The error for a URL whose database this build leaves out.
#[allow(dead_code)]
fn not_compiled(url: &str, feature: &str) -> Error {
    Error::InvalidUrl {
        url: redact_url(url),
        reason: format!("kysera was built without its `{feature}` feature"),
    }
}

#[cfg(feature = "sqlite")]
async fn connect_sqlite(url: &str) -> Result<Pool> {
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(invalid_url(url))?
        .create_if_missing(true);
    let memory = url.contains(":memory:") || url.contains("mode=memory");
    let pool_opts = if memory {
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        SqlitePoolOptions::new()
    };
    let pool = pool_opts
        .connect_with(opts)
        .await
        .map_err(unreachable_at(url))?;
    Ok(Pool::Sqlite(pool))
}

#[cfg(not(feature = "sqlite"))]
async fn connect_sqlite(url: &str) -> Result<Pool> {
    Err(not_compiled(url, "sqlite"))
}

#[cfg(feature = "postgres")]
async fn connect_postgres(url: &str) -> Result<Pool> {
    let opts = PgConnectOptions::from_str(url).map_err(invalid_url(url))?;
    let pool = PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect_with(opts)
        .await
        .map_err(unreachable_at(url))?;
    Ok(Pool::Postgres(pool))
}

#[cfg(not(feature = "postgres"))]
async fn connect_postgres(url: &str) -> Result<Pool> {
    Err(not_compiled(url, "postgres"))
}

#[cfg(feature = "mysql")]
async fn connect_mysql(url: &str) -> Result<Pool> {
    // `mariadb:` (any case) is an alias of `mysql:`.
    let parse_url = match url.split_once(':') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("mariadb") => format!("mysql:{rest}"),
        _ => url.to_string(),
    };
    let opts = MySqlConnectOptions::from_str(&parse_url).map_err(invalid_url(url))?;
    let pool = MySqlPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect_with(opts)
        .await
        .map_err(unreachable_at(url))?;
    Ok(Pool::MySql(pool))
}

#[cfg(not(feature = "mysql"))]
async fn connect_mysql(url: &str) -> Result<Pool> {
    Err(not_compiled(url, "mysql"))
}

/// The connection a transaction holds.
enum TxConn {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    #[cfg(feature = "mysql")]
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
}

impl TxConn {
    /// Runs a statement without parameters (the savepoint commands).
    async fn run(&mut self, sql: String) -> Result<()> {
        let q = sqlx::raw_sql(AssertSqlSafe(sql));
        match self {
            #[cfg(feature = "sqlite")]
            TxConn::Sqlite(tx) => q.execute(&mut **tx).await.map(drop),
            #[cfg(feature = "postgres")]
            TxConn::Postgres(tx) => q.execute(&mut **tx).await.map(drop),
            #[cfg(feature = "mysql")]
            TxConn::MySql(tx) => q.execute(&mut **tx).await.map(drop),
        }
        .map_err(Error::from)
    }

    /// `ROLLBACK TO` then `RELEASE` a savepoint: undoes its work and closes it.
    async fn undo(&mut self, name: &str) -> Result<()> {
        self.run(format!("ROLLBACK TO SAVEPOINT {name}")).await?;
        self.run(format!("RELEASE SAVEPOINT {name}")).await
    }
}

/// What every level of one transaction shares.
struct TxShared {
    /// The connection; `None` once the outermost level has ended.
    conn: Mutex<Option<TxConn>>,
    /// Numbers savepoints, so that no two in one transaction share a name.
    next_savepoint: AtomicU32,
    /// Savepoints of nested transactions dropped before they finished (a cancelled future):
    /// undone before the connection's next use, so their work is never committed.
    abandoned: std::sync::Mutex<Vec<String>>,
    /// Savepoints open on the connection, oldest first.
    live: std::sync::Mutex<Vec<String>>,
    /// Set when a savepoint could not be undone: the transaction may hold work that should
    /// have been undone, so it can no longer commit.
    poisoned: AtomicBool,
    /// Serialises the library's own multi-statement sections ([`Executor::atomic`]).
    section: Arc<Mutex<()>>,
}

fn std_lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TxShared {
    fn new_savepoint(&self) -> String {
        format!(
            "kysera_sp_{}",
            self.next_savepoint.fetch_add(1, Ordering::Relaxed) + 1
        )
    }

    /// Opens a savepoint with a fresh name and returns the name.
    async fn open_savepoint(&self) -> Result<String> {
        let name = self.new_savepoint();
        let mut guard = self.lock().await;
        let conn = guard.as_mut().ok_or(Error::TransactionClosed)?;
        self.open_on(conn, &name).await?;
        Ok(name)
    }

    /// Opens savepoint `name` on a connection already held.
    async fn open_on(&self, conn: &mut TxConn, name: &str) -> Result<()> {
        conn.run(format!("SAVEPOINT {name}")).await?;
        std_lock(&self.live).push(name.to_string());
        Ok(())
    }

    /// `name` and every newer savepoint are gone (released or rolled back).
    fn closed(&self, name: &str) {
        let mut live = std_lock(&self.live);
        if let Some(i) = live.iter().position(|n| n == name) {
            live.truncate(i);
        }
    }

    /// Releases savepoint `name` (keeping its work in the enclosing level).
    async fn release(&self, conn: &mut TxConn, name: &str) -> Result<()> {
        conn.run(format!("RELEASE SAVEPOINT {name}")).await?;
        self.closed(name);
        Ok(())
    }

    /// Undoes savepoint `name` if it is still open. A failure poisons the transaction: work
    /// that should have been undone may remain, so it must not commit.
    async fn undo(&self, conn: &mut TxConn, name: &str) -> Result<()> {
        if !std_lock(&self.live).iter().any(|n| n == name) {
            return Ok(());
        }
        let result = conn.undo(name).await;
        self.closed(name);
        if let Err(e) = &result {
            self.poisoned.store(true, Ordering::Release);
            tracing::warn!(target: "kysera::transaction", savepoint = %name, error = %e, "undoing a savepoint failed; the transaction will not commit");
        }
        result
    }

    /// Locks the connection, first undoing abandoned savepoints, one at a time (a name leaves
    /// the queue only once handled, so a cancelled lock loses none).
    async fn lock(&self) -> MutexGuard<'_, Option<TxConn>> {
        let mut guard = self.conn.lock().await;
        if let Some(conn) = guard.as_mut() {
            loop {
                let next = std_lock(&self.abandoned).first().cloned();
                let Some(name) = next else { break };
                let _ = self.undo(conn, &name).await;
                std_lock(&self.abandoned).retain(|n| *n != name);
            }
        }
        guard
    }
}

/// One level of a (possibly nested) transaction.
struct TxHandle {
    shared: Arc<TxShared>,
    /// `None` for the outermost level; the savepoint's name for a nested one.
    savepoint: Option<String>,
    /// Cleared when this level starts to commit or roll back: its executor is closed.
    open: AtomicBool,
    /// Set when this level has committed or rolled back.
    done: AtomicBool,
    /// Held by the nested transaction open on this level, so that nested transactions of one
    /// level (on one connection) run one after another.
    nest: Arc<Mutex<()>>,
    /// This level's hold on its parent's `nest`, released when it ends.
    parent_slot: std::sync::Mutex<Option<OwnedMutexGuard<()>>>,
}

impl TxHandle {
    fn release_parent(&self) {
        self.parent_slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}

/// A savepoint of [`Executor::atomic`] whose future may be dropped: undone before the
/// connection's next use unless it ended.
struct PendingSavepoint(Arc<TxShared>, Option<String>);

impl Drop for PendingSavepoint {
    fn drop(&mut self) {
        if let Some(name) = self.1.take() {
            self.0
                .abandoned
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(name);
        }
    }
}

/// Ends a level that was dropped before it finished (its future was cancelled): a nested
/// level's savepoint is undone before the connection's next use; an outermost level's
/// connection is dropped, which rolls it back.
struct LevelGuard(Arc<TxHandle>);

impl Drop for LevelGuard {
    fn drop(&mut self) {
        let h = &self.0;
        if h.done.load(Ordering::Acquire) {
            return;
        }
        h.open.store(false, Ordering::Release);
        match &h.savepoint {
            Some(name) => h
                .shared
                .abandoned
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(name.clone()),
            None => {
                if let Ok(mut conn) = h.shared.conn.try_lock() {
                    drop(conn.take());
                }
            }
        }
        h.release_parent();
    }
}

/// Where a query goes: the pool, or the connection of a transaction (locked for the query).
enum Target<'a> {
    Pool(&'a Pool),
    Tx(MutexGuard<'a, Option<TxConn>>),
}

/// Runs `$body` with `$c` bound to a sqlx executor for the target and `$wrap` to the
/// matching [`Row`] constructor.
macro_rules! on_target {
    ($target:expr, |$c:ident, $wrap:ident| $body:expr) => {
        match $target {
            #[cfg(feature = "sqlite")]
            Target::Pool(Pool::Sqlite($c)) => {
                let $wrap = Row::Sqlite;
                $body
            }
            #[cfg(feature = "postgres")]
            Target::Pool(Pool::Postgres($c)) => {
                let $wrap = Row::Postgres;
                $body
            }
            #[cfg(feature = "mysql")]
            Target::Pool(Pool::MySql($c)) => {
                let $wrap = Row::MySql;
                $body
            }
            Target::Tx(mut guard) => match guard.as_mut() {
                #[cfg(feature = "sqlite")]
                Some(TxConn::Sqlite(tx)) => {
                    let $c = &mut **tx;
                    let $wrap = Row::Sqlite;
                    $body
                }
                #[cfg(feature = "postgres")]
                Some(TxConn::Postgres(tx)) => {
                    let $c = &mut **tx;
                    let $wrap = Row::Postgres;
                    $body
                }
                #[cfg(feature = "mysql")]
                Some(TxConn::MySql(tx)) => {
                    let $c = &mut **tx;
                    let $wrap = Row::MySql;
                    $body
                }
                None => Err(Error::TransactionClosed),
            },
        }
    };
}

fn sqlx_query<DB: sqlx::Database>(l: Lowered) -> sqlx::query::Query<'static, DB, SqlxValues>
where
    SqlxValues: sqlx::IntoArguments<DB>,
{
    tracing::debug!(target: "kysera::query", sql = %l.sql, params = l.values.0.len(), "query");
    sqlx::query_with(AssertSqlSafe(l.sql), SqlxValues(l.values))
}

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
    /// Inside an [`atomic`](Executor::atomic) section of this transaction (which holds its lock).
    in_section: bool,
    tx: Option<Arc<TxHandle>>,
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
            in_section: false,
            tx: None,
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
        if !self.chain.interceptors.is_empty() {
            self.chain.intercept(&mut query, &self.context())?;
        }
        // The behaviours models declare come last, so no plugin can undo them (a plugin that
        // adds a join or renames the table is checked like any query).
        if let Some(registry) = crate::behaviour::registry() {
            registry.apply(&mut query, || self.now())?;
        }
        Ok(query)
    }

    async fn target(&self) -> Result<Target<'_>> {
        match &self.tx {
            None => Ok(Target::Pool(&self.pool)),
            Some(h) => {
                if !h.open.load(Ordering::Acquire) {
                    return Err(Error::TransactionClosed);
                }
                Ok(Target::Tx(h.shared.lock().await))
            }
        }
    }

    /// The SQL and parameters `query` becomes on this database, after the plugins have run.
    ///
    /// On MySQL, RETURNING is not part of the SQL (it is emulated with extra statements).
    pub fn to_sql(&self, query: impl Into<Query>) -> Result<(String, Vec<Value>)> {
        let l = lower(&self.intercept(query)?, self.dialect())?;
        Ok((l.sql, l.values.0))
    }

    /// Runs a query through the plugins and returns its rows (for INSERT / UPDATE / DELETE,
    /// the rows named by its RETURNING; none without one).
    pub async fn fetch_all(&self, query: impl Into<Query>) -> Result<Vec<Row>> {
        self.fetch_all_unchecked(self.intercept(query)?).await
    }

    /// Like [`fetch_all`](Self::fetch_all), decoding each row into `T`.
    pub async fn fetch_all_as<T: FromRow>(&self, query: impl Into<Query>) -> Result<Vec<T>> {
        self.fetch_all(query)
            .await?
            .iter()
            .map(Row::decode)
            .collect()
    }

    /// Runs a query and returns its first row, if any.
    pub async fn fetch_optional(&self, query: impl Into<Query>) -> Result<Option<Row>> {
        self.fetch_optional_unchecked(self.intercept(query)?).await
    }

    /// Like [`fetch_optional`](Self::fetch_optional), decoding the row into `T`.
    pub async fn fetch_optional_as<T: FromRow>(
        &self,
        query: impl Into<Query>,
    ) -> Result<Option<T>> {
        self.fetch_optional(query)
            .await?
            .as_ref()
            .map(Row::decode)
            .transpose()
    }

    /// Runs a query and returns its first row; no row is [`Error::NotFound`].
    pub async fn fetch_one(&self, query: impl Into<Query>) -> Result<Row> {
        let query = self.intercept(query)?;
        let table = query.table().to_string();
        self.fetch_optional_unchecked(query)
            .await?
            .ok_or_else(|| Error::NotFound(Some(format!("no matching row in `{table}`"))))
    }

    /// Like [`fetch_one`](Self::fetch_one), decoding the row into `T`.
    pub async fn fetch_one_as<T: FromRow>(&self, query: impl Into<Query>) -> Result<T> {
        self.fetch_one(query).await?.decode()
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

    /// The rows `select` names, locked for update where the database can (PostgreSQL, MySQL;
    /// SQLite serialises writers), without plugins: the rows an already intercepted write will
    /// change.
    pub(crate) async fn fetch_locked(&self, select: Select) -> Result<Vec<Row>> {
        let mut l = lower(&Query::Select(select), self.dialect())?;
        if self.dialect() != Dialect::Sqlite {
            l.sql.push_str(" FOR UPDATE");
        }
        on_target!(self.target().await?, |c, wrap| sqlx_query(l)
            .fetch_all(c)
            .await
            .map(|rows| rows.into_iter().map(wrap).collect())
            .map_err(Error::from))
    }

    /// Runs `f` atomically: in a transaction, or inside one in a savepoint of its own. Unlike
    /// a nested [`transaction`](Self::transaction) it does not wait for the level's nesting
    /// lock (it runs only the library's own statements), so it can be used from any level.
    pub(crate) async fn atomic<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnOnce(Executor) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let Some(h) = &self.tx else {
            return self.transaction_as(f, true).await;
        };
        if !h.open.load(Ordering::Acquire) {
            return Err(Error::TransactionClosed);
        }
        // One section at a time per transaction (savepoints on one connection form a stack);
        // a section inside a section already holds it.
        let _section = match self.in_section {
            true => None,
            false => Some(h.shared.section.clone().lock_owned().await),
        };
        let name = h.shared.open_savepoint().await?;
        let mut pending = PendingSavepoint(h.shared.clone(), Some(name.clone()));
        let inner = Executor {
            in_section: true,
            ..self.clone()
        };
        let result = f(inner).await;
        let mut guard = h.shared.lock().await;
        let conn = guard.as_mut().ok_or(Error::TransactionClosed)?;
        let out = match result {
            Ok(v) => match h.shared.release(conn, &name).await {
                Ok(()) => Ok(v),
                Err(e) => {
                    let _ = h.shared.undo(conn, &name).await;
                    Err(e)
                }
            },
            Err(e) => {
                let _ = h.shared.undo(conn, &name).await;
                Err(e)
            }
        };
        pending.1 = None;
        out
    }

    /// [`count`](Self::count) without plugins (for the library's own tables).
    pub(crate) async fn count_unchecked(&self, select: Select) -> Result<i64> {
        let l = lower_count(&select, self.dialect())?;
        let row = on_target!(self.target().await?, |c, wrap| sqlx_query(l)
            .fetch_one(c)
            .await
            .map(wrap)
            .map_err(Error::from))?;
        row.get::<i64>(0)
    }

    /// Whether `select` returns at least one row.
    pub async fn exists(&self, select: Select) -> Result<bool> {
        let select = self.intercept_select(select)?;
        let Some(l) = lower_exists(&select, self.dialect())? else {
            return Ok(false);
        };
        on_target!(self.target().await?, |c, _wrap| sqlx_query(l)
            .fetch_optional(c)
            .await
            .map(|r| r.is_some())
            .map_err(Error::from))
    }

    pub(crate) async fn fetch_all_unchecked(&self, query: Query) -> Result<Vec<Row>> {
        #[cfg(feature = "mysql")]
        if self.dialect() == Dialect::MySql
            && (!matches!(query.returning(), Returning::None) || mysql_checks_conflicts(&query))
            && let Some((rows, _)) = self.mysql_emulated(&query).await?
        {
            return Ok(rows);
        }
        let l = lower(&query, self.dialect())?;
        on_target!(self.target().await?, |c, wrap| sqlx_query(l)
            .fetch_all(c)
            .await
            .map(|rows| rows.into_iter().map(wrap).collect())
            .map_err(Error::from))
    }

    async fn fetch_optional_unchecked(&self, query: Query) -> Result<Option<Row>> {
        if !matches!(query, Query::Select(_)) {
            return Ok(self.fetch_all_unchecked(query).await?.into_iter().next());
        }
        let l = lower(&query, self.dialect())?;
        on_target!(self.target().await?, |c, wrap| sqlx_query(l)
            .fetch_optional(c)
            .await
            .map(|r| r.map(wrap))
            .map_err(Error::from))
    }

    pub(crate) async fn execute_unchecked(&self, query: Query) -> Result<u64> {
        #[cfg(feature = "mysql")]
        if self.dialect() == Dialect::MySql
            && mysql_checks_conflicts(&query)
            && let Some((_, n)) = self.mysql_emulated(&query).await?
        {
            return Ok(n);
        }
        let l = lower(&query, self.dialect())?;
        if let Query::Select(_) = query {
            return on_target!(self.target().await?, |c, _wrap| sqlx_query(l)
                .fetch_all(c)
                .await
                .map(|r| r.len() as u64)
                .map_err(Error::from));
        }
        on_target!(self.target().await?, |c, _wrap| sqlx_query(l)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
            .map_err(Error::from))
    }

    #[cfg(feature = "mysql")]
    /// A read-back of emulated RETURNING, through the same policies as the statement (tenant
    /// isolation, RLS filters) but seeing soft-deleted rows (a soft delete returns its row).
    fn read_back(&self, select: Select) -> Result<Select> {
        self.intercept_select(select.with_deleted())
    }

    #[cfg(feature = "mysql")]
    /// Emulates RETURNING (and exact DO NOTHING counts) on MySQL: the rows and the number of
    /// rows affected. `None` when the query is not a data-changing one.
    // In a MySQL-only build the checks of the connection's kind cannot fail.
    #[allow(irrefutable_let_patterns, unreachable_patterns)]
    async fn mysql_emulated(&self, query: &Query) -> Result<Option<(Vec<Row>, u64)>> {
        if matches!(query, Query::Select(_)) {
            return Ok(None);
        }
        let rows = match self.target().await? {
            Target::Tx(mut guard) => {
                let read = |s: Select| self.read_back(s);
                let Some(conn) = guard.as_mut().filter(|c| matches!(c, TxConn::MySql(_))) else {
                    return Err(Error::TransactionClosed);
                };
                // Several statements: in a savepoint, so a failure (or a cancelled future)
                // undoes all of them.
                let shared = &self.tx.as_ref().ok_or(Error::TransactionClosed)?.shared;
                let name = shared.new_savepoint();
                shared.open_on(conn, &name).await?;
                let mut pending = PendingSavepoint(shared.clone(), Some(name.clone()));
                let TxConn::MySql(tx) = conn else {
                    return Ok(None);
                };
                let outcome = mysql_emulate(tx, query, &read).await;
                let rows = match outcome {
                    Ok(rows) => match shared.release(conn, &name).await {
                        Ok(()) => rows,
                        Err(e) => {
                            let _ = shared.undo(conn, &name).await;
                            pending.1 = None;
                            return Err(e);
                        }
                    },
                    Err(e) => {
                        let _ = shared.undo(conn, &name).await;
                        pending.1 = None;
                        return Err(e);
                    }
                };
                pending.1 = None;
                rows
            }
            #[cfg(feature = "mysql")]
            Target::Pool(Pool::MySql(pool)) => {
                // The statements must see one consistent state: run them in a transaction.
                let mut tx = pool.begin().await?;
                let read = |s: Select| self.read_back(s);
                let rows = mysql_emulate(&mut tx, query, &read).await?;
                tx.commit().await?;
                rows
            }
            Target::Pool(_) => return Ok(None),
        };
        Ok(Some(rows))
    }

    /// Runs `f` in a transaction and commits if it returns `Ok`, rolls back if it returns `Err`
    /// or panics (the panic then continues).
    ///
    /// `f` receives an `Executor` bound to the transaction, with the same plugins. Calling
    /// `transaction` on that executor nests a savepoint: the inner work can fail and roll back
    /// alone while the outer transaction goes on. Nested transactions of one level run one
    /// after another (a second one waits for the first to end), since savepoints on one
    /// connection form a stack; so do not open one on the outer executor from inside another's
    /// closure, which would wait for itself. A nested transaction whose future is dropped
    /// before it ends is rolled back. A clone of the transaction executor kept past the closure
    /// returns [`Error::TransactionClosed`].
    ///
    /// The transaction holds one connection of the pool until it ends: using the plain executor
    /// (not the one `f` receives) inside `f` takes another connection, and waits for the
    /// transaction's row locks like any other session (on an in-memory SQLite database, whose
    /// pool has one connection, it waits for the pool's acquire timeout).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> kysera::Result<()> {
    /// use kysera::query::{Insert, Select};
    /// let db = kysera::connect("sqlite::memory:").await?;
    /// db.raw().execute_sql("CREATE TABLE t (x INTEGER)", vec![]).await?;
    ///
    /// let failed: kysera::Result<()> = db
    ///     .transaction(async |tx| {
    ///         tx.execute(Insert::into("t").set("x", 1)).await?;
    ///         Err(kysera::Error::InvalidQuery("changed my mind".into()))
    ///     })
    ///     .await;
    /// assert!(failed.is_err());
    /// assert_eq!(db.count(Select::from("t")).await?, 0); // rolled back
    ///
    /// db.transaction(async |tx| tx.execute(Insert::into("t").set("x", 2)).await)
    ///     .await?;
    /// assert_eq!(db.count(Select::from("t")).await?, 1); // committed
    /// # Ok(()) }
    /// ```
    pub async fn transaction<F, Fut, T, E>(&self, f: F) -> std::result::Result<T, E>
    where
        F: FnOnce(Executor) -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: From<Error>,
    {
        self.transaction_as(f, false).await
    }

    /// [`transaction`](Self::transaction); `writes` begins an outermost SQLite transaction
    /// `IMMEDIATE`, so a writer waits for the lock (the busy timeout) instead of failing when
    /// another connection wrote first.
    async fn transaction_as<F, Fut, T, E>(&self, f: F, writes: bool) -> std::result::Result<T, E>
    where
        F: FnOnce(Executor) -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: From<Error>,
    {
        let handle = Arc::new(self.begin(writes).await?);
        let _level = LevelGuard(handle.clone());
        let tx_exec = Executor {
            tx: Some(handle.clone()),
            ..self.clone()
        };
        let outcome = AssertUnwindSafe(async move { f(tx_exec).await })
            .catch_unwind()
            .await;
        match outcome {
            Ok(Ok(value)) => {
                finish(&handle, true).await?;
                Ok(value)
            }
            Ok(Err(e)) => {
                if let Err(rollback) = finish(&handle, false).await {
                    tracing::warn!(target: "kysera::transaction", error = %rollback, "rollback failed");
                }
                Err(e)
            }
            Err(panic) => {
                if let Err(rollback) = finish(&handle, false).await {
                    tracing::warn!(target: "kysera::transaction", error = %rollback, "rollback after panic failed");
                }
                std::panic::resume_unwind(panic)
            }
        }
    }

    async fn begin(&self, writes: bool) -> Result<TxHandle> {
        let _ = writes;
        let Some(parent) = &self.tx else {
            let conn = match &self.pool {
                #[cfg(feature = "sqlite")]
                Pool::Sqlite(p) if writes => TxConn::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
                #[cfg(feature = "sqlite")]
                Pool::Sqlite(p) => TxConn::Sqlite(p.begin().await?),
                #[cfg(feature = "postgres")]
                Pool::Postgres(p) => {
                    let mut tx = p.begin().await?;
                    if self.postgres_rls
                        && let Some(ctx) = crate::rls::current()
                    {
                        sqlx::query(
                            "SELECT set_config('kysera.tenant_id', $1, true), set_config('kysera.user_id', $2, true), \
                             set_config('kysera.roles', $3, true), set_config('kysera.system', $4, true)",
                        )
                        .bind(crate::rls::setting_text(&ctx.tenant_id))
                        .bind(crate::rls::setting_text(&ctx.user_id))
                        .bind(ctx.roles.join(","))
                        .bind(if ctx.system { "on" } else { "off" })
                        .execute(&mut *tx)
                        .await?;
                    }
                    TxConn::Postgres(tx)
                }
                #[cfg(feature = "mysql")]
                Pool::MySql(p) => TxConn::MySql(p.begin().await?),
            };
            return Ok(TxHandle {
                shared: Arc::new(TxShared {
                    conn: Mutex::new(Some(conn)),
                    next_savepoint: AtomicU32::new(0),
                    abandoned: std::sync::Mutex::new(Vec::new()),
                    live: std::sync::Mutex::new(Vec::new()),
                    poisoned: AtomicBool::new(false),
                    section: Arc::new(Mutex::new(())),
                }),
                savepoint: None,
                open: AtomicBool::new(true),
                done: AtomicBool::new(false),
                nest: Arc::new(Mutex::new(())),
                parent_slot: std::sync::Mutex::new(None),
            });
        };
        if !parent.open.load(Ordering::Acquire) {
            return Err(Error::TransactionClosed);
        }
        // Siblings wait for each other: savepoints on one connection form a stack.
        let slot = parent.nest.clone().lock_owned().await;
        if !parent.open.load(Ordering::Acquire) {
            return Err(Error::TransactionClosed);
        }
        let name = parent.shared.open_savepoint().await?;
        Ok(TxHandle {
            shared: parent.shared.clone(),
            savepoint: Some(name),
            open: AtomicBool::new(true),
            done: AtomicBool::new(false),
            nest: Arc::new(Mutex::new(())),
            parent_slot: std::sync::Mutex::new(Some(slot)),
        })
    }
}

/// Commits or rolls back one level of a transaction and closes its handle.
async fn finish(h: &TxHandle, commit: bool) -> Result<()> {
    h.open.store(false, Ordering::Release);
    let result = match &h.savepoint {
        Some(name) => {
            let mut guard = h.shared.lock().await;
            match guard.as_mut() {
                None => Err(Error::TransactionClosed),
                Some(conn) if commit => match h.shared.release(conn, name).await {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        // PostgreSQL refuses RELEASE after a failed statement in the savepoint:
                        // undo the level so the outer transaction can go on, and report it.
                        let _ = h.shared.undo(conn, name).await;
                        Err(e)
                    }
                },
                Some(conn) => h.shared.undo(conn, name).await,
            }
        }
        None => match h.shared.lock().await.take() {
            None => Err(Error::TransactionClosed),
            Some(conn) => {
                let poisoned = h.shared.poisoned.load(Ordering::Acquire);
                let outcome = match (conn, commit && !poisoned) {
                    #[cfg(feature = "sqlite")]
                    (TxConn::Sqlite(tx), true) => tx.commit().await,
                    #[cfg(feature = "sqlite")]
                    (TxConn::Sqlite(tx), false) => tx.rollback().await,
                    #[cfg(feature = "postgres")]
                    (TxConn::Postgres(tx), true) => tx.commit().await,
                    #[cfg(feature = "postgres")]
                    (TxConn::Postgres(tx), false) => tx.rollback().await,
                    #[cfg(feature = "mysql")]
                    (TxConn::MySql(tx), true) => tx.commit().await,
                    #[cfg(feature = "mysql")]
                    (TxConn::MySql(tx), false) => tx.rollback().await,
                };
                match outcome.map_err(Error::from) {
                    Ok(()) if commit && poisoned => Err(Error::InvalidQuery(
                        "the transaction was rolled back instead of committed: a savepoint inside it could not be undone"
                            .into(),
                    )),
                    other => other,
                }
            }
        },
    };
    h.done.store(true, Ordering::Release);
    h.release_parent();
    result
}

#[cfg(feature = "mysql")]
/// Reads a MySQL column back as a [`Value`], for the key columns of emulated RETURNING.
fn mysql_value(row: &sqlx::mysql::MySqlRow, i: usize) -> Result<Value> {
    let ty = row.column(i).type_info().name().to_ascii_uppercase();
    let err = |e: sqlx::Error| Error::Decode {
        column: row.column(i).name().to_string(),
        source: e,
    };
    Ok(if ty.contains("UNSIGNED") {
        Value::BigUnsigned(row.try_get::<Option<u64>, _>(i).map_err(err)?)
    } else if ty.contains("INT") || ty == "YEAR" {
        Value::BigInt(row.try_get::<Option<i64>, _>(i).map_err(err)?)
    } else if ty.contains("BINARY") || ty.contains("BLOB") {
        Value::Bytes(row.try_get::<Option<Vec<u8>>, _>(i).map_err(err)?)
    } else if ty == "DATETIME" || ty == "TIMESTAMP" {
        Value::ChronoDateTime(
            row.try_get::<Option<chrono::NaiveDateTime>, _>(i)
                .map_err(err)?,
        )
    } else if ty == "DATE" {
        Value::ChronoDate(
            row.try_get::<Option<chrono::NaiveDate>, _>(i)
                .map_err(err)?,
        )
    } else {
        Value::String(row.try_get::<Option<String>, _>(i).map_err(err)?)
    })
}

#[cfg(feature = "mysql")]
/// Whether a row with this key exists, locking it (or the gap where it would be).
async fn mysql_key_exists(
    conn: &mut MySqlConnection,
    table: &str,
    key: &Filter,
    read: ReadBack<'_>,
) -> Result<bool> {
    let probe = read(Select::from(table).filter(key.clone()).limit(1))?;
    Ok(!mysql_fetch(conn, probe, " FOR UPDATE").await?.is_empty())
}

#[cfg(feature = "mysql")]
/// Whether a key filter compares with NULL (which matches nothing).
fn filter_has_null(f: &Filter) -> bool {
    match f {
        Filter::Compare {
            right: crate::query::Expr::Value(v),
            ..
        } => is_null_value(v),
        Filter::And(v) | Filter::Or(v) => v.iter().any(filter_has_null),
        _ => false,
    }
}

/// Whether a value is a (typed) NULL: every sea-query variant holds an `Option`.
pub(crate) fn is_null_value(v: &Value) -> bool {
    matches!(
        v,
        Value::Bool(None)
            | Value::TinyInt(None)
            | Value::SmallInt(None)
            | Value::Int(None)
            | Value::BigInt(None)
            | Value::TinyUnsigned(None)
            | Value::SmallUnsigned(None)
            | Value::Unsigned(None)
            | Value::BigUnsigned(None)
            | Value::Float(None)
            | Value::Double(None)
            | Value::String(None)
            | Value::Char(None)
            | Value::Bytes(None)
            | Value::Json(None)
            | Value::ChronoDate(None)
            | Value::ChronoTime(None)
            | Value::ChronoDateTime(None)
            | Value::ChronoDateTimeUtc(None)
            | Value::ChronoDateTimeLocal(None)
            | Value::ChronoDateTimeWithTimeZone(None)
            | Value::Uuid(None)
    )
}

#[cfg(feature = "mysql")]
/// `col1 = v1 AND col2 = v2 …`
fn key_filter(cols: &[String], values: impl IntoIterator<Item = Value>) -> Filter {
    Filter::And(cols.iter().zip(values).map(|(c, v)| col(c).eq(v)).collect())
}

#[cfg(feature = "mysql")]
fn returning_select(table: &str, returning: &Returning, key: Filter) -> Select {
    let mut s = Select::from(table).filter(key);
    if let Returning::Columns(cols) = returning {
        s = s.columns(cols.iter().map(|c| col(c)));
    }
    s
}

#[cfg(feature = "mysql")]
async fn mysql_fetch(
    conn: &mut MySqlConnection,
    q: impl Into<Query>,
    suffix: &str,
) -> Result<Vec<Row>> {
    let mut l = lower(&q.into(), Dialect::MySql)?;
    l.sql.push_str(suffix);
    Ok(sqlx_query(l)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(Row::MySql)
        .collect())
}

#[cfg(feature = "mysql")]
fn needs_key(what: &str, table: &str) -> Error {
    Error::Unsupported {
        dialect: Dialect::MySql,
        what: format!(
            "RETURNING from {what} `{table}` without a declared primary key (MySQL has no RETURNING; Kysera reads the rows back by key)"
        ),
    }
}

#[cfg(feature = "mysql")]
/// Whether an insert has `ON CONFLICT (cols) DO NOTHING`, which MySQL cannot report exactly:
/// sqlx connects with `CLIENT_FOUND_ROWS`, so a skipped duplicate counts as one affected row.
/// Kysera checks the conflict key itself instead (see [`mysql_insert`]).
fn mysql_checks_conflicts(query: &Query) -> bool {
    matches!(query, Query::Insert(Insert { on_conflict: Some(oc), .. })
        if oc.action == ConflictAction::DoNothing && !oc.columns.is_empty())
}

#[cfg(feature = "mysql")]
/// RETURNING on MySQL: the statement, then a read of the affected rows by key, on one connection
/// inside a transaction. Returns the rows and the number of rows affected.
/// `read` puts the emulation's own reads (probes and read-backs) under the statement's policies.
type ReadBack<'a> = &'a (dyn Fn(Select) -> Result<Select> + Sync);

#[cfg(feature = "mysql")]
async fn mysql_emulate(
    conn: &mut MySqlConnection,
    query: &Query,
    read: ReadBack<'_>,
) -> Result<(Vec<Row>, u64)> {
    match query {
        Query::Insert(ins) => mysql_insert(conn, ins, read).await,
        Query::Update(upd) => mysql_update_returning(conn, upd, read).await,
        Query::Delete(del) => {
            let before = Select {
                filter: del.filter.clone(),
                ..returning_select(&del.table, &del.returning, Filter::And(vec![]))
            };
            let rows = mysql_fetch(conn, before, " FOR UPDATE").await?;
            let plain = Delete {
                returning: Returning::None,
                ..del.clone()
            };
            let n = sqlx_query(lower(&plain.into(), Dialect::MySql)?)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            Ok((rows, n))
        }
        Query::Select(_) => Ok((Vec::new(), 0)),
    }
}

#[cfg(feature = "mysql")]
/// Inserts row by row. With `ON CONFLICT (cols) DO NOTHING`, a row whose conflict key is
/// already present (checked under `FOR UPDATE`) is skipped, as PostgreSQL and SQLite skip it.
/// With RETURNING, each inserted row is read back by its conflict key, its given primary key, or
/// `LAST_INSERT_ID()` for a single auto-increment key.
async fn mysql_insert(
    conn: &mut MySqlConnection,
    ins: &Insert,
    read: ReadBack<'_>,
) -> Result<(Vec<Row>, u64)> {
    let want_rows = ins.returning != Returning::None;
    let mut out = Vec::with_capacity(if want_rows { ins.rows.len() } else { 0 });
    let mut inserted = 0;
    for (n, row) in ins.rows.iter().enumerate() {
        let given = |cols: &[String]| -> Option<Vec<Value>> {
            cols.iter().map(|c| ins.value(n, c).cloned()).collect()
        };
        let conflict_key = match &ins.on_conflict {
            Some(oc) if !oc.columns.is_empty() => {
                let vals = given(&oc.columns).ok_or_else(|| {
                    Error::InvalidQuery(format!(
                        "INSERT INTO `{}`: the conflict columns must all be given",
                        ins.table
                    ))
                })?;
                Some((
                    key_filter(&oc.columns, vals),
                    oc.action == ConflictAction::DoNothing,
                ))
            }
            _ => None,
        };
        let skip_on_conflict = matches!(&conflict_key, Some((_, true)));
        if let Some((key, true)) = &conflict_key
            && mysql_key_exists(conn, &ins.table, key, read).await?
        {
            continue;
        }
        let single = Insert {
            rows: vec![row.clone()],
            returning: Returning::None,
            // DO NOTHING is the probe above; `ON DUPLICATE KEY UPDATE c = c` would also swallow
            // a clash on another unique key, which PostgreSQL and SQLite report.
            on_conflict: if skip_on_conflict {
                None
            } else {
                ins.on_conflict.clone()
            },
            ..ins.clone()
        };
        let done = match sqlx_query(lower(&single.into(), Dialect::MySql)?)
            .execute(&mut *conn)
            .await
            .map_err(Error::from)
        {
            Ok(done) => done,
            // Inserted by someone else since the probe: skip it, as DO NOTHING would.
            Err(Error::UniqueViolation(_))
                if skip_on_conflict
                    && let Some((key, _)) = &conflict_key
                    && mysql_key_exists(conn, &ins.table, key, read).await? =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        inserted += done.rows_affected().min(1);
        if !want_rows {
            continue;
        }
        let key = match conflict_key {
            Some((key, _)) => key,
            None if ins.on_conflict.is_some() && done.rows_affected() == 0 => continue,
            None if ins.primary_key.is_empty() => {
                return Err(needs_key("an insert into", &ins.table));
            }
            None => match given(&ins.primary_key) {
                Some(vals) => key_filter(&ins.primary_key, vals),
                None if ins.primary_key.len() == 1 && done.last_insert_id() != 0 => key_filter(
                    &ins.primary_key,
                    [Value::BigUnsigned(Some(done.last_insert_id()))],
                ),
                None if ins.primary_key.len() == 1 => {
                    return Err(Error::Unsupported {
                        dialect: Dialect::MySql,
                        what: format!(
                            "RETURNING from an insert into `{}` whose key `{}` is neither given nor AUTO_INCREMENT (MySQL has no RETURNING; Kysera reads the row back by key)",
                            ins.table, ins.primary_key[0]
                        ),
                    });
                }
                None => {
                    return Err(Error::InvalidQuery(format!(
                        "INSERT INTO `{}`: every column of the composite primary key must be given",
                        ins.table
                    )));
                }
            },
        };
        if key.columns().is_empty() || filter_has_null(&key) {
            return Err(Error::InvalidQuery(format!(
                "INSERT INTO `{}`: the row cannot be read back by a NULL key",
                ins.table
            )));
        }
        let back = read(returning_select(&ins.table, &ins.returning, key))?;
        let back = mysql_fetch(conn, back, "").await?;
        if back.is_empty() {
            // Never report success for a row that cannot be returned: the caller's
            // transaction (or ours) is rolled back by this error.
            return Err(Error::NotFound(Some(format!(
                "the row just inserted into `{}` could not be read back by its key",
                ins.table
            ))));
        }
        out.extend(back);
    }
    Ok((out, inserted))
}

#[cfg(feature = "mysql")]
#[allow(irrefutable_let_patterns)]
async fn mysql_update_returning(
    conn: &mut MySqlConnection,
    upd: &Update,
    read: ReadBack<'_>,
) -> Result<(Vec<Row>, u64)> {
    if upd.primary_key.is_empty() {
        return Err(needs_key("an update of", &upd.table));
    }
    let pk = &upd.primary_key;
    let keys_select = Select {
        filter: upd.filter.clone(),
        ..Select::from(&upd.table).columns(pk.iter().map(|c| col(c)))
    };
    let mut keys = Vec::new();
    for row in mysql_fetch(conn, keys_select, " FOR UPDATE").await? {
        let Row::MySql(r) = &row else { continue };
        let mut key = Vec::with_capacity(pk.len());
        for (i, c) in pk.iter().enumerate() {
            // A key column the update changes is found under its new value.
            key.push(match upd.values.iter().find(|(vc, _)| vc == c) {
                Some((_, v)) => v.clone(),
                None => mysql_value(r, i)?,
            });
        }
        keys.push(key);
    }
    let plain = Update {
        returning: Returning::None,
        ..upd.clone()
    };
    let n = sqlx_query(lower(&plain.into(), Dialect::MySql)?)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if keys.is_empty() {
        return Ok((Vec::new(), n));
    }
    let expected = keys.len();
    let any = Filter::Or(keys.into_iter().map(|k| key_filter(pk, k)).collect());
    let back = read(returning_select(&upd.table, &upd.returning, any))?;
    let rows = mysql_fetch(conn, back, "").await?;
    if rows.len() != expected {
        // Never report an update whose rows cannot be returned (a read policy hides them):
        // the error undoes it.
        return Err(Error::InvalidQuery(format!(
            "{} of {expected} updated rows of `{}` could not be read back",
            expected - rows.len().min(expected),
            upd.table
        )));
    }
    Ok((rows, n))
}

/// Direct access that bypasses every plugin; see [`Executor::raw`].
#[derive(Debug, Clone, Copy)]
pub struct Raw<'a> {
    exec: &'a Executor,
}

impl Raw<'_> {
    /// Runs an IR query without plugins and returns its rows.
    pub async fn fetch_all(&self, query: impl Into<Query>) -> Result<Vec<Row>> {
        self.exec.fetch_all_unchecked(query.into()).await
    }

    /// Runs an IR query without plugins and returns the rows affected.
    pub async fn execute(&self, query: impl Into<Query>) -> Result<u64> {
        self.exec.execute_unchecked(query.into()).await
    }

    /// Runs SQL text with bound `values` and returns the rows affected. Placeholders are the
    /// database's own: `$1, $2` on PostgreSQL, `?` on MySQL and SQLite. With no values the text
    /// may hold several statements.
    pub async fn execute_sql(&self, sql: &str, values: Vec<Value>) -> Result<u64> {
        if values.is_empty() {
            let q = sqlx::raw_sql(AssertSqlSafe(sql.to_string()));
            return on_target!(self.exec.target().await?, |c, _wrap| q
                .execute(c)
                .await
                .map(|r| r.rows_affected())
                .map_err(Error::from));
        }
        let l = Lowered {
            sql: sql.to_string(),
            values: sea_query::Values(values),
        };
        on_target!(self.exec.target().await?, |c, _wrap| sqlx_query(l)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
            .map_err(Error::from))
    }

    /// Runs SQL text with bound `values` and returns its rows (placeholders as in
    /// [`execute_sql`](Self::execute_sql)).
    pub async fn fetch_all_sql(&self, sql: &str, values: Vec<Value>) -> Result<Vec<Row>> {
        let l = Lowered {
            sql: sql.to_string(),
            values: sea_query::Values(values),
        };
        on_target!(self.exec.target().await?, |c, wrap| sqlx_query(l)
            .fetch_all(c)
            .await
            .map(|rows| rows.into_iter().map(wrap).collect())
            .map_err(Error::from))
    }
}
