//! The connection a transaction holds: savepoint commands, a rollback that happens at once
//! when a transaction is abandoned, and the library's own one-statement transactions.

use sqlx::AssertSqlSafe;

#[cfg(any(feature = "postgres", feature = "mysql"))]
use crate::core::classify::commit_failed;
use crate::core::error::{Error, Result};

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

    /// Rolls the whole transaction back.
    async fn rollback(self) -> Result<()> {
        match self {
            #[cfg(feature = "sqlite")]
            TxConn::Sqlite(tx) => tx.rollback().await,
            #[cfg(feature = "postgres")]
            TxConn::Postgres(tx) => tx.rollback().await,
            #[cfg(feature = "mysql")]
            TxConn::MySql(tx) => tx.rollback().await,
        }
        .map_err(Error::from)
    }

    /// `ROLLBACK TO` then `RELEASE` a savepoint: undoes its work and closes it.
    pub(super) async fn undo(&mut self, name: &str) -> Result<()> {
        self.run(format!("ROLLBACK TO SAVEPOINT {name}")).await?;
        self.run(format!("RELEASE SAVEPOINT {name}")).await
    }
}

/// Rolls back a transaction whose future was dropped (or whose last handle went away) now,
/// rather than when its connection is next used (sqlx's own drop only queues the ROLLBACK):
/// until then it would keep its row locks and its pool connection, and a session waiting for
/// those locks — perhaps another cancelled write — could hold the pool up until it times out.
pub(super) fn roll_back_soon(conn: TxConn) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(async move {
                let limit = std::time::Duration::from_secs(30);
                match tokio::time::timeout(limit, conn.rollback()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(target: "kysera::transaction", error = %e, "rolling back an abandoned transaction failed; its connection is closed")
                    }
                    Err(_) => {
                        tracing::warn!(target: "kysera::transaction", "rolling back an abandoned transaction timed out; its connection is closed")
                    }
                }
            });
        }
        // No runtime (the program is ending): sqlx's own drop queues the rollback.
        Err(_) => drop(conn),
    }
}

/// A transaction of the library's own (one statement's, or the MySQL emulation's) that is
/// rolled back at once if its future is dropped before it commits.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(super) struct OwnedTx(Option<TxConn>);

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl OwnedTx {
    pub(super) fn new(conn: TxConn) -> Self {
        OwnedTx(Some(conn))
    }

    /// The connection, until the transaction commits.
    pub(super) fn conn(&mut self) -> Result<&mut TxConn> {
        self.0.as_mut().ok_or(Error::TransactionClosed)
    }

    /// Commits; an error of the connection leaves the outcome unknown.
    pub(super) async fn commit(mut self) -> Result<()> {
        let conn = self.0.take().ok_or(Error::TransactionClosed)?;
        match conn {
            #[cfg(feature = "sqlite")]
            TxConn::Sqlite(tx) => tx.commit().await,
            #[cfg(feature = "postgres")]
            TxConn::Postgres(tx) => tx.commit().await,
            #[cfg(feature = "mysql")]
            TxConn::MySql(tx) => tx.commit().await,
        }
        .map_err(commit_failed)
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl Drop for OwnedTx {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            roll_back_soon(conn);
        }
    }
}

/// Runs `fut` and waits for its answer. A caller dropped while waiting leaves the rest of it
/// to a task of its own — no command is left half-done on a connection — and the answer nobody
/// waits for any more goes to `abandoned` (to roll back a transaction just begun, say).
pub(super) async fn detached<T: Send + 'static>(
    fut: impl std::future::Future<Output = T> + Send + 'static,
    abandoned: fn(T),
) -> Result<T> {
    super::finish::finish(fut, abandoned).await
}
