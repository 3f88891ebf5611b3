//! One error type for everything Kysera does, with database errors classified.
//!
//! Constraint violations, deadlocks, lock timeouts and lost connections are recognised on all
//! three databases (`core::classify`, through `From<sqlx::Error>`); constraint violations carry the
//! constraint, table and columns wherever the database reports them.

use std::fmt;

/// The result type used throughout Kysera.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in Kysera.
///
/// Database constraint violations are classified into their own variants so that callers can
/// react to them without parsing messages:
///
/// ```
/// # fn handle(err: kysera::Error) -> &'static str {
/// match err {
///     kysera::Error::UniqueViolation(v) => {
///         // v.columns lists the duplicated columns where the database says which they are
///         "duplicate"
///     }
///     kysera::Error::ForeignKeyViolation(_) => "missing parent",
///     _ => "other",
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection URL could not be used.
    #[error("invalid database URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL, with any password replaced by `***`.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The database could not be reached or refused the connection.
    #[error("could not connect to `{url}`")]
    Connection {
        /// The URL, with any password replaced by `***`.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A row would have duplicated a unique or primary key.
    #[error("unique constraint violated: {0}")]
    UniqueViolation(ConstraintViolation),
    /// A foreign key has no matching parent row, or a parent row still has children.
    #[error("foreign key constraint violated: {0}")]
    ForeignKeyViolation(ConstraintViolation),
    /// A NOT NULL column was given no value.
    #[error("not-null constraint violated: {0}")]
    NotNullViolation(ConstraintViolation),
    /// A CHECK constraint failed.
    #[error("check constraint violated: {0}")]
    CheckViolation(ConstraintViolation),
    /// Any other error reported by the database or the driver (the driver's error is the
    /// [`source`](std::error::Error::source)).
    #[error("the database or its driver reported an error")]
    Database(#[source] sqlx::Error),
    /// The database broke a deadlock by undoing this statement's transaction (PostgreSQL
    /// `40P01`; MySQL/MariaDB error 1213, SQLSTATE `40001`). Nothing of the transaction stays:
    /// running the whole transaction again can succeed ([`is_retryable`](Error::is_retryable)).
    #[error("deadlock: the database undid the transaction to break it; run the transaction again")]
    Deadlock(#[source] sqlx::Error),
    /// The transaction conflicted with a concurrent one under its isolation level and was undone
    /// (PostgreSQL `40001`, as `REPEATABLE READ` and `SERIALIZABLE` report it). Running the whole
    /// transaction again can succeed.
    #[error(
        "serialization failure: the transaction conflicted with a concurrent one and was undone; run the transaction again"
    )]
    SerializationFailure(#[source] sqlx::Error),
    /// A lock could not be had in time, so the statement was refused: MySQL/MariaDB error 1205
    /// (lock wait timeout: only the statement is undone, the transaction stays open),
    /// PostgreSQL `55P03` (`lock_timeout`, `NOWAIT`), SQLite busy or locked once its busy
    /// timeout has passed. Running it again can succeed.
    #[error("a lock could not be had in time; the statement was refused")]
    LockTimeout(#[source] sqlx::Error),
    /// No connection could be had (the pool timed out waiting for one, or opening one failed):
    /// nothing was sent, so running the work again is safe.
    #[error("no connection to the database could be had; nothing was sent")]
    Unavailable(#[source] sqlx::Error),
    /// The connection failed while the statement ran (killed by an administrator, the server
    /// shut down, the network cut): the statement may or may not have taken effect, so it is
    /// not retried blindly. Inside a transaction, the database undoes the whole transaction.
    #[error("the connection was lost while the statement ran; it may or may not have taken effect")]
    ConnectionLost(#[source] sqlx::Error),
    /// A [circuit breaker](crate::infra::CircuitBreaker) is open after repeated failures: the
    /// call was refused without reaching the database.
    #[error(
        "circuit breaker `{name}` is open after repeated failures; calls are refused for {retry_after:?}"
    )]
    CircuitOpen {
        /// The breaker's name.
        name: String,
        /// How long until the breaker lets a trial call through.
        retry_after: std::time::Duration,
    },
    /// The process's termination signals (SIGINT, SIGTERM) could not be listened for (see
    /// [`infra::shutdown_on_signal`](crate::infra::shutdown_on_signal)): the tokio runtime has
    /// no I/O driver, or the operating system refused.
    #[error("could not listen for termination signals")]
    Signal(#[source] std::io::Error),
    /// The executor's pool was closed (see [`infra::shutdown`](crate::infra::shutdown)): it
    /// takes no new work.
    #[error("the connection pool is closed (shutting down); no new work is accepted")]
    PoolClosed,
    /// A value read from a row could not be decoded into the requested Rust type: the column,
    /// its SQL type and the Rust type asked for (when known), with the driver's error as the
    /// source.
    #[error(
        "could not decode column `{column}`{}{}",
        .sql_type.as_deref().map(|t| format!(" of SQL type {t}")).unwrap_or_default(),
        .rust_type.as_deref().map(|t| format!(" as Rust type `{t}`")).unwrap_or_default()
    )]
    #[non_exhaustive]
    Decode {
        /// The column name or index.
        column: String,
        /// The column's SQL type as the database reported it (`INT4`, `TEXT`, …), when known.
        sql_type: Option<String>,
        /// The Rust type the column was read as (`i64`, `DateTime<Utc>`, …), when known.
        rust_type: Option<String>,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A query that must return a row returned none.
    #[error("no row found{}", .0.as_deref().map(|w| format!(": {w}")).unwrap_or_default())]
    NotFound(Option<String>),
    /// The plugin list given to an executor is inconsistent (duplicate, missing dependency,
    /// conflict, or dependency cycle).
    #[error("invalid plugin configuration: {0}")]
    PluginConfig(String),
    /// A plugin refused to let a query run.
    #[error("query refused by plugin `{plugin}`: {reason}")]
    Rejected {
        /// The plugin that refused.
        plugin: String,
        /// Why.
        reason: String,
    },
    /// The query cannot be expressed as SQL (for example an insert row with the wrong number of
    /// values).
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// The query is valid but the current database cannot run it (for example a FULL OUTER JOIN
    /// on MySQL).
    #[error("not supported on {dialect}: {what}")]
    Unsupported {
        /// The database dialect.
        dialect: crate::core::sql::Dialect,
        /// What is unsupported.
        what: String,
    },
    /// Create or update input failed the model's validation rules; nothing was sent to the
    /// database.
    #[error("validation failed: {0}")]
    Validation(crate::core::input::ValidationErrors),
    /// A pagination cursor was refused.
    #[error("invalid cursor: {0}")]
    InvalidCursor(crate::core::input::CursorError),
    /// A query on a row-level-security table ran outside any auth context (see
    /// [`rls::with_context`](crate::rls::with_context)); it is refused rather than run unfiltered.
    #[error(
        "no auth context for a query on `{table}`: run it inside kysera::rls::with_context (or rls::as_system)"
    )]
    NoAuthContext {
        /// The protected table.
        table: String,
    },
    /// A row-level-security policy refused the statement.
    #[error("access denied: {operation:?} on `{table}`: {reason}")]
    AccessDenied {
        /// The protected table.
        table: String,
        /// What the statement does.
        operation: crate::core::sql::Operation,
        /// Why it was refused.
        reason: String,
    },
    /// A transaction handle was used after its transaction had ended.
    #[error("the transaction has already been committed or rolled back")]
    TransactionClosed,
    /// The connection was lost while a transaction committed: the database may or may not have
    /// committed it, and the client cannot tell. Do not assume either outcome: check the data
    /// (or make the write idempotent) before retrying. The driver's error is the source.
    #[error("the outcome of a commit is unknown: the connection failed while it committed")]
    CommitOutcomeUnknown {
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A nested transaction was opened on an outer transaction's executor from inside another
    /// nested transaction still open on it: it would wait for itself. Use the executor the
    /// enclosing nested transaction's closure received.
    #[error(
        "a transaction was opened on an outer executor from inside a nested transaction that is still open; use the executor its closure received"
    )]
    TransactionInUse,
    /// A statement on a pool of one connection (an in-memory SQLite database) was issued from
    /// inside a transaction that holds that connection: it could never run. Use the executor the
    /// transaction's closure received.
    #[error(
        "the pool's only connection is held by the transaction this runs inside (an in-memory SQLite database has one connection); use the executor the transaction's closure received"
    )]
    ConnectionHeldByTransaction,
    /// The transaction was rolled back instead of committed: a savepoint inside it could not be
    /// undone, so it may hold work that was meant to be undone. Nothing of it was committed.
    #[error(
        "the transaction was rolled back instead of committed: a savepoint inside it could not be undone"
    )]
    TransactionPoisoned,
    /// A row could not be re-created from an audit entry: these columns are excluded from the
    /// audit (the entry holds no value for them) and the row requires one. Nothing was written;
    /// pass them to `restore_from_audit_with`.
    #[error(
        "cannot re-create the row of audit entry {entry_id} in `{table}`: {} excluded from the audit and required; pass {} to restore_from_audit_with",
        list(columns),
        if columns.len() == 1 { "it" } else { "them" }
    )]
    RestoreIncomplete {
        /// The model's table.
        table: String,
        /// The audit entry.
        entry_id: i64,
        /// The excluded, required columns.
        columns: Vec<String>,
    },
    /// A model does not match its live table
    /// ([`SchemaReport::into_result`](crate::dialect::SchemaReport::into_result)).
    #[error("{model} does not match table `{table}`: {}", differences.join("; "))]
    SchemaDrift {
        /// The model.
        model: String,
        /// Its table.
        table: String,
        /// Each difference that breaks reads or writes.
        differences: Vec<String>,
    },
    /// Rows changed between the moment a write read them and the moment it changed them (another
    /// session got there first), so the write could not record exactly what it changed. Nothing
    /// was written; retry the write.
    #[error(
        "{changed} of {expected} rows of `{table}` changed while the {operation} ran; nothing was written"
    )]
    ConcurrentChange {
        /// The table written.
        table: String,
        /// The write (`update`, `delete`, `soft_delete`, …).
        operation: String,
        /// The rows the write read.
        expected: u64,
        /// The rows the statement then changed.
        changed: u64,
    },
    /// A model needs a plugin the executor does not have (an `#[audit]`ed model written through
    /// an executor without [`Audit`](crate::audit::Audit)): refused rather than left unrecorded.
    #[error("{model} needs the `{plugin}` plugin, which the executor does not have: {help}")]
    MissingPlugin {
        /// The plugin's name.
        plugin: String,
        /// The model that needs it.
        model: String,
        /// How to add it.
        help: String,
    },
    /// A migration could not run, or the set of migrations does not match the database's
    /// history (a migration changed after it was applied, two with one version, a step without
    /// a `down`).
    #[error("migration {version} `{name}`: {reason}")]
    Migration {
        /// The migration's version.
        version: i64,
        /// Its name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// Two models of one table declare different behaviour columns (soft delete, timestamps,
    /// tenant): the table's policy would depend on which model is seen first, so every query on
    /// the table is refused until the models agree.
    #[error("models `{first}` and `{second}` of table `{table}` disagree: {what}")]
    ConflictingModels {
        /// The table.
        table: String,
        /// The model registered first.
        first: String,
        /// The model that disagrees.
        second: String,
        /// What they declare differently.
        what: String,
    },
}

impl Error {
    /// The variant's name (`"UniqueViolation"`, `"Deadlock"`, …): a stable, low-cardinality
    /// label for logs and metrics (the `error.kind` of a statement's span).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Error::InvalidUrl { .. } => "InvalidUrl",
            Error::Connection { .. } => "Connection",
            Error::UniqueViolation(_) => "UniqueViolation",
            Error::ForeignKeyViolation(_) => "ForeignKeyViolation",
            Error::NotNullViolation(_) => "NotNullViolation",
            Error::CheckViolation(_) => "CheckViolation",
            Error::Deadlock(_) => "Deadlock",
            Error::SerializationFailure(_) => "SerializationFailure",
            Error::LockTimeout(_) => "LockTimeout",
            Error::Unavailable(_) => "Unavailable",
            Error::ConnectionLost(_) => "ConnectionLost",
            Error::CircuitOpen { .. } => "CircuitOpen",
            Error::Signal(_) => "Signal",
            Error::PoolClosed => "PoolClosed",
            Error::Database(_) => "Database",
            Error::Decode { .. } => "Decode",
            Error::NotFound(_) => "NotFound",
            Error::PluginConfig(_) => "PluginConfig",
            Error::Rejected { .. } => "Rejected",
            Error::InvalidQuery(_) => "InvalidQuery",
            Error::Unsupported { .. } => "Unsupported",
            Error::Validation(_) => "Validation",
            Error::InvalidCursor(_) => "InvalidCursor",
            Error::NoAuthContext { .. } => "NoAuthContext",
            Error::AccessDenied { .. } => "AccessDenied",
            Error::TransactionClosed => "TransactionClosed",
            Error::CommitOutcomeUnknown { .. } => "CommitOutcomeUnknown",
            Error::TransactionInUse => "TransactionInUse",
            Error::ConnectionHeldByTransaction => "ConnectionHeldByTransaction",
            Error::TransactionPoisoned => "TransactionPoisoned",
            Error::RestoreIncomplete { .. } => "RestoreIncomplete",
            Error::SchemaDrift { .. } => "SchemaDrift",
            Error::ConcurrentChange { .. } => "ConcurrentChange",
            Error::MissingPlugin { .. } => "MissingPlugin",
            Error::Migration { .. } => "Migration",
            Error::ConflictingModels { .. } => "ConflictingModels",
        }
    }

    /// The constraint details, if this is one of the four constraint-violation variants.
    pub fn constraint_violation(&self) -> Option<&ConstraintViolation> {
        match self {
            Error::UniqueViolation(v)
            | Error::ForeignKeyViolation(v)
            | Error::NotNullViolation(v)
            | Error::CheckViolation(v) => Some(v),
            _ => None,
        }
    }

    /// Whether running the work again can succeed and is safe: a [deadlock](Error::Deadlock),
    /// a [serialization failure](Error::SerializationFailure), a [lock
    /// timeout](Error::LockTimeout), or [no connection](Error::Unavailable) (nothing was sent).
    /// Never a constraint violation, nor a [lost connection](Error::ConnectionLost) (the
    /// statement may have run), nor an open circuit breaker (waiting is its point).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Deadlock(_)
                | Error::SerializationFailure(_)
                | Error::LockTimeout(_)
                | Error::Unavailable(_)
        )
    }

    /// Whether the database undid the whole transaction the failed statement ran in (a
    /// deadlock or a serialization failure), as opposed to refusing only the statement.
    pub fn undid_transaction(&self) -> bool {
        matches!(self, Error::Deadlock(_) | Error::SerializationFailure(_))
    }

    /// Whether the error says the database could not be reached or the connection failed
    /// (what a [circuit breaker](crate::infra::CircuitBreaker) counts as a failure): no
    /// connection, a lost connection, a commit with an unknown outcome, a failed connect.
    /// Not an error the database answered with (a constraint, a deadlock, bad SQL).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Unavailable(_)
            | Error::ConnectionLost(_)
            | Error::CommitOutcomeUnknown { .. }
            | Error::Connection { .. } => true,
            Error::Database(e) => matches!(
                e,
                sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::Protocol(_)
                    | sqlx::Error::WorkerCrashed
                    | sqlx::Error::PoolTimedOut
            ),
            _ => false,
        }
    }

    /// A plugin's refusal, for use inside [`Plugin::intercept`](crate::Plugin::intercept).
    pub fn rejected(plugin: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Rejected {
            plugin: plugin.into(),
            reason: reason.into(),
        }
    }
}

/// Details of a constraint violation, as far as the database reports them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConstraintViolation {
    /// The constraint (or index) name.
    pub constraint: Option<String>,
    /// The table the constraint belongs to.
    pub table: Option<String>,
    /// The columns involved, in the order the database lists them.
    pub columns: Vec<String>,
    /// The database's own message.
    pub message: String,
}

impl fmt::Display for ConstraintViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(c) = &self.constraint {
            write!(f, " (constraint `{c}`)")?;
        }
        Ok(())
    }
}

/// `a`, `` `a` and `b` ``, `` `a`, `b` and `c` ``, with "is"/"are" to follow.
fn list(columns: &[String]) -> String {
    let quoted: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
    match quoted.split_last() {
        None => "no column is".into(),
        Some((only, [])) => format!("{only} is"),
        Some((last, rest)) => format!("{} and {last} are", rest.join(", ")),
    }
}

/// Replaces the password of a URL with `***` so it can be shown in errors and logs.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    // The user info ends at the last `@` (a password may hold an unescaped `/`, `?` or `@`).
    let Some(at) = rest.rfind('@') else {
        return url.to_string();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_does_not_repeat_the_source() {
        use std::error::Error as _;
        let cause = sqlx::Error::PoolTimedOut;
        let cause_text = cause.to_string();
        for e in [
            Error::Database(sqlx::Error::PoolTimedOut),
            Error::Connection {
                url: "postgres://u:***@h/db".into(),
                source: sqlx::Error::PoolTimedOut,
            },
            Error::Decode {
                column: "c".into(),
                sql_type: Some("INT4".into()),
                rust_type: Some("i64".into()),
                source: sqlx::Error::PoolTimedOut,
            },
        ] {
            assert!(!e.to_string().contains(&cause_text), "{e}");
            assert_eq!(e.source().map(|s| s.to_string()), Some(cause_text.clone()));
        }
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(
            redact_url("mysql://root:p@ss@h/db"),
            "mysql://root:***@h/db"
        );
        assert_eq!(
            redact_url("postgres://u:a/b?c@h/db"),
            "postgres://u:***@h/db"
        );
    }
}
