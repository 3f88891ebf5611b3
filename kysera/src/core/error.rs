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
    #[error("could not connect to `{url}`: {source}")]
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
    /// Any other error reported by the database or the driver.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// A value read from a row could not be decoded into the requested Rust type.
    #[error("could not decode column `{column}`: {source}")]
    Decode {
        /// The column name or index.
        column: String,
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

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        classify(err)
    }
}

/// Which kind of constraint a database error code stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unique,
    ForeignKey,
    NotNull,
    Check,
}

/// PostgreSQL SQLSTATE codes (class 23, integrity constraint violation).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
fn pg_kind(code: &str) -> Option<Kind> {
    match code {
        "23505" => Some(Kind::Unique),
        "23503" => Some(Kind::ForeignKey),
        "23502" => Some(Kind::NotNull),
        "23514" => Some(Kind::Check),
        _ => None,
    }
}

/// MySQL / MariaDB error numbers.
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
fn mysql_kind(number: u16) -> Option<Kind> {
    match number {
        // ER_DUP_ENTRY, ER_DUP_ENTRY_WITH_KEY_NAME
        1062 | 1586 => Some(Kind::Unique),
        // ER_ROW_IS_REFERENCED(_2), ER_NO_REFERENCED_ROW(_2)
        1216 | 1217 | 1451 | 1452 => Some(Kind::ForeignKey),
        // ER_BAD_NULL_ERROR, ER_NO_DEFAULT_FOR_FIELD
        1048 | 1364 => Some(Kind::NotNull),
        // ER_CHECK_CONSTRAINT_VIOLATED (MySQL 8), ER_CONSTRAINT_FAILED (MariaDB)
        3819 | 4025 => Some(Kind::Check),
        _ => None,
    }
}

/// SQLite extended result codes.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
fn sqlite_kind(code: &str) -> Option<Kind> {
    match code {
        // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY
        "2067" | "1555" => Some(Kind::Unique),
        "787" => Some(Kind::ForeignKey),
        "1299" => Some(Kind::NotNull),
        "275" => Some(Kind::Check),
        _ => None,
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
/// PostgreSQL: SQLSTATE 23505 / 23503 / 23502 / 23514, with constraint, table and column from the
/// error fields and the unique columns from its `Key (a, b)=(…)` detail. MySQL/MariaDB: error
/// numbers 1062, 1451/1452, 1048/1364, 3819/4025, details from the message. SQLite: extended
/// codes 2067/1555, 787, 1299, 275, details from the `table.column` list in the message.
pub fn classify(err: sqlx::Error) -> Error {
    let sqlx::Error::Database(db) = &err else {
        return match err {
            sqlx::Error::RowNotFound => Error::NotFound(None),
            sqlx::Error::ColumnDecode { index, source } => Error::Decode {
                column: index.clone(),
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
    // Each compiled-in backend recognises its own errors.
    let mut kind = None;
    #[cfg(feature = "postgres")]
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        v.constraint = pg.constraint().map(str::to_string);
        v.table = pg.table().map(str::to_string);
        let found = pg_kind(pg.code());
        if let Some(col) = pg.column() {
            v.columns.push(col.to_string());
        } else if let Some(detail) = pg.detail() {
            // "Key (email)=(a@b.c) already exists." / "Key (user_id)=(9) is not present in table …"
            if let Some(list) = between(detail, "Key", '(', ')') {
                v.columns = split_columns(list, '"');
            }
        }
        kind = found;
    }
    #[cfg(feature = "mysql")]
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        let found = mysql_kind(my.number());
        match found {
            Some(Kind::Unique) => {
                // "Duplicate entry 'x' for key 'users.email'" (MySQL 8) or "… for key 'email'"
                if let Some(key) = message
                    .rsplit("for key '")
                    .next()
                    .filter(|_| message.contains("for key '"))
                {
                    let key = key.trim_end_matches('\'');
                    let key = key.rsplit('.').next().unwrap_or(key);
                    v.constraint = Some(key.to_string());
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
        kind = found;
    }
    #[cfg(feature = "sqlite")]
    if let Some(code) = db
        .code()
        .filter(|_| db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some())
    {
        let found = sqlite_kind(&code);
        // "UNIQUE constraint failed: users.email, users.org" / "NOT NULL constraint failed: t.c"
        // "CHECK constraint failed: name_len"
        if let Some(list) = message.split("constraint failed: ").nth(1) {
            if found == Some(Kind::Check) {
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
        kind = found;
    }
    match kind {
        Some(Kind::Unique) => Error::UniqueViolation(v),
        Some(Kind::ForeignKey) => Error::ForeignKeyViolation(v),
        Some(Kind::NotNull) => Error::NotNullViolation(v),
        Some(Kind::Check) => Error::CheckViolation(v),
        None => Error::Database(err),
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
    fn code_tables() {
        assert_eq!(pg_kind("23505"), Some(Kind::Unique));
        assert_eq!(pg_kind("23503"), Some(Kind::ForeignKey));
        assert_eq!(pg_kind("23502"), Some(Kind::NotNull));
        assert_eq!(pg_kind("23514"), Some(Kind::Check));
        assert_eq!(pg_kind("42P01"), None);
        assert_eq!(mysql_kind(1062), Some(Kind::Unique));
        assert_eq!(mysql_kind(1452), Some(Kind::ForeignKey));
        assert_eq!(mysql_kind(1048), Some(Kind::NotNull));
        assert_eq!(mysql_kind(4025), Some(Kind::Check));
        assert_eq!(mysql_kind(1146), None);
        assert_eq!(sqlite_kind("2067"), Some(Kind::Unique));
        assert_eq!(sqlite_kind("1555"), Some(Kind::Unique));
        assert_eq!(sqlite_kind("787"), Some(Kind::ForeignKey));
        assert_eq!(sqlite_kind("1299"), Some(Kind::NotNull));
        assert_eq!(sqlite_kind("275"), Some(Kind::Check));
        assert_eq!(sqlite_kind("1"), None);
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
