//! What every statement leaves behind: a `tracing` span with the fields OpenTelemetry users
//! expect, a warning when it was slow, and an event for each [`QueryObserver`] the executor
//! has (the profiler and the debug log of [`kysera::debug`](crate::debug) are observers).
//!
//! Bound values never reach the span or the logs; an observer that asks for them
//! ([`QueryObserver::wants_values`]) gets them. (The SQL text can hold literals: raw SQL
//! written with them, IN lists longer than 1,000 values, which are inlined.)

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::field::Empty;

use super::Executor;
use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;
use crate::query::{Lowered, Value};
use crate::row::Row;

/// One statement as it ran, handed to each [`QueryObserver`].
#[derive(Debug)]
#[non_exhaustive]
pub struct StatementEvent<'a> {
    /// The database.
    pub dialect: Dialect,
    /// The SQL sent (after the plugins, lowered for this database).
    pub sql: &'a str,
    /// How many parameters were bound.
    pub params: usize,
    /// Their values, when an observer [asked for them](QueryObserver::wants_values).
    pub values: Option<&'a [Value]>,
    /// `SELECT`, `INSERT`, `UPDATE`, `DELETE`, or the SQL's first word.
    pub operation: &'a str,
    /// The main table, when the statement came from the query builder.
    pub table: Option<&'a str>,
    /// Rows returned (or affected, for a write without RETURNING).
    pub rows: Option<u64>,
    /// From asking for a connection to the answer (the database's share, with the wait for a
    /// connection or the transaction).
    pub database_time: Duration,
    /// Time in the plugins' interceptors before the statement was lowered (for the first
    /// statement of an operation; zero for the library's own follow-up statements).
    pub plugin_time: Duration,
    /// The plugins whose interceptor changed the statement.
    pub rewritten_by: &'a [String],
    /// The error, when it failed.
    pub error: Option<&'a Error>,
    /// Whether it ran inside a transaction.
    pub in_transaction: bool,
}

/// Sees every statement an executor runs ([`Executor::with_observer`]), after it ran.
/// Called on the task that ran it; keep it quick (record, do not block).
pub trait QueryObserver: Send + Sync + 'static {
    /// Whether events should carry the bound values (they can be personal data: off unless
    /// the observer needs them).
    fn wants_values(&self) -> bool {
        false
    }
    /// Whether it wants events now (a disabled profiler answers `false`: its executor then
    /// skips the work of preparing them).
    fn is_active(&self) -> bool {
        true
    }
    /// One statement, after it ran. A panic here is caught and logged, not passed to the
    /// statement's caller.
    fn on_statement(&self, event: &StatementEvent<'_>);
}

/// What the interceptors did to the statement about to run, left by [`Executor::intercept`]
/// for the first statement of the same task.
pub(super) struct Notes {
    pub(super) plugin_time: Duration,
    pub(super) rewritten_by: Vec<String>,
    /// The intercepted query's table: only a statement on it takes the notes (not a raw or
    /// library statement that happens to run next).
    pub(super) table: String,
}

thread_local! {
    /// The last interception on this thread, with the task it belongs to: taken by that task's
    /// next statement (they run in the same poll, so on the same thread), never by another's.
    static NOTES: RefCell<Option<(Option<tokio::task::Id>, Notes)>> = const { RefCell::new(None) };
}

impl Notes {
    pub(super) fn leave(self) {
        let task = tokio::task::try_id();
        NOTES.with(|n| *n.borrow_mut() = Some((task, self)));
    }

    /// The notes left by this task's last interception, for a statement on `table`; any
    /// other notes on the thread are dropped (they were not this statement's).
    fn take(table: Option<&str>) -> Option<Notes> {
        let task = tokio::task::try_id();
        NOTES.with(|n| {
            let mut n = n.borrow_mut();
            match n.take() {
                Some((t, notes)) if t == task && Some(notes.table.as_str()) == table => Some(notes),
                _ => None,
            }
        })
    }

    /// Drops the notes of an interception whose statement will not run (`to_sql`).
    pub(super) fn discard() {
        NOTES.with(|n| n.borrow_mut().take());
    }
}

/// The observers and the slow-statement threshold of an executor.
#[derive(Clone)]
pub(super) struct Observers {
    pub(super) list: Arc<[Arc<dyn QueryObserver>]>,
    pub(super) slow: Option<Duration>,
}

impl Default for Observers {
    fn default() -> Self {
        Observers {
            list: Arc::from(Vec::new()),
            slow: Some(Duration::from_secs(1)),
        }
    }
}

/// Whether anything wants to know what the interceptors did: an observer, or a subscriber
/// that takes the statement spans.
pub(super) fn noting(exec: &Executor) -> bool {
    exec.observers.active() || tracing::enabled!(target: "kysera::query", tracing::Level::INFO)
}

impl Observers {
    /// Whether an observer wants events now.
    fn active(&self) -> bool {
        self.list.iter().any(|o| o.is_active())
    }
}

/// A statement being watched: its span, when it started, and what its observers need.
pub(super) struct Probe {
    span: tracing::Span,
    started: Instant,
    slow: Option<Duration>,
    /// The SQL, kept when an observer or a slow-statement warning may need it.
    sql: Option<String>,
    observed: Option<Box<Observed>>,
}

struct Observed {
    list: Arc<[Arc<dyn QueryObserver>]>,
    dialect: Dialect,
    params: usize,
    values: Option<Vec<Value>>,
    operation: &'static str,
    table: Option<String>,
    notes: Option<Notes>,
    in_transaction: bool,
}

/// The number of rows a statement's result stands for.
pub(super) trait RowCount {
    fn row_count(&self) -> Option<u64>;
}

impl RowCount for Vec<Row> {
    fn row_count(&self) -> Option<u64> {
        Some(self.len() as u64)
    }
}
impl RowCount for u64 {
    fn row_count(&self) -> Option<u64> {
        Some(*self)
    }
}
impl RowCount for Row {
    fn row_count(&self) -> Option<u64> {
        Some(1)
    }
}
impl RowCount for Option<Row> {
    fn row_count(&self) -> Option<u64> {
        Some(self.is_some() as u64)
    }
}
impl RowCount for Option<(Vec<Row>, u64)> {
    fn row_count(&self) -> Option<u64> {
        self.as_ref().map(|(_, affected)| *affected)
    }
}
impl RowCount for bool {
    fn row_count(&self) -> Option<u64> {
        None
    }
}

fn system(d: Dialect) -> &'static str {
    match d {
        Dialect::Postgres => "postgresql",
        Dialect::MySql => "mysql",
        Dialect::Sqlite => "sqlite",
    }
}

/// The statement's kind from its first word (`WITH … UPDATE` stays `WITH`); `OTHER` for a
/// word not listed. Static: nothing is allocated per statement.
fn operation_of(sql: &str) -> &'static str {
    const KINDS: &[&str] = &[
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        "WITH",
        "REPLACE",
        "CREATE",
        "DROP",
        "ALTER",
        "TRUNCATE",
        "BEGIN",
        "START",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
        "SET",
        "SHOW",
        "EXPLAIN",
        "PRAGMA",
        "CALL",
        "LOCK",
        "VALUES",
        "ANALYZE",
        "GRANT",
        "REVOKE",
        "COPY",
    ];
    let word = sql
        .trim_start_matches(|c: char| c.is_whitespace() || c == '(')
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    KINDS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(word))
        .copied()
        .unwrap_or("OTHER")
}

impl Executor {
    /// A new executor over the same pool and plugins that also tells `observer` about every
    /// statement it runs (after those it already told: observers add up). The profiler and
    /// the debug log of [`kysera::debug`](crate::debug) are observers; so can one of yours be.
    pub fn with_observer(&self, observer: Arc<dyn QueryObserver>) -> Executor {
        let mut list: Vec<_> = self.observers.list.iter().cloned().collect();
        list.push(observer);
        Executor {
            observers: Observers {
                list: Arc::from(list),
                slow: self.observers.slow,
            },
            ..self.clone()
        }
    }

    /// A new executor that logs statements slower than `threshold` at `warn` (target
    /// `kysera::query`, with the SQL but never the values); `None` turns it off. One second
    /// unless set. Timed from asking for a connection, so a wait for the pool (or for the
    /// transaction's connection) counts.
    pub fn with_slow_statement_threshold(&self, threshold: Option<Duration>) -> Executor {
        Executor {
            observers: Observers {
                list: self.observers.list.clone(),
                slow: threshold,
            },
            ..self.clone()
        }
    }

    /// Starts watching the statement `l` (of `table`, when known), before its connection is
    /// asked for.
    pub(super) fn probe(
        &self,
        sql: &str,
        params: usize,
        values: Option<&Lowered>,
        table: Option<&str>,
    ) -> Probe {
        let dialect = self.dialect();
        let operation = operation_of(sql);
        let span = tracing::info_span!(
            target: "kysera::query",
            "db.query",
            otel.name = %format_args!(
                "{operation}{}{}",
                if table.is_some() { " " } else { "" },
                table.unwrap_or("")
            ),
            otel.kind = "client",
            db.system = system(dialect),
            db.operation = operation,
            db.sql.table = table,
            db.statement = %sql,
            db.params = params,
            db.rows = Empty,
            duration_us = Empty,
            kysera.plugins = Empty,
            error.kind = Empty,
            otel.status_code = Empty,
        );
        let active = self.observers.active();
        let notes = if !active && span.is_disabled() {
            None
        } else {
            Notes::take(table)
        };
        if let Some(n) = &notes
            && !n.rewritten_by.is_empty()
        {
            span.record("kysera.plugins", n.rewritten_by.join(",").as_str());
        }
        let keep_sql = active
            || (self.observers.slow.is_some()
                && tracing::enabled!(target: "kysera::query", tracing::Level::WARN));
        let observed = active.then(|| {
            let wants = self.observers.list.iter().any(|o| o.wants_values());
            Box::new(Observed {
                list: self.observers.list.clone(),
                dialect,
                params,
                values: values.filter(|_| wants).map(|l| {
                    l.values
                        .0
                        .iter()
                        .cloned()
                        // One for one, so the list lines up with the placeholders.
                        .map(|v| Value::from_sea(v).unwrap_or(Value::String(Some("<?>".into()))))
                        .collect()
                }),
                operation,
                table: table.map(str::to_string),
                notes,
                in_transaction: self.tx.is_some(),
            })
        });
        Probe {
            span,
            started: Instant::now(),
            slow: self.observers.slow,
            sql: keep_sql.then(|| sql.to_string()),
            observed,
        }
    }
}

impl Probe {
    /// The span the statement runs in.
    pub(super) fn span(&self) -> tracing::Span {
        self.span.clone()
    }

    /// Records how the statement ended.
    pub(super) fn finish<T: RowCount>(self, result: &Result<T>) {
        let took = self.started.elapsed();
        let rows = result.as_ref().ok().and_then(RowCount::row_count);
        let error = result.as_ref().err();
        if !self.span.is_disabled() {
            self.span.record("duration_us", took.as_micros() as u64);
            if let Some(n) = rows {
                self.span.record("db.rows", n);
            }
            if let Some(e) = error {
                self.span.record("error.kind", e.kind_name());
                self.span.record("otel.status_code", "ERROR");
            }
        }
        if let (Some(limit), Some(sql)) = (self.slow, &self.sql)
            && took > limit
        {
            let _in = self.span.enter();
            tracing::warn!(target: "kysera::query", sql = %sql, took_ms = took.as_millis() as u64, "slow statement");
        }
        if let Some(o) = self.observed {
            let (plugin_time, rewritten_by) = match &o.notes {
                Some(n) => (n.plugin_time, n.rewritten_by.as_slice()),
                None => (Duration::ZERO, &[][..]),
            };
            let event = StatementEvent {
                dialect: o.dialect,
                sql: self.sql.as_deref().unwrap_or_default(),
                params: o.params,
                values: o.values.as_deref(),
                operation: o.operation,
                table: o.table.as_deref(),
                rows,
                database_time: took,
                plugin_time,
                rewritten_by,
                error,
                in_transaction: o.in_transaction,
            };
            for observer in o.list.iter().filter(|o| o.is_active()) {
                let told = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    observer.on_statement(&event)
                }));
                if told.is_err() {
                    tracing::error!(target: "kysera::query", "a query observer panicked");
                }
            }
        }
    }
}
