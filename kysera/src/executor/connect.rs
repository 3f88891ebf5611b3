//! Connecting: the dialect a URL names, the [`Pool`] of one of the three databases, and
//! [`connect`].

use std::str::FromStr;

#[cfg(feature = "mysql")]
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
#[cfg(feature = "sqlite")]
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use super::Executor;
use crate::core::error::{Error, Result, redact_url};
use crate::core::sql::Dialect;

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

    /// Whether the pool was closed ([`close`](Self::close) or
    /// [`infra::shutdown`](crate::infra::shutdown)): it lends no more connections.
    pub fn is_closed(&self) -> bool {
        match self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => p.is_closed(),
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => p.is_closed(),
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => p.is_closed(),
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
/// that is never recycled. A SQLite file must exist, unless the URL asks to create it
/// (`sqlite://app.db?mode=rwc`, sqlx's convention): a misspelt path is an
/// [`Error::InvalidUrl`] saying so, not a new empty database.
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
    #[allow(unused_mut)]
    let mut exec = Executor::new(pool);
    #[cfg(feature = "mysql")]
    #[allow(irrefutable_let_patterns)]
    if let Pool::MySql(p) = exec.pool() {
        // MariaDB 10.5+ returns inserted and deleted rows itself: no read-back needed.
        let version: String = sqlx::query_scalar("SELECT VERSION()")
            .fetch_one(p)
            .await
            .map_err(unreachable_at(url))?;
        exec.mariadb_returning = mariadb_with_returning(&version);
    }
    Ok(exec)
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
    let opts = SqliteConnectOptions::from_str(url).map_err(invalid_url(url))?;
    let memory = url.contains(":memory:") || url.contains("mode=memory");
    // As sqlx does: a file is created only when the URL asks (`?mode=rwc`), so a misspelt path
    // is an error now rather than an empty database and "no such table" later.
    if !memory && !url.contains("mode=rwc") && !opts.get_filename().exists() {
        return Err(Error::InvalidUrl {
            url: redact_url(url),
            reason: format!(
                "there is no SQLite database at `{}`; add `?mode=rwc` to the URL to create it",
                opts.get_filename().display()
            ),
        });
    }
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
        .after_connect(|conn, _| Box::pin(strict_identifiers(conn)))
        .connect_with(opts)
        .await
        .map_err(unreachable_at(url))?;
    Ok(Pool::Sqlite(pool))
}

/// Turns off SQLite's fallback that reads a double-quoted name it cannot resolve as a string
/// literal, so a misspelt `"column"` is an error (as on PostgreSQL and MySQL) instead of the text
/// `'column'` — a filter on a misspelt column would otherwise match every row, or none.
#[cfg(feature = "sqlite")]
async fn strict_identifiers(
    conn: &mut sqlx::sqlite::SqliteConnection,
) -> std::result::Result<(), sqlx::Error> {
    use std::ffi::c_int;
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    for op in [
        libsqlite3_sys::SQLITE_DBCONFIG_DQS_DML,
        libsqlite3_sys::SQLITE_DBCONFIG_DQS_DDL,
    ] {
        // SAFETY: `db` is the open handle of this connection, locked for the duration of the
        // call; these options take an int (0: off) and an optional `int*` to report the new
        // setting, which may be null.
        let rc = unsafe {
            libsqlite3_sys::sqlite3_db_config(db, op, 0 as c_int, std::ptr::null_mut::<c_int>())
        };
        if rc != libsqlite3_sys::SQLITE_OK {
            return Err(sqlx::Error::Configuration(
                format!("SQLite refused to turn off double-quoted string literals (code {rc})")
                    .into(),
            ));
        }
    }
    Ok(())
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
/// Whether a server's `VERSION()` is MariaDB 10.5 or later (INSERT … RETURNING arrived in 10.5;
/// DELETE … RETURNING is older).
fn mariadb_with_returning(version: &str) -> bool {
    if !version.to_ascii_lowercase().contains("mariadb") {
        return false;
    }
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (10, 5)
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
