//! Versioned migrations (`@kysera/migrations` in the TypeScript Kysera): SQL files named as sqlx
//! names them (`<version>_<name>.up.sql` / `.down.sql`, or `<version>_<name>.sql` for an up-only
//! step), embedded at compile time with [`migrations!`](crate::migrations), or Rust code over the
//! executor ([`Migration::code`]) for data migrations and the library's own installers.
//!
//! A [`Migrator`] applies what is pending in version order, each migration in a transaction of
//! its own with its history row (PostgreSQL and SQLite undo a failed migration whole; MySQL
//! commits DDL as it runs, so a migration that fails halfway may leave part of its DDL, but it is
//! never recorded as applied). Only one runner works at a time: a PostgreSQL advisory lock or a
//! MySQL `GET_LOCK`, held on a connection of its own for the whole run (closed, so released, if
//! the run is dropped), and on SQLite an immediate (writing) transaction per migration; each
//! migration re-reads the history under the lock, so runners started together apply it once.
//!
//! ```no_run
//! use kysera::migrate::{Migration, Migrator};
//! # async fn f(db: kysera::Executor) -> kysera::Result<()> {
//! let migrator = Migrator::new([
//!     Migration::sql(1, "users", "CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL)")
//!         .with_down("DROP TABLE users"),
//!     Migration::code(2, "audit_log", |db| async move {
//!         kysera::audit::Audit::new().install(&db).await
//!     }),
//! ])?;
//! migrator.up(&db).await?;
//! for m in migrator.status(&db).await? {
//!     println!("{} {} {:?}", m.version, m.name, m.state);
//! }
//! # Ok(()) }
//! ```

mod files;
mod history;

pub use files::new_files;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;
use crate::executor::Executor;

type Step = Arc<dyn Fn(Executor) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> + Send + Sync>;

/// What a migration runs.
#[derive(Clone)]
enum Body {
    Sql(String),
    Code(Step),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Sql(sql) => f.debug_tuple("Sql").field(sql).finish(),
            Body::Code(_) => f.write_str("Code(..)"),
        }
    }
}

/// One versioned step of a schema: SQL text or Rust code, with an optional way back.
#[derive(Debug, Clone)]
pub struct Migration {
    version: i64,
    name: String,
    up: Body,
    down: Option<Body>,
}

impl Migration {
    /// A migration of SQL text (several statements may follow each other, separated by `;`).
    pub fn sql(version: i64, name: impl Into<String>, up: impl Into<String>) -> Self {
        Migration {
            version,
            name: name.into(),
            up: Body::Sql(up.into()),
            down: None,
        }
    }

    /// A migration of Rust code, run with an executor bound to its transaction (the history row
    /// is written in the same transaction). Its checksum covers its version and name only: a
    /// change to the code is not detected.
    pub fn code<F, Fut>(version: i64, name: impl Into<String>, up: F) -> Self
    where
        F: Fn(Executor) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        Migration {
            version,
            name: name.into(),
            up: Body::Code(Arc::new(move |db| Box::pin(up(db)))),
            down: None,
        }
    }

    /// The SQL that reverts this migration.
    pub fn with_down(mut self, down: impl Into<String>) -> Self {
        self.down = Some(Body::Sql(down.into()));
        self
    }

    /// The Rust code that reverts this migration.
    pub fn with_down_code<F, Fut>(mut self, down: F) -> Self
    where
        F: Fn(Executor) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        self.down = Some(Body::Code(Arc::new(move |db| Box::pin(down(db)))));
        self
    }

    /// The version (the number that orders migrations).
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SQL this migration runs going up (`None` for Rust code).
    pub fn up_sql(&self) -> Option<&str> {
        match &self.up {
            Body::Sql(s) => Some(s),
            Body::Code(_) => None,
        }
    }

    /// Whether it can be reverted.
    pub fn reversible(&self) -> bool {
        self.down.is_some()
    }

    /// SHA-256 of what it runs going up (of its version and name for Rust code), in hex.
    pub fn checksum(&self) -> String {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        match &self.up {
            Body::Sql(sql) => h.update(sql.as_bytes()),
            Body::Code(_) => h.update(format!("code:{}:{}", self.version, self.name).as_bytes()),
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn error(&self, reason: impl Into<String>) -> Error {
        Error::Migration {
            version: self.version,
            name: self.name.clone(),
            reason: reason.into(),
        }
    }
}

/// Where a migration stands in one database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// Applied, and unchanged since.
    Applied,
    /// Not applied yet.
    Pending,
    /// Applied, but what it runs has changed since (its checksum differs).
    Changed,
    /// Applied in the database, but not in this set of migrations.
    Missing,
}

/// One line of [`Migrator::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationStatus {
    /// The version.
    pub version: i64,
    /// The name (from the set, or from the history for a missing one).
    pub name: String,
    /// Where it stands.
    pub state: State,
    /// When it was applied.
    pub applied_at: Option<DateTime<Utc>>,
    /// How long it took, in milliseconds.
    pub duration_ms: Option<i64>,
}

/// What a dry run would do: the migrations in order, with their SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Planned {
    /// The version.
    pub version: i64,
    /// The name.
    pub name: String,
    /// The SQL it would run (`None` for Rust code).
    pub sql: Option<String>,
}

/// Applies and reverts a set of migrations, keeping their history in a table
/// (`kysera_migrations` by default).
#[derive(Debug, Clone)]
pub struct Migrator {
    migrations: Vec<Migration>,
    table: String,
    allow_changed: bool,
}

impl Migrator {
    /// A migrator over `migrations` (in any order); two with one version are refused.
    pub fn new(migrations: impl IntoIterator<Item = Migration>) -> Result<Self> {
        let mut migrations: Vec<Migration> = migrations.into_iter().collect();
        migrations.sort_by_key(|m| m.version);
        for pair in migrations.windows(2) {
            if pair[0].version == pair[1].version {
                return Err(pair[1].error(format!(
                    "version {} is also `{}`; give each migration its own version",
                    pair[0].version, pair[0].name
                )));
            }
        }
        Ok(Migrator {
            migrations,
            table: "kysera_migrations".into(),
            allow_changed: false,
        })
    }

    /// The migrations embedded by [`migrations!`](crate::migrations) (generated code calls this).
    #[doc(hidden)]
    pub fn __embedded(list: &[(i64, &str, &str, Option<&str>)]) -> Self {
        let migrations = list.iter().map(|(version, name, up, down)| {
            let m = Migration::sql(*version, *name, *up);
            match down {
                Some(d) => m.with_down(*d),
                None => m,
            }
        });
        // The macro refuses two files with one version at compile time.
        Migrator::new(migrations).unwrap_or_else(|_| Migrator {
            migrations: Vec::new(),
            table: "kysera_migrations".into(),
            allow_changed: false,
        })
    }

    /// Keeps the history in `table` instead of `kysera_migrations`.
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// Runs even when an applied migration has changed since (by default that is an error
    /// naming it).
    pub fn allow_changed(mut self, allow: bool) -> Self {
        self.allow_changed = allow;
        self
    }

    /// The migrations, in version order.
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    /// Whether `dialect` undoes a failed migration whole (transactional DDL: PostgreSQL and
    /// SQLite). MySQL commits each DDL statement as it runs.
    pub fn transactional_ddl(dialect: Dialect) -> bool {
        dialect != Dialect::MySql
    }

    /// Every migration of the set and of the history, in version order, with its state.
    pub async fn status(&self, db: &Executor) -> Result<Vec<MigrationStatus>> {
        history::ensure_table(db, &self.table).await?;
        let applied = history::read(db, &self.table).await?;
        let mut out: Vec<MigrationStatus> = self
            .migrations
            .iter()
            .map(|m| {
                let row = applied.iter().find(|a| a.version == m.version);
                MigrationStatus {
                    version: m.version,
                    name: m.name.clone(),
                    state: match row {
                        None => State::Pending,
                        Some(a) if a.checksum != m.checksum() => State::Changed,
                        Some(_) => State::Applied,
                    },
                    applied_at: row.map(|a| a.applied_at),
                    duration_ms: row.map(|a| a.duration_ms),
                }
            })
            .collect();
        for a in &applied {
            if !self.migrations.iter().any(|m| m.version == a.version) {
                out.push(MigrationStatus {
                    version: a.version,
                    name: a.name.clone(),
                    state: State::Missing,
                    applied_at: Some(a.applied_at),
                    duration_ms: Some(a.duration_ms),
                });
            }
        }
        out.sort_by_key(|s| s.version);
        Ok(out)
    }

    /// The pending migrations up to `to` (all with `None`), refusing changed ones unless
    /// allowed.
    async fn pending(&self, db: &Executor, to: Option<i64>) -> Result<Vec<&Migration>> {
        let status = self.status(db).await?;
        if !self.allow_changed
            && let Some(s) = status.iter().find(|s| s.state == State::Changed)
        {
            return Err(Error::Migration {
                version: s.version,
                name: s.name.clone(),
                reason: "changed since it was applied (its checksum differs); restore it, or run with allow_changed".into(),
            });
        }
        Ok(self
            .migrations
            .iter()
            .filter(|m| to.is_none_or(|t| m.version <= t))
            .filter(|m| {
                status
                    .iter()
                    .any(|s| s.version == m.version && s.state == State::Pending)
            })
            .collect())
    }

    /// The applied migrations newest first, `steps` of them (or those above `to`).
    async fn applied_newest_first(
        &self,
        db: &Executor,
        steps: Option<usize>,
        to: Option<i64>,
    ) -> Result<Vec<&Migration>> {
        let status = self.status(db).await?;
        let mut out = Vec::new();
        for s in status.iter().rev() {
            if steps.is_some_and(|n| out.len() >= n) || to.is_some_and(|t| s.version <= t) {
                break;
            }
            match s.state {
                State::Applied | State::Changed => {
                    let m = self
                        .migrations
                        .iter()
                        .find(|m| m.version == s.version)
                        .ok_or_else(|| Error::Migration {
                            version: s.version,
                            name: s.name.clone(),
                            reason: "not in this set".into(),
                        })?;
                    out.push(m);
                }
                State::Missing => {
                    return Err(Error::Migration {
                        version: s.version,
                        name: s.name.clone(),
                        reason: "applied but missing from this set of migrations: it cannot be reverted from here".into(),
                    });
                }
                State::Pending => {}
            }
        }
        Ok(out)
    }

    /// Applies every pending migration, in version order; returns the versions applied (by
    /// this runner: one another runner applied meanwhile is skipped).
    pub async fn up(&self, db: &Executor) -> Result<Vec<i64>> {
        self.up_to_version(db, None).await
    }

    /// Applies the pending migrations up to `version` (included).
    pub async fn up_to(&self, db: &Executor, version: i64) -> Result<Vec<i64>> {
        self.up_to_version(db, Some(version)).await
    }

    async fn up_to_version(&self, db: &Executor, to: Option<i64>) -> Result<Vec<i64>> {
        // The lock first: the history table is created, and read, by one runner at a time.
        let lock = history::Lock::acquire(db, &self.table).await?;
        let pending = match self.pending(db, to).await {
            Ok(p) => p,
            Err(e) => {
                lock.release().await;
                return Err(e);
            }
        };
        self.each_then_release(db, lock, pending, true).await
    }

    /// Reverts the `steps` newest applied migrations; returns their versions.
    pub async fn down(&self, db: &Executor, steps: usize) -> Result<Vec<i64>> {
        let list = self.applied_newest_first(db, Some(steps), None).await?;
        self.revert(db, list).await
    }

    /// Reverts every applied migration above `version`.
    pub async fn down_to(&self, db: &Executor, version: i64) -> Result<Vec<i64>> {
        let list = self.applied_newest_first(db, None, Some(version)).await?;
        self.revert(db, list).await
    }

    async fn revert(&self, db: &Executor, list: Vec<&Migration>) -> Result<Vec<i64>> {
        if let Some(m) = list.iter().find(|m| m.down.is_none()) {
            return Err(m.error("has no down migration; it cannot be reverted"));
        }
        if list.is_empty() {
            return Ok(Vec::new());
        }
        let lock = history::Lock::acquire(db, &self.table).await?;
        self.each_then_release(db, lock, list, false).await
    }

    /// Applies (`up`) or reverts each of `list` in order under the runner's `lock`, stopping at
    /// the first failure, then releases the lock; the versions this runner changed.
    async fn each_then_release(
        &self,
        db: &Executor,
        lock: history::Lock,
        list: Vec<&Migration>,
        up: bool,
    ) -> Result<Vec<i64>> {
        let mut done = Vec::new();
        let mut result = Ok(());
        for m in list {
            let step = if up {
                history::apply(db, &self.table, m).await
            } else {
                history::revert(db, &self.table, m).await
            };
            match step {
                Ok(true) => done.push(m.version),
                Ok(false) => {}
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        lock.release().await;
        result.map(|()| done)
    }

    /// Reverts the newest applied migration and applies it again.
    pub async fn redo(&self, db: &Executor) -> Result<Vec<i64>> {
        let reverted = self.down(db, 1).await?;
        match reverted.first() {
            Some(&v) => self.up_to(db, v).await,
            None => Ok(Vec::new()),
        }
    }

    /// Reverts every applied migration, then applies them all.
    pub async fn reset(&self, db: &Executor) -> Result<Vec<i64>> {
        self.down_to(db, i64::MIN).await?;
        self.up(db).await
    }

    /// What [`up`](Self::up) would run, without running it.
    pub async fn plan_up(&self, db: &Executor) -> Result<Vec<Planned>> {
        Ok(self
            .pending(db, None)
            .await?
            .into_iter()
            .map(|m| Planned {
                version: m.version,
                name: m.name.clone(),
                sql: m.up_sql().map(str::to_string),
            })
            .collect())
    }

    /// What [`down`](Self::down) would run, without running it (refused, as the run would be,
    /// when one of them has no down).
    pub async fn plan_down(&self, db: &Executor, steps: usize) -> Result<Vec<Planned>> {
        let list = self.applied_newest_first(db, Some(steps), None).await?;
        if let Some(m) = list.iter().find(|m| m.down.is_none()) {
            return Err(m.error("has no down migration; it cannot be reverted"));
        }
        Ok(list
            .into_iter()
            .map(|m| Planned {
                version: m.version,
                name: m.name.clone(),
                sql: match &m.down {
                    Some(Body::Sql(s)) => Some(s.clone()),
                    _ => None,
                },
            })
            .collect())
    }
}
