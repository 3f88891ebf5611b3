//! `with_debug` (`withDebug`): an executor whose statements are logged — formatted, with their
//! values when asked, how long they took and how many rows — to `tracing` or to a
//! [`QueryLog`] that code (and tests) can read.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::format::format_sql;
use crate::executor::{Executor, QueryObserver, StatementEvent};

/// What [`Executor::with_debug`] logs, and where.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DebugOptions {
    /// Log the bound values too (off: they can be personal data).
    pub values: bool,
    /// Lay the SQL out on lines ([`format_sql`]) (off).
    pub formatted: bool,
    /// Where the entries go: this log, or (`None`) `tracing` at `info`, target `kysera::debug`.
    pub log: Option<QueryLog>,
}

impl DebugOptions {
    /// Logs the bound values too.
    pub fn values(mut self, on: bool) -> Self {
        self.values = on;
        self
    }
    /// Lays the SQL out on lines.
    pub fn formatted(mut self, on: bool) -> Self {
        self.formatted = on;
        self
    }
    /// Sends the entries to `log` instead of `tracing`.
    pub fn log_to(mut self, log: &QueryLog) -> Self {
        self.log = Some(log.clone());
        self
    }
}

/// Statements logged by [`Executor::with_debug`], in the order they ended. Cheap to clone:
/// clones share the entries.
#[derive(Debug, Clone, Default)]
pub struct QueryLog {
    entries: Arc<Mutex<Vec<LoggedQuery>>>,
}

/// One logged statement.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LoggedQuery {
    /// The SQL (formatted if asked).
    pub sql: String,
    /// The bound values, shown as SQL literals would be, when asked for.
    pub values: Option<Vec<String>>,
    /// How long it took (plugins and database).
    pub duration: Duration,
    /// Rows returned or changed.
    pub rows: Option<u64>,
    /// The error, when it failed: its kind (`UniqueViolation`, …), or its whole message when
    /// values are logged (a database's message can quote the values).
    pub error: Option<String>,
}

impl QueryLog {
    /// An empty log.
    pub fn new() -> Self {
        QueryLog::default()
    }
    /// The entries so far.
    pub fn entries(&self) -> Vec<LoggedQuery> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
    /// Empties it.
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

struct Logger(DebugOptions);

impl QueryObserver for Logger {
    fn wants_values(&self) -> bool {
        self.0.values
    }

    fn on_statement(&self, e: &StatementEvent<'_>) {
        let sql = if self.0.formatted {
            format_sql(e.sql)
        } else {
            e.sql.to_string()
        };
        let entry = LoggedQuery {
            sql,
            values: e
                .values
                .filter(|_| self.0.values)
                .map(|vs| vs.iter().map(|v| v.to_string()).collect()),
            duration: e.plugin_time + e.database_time,
            rows: e.rows,
            // A database's message can quote a value ("Duplicate entry 'a@b.c'"): the error's
            // kind only, unless values were asked for.
            error: e.error.map(|err| {
                if self.0.values {
                    err.to_string()
                } else {
                    err.kind_name().to_string()
                }
            }),
        };
        match &self.0.log {
            Some(log) => log
                .entries
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(entry),
            None => tracing::info!(
                target: "kysera::debug",
                values = ?entry.values,
                duration = ?entry.duration,
                rows = ?entry.rows,
                error = ?entry.error,
                "{}",
                entry.sql
            ),
        }
    }
}

impl Executor {
    /// A new executor over the same pool and plugins whose statements are logged as `options`
    /// say (`db.withDebug()` in the TypeScript Kysera).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> kysera::Result<()> {
    /// use kysera::debug::{DebugOptions, QueryLog};
    /// let log = QueryLog::new();
    /// let db = kysera::connect("sqlite::memory:").await?
    ///     .with_debug(DebugOptions::default().values(true).log_to(&log));
    /// db.raw().fetch_all_sql("SELECT ? AS n", vec![7i64.into()]).await?;
    /// let entry = &log.entries()[0];
    /// assert_eq!(entry.sql, "SELECT ? AS n");
    /// assert_eq!(entry.values.as_deref(), Some(&["7".to_string()][..]));
    /// # Ok(()) }
    /// ```
    pub fn with_debug(&self, options: DebugOptions) -> Executor {
        self.with_observer(Arc::new(Logger(options)))
    }
}
