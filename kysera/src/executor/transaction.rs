//! Transactions: one connection shared by every level of a transaction, uniquely named
//! savepoints for nested levels and the library's own atomic sections, and the guards that
//! undo a level whose future was dropped.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use futures_util::FutureExt;
#[cfg(feature = "postgres")]
use sqlx::AssertSqlSafe;
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::Executor;
use super::connect::Pool;
#[cfg(feature = "postgres")]
use super::hook::{Behaviours, Enforce};
#[cfg(feature = "sqlite")]
pub(super) use super::shared::holds_pool;
pub(super) use super::shared::{
    ConnGuard, ConnSlot, TxShared, holding, inside, runs_inside, std_lock,
};
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(super) use super::tx_conn::OwnedTx;
pub(super) use super::tx_conn::{TxConn, detached, roll_back_soon};
use crate::core::classify::{commit_failed, not_sent};
use crate::core::error::{Error, Result};

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
            self.0.abandon(name);
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
            Some(name) => h.shared.abandon(name.clone()),
            None => {
                // A statement still holding the connection gives it back when it is dropped;
                // then the last handle's drop rolls back (see `TxShared`'s `Drop`).
                if let Ok(mut conn) = h.shared.conn.try_lock()
                    && let Some(conn) = conn.take()
                {
                    roll_back_soon(conn);
                }
            }
        }
        h.release_parent();
    }
}

impl Executor {
    /// After a statement of this transaction failed with `e`: a deadlock or serialization
    /// failure undoes the whole transaction on the server (MySQL then runs later statements
    /// outside any transaction), so no later statement runs in it and it does not commit
    /// (`Error::TransactionPoisoned`), even if the caller goes on after the error. SQLite's busy
    /// undoes only the statement.
    pub(super) fn poison_if_undone(&self, e: &Error) {
        if let Some(h) = &self.tx {
            h.shared.poison_if_undone(e);
        }
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
        // One scope at a time holds the transaction (`lock_for`), so sections, nested
        // transactions and plain statements of other scopes wait for this one to end.
        let name = h.shared.open_savepoint(self.scope.as_deref()).await?;
        let mut pending = PendingSavepoint(h.shared.clone(), Some(name.clone()));
        let inner = Executor {
            scope: Some(Arc::from(name.as_str())),
            ..self.clone()
        };
        // Boxed: the section's work can be a large future, and nesting them inline makes the
        // caller's future (often pinned on a thread's stack) grow with every level.
        let result = Box::pin(inside(&h.shared, &name, f(inner))).await;
        let out = match result {
            Ok(v) => h.shared.end_savepoint(&name, true).await.map(|()| v),
            Err(e) => {
                let _ = h.shared.end_savepoint(&name, false).await;
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
    /// alone while the outer transaction goes on.
    ///
    /// Concurrent work on one transaction (`tokio::join!`, [`dal::parallel`](crate::dal::parallel),
    /// tasks holding clones of the executor) is safe: a nested transaction — like the
    /// library's own savepoints for audited writes — holds the transaction for its whole life,
    /// and statements from outside it wait until it ends, so its rollback never undoes work
    /// that returned `Ok` elsewhere. Work issued from inside a nested transaction's closure
    /// belongs to it, whichever executor issued it; opening another nested transaction on an
    /// outer executor from there would wait for itself and is refused with
    /// [`Error::TransactionInUse`]. A nested transaction whose future is dropped before it ends
    /// is rolled back. A clone of the transaction executor kept past the closure returns
    /// [`Error::TransactionClosed`].
    ///
    /// The transaction holds one connection of the pool until it ends: using the plain executor
    /// (not the one `f` receives) inside `f` takes another connection, and waits for the
    /// transaction's row locks like any other session. On an in-memory SQLite database, whose
    /// pool has one connection, that can never succeed and is
    /// [`Error::ConnectionHeldByTransaction`] at once.
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
    ///
    /// The closure's error type is [`kysera::Error`](Error), so `Ok(value)` needs no annotation;
    /// for an error type of your own use [`transaction_with_error`](Self::transaction_with_error).
    pub async fn transaction<F, Fut, T>(&self, f: F) -> Result<T>
    where
        F: FnOnce(Executor) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.transaction_as(f, false).await
    }

    /// [`transaction`](Self::transaction) with an error type of your own (anything a
    /// [`kysera::Error`](Error) converts into, such as `anyhow::Error` or an application enum).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// #[derive(Debug)]
    /// enum AppError { Db(kysera::Error), Rule(&'static str) }
    /// impl From<kysera::Error> for AppError {
    ///     fn from(e: kysera::Error) -> Self { AppError::Db(e) }
    /// }
    /// let db = kysera::connect("sqlite::memory:").await.unwrap();
    /// let r = db
    ///     .transaction_with_error(async |_tx| Err::<(), _>(AppError::Rule("no")))
    ///     .await;
    /// assert!(matches!(r, Err(AppError::Rule("no"))));
    /// # }
    /// ```
    pub async fn transaction_with_error<F, Fut, T, E>(&self, f: F) -> std::result::Result<T, E>
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
            scope: handle.savepoint.as_deref().map(Arc::from),
            ..self.clone()
        };
        let pool_id = self.pool_id.clone();
        let body = async move {
            match &handle_scope(&tx_exec) {
                Some((shared, name)) => inside(shared, name, f(tx_exec)).await,
                None => holding(&pool_id, f(tx_exec)).await,
            }
        };
        // Boxed for the same reason as a section's work (see `atomic`).
        let outcome = AssertUnwindSafe(Box::pin(body)).catch_unwind().await;
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
            // The settings come from the caller's task-local auth context.
            #[cfg(feature = "postgres")]
            let settings = match self.postgres_rls {
                true => Behaviours::transaction_settings(),
                false => Vec::new(),
            };
            let permit = self.admit()?;
            let pool = self.pool.clone();
            let isolation = self.isolation;
            // BEGIN runs to completion even if this future is dropped (a transaction begun for
            // nobody is rolled back at once).
            let begun = detached(
                async move {
                    Ok::<_, Error>(match pool {
                        #[cfg(feature = "sqlite")]
                        Pool::Sqlite(p) if writes => {
                            TxConn::Sqlite(p.begin_with("BEGIN IMMEDIATE").await.map_err(not_sent)?)
                        }
                        #[cfg(feature = "sqlite")]
                        Pool::Sqlite(p) => TxConn::Sqlite(p.begin().await.map_err(not_sent)?),
                        #[cfg(feature = "postgres")]
                        Pool::Postgres(p) => {
                            let mut tx = match isolation {
                                Some(level) => p.begin_with(level.postgres_begin()).await,
                                None => p.begin().await,
                            }
                            .map_err(not_sent)?;
                            set_settings(&mut tx, settings).await?;
                            TxConn::Postgres(tx)
                        }
                        #[cfg(feature = "mysql")]
                        Pool::MySql(p) => TxConn::MySql(
                            match isolation {
                                Some(level) => p.begin_with(level.mysql_begin()).await,
                                None => p.begin().await,
                            }
                            .map_err(not_sent)?,
                        ),
                    })
                },
                |begun| {
                    if let Ok(conn) = begun {
                        roll_back_soon(conn);
                    }
                },
            );
            let begun = begun.await.and_then(|b| b);
            if let Some(p) = permit {
                p.record(&begun);
            }
            let conn = begun?;
            return Ok(TxHandle {
                shared: Arc::new(TxShared {
                    conn: Arc::new(Mutex::new(ConnSlot(Some(conn)))),
                    next_savepoint: AtomicU32::new(0),
                    abandoned: std::sync::Mutex::new(Vec::new()),
                    live: std::sync::Mutex::new(Vec::new()),
                    poisoned: AtomicBool::new(false),
                    scope_closed: tokio::sync::Notify::new(),
                    isolation,
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
        if let Some(level) = self.isolation
            && parent.shared.isolation != Some(level)
        {
            return Err(Error::InvalidQuery(format!(
                "a nested transaction cannot begin at {level}: it is a savepoint of its outer transaction and has that one's level; set the level on the outermost transaction"
            )));
        }
        // Opening one on this level from inside a deeper scope of this transaction would wait
        // for that scope, which waits for this: refused instead of hanging.
        if self.runs_inside_a_deeper_scope(&parent.shared) {
            return Err(Error::TransactionInUse);
        }
        // Siblings wait for each other: savepoints on one connection form a stack.
        let slot = parent.nest.clone().lock_owned().await;
        if !parent.open.load(Ordering::Acquire) {
            return Err(Error::TransactionClosed);
        }
        let name = parent.shared.open_savepoint(self.scope.as_deref()).await?;
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

/// The shared state and savepoint of a nested level's executor (`None` for the outermost level).
fn handle_scope(e: &Executor) -> Option<(Arc<TxShared>, String)> {
    let h = e.tx.as_ref()?;
    Some((h.shared.clone(), h.savepoint.clone()?))
}

impl Executor {
    /// Whether the current code runs inside the closure of a savepoint scope of this transaction
    /// opened after (inside) this executor's own scope.
    fn runs_inside_a_deeper_scope(&self, shared: &TxShared) -> bool {
        let live = std_lock(&shared.live);
        let start = match self.scope.as_deref() {
            None => 0,
            Some(own) => match live.iter().position(|n| n == own) {
                Some(i) => i + 1,
                None => return false,
            },
        };
        live[start..].iter().any(|n| runs_inside(shared, n))
    }
}

/// Commits or rolls back one level of a transaction and closes its handle.
pub(super) async fn finish(h: &TxHandle, commit: bool) -> Result<()> {
    h.open.store(false, Ordering::Release);
    let result = match &h.savepoint {
        // PostgreSQL refuses RELEASE after a failed statement in the savepoint: the level is
        // then undone so the outer transaction can go on, and the error reported.
        Some(name) => h.shared.end_savepoint(name, commit).await,
        None => match h.shared.lock().await.take() {
            None => Err(Error::TransactionClosed),
            Some(conn) => {
                let poisoned = h.shared.poisoned.load(Ordering::Acquire);
                let commits = commit && !poisoned;
                // COMMIT or ROLLBACK runs to completion even if this future is dropped.
                let outcome = detached(
                    async move {
                        match (conn, commits) {
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
                        }
                    },
                    drop,
                )
                .await?;
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
