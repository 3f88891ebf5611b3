//! Seeing what the database is asked (`@kysera/debug` in the TypeScript Kysera, and more):
//!
//! - every statement runs inside a `tracing` span (target `kysera::query`, name `db.query`)
//!   with the fields OpenTelemetry expects — `db.system`, `db.operation`, `db.sql.table`,
//!   `db.statement`, `db.params`, `db.rows`, `duration_us`, `kysera.plugins` (the plugins
//!   whose interceptor changed it), `error.kind` and `otel.status_code` on failure — never
//!   the values; statements slower than a threshold (1 s,
//!   [`with_slow_statement_threshold`](crate::Executor::with_slow_statement_threshold)) are
//!   logged at `warn`;
//! - [`Executor::with_debug`](crate::Executor::with_debug): statements logged, formatted,
//!   with values if asked, to `tracing` or a [`QueryLog`];
//! - [`QueryProfiler`]: counts, times and percentiles per normalised statement, plugin time
//!   against database time, and N+1 detection within a [scope](QueryProfiler::scope);
//! - [`format_sql`], [`highlight_sql`], [`normalize_sql`];
//! - [`Executor::explain`](crate::Executor::explain): the plan, after the plugins.
//!
//! Observers of your own: [`QueryObserver`] with
//! [`Executor::with_observer`](crate::Executor::with_observer).
//!
//! ```no_run
//! use kysera::debug::QueryProfiler;
//! # async fn f(db: kysera::Executor) -> kysera::Result<()> {
//! let profiler = QueryProfiler::new();
//! let db = profiler.attach(&db);
//! let ((), scope) = profiler
//!     .scope(async {
//!         for id in 1..=10i64 {
//!             let _ = db.raw().fetch_all_sql("SELECT * FROM posts WHERE author_id = $1", vec![id.into()]).await;
//!         }
//!     })
//!     .await;
//! for n in &scope.repeated {
//!     eprintln!("N+1: {} ran {} times, first from {:?}", n.statement, n.count, n.location);
//! }
//! println!("{}", profiler.report());
//! # Ok(()) }
//! ```

mod explain;
mod format;
mod log;
mod profiler;

pub use crate::executor::{QueryObserver, StatementEvent};
pub use explain::ExplainOptions;
pub use format::{Colors, format_sql, highlight_sql, highlight_sql_with, normalize_sql};
pub use log::{DebugOptions, LoggedQuery, QueryLog};
pub use profiler::{Example, NPlusOne, ProfileReport, QueryProfiler, ScopeReport, StatementStats};
