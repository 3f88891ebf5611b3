//! One error type for everything Kysera does, with database errors classified.
//!
//! Constraint violations are recognised on all three databases (the code tables are in
//! [`classify`]) and carry the constraint, table and columns wherever the database reports them.

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

    /// Whether the database gave up on the statement's transaction for a concurrent one, so
    /// that running it again can succeed: a serialization failure or a deadlock (SQLSTATE
    /// `40001`, which MySQL also reports for its deadlocks, and PostgreSQL's `40P01`), or
    /// SQLite's busy and locked results once its busy timeout has passed.
    pub fn is_retryable(&self) -> bool {
        let Error::Database(sqlx::Error::Database(db)) = self else {
            return false;
        };
        matches!(
            db.code().as_deref(),
            Some("40001" | "40P01" | "5" | "6" | "261" | "262" | "517" | "773")
        )
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

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        classify(err)
    }
}

/// Text between the first pair of `open`/`close` after `after` in `s`.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
fn between<'a>(s: &'a str, after: &str, open: char, close: char) -> Option<&'a str> {
    let rest = &s[s.find(after)? + after.len()..];
    let start = rest.find(open)? + open.len_utf8();
    let end = rest[start..].find(close)? + start;
    Some(&rest[start..end])
}

#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
fn split_columns(list: &str, quote: char) -> Vec<String> {
    list.split(',')
        .map(|c| c.trim().trim_matches(quote).to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

/// Turns a driver error into a Kysera error, classifying constraint violations.
///
/// The kind of violation is sqlx's own [`kind()`](sqlx::error::DatabaseError::kind) (so MariaDB's
/// error 4025 is a check violation only with SQLSTATE 23000, as sqlx decides); Kysera adds the
/// constraint, table and column names. PostgreSQL: from the error fields and the unique
/// columns from its `Key (a, b)=(…)` detail. MySQL/MariaDB: from the message. SQLite: from the
/// `table.column` list in the message.
pub fn classify(err: sqlx::Error) -> Error {
    let sqlx::Error::Database(db) = &err else {
        return match err {
            sqlx::Error::RowNotFound => Error::NotFound(None),
            sqlx::Error::ColumnDecode { index, source } => Error::Decode {
                // sqlx formats a named index with `{:?}`: show the name as written.
                column: index.trim_matches('"').to_string(),
                sql_type: None,
                rust_type: None,
                source: sqlx::Error::ColumnDecode { index, source },
            },
            other => Error::Database(other),
        };
    };
    let message = db.message().to_string();
    let mut v = ConstraintViolation {
        message: message.clone(),
        ..Default::default()
    };
    let kind = match db.kind() {
        sqlx::error::ErrorKind::UniqueViolation => Some(Kind::Unique),
        sqlx::error::ErrorKind::ForeignKeyViolation => Some(Kind::ForeignKey),
        sqlx::error::ErrorKind::NotNullViolation => Some(Kind::NotNull),
        sqlx::error::ErrorKind::CheckViolation => Some(Kind::Check),
        _ => None,
    };
    // Each compiled-in backend names the parts in its own way.
    #[cfg(feature = "postgres")]
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        v.constraint = pg.constraint().map(str::to_string);
        v.table = pg.table().map(str::to_string);
        if let Some(col) = pg.column() {
            v.columns.push(col.to_string());
        } else if let Some(detail) = pg.detail() {
            // "Key (email)=(a@b.c) already exists." / "Key (user_id)=(9) is not present in table …"
            if let Some(list) = between(detail, "Key", '(', ')') {
                v.columns = split_columns(list, '"');
            }
        }
    }
    #[cfg(feature = "mysql")]
    if db
        .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        .is_some()
    {
        match kind {
            Some(Kind::Unique) => {
                // "Duplicate entry 'x' for key 'users.email'" (MySQL 8) or "… for key 'email'"
                if let Some(key) = message
                    .rsplit("for key '")
                    .next()
                    .filter(|_| message.contains("for key '"))
                {
                    let key = key.trim_end_matches('\'');
                    match key.rsplit_once('.') {
                        Some((table, key)) => {
                            v.table = Some(table.to_string());
                            v.constraint = Some(key.to_string());
                        }
                        None => v.constraint = Some(key.to_string()),
                    }
                }
            }
            Some(Kind::ForeignKey) => {
                // "… (`db`.`child`, CONSTRAINT `fk` FOREIGN KEY (`parent_id`) REFERENCES …)"
                if let Some(c) = between(&message, "CONSTRAINT", '`', '`') {
                    v.constraint = Some(c.to_string());
                }
                if let Some(cols) = between(&message, "FOREIGN KEY", '(', ')') {
                    v.columns = split_columns(cols, '`');
                }
                // the child table is the second name of "(`db`.`child`, …"
                if let Some(start) = message.find("`.`").map(|p| p + 3)
                    && let Some(end) = message[start..].find('`')
                {
                    v.table = Some(message[start..start + end].to_string());
                }
            }
            Some(Kind::NotNull) => {
                // "Column 'name' cannot be null" / "Field 'name' doesn't have a default value"
                if let Some(c) = between(&message, "", '\'', '\'') {
                    v.columns.push(c.to_string());
                }
            }
            Some(Kind::Check) => {
                // MySQL: "Check constraint 'c' is violated." MariaDB: "CONSTRAINT `c` failed for `db`.`t`"
                if let Some(c) = between(&message, "onstraint", '\'', '\'')
                    .or_else(|| between(&message, "CONSTRAINT", '`', '`'))
                {
                    v.constraint = Some(c.to_string());
                }
                if let Some(pos) = message.find("failed for ") {
                    let rest = &message[pos..];
                    if let Some(t) = rest.rsplit('.').next() {
                        v.table = Some(t.trim_matches('`').to_string());
                    }
                }
            }
            None => {}
        }
    }
    #[cfg(feature = "sqlite")]
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // "UNIQUE constraint failed: users.email, users.org" / "NOT NULL constraint failed: t.c"
        // "CHECK constraint failed: name_len"
        if let Some(list) = message.split("constraint failed: ").nth(1) {
            if kind == Some(Kind::Check) {
                v.constraint = Some(list.trim().to_string());
            } else {
                for item in list.split(',') {
                    let item = item.trim();
                    match item.split_once('.') {
                        Some((t, c)) => {
                            v.table.get_or_insert_with(|| t.to_string());
                            v.columns.push(c.to_string());
                        }
                        None if !item.is_empty() => v.columns.push(item.to_string()),
                        None => {}
                    }
                }
            }
        }
    }
    match kind {
        Some(Kind::Unique) => Error::UniqueViolation(v),
        Some(Kind::ForeignKey) => Error::ForeignKeyViolation(v),
        Some(Kind::NotNull) => Error::NotNullViolation(v),
        Some(Kind::Check) => Error::CheckViolation(v),
        None => Error::Database(err),
    }
}

/// Which kind of constraint a violation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unique,
    ForeignKey,
    NotNull,
    Check,
}

/// The error of a failed COMMIT: the database's own refusal (the transaction was rolled back)
/// is classified as usual; anything else — the connection failed — leaves the outcome unknown.
pub(crate) fn commit_failed(e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::Database(ref db) if !connection_lost(db.as_ref()) => classify(e),
        source => Error::CommitOutcomeUnknown { source },
    }
}

/// Whether a database error ends the session rather than refusing the statement: SQLSTATE class
/// 08 (connection exception) and 57P (operator intervention: shutdown, terminated backend), a
/// PostgreSQL FATAL or PANIC, MySQL's killed connection or server shutdown.
fn connection_lost(db: &dyn sqlx::error::DatabaseError) -> bool {
    let code = db.code();
    if code
        .as_deref()
        .is_some_and(|c| c.starts_with("08") || c.starts_with("57P"))
    {
        return true;
    }
    #[cfg(feature = "postgres")]
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        use sqlx::postgres::PgSeverity;
        return matches!(pg.severity(), PgSeverity::Fatal | PgSeverity::Panic);
    }
    #[cfg(feature = "mysql")]
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        // ER_SERVER_SHUTDOWN, ER_CONNECTION_KILLED, CR_SERVER_GONE_ERROR, CR_SERVER_LOST
        return matches!(my.number(), 1053 | 1927 | 2006 | 2013);
    }
    false
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
    fn message_helpers() {
        assert_eq!(
            between("Key (a, b)=(1, 2) already exists.", "Key", '(', ')'),
            Some("a, b")
        );
        assert_eq!(split_columns("`a`, `b`", '`'), vec!["a", "b"]);
        assert_eq!(between("no key here", "Key", '(', ')'), None);
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
