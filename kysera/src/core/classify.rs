//! Turning a driver's error into a [`kysera::Error`](Error): constraint violations with their
//! names, deadlocks, serialization failures and lock timeouts, lost connections — by SQLSTATE
//! and each driver's own numbers, on all three databases.

use super::error::{ConstraintViolation, Error};

impl From<sqlx::Error> for Error {
    /// The driver's error, classified: constraint violations with their names, deadlocks,
    /// serialization failures, lock timeouts, no connection or a lost one.
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
pub(crate) fn classify(err: sqlx::Error) -> Error {
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
            sqlx::Error::PoolTimedOut => Error::Unavailable(err),
            sqlx::Error::PoolClosed => Error::PoolClosed,
            // A TLS failure is most often the configuration (a certificate): not transient.
            sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => Error::ConnectionLost(err),
            other => Error::Database(other),
        };
    };
    if connection_lost(db.as_ref()) {
        return Error::ConnectionLost(err);
    }
    match concurrency(db.as_ref()) {
        Some(Concurrency::Deadlock) => return Error::Deadlock(err),
        Some(Concurrency::Serialization) => return Error::SerializationFailure(err),
        Some(Concurrency::Lock) => return Error::LockTimeout(err),
        None => {}
    }
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

/// How a statement lost to a concurrent one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Concurrency {
    Deadlock,
    Serialization,
    Lock,
}

/// Deadlocks, serialization failures and lock timeouts, by SQLSTATE or the driver's number:
/// PostgreSQL `40P01`, `40001`, `55P03`; MySQL/MariaDB 1213 (a deadlock, SQLSTATE `40001`),
/// 1205 and 3572 (lock wait, NOWAIT), 1020 and other class-40 rollbacks; SQLite busy and
/// locked (5, 6 and their extended codes).
fn concurrency(db: &dyn sqlx::error::DatabaseError) -> Option<Concurrency> {
    #[cfg(feature = "mysql")]
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return match my.number() {
            1213 => Some(Concurrency::Deadlock),
            // Lock wait timeout; NOWAIT / SKIP LOCKED refusal.
            1205 | 3572 => Some(Concurrency::Lock),
            // MariaDB's snapshot isolation (ER_CHECKREAD): the transaction was rolled back.
            1020 => Some(Concurrency::Serialization),
            // Any other transaction rollback (class 40), e.g. a group-replication conflict.
            _ if my.code().is_some_and(|c| c.starts_with("40")) => Some(Concurrency::Serialization),
            _ => None,
        };
    }
    match db.code().as_deref() {
        Some("40P01") => Some(Concurrency::Deadlock),
        Some("40001") => Some(Concurrency::Serialization),
        Some("55P03") => Some(Concurrency::Lock),
        #[cfg(feature = "sqlite")]
        Some("5" | "6" | "261" | "262" | "517" | "773")
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() =>
        {
            Some(Concurrency::Lock)
        }
        _ => None,
    }
}

/// The error of a failed connection acquire or BEGIN: nothing of the caller's work was sent,
/// so a failed or lost connection is [`Error::Unavailable`] rather than
/// [`Error::ConnectionLost`].
pub(crate) fn not_sent(e: sqlx::Error) -> Error {
    match classify(e) {
        Error::ConnectionLost(source) | Error::Database(source @ sqlx::Error::Protocol(_)) => {
            Error::Unavailable(source)
        }
        other => other,
    }
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
    // PostgreSQL says it by severity: FATAL and PANIC end the session (an ERROR of class 08
    // leaves it open). Not a session refused at its start for good — a wrong password
    // (class 28) or no such database (3D): those are not transient.
    #[cfg(feature = "postgres")]
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        use sqlx::postgres::PgSeverity;
        let permanent = pg.code().starts_with("28") || pg.code().starts_with("3D");
        return matches!(pg.severity(), PgSeverity::Fatal | PgSeverity::Panic) && !permanent;
    }
    #[cfg(feature = "mysql")]
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        // ER_SERVER_SHUTDOWN, ER_CONNECTION_KILLED, CR_SERVER_GONE_ERROR, CR_SERVER_LOST,
        // ER_CLIENT_INTERACTION_TIMEOUT
        // … and SQLSTATE class 08 (too many connections, bad handshake, …).
        return matches!(my.number(), 1053 | 1927 | 2006 | 2013 | 4031)
            || my.code().is_some_and(|c| c.starts_with("08"));
    }
    db.code()
        .as_deref()
        .is_some_and(|c| c.starts_with("08") || c.starts_with("57P"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn driver_failures_say_what_happened_to_the_work() {
        let io = || sqlx::Error::Io(std::io::ErrorKind::UnexpectedEof.into());
        assert!(matches!(classify(io()), Error::ConnectionLost(_)));
        assert!(matches!(not_sent(io()), Error::Unavailable(_)));
        assert!(matches!(
            classify(sqlx::Error::PoolTimedOut),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            classify(sqlx::Error::PoolClosed),
            Error::PoolClosed
        ));
        assert!(matches!(
            commit_failed(io()),
            Error::CommitOutcomeUnknown { .. }
        ));
    }
}
