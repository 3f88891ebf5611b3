//! Running against a real database in production (`@kysera/infra` in the TypeScript Kysera):
//! health checks and a monitor that keeps checking, retries of work the database gave up on
//! for a concurrent transaction (deadlocks, serialization failures), a circuit breaker that
//! fails fast while the database is unreachable, and graceful shutdown.
//!
//! ```no_run
//! use kysera::infra::{self, HealthOptions, RetryPolicy};
//! # async fn f(db: kysera::Executor) -> kysera::Result<()> {
//! let report = infra::check_health(&db, &HealthOptions::default()).await;
//! println!("{:?} in {:?}, {} of {} connections in use", report.status, report.latency,
//!     report.pool.in_use, report.pool.max);
//!
//! // Re-runs the whole transaction when the database picks it as a deadlock victim.
//! infra::transaction_with_retry(&db, &RetryPolicy::default(), |tx| async move {
//!     tx.raw().execute_sql("UPDATE accounts SET balance = balance - 5 WHERE id = 1", vec![]).await?;
//!     tx.raw().execute_sql("UPDATE accounts SET balance = balance + 5 WHERE id = 2", vec![]).await?;
//!     Ok(())
//! })
//! .await?;
//! # Ok(()) }
//! ```

mod health;
mod retry;
mod shutdown;

pub use crate::executor::{BreakerOptions, BreakerState, CircuitBreaker};

pub use health::{
    HealthMonitor, HealthOptions, HealthReport, HealthStatus, PoolStats, check_health,
};
pub use retry::{RetryPolicy, is_retryable, retry, transaction_with_retry};
pub use shutdown::{ShutdownReport, shutdown, shutdown_on_signal, shutdown_signal};
