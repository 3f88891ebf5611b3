//! Transactions: one connection shared by every level of a transaction, uniquely named
//! savepoints for nested levels and the library's own atomic sections, and the guards that
//! undo a level whose future was dropped.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use futures_util::FutureExt;
use sqlx::AssertSqlSafe;
use tokio::sync::{Mutex, MutexGuard, OwnedMutexGuard};

use super::Executor;
use super::connect::Pool;
#[cfg(feature = "postgres")]
use super::hook::{Behaviours, Enforce};
use crate::core::error::{Error, Result, commit_failed};

/// The connection a transaction holds.
pub(super) enum TxConn {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    #[cfg(feature = "mysql")]
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
}

impl TxConn {
    /// Runs a statement without parameters (the savepoint commands).
    pub(super) async fn run(&mut self, sql: String) -> Result<()> {
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
    pub(super) async fn undo(&mut self, name: &str) -> Result<()> {
        self.run(format!("ROLLBACK TO SAVEPOINT {name}")).await?;
        self.run(format!("RELEASE SAVEPOINT {name}")).await
    }
}

/// What every level of one transaction shares.
pub(super) struct TxShared {
    /// The connection; `None` once the outermost level has ended.
    pub(super) conn: Mutex<Option<TxConn>>,
    /// Numbers savepoints, so that no two in one transaction share a name.
    pub(super) next_savepoint: AtomicU32,
    /// Savepoints of nested transactions dropped before they finished (a cancelled future):
    /// undone before the connection's next use, so their work is never committed.
    pub(super) abandoned: std::sync::Mutex<Vec<String>>,
    /// Savepoints open on the connection, oldest first.
    pub(super) live: std::sync::Mutex<Vec<String>>,
    /// Set when a savepoint could not be undone: the transaction may hold work that should
    /// have been undone, so it can no longer commit.
    pub(super) poisoned: AtomicBool,
    /// Serialises the library's own multi-statement sections ([`Executor::atomic`]).
    pub(super) section: Arc<Mutex<()>>,
}

fn std_lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TxShared {
    pub(super) fn new_savepoint(&self) -> String {
        format!(
            "kysera_sp_{}",
            self.next_savepoint.fetch_add(1, Ordering::Relaxed) + 1
        )
    }

    /// Opens a savepoint with a fresh name and returns the name.
    pub(super) async fn open_savepoint(&self) -> Result<String> {
        let name = self.new_savepoint();
        let mut guard = self.lock().await;
        let conn = guard.as_mut().ok_or(Error::TransactionClosed)?;
        self.open_on(conn, &name).await?;
        Ok(name)
    }

    /// Opens savepoint `name` on a connection already held.
    pub(super) async fn open_on(&self, conn: &mut TxConn, name: &str) -> Result<()> {
        conn.run(format!("SAVEPOINT {name}")).await?;
        std_lock(&self.live).push(name.to_string());
        Ok(())
    }

    /// `name` and every newer savepoint are gone (released or rolled back).
    pub(super) fn closed(&self, name: &str) {
        let mut live = std_lock(&self.live);
        if let Some(i) = live.iter().position(|n| n == name) {
            live.truncate(i);
        }
    }

    /// Releases savepoint `name` (keeping its work in the enclosing level).
    pub(super) async fn release(&self, conn: &mut TxConn, name: &str) -> Result<()> {
        conn.run(format!("RELEASE SAVEPOINT {name}")).await?;
        self.closed(name);
        Ok(())
    }

    /// Undoes savepoint `name` if it is still open. A failure poisons the transaction: work
    /// that should have been undone may remain, so it must not commit.
    pub(super) async fn undo(&self, conn: &mut TxConn, name: &str) -> Result<()> {
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
    pub(super) async fn lock(&self) -> MutexGuard<'_, Option<TxConn>> {
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
pub(super) struct TxHandle {
    pub(super) shared: Arc<TxShared>,
    /// `None` for the outermost level; the savepoint's name for a nested one.
    pub(super) savepoint: Option<String>,
    /// Cleared when this level starts to commit or roll back: its executor is closed.
    pub(super) open: AtomicBool,
    /// Set when this level has committed or rolled back.
    pub(super) done: AtomicBool,
    /// Held by the nested transaction open on this level, so that nested transactions of one
    /// level (on one connection) run one after another.
    pub(super) nest: Arc<Mutex<()>>,
    /// This level's hold on its parent's `nest`, released when it ends.
    pub(super) parent_slot: std::sync::Mutex<Option<OwnedMutexGuard<()>>>,
}

impl TxHandle {
    pub(super) fn release_parent(&self) {
        self.parent_slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}

/// A savepoint of [`Executor::atomic`] whose future may be dropped: undone before the
/// connection's next use unless it ended.
pub(super) struct PendingSavepoint(pub(super) Arc<TxShared>, pub(super) Option<String>);

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

impl Executor {
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
                    if self.postgres_rls {
                        set_transaction_settings(&mut tx).await?;
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
pub(super) async fn finish(h: &TxHandle, commit: bool) -> Result<()> {
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
                match outcome {
                    Ok(()) if commit && poisoned => Err(Error::TransactionPoisoned),
                    Ok(()) => Ok(()),
                    Err(e) if commit && !poisoned => Err(commit_failed(e)),
                    Err(e) => Err(Error::from(e)),
                }
            }
        },
    };
    h.done.store(true, Ordering::Release);
    h.release_parent();
    result
}

/// Sets what [`Enforce::transaction_settings`] gives for this transaction only
/// (`set_config(…, true)`, the bound-parameter form of `SET LOCAL`).
#[cfg(feature = "postgres")]
async fn set_transaction_settings(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
) -> Result<()> {
    set_settings(tx, Behaviours::transaction_settings()).await
}

/// Sets `settings` for this transaction only.
#[cfg(feature = "postgres")]
pub(super) async fn set_settings(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    settings: Vec<(&'static str, String)>,
) -> Result<()> {
    if settings.is_empty() {
        return Ok(());
    }
    let calls: Vec<String> = (0..settings.len())
        .map(|i| format!("set_config(${}, ${}, true)", 2 * i + 1, 2 * i + 2))
        .collect();
    let mut q = sqlx::query(AssertSqlSafe(format!("SELECT {}", calls.join(", "))));
    for (name, value) in settings {
        q = q.bind(name).bind(value);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}
