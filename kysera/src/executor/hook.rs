//! The one narrow entry through which the executor enforces what models declare (soft delete,
//! timestamps, tenant isolation, and whatever later behaviours add).
//!
//! The executor calls [`Enforce`] on [`Behaviours`] and names no behaviour; the behaviours layer
//! (`crate::behaviour`) implements the trait. Because the implementation is a trait impl rather
//! than a registration, a build that lost it does not compile: enforcement cannot be silently
//! absent.

use chrono::{DateTime, Utc};

use crate::core::error::Result;
use crate::query::Query;

/// The behaviours layer, as the executor sees it.
pub(crate) struct Behaviours;

/// What the executor asks of the behaviours layer.
pub(crate) trait Enforce {
    /// Rewrites or refuses `query` after the plugins ran (so no plugin can undo it): filters for
    /// hidden rows, values for timestamp and tenant columns, refusals. `now` is the executor's
    /// clock, in whole microseconds.
    fn enforce(query: &mut Query, now: &dyn Fn() -> DateTime<Utc>) -> Result<()>;

    /// The `(name, value)` settings a new PostgreSQL transaction sets with
    /// `set_config(name, value, true)` when native row-level security is on; empty for none.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    fn transaction_settings() -> Vec<(&'static str, String)>;

    /// `fut`, run with the current task's context (who is acting) wherever it is polled: for
    /// work the executor moves to a task of its own. The context is taken now, from the caller.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    fn carry<F>(fut: F) -> impl std::future::Future<Output = F::Output> + Send + 'static
    where
        F: std::future::Future + Send + 'static;
}
