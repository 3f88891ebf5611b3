//! What every level of one transaction shares: the connection, the stack of open savepoints,
//! and the rule that the innermost savepoint scope holds the transaction for its whole life.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use tokio::sync::{Mutex, OwnedMutexGuard};

use super::tx_conn::{TxConn, detached, roll_back_soon};
use crate::core::error::{Error, Result};

/// What every level of one transaction shares.
pub(super) struct TxShared {
    /// The connection; `None` once the outermost level has ended. Shared with the tasks that
    /// run statements on it (see `on_target!`), which hold it locked until their statement is
    /// done even if the caller's future was dropped.
    pub(super) conn: Arc<Mutex<ConnSlot>>,
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
    /// Woken whenever a savepoint closes, for statements waiting for their scope.
    pub(super) scope_closed: tokio::sync::Notify,
    /// The level the transaction began at (`None`: the database's default).
    pub(super) isolation: Option<super::IsolationLevel>,
}

impl TxShared {
    /// After a statement of the transaction failed with `e`: a deadlock or serialization
    /// failure undid the whole transaction on the server, so it must not commit (see
    /// `Executor::poison_if_undone`).
    pub(super) fn poison_if_undone(&self, e: &Error) {
        if e.undid_transaction() && !self.poisoned.swap(true, Ordering::AcqRel) {
            tracing::warn!(target: "kysera::transaction", error = %e, "the database undid the transaction; it will not commit");
        }
    }
}

tokio::task_local! {
    /// The savepoint scopes whose closure the current code runs inside, per transaction (by the
    /// address of its shared state): work issued there belongs to that scope, whichever
    /// executor issued it.
    static INSIDE: Vec<(usize, Arc<str>)>;
}

tokio::task_local! {
    /// The pools whose connection a transaction the current code runs inside holds.
    static HOLDING: Vec<usize>;
}

/// Runs `fut` as the body of an outermost transaction on the pool `pool_id`.
pub(super) async fn holding<F: Future>(pool_id: &Arc<()>, fut: F) -> F::Output {
    let mut pools = HOLDING.try_with(Clone::clone).unwrap_or_default();
    pools.push(Arc::as_ptr(pool_id) as usize);
    HOLDING.scope(pools, fut).await
}

/// Whether the current code runs inside a transaction on the pool `pool_id`.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(super) fn holds_pool(pool_id: &Arc<()>) -> bool {
    let id = Arc::as_ptr(pool_id) as usize;
    HOLDING.try_with(|v| v.contains(&id)).unwrap_or(false)
}

/// Runs `fut` as the body of scope `name` of the transaction `shared`.
pub(super) async fn inside<F: Future>(shared: &Arc<TxShared>, name: &str, fut: F) -> F::Output {
    let mut scopes = INSIDE.try_with(Clone::clone).unwrap_or_default();
    scopes.push((Arc::as_ptr(shared) as usize, Arc::from(name)));
    INSIDE.scope(scopes, fut).await
}

/// Whether the current code runs inside the closure of scope `name` of transaction `shared`.
pub(super) fn runs_inside(shared: &TxShared, name: &str) -> bool {
    let id = shared as *const TxShared as usize;
    INSIDE
        .try_with(|v| v.iter().any(|(t, n)| *t == id && &**n == name))
        .unwrap_or(false)
}

/// The slot of a transaction's connection: when the last holder lets go of a transaction that
/// never ended (every future of it dropped), it is rolled back at once.
pub(super) struct ConnSlot(pub(super) Option<TxConn>);

impl std::ops::Deref for ConnSlot {
    type Target = Option<TxConn>;
    fn deref(&self) -> &Option<TxConn> {
        &self.0
    }
}

impl std::ops::DerefMut for ConnSlot {
    fn deref_mut(&mut self) -> &mut Option<TxConn> {
        &mut self.0
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            roll_back_soon(conn);
        }
    }
}

/// The locked connection of a transaction, owned so it can move into the task that runs a
/// statement.
pub(super) type ConnGuard = OwnedMutexGuard<ConnSlot>;

pub(super) fn std_lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TxShared {
    pub(super) fn new_savepoint(&self) -> String {
        format!(
            "kysera_sp_{}",
            self.next_savepoint.fetch_add(1, Ordering::Relaxed) + 1
        )
    }

    /// Opens a savepoint with a fresh name, as a statement of `scope`, and returns the name.
    /// The command runs in a task of its own; a savepoint opened for a caller that is gone is
    /// abandoned (undone before the connection's next use).
    pub(super) async fn open_savepoint(self: &Arc<Self>, scope: Option<&str>) -> Result<String> {
        let name = self.new_savepoint();
        let guard = self.lock_for(scope).await?;
        let (shared, opened) = (self.clone(), name.clone());
        let (_, _, result) = detached(
            async move {
                let mut guard = guard;
                let result = match guard.as_mut() {
                    Some(conn) => shared.open_on(conn, &opened).await,
                    None => Err(Error::TransactionClosed),
                };
                (shared, opened, result)
            },
            |(shared, name, result)| {
                if result.is_ok() {
                    shared.abandon(name);
                }
            },
        )
        .await?;
        result?;
        Ok(name)
    }

    /// Ends savepoint `name`: released (its work kept) when `keep`, else undone; a RELEASE the
    /// database refuses (PostgreSQL, after a failed statement) is undone and reported. In a task
    /// of its own, so it completes even if the caller is dropped.
    pub(super) async fn end_savepoint(self: &Arc<Self>, name: &str, keep: bool) -> Result<()> {
        let (shared, name) = (self.clone(), name.to_string());
        detached(
            async move {
                let mut guard = shared.lock().await;
                let Some(conn) = guard.as_mut() else {
                    return Err(Error::TransactionClosed);
                };
                if !keep {
                    return shared.undo(conn, &name).await;
                }
                match shared.release(conn, &name).await {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        let _ = shared.undo(conn, &name).await;
                        Err(e)
                    }
                }
            },
            drop,
        )
        .await?
    }

    /// Savepoint `name` belongs to work whose future was dropped: it is undone before the
    /// connection's next use, and the statements waiting for it to end are woken to do that.
    pub(super) fn abandon(&self, name: String) {
        std_lock(&self.abandoned).push(name);
        self.scope_closed.notify_waiters();
    }

    /// Opens savepoint `name` on a connection already held.
    pub(super) async fn open_on(&self, conn: &mut TxConn, name: &str) -> Result<()> {
        conn.run(format!("SAVEPOINT {name}")).await?;
        std_lock(&self.live).push(name.to_string());
        Ok(())
    }

    /// `name` and every newer savepoint are gone (released or rolled back).
    pub(super) fn closed(&self, name: &str) {
        {
            let mut live = std_lock(&self.live);
            if let Some(i) = live.iter().position(|n| n == name) {
                live.truncate(i);
            }
        }
        self.scope_closed.notify_waiters();
    }

    /// Locks the connection for a statement of `scope` (`None`: the outermost level), waiting
    /// while a savepoint scope opened after it is still open: that scope holds the transaction
    /// for its whole life, so its rollback can never undo work that returned `Ok` elsewhere.
    /// Work issued from inside the innermost scope's own closure belongs to that scope and runs.
    pub(super) async fn lock_for(self: &Arc<Self>, scope: Option<&str>) -> Result<ConnGuard> {
        loop {
            let closed = self.scope_closed.notified();
            tokio::pin!(closed);
            // Registered before the check, so a scope closing in between is not missed.
            closed.as_mut().enable();
            let guard = self.lock().await;
            if guard.is_none() {
                return Err(Error::TransactionClosed);
            }
            let (runs, open) = {
                let live = std_lock(&self.live);
                let innermost = live.last().map(String::as_str);
                let runs = innermost == scope || innermost.is_some_and(|n| runs_inside(self, n));
                (runs, scope.is_none_or(|s| live.iter().any(|n| n == s)))
            };
            if runs {
                return Ok(guard);
            }
            if !open {
                // The scope this executor belongs to has ended.
                return Err(Error::TransactionClosed);
            }
            drop(guard);
            closed.await;
        }
    }

    /// Releases savepoint `name` (keeping its work in the enclosing level).
    pub(super) async fn release(&self, conn: &mut TxConn, name: &str) -> Result<()> {
        // Already undone (its work abandoned, or an enclosing savepoint rolled back): releasing
        // it again would fail on the database and abort a PostgreSQL transaction.
        if !std_lock(&self.live).iter().any(|n| n == name) {
            return Err(Error::TransactionClosed);
        }
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
    pub(super) async fn lock(self: &Arc<Self>) -> ConnGuard {
        let guard = self.conn.clone().lock_owned().await;
        if std_lock(&self.abandoned).is_empty() {
            return guard;
        }
        // The undoing runs to completion in a task of its own: cut short, it could leave a
        // savepoint rolled back but still listed, and undoing it again would fail (and abort
        // a PostgreSQL transaction).
        let shared = self.clone();
        let cleaned = detached(
            async move {
                let mut guard = guard;
                if let Some(conn) = guard.as_mut() {
                    loop {
                        let next = std_lock(&shared.abandoned).first().cloned();
                        let Some(name) = next else { break };
                        let _ = shared.undo(conn, &name).await;
                        std_lock(&shared.abandoned).retain(|n| *n != name);
                    }
                }
                guard
            },
            drop,
        )
        .await;
        match cleaned {
            Ok(guard) => guard,
            // The task panicked, its guard with it: lock again.
            Err(_) => self.conn.clone().lock_owned().await,
        }
    }
}
