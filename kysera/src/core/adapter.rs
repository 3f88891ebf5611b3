//! What differs between the three databases, in one place: an [`Adapter`] per dialect
//! (`getAdapter` in the TypeScript Kysera) with identifier escaping, the SQL of the current
//! time, how a date-time is written, and the facts the rest of the library asks about
//! (`RETURNING`, transactional DDL, the bind-parameter limit, row locks).

use chrono::{DateTime, SecondsFormat, Utc};

use super::error::{Error, Result};
use super::sql::Dialect;

/// One database's rules and facts. Get it with [`Dialect::adapter`] (or
/// `db.dialect().adapter()` for an executor's database).
///
/// ```
/// use kysera::Dialect;
/// let pg = Dialect::Postgres.adapter();
/// assert_eq!(pg.escape_identifier("order \"items\"")?, r#""order ""items""""#);
/// assert_eq!(Dialect::MySql.adapter().escape_identifier("a`b")?, "`a``b`");
/// assert!(pg.escape_identifier("nul\0").is_err());
/// assert_eq!(Dialect::Sqlite.adapter().max_bind_parameters(), 32_766);
/// # Ok::<(), kysera::Error>(())
/// ```
pub trait Adapter: Send + Sync + 'static {
    /// The database.
    fn dialect(&self) -> Dialect;

    /// The character identifiers are quoted with: `"` (PostgreSQL, SQLite) or `` ` `` (MySQL).
    fn identifier_quote(&self) -> char;

    /// `name` quoted as an identifier, the way the query lowering writes it: the quote
    /// character doubled inside. A NUL character is an error (SQLite would cut the statement
    /// there, PostgreSQL's protocol refuses it), as is an empty name.
    fn escape_identifier(&self, name: &str) -> Result<String> {
        if name.is_empty() || name.contains('\0') {
            return Err(Error::InvalidQuery(format!(
                "`{}` cannot be an identifier: it is empty or holds a NUL character",
                name.escape_debug()
            )));
        }
        let q = self.identifier_quote();
        let mut out = String::with_capacity(name.len() + 2);
        out.push(q);
        for ch in name.chars() {
            if ch == q {
                out.push(q);
            }
            out.push(ch);
        }
        out.push(q);
        Ok(out)
    }

    /// A schema-qualified name (`schema.table`) quoted part by part; a name without a dot is
    /// quoted whole.
    fn escape_qualified(&self, name: &str) -> Result<String> {
        match name.split_once('.') {
            Some((schema, table)) => Ok(format!(
                "{}.{}",
                self.escape_identifier(schema)?,
                self.escape_identifier(table)?
            )),
            None => self.escape_identifier(name),
        }
    }

    /// The SQL expression of the current date and time, with time zone where the database
    /// has one.
    fn current_timestamp(&self) -> &'static str;

    /// `t` as text this database reads back as the same instant, in the form Kysera stores it
    /// (the form text comparisons on SQLite, where dates are text, depend on).
    fn format_datetime(&self, t: &DateTime<Utc>) -> String;

    /// Whether `INSERT … RETURNING` and `UPDATE … RETURNING` exist (MySQL: no; MariaDB 10.5+
    /// has it for inserts and deletes, which the executor finds out when it connects).
    fn supports_returning(&self) -> bool;

    /// Whether DDL (CREATE, ALTER, DROP) takes part in transactions (MySQL commits it at once).
    fn transactional_ddl(&self) -> bool;

    /// The most parameters one statement may bind.
    fn max_bind_parameters(&self) -> usize;

    /// Whether `SELECT … FOR UPDATE` locks rows (SQLite has no row locks: a writer holds the
    /// whole database).
    fn row_locks(&self) -> bool;

    /// The longest identifier the database keeps whole (PostgreSQL cuts longer ones to 63
    /// bytes; `usize::MAX` where there is no practical limit).
    fn max_identifier_length(&self) -> usize;
}

struct Postgres;
struct MySql;
struct Sqlite;

impl Adapter for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn identifier_quote(&self) -> char {
        '"'
    }
    fn current_timestamp(&self) -> &'static str {
        "CURRENT_TIMESTAMP"
    }
    fn format_datetime(&self, t: &DateTime<Utc>) -> String {
        t.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string()
    }
    fn supports_returning(&self) -> bool {
        true
    }
    fn transactional_ddl(&self) -> bool {
        true
    }
    fn max_bind_parameters(&self) -> usize {
        65_535
    }
    fn row_locks(&self) -> bool {
        true
    }
    fn max_identifier_length(&self) -> usize {
        63
    }
}

impl Adapter for MySql {
    fn dialect(&self) -> Dialect {
        Dialect::MySql
    }
    fn identifier_quote(&self) -> char {
        '`'
    }
    fn current_timestamp(&self) -> &'static str {
        "CURRENT_TIMESTAMP(6)"
    }
    fn format_datetime(&self, t: &DateTime<Utc>) -> String {
        // A DATETIME holds the UTC wall time (see `query::bind::for_mysql`).
        t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
    fn supports_returning(&self) -> bool {
        false
    }
    fn transactional_ddl(&self) -> bool {
        false
    }
    fn max_bind_parameters(&self) -> usize {
        65_535
    }
    fn row_locks(&self) -> bool {
        true
    }
    fn max_identifier_length(&self) -> usize {
        64
    }
}

impl Adapter for Sqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
    fn identifier_quote(&self) -> char {
        '"'
    }
    fn current_timestamp(&self) -> &'static str {
        "CURRENT_TIMESTAMP"
    }
    fn format_datetime(&self, t: &DateTime<Utc>) -> String {
        // What the driver writes for a `DateTime<Utc>` parameter.
        t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
    }
    fn supports_returning(&self) -> bool {
        true
    }
    fn transactional_ddl(&self) -> bool {
        true
    }
    fn max_bind_parameters(&self) -> usize {
        32_766
    }
    fn row_locks(&self) -> bool {
        false
    }
    fn max_identifier_length(&self) -> usize {
        usize::MAX
    }
}

impl Dialect {
    /// This database's [`Adapter`].
    pub fn adapter(self) -> &'static dyn Adapter {
        match self {
            Dialect::Postgres => &Postgres,
            Dialect::MySql => &MySql,
            Dialect::Sqlite => &Sqlite,
        }
    }
}
