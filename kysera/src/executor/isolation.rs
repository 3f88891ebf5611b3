//! Transaction isolation levels: [`Executor::with_isolation`] and the BEGIN each database needs.

use super::Executor;

/// The isolation level a transaction begins with (SQL's four). Without one, a transaction gets
/// the database's default: READ COMMITTED on PostgreSQL, REPEATABLE READ on MySQL/MariaDB.
/// SQLite transactions are always serializable, which meets every level, so the level changes
/// nothing there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IsolationLevel {
    /// `READ UNCOMMITTED` (PostgreSQL runs it as READ COMMITTED).
    ReadUncommitted,
    /// `READ COMMITTED`.
    ReadCommitted,
    /// `REPEATABLE READ`.
    RepeatableRead,
    /// `SERIALIZABLE`: the database refuses a transaction whose outcome no serial order
    /// could give, with [`Error::SerializationFailure`](crate::Error::SerializationFailure)
    /// on PostgreSQL and usually [`Error::Deadlock`](crate::Error::Deadlock) on MySQL (whose
    /// serializable reads take shared locks); run it with
    /// [`infra::transaction_with_retry`](crate::infra::transaction_with_retry).
    Serializable,
}

impl IsolationLevel {
    fn sql(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "READ UNCOMMITTED",
            IsolationLevel::ReadCommitted => "READ COMMITTED",
            IsolationLevel::RepeatableRead => "REPEATABLE READ",
            IsolationLevel::Serializable => "SERIALIZABLE",
        }
    }

    /// PostgreSQL's BEGIN at this level.
    #[cfg(feature = "postgres")]
    pub(super) fn postgres_begin(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "BEGIN ISOLATION LEVEL READ UNCOMMITTED",
            IsolationLevel::ReadCommitted => "BEGIN ISOLATION LEVEL READ COMMITTED",
            IsolationLevel::RepeatableRead => "BEGIN ISOLATION LEVEL REPEATABLE READ",
            IsolationLevel::Serializable => "BEGIN ISOLATION LEVEL SERIALIZABLE",
        }
    }

    /// MySQL's: the level of the next transaction, then the transaction (one round trip).
    #[cfg(feature = "mysql")]
    pub(super) fn mysql_begin(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => {
                "SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED; START TRANSACTION"
            }
            IsolationLevel::ReadCommitted => {
                "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION"
            }
            IsolationLevel::RepeatableRead => {
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; START TRANSACTION"
            }
            IsolationLevel::Serializable => {
                "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE; START TRANSACTION"
            }
        }
    }
}

impl std::fmt::Display for IsolationLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.sql())
    }
}

impl Executor {
    /// A new executor over the same pool and plugins whose transactions begin at `level`
    /// (outermost ones: a nested transaction is a savepoint of its outer one and has its level;
    /// asking a nested one for another level is an [`Error::InvalidQuery`](crate::Error::InvalidQuery)).
    ///
    /// ```no_run
    /// use kysera::IsolationLevel;
    /// use kysera::infra::{transaction_with_retry, RetryPolicy};
    /// # async fn f(db: kysera::Executor) -> kysera::Result<()> {
    /// let serializable = db.with_isolation(IsolationLevel::Serializable);
    /// transaction_with_retry(&serializable, &RetryPolicy::default(), |tx| async move {
    ///     // … reads and writes that must behave as if no other transaction ran …
    ///     # let _ = tx;
    ///     Ok(())
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub fn with_isolation(&self, level: IsolationLevel) -> Executor {
        Executor {
            isolation: Some(level),
            ..self.clone()
        }
    }

    /// The isolation level this executor's transactions begin with (`None`: the database's
    /// default), or, inside a transaction, the level it began with.
    pub fn isolation(&self) -> Option<IsolationLevel> {
        match &self.tx {
            Some(h) => h.shared.isolation,
            None => self.isolation,
        }
    }
}
