//! Health checks (`checkDatabaseHealth`) and a monitor that repeats them (`HealthMonitor`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::executor::{Executor, Pool};

/// How a check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthStatus {
    /// The database answered in time, and the pool has room.
    Healthy,
    /// The database answered, but slowly or with the pool nearly full.
    Degraded,
    /// The database did not answer (an error, or no answer within the timeout).
    Unhealthy,
}

/// The pool's connections when the check ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PoolStats {
    /// Connections open.
    pub size: u32,
    /// Open and idle.
    pub idle: u32,
    /// Open and lent out.
    pub in_use: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HealthReport {
    /// The verdict.
    pub status: HealthStatus,
    /// How long the trivial query took (the timeout, when it did not answer).
    pub latency: Duration,
    /// The pool, as the check found it (before taking a connection for itself).
    pub pool: PoolStats,
    /// Why it is unhealthy.
    pub error: Option<String>,
}

/// The thresholds of [`check_health`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HealthOptions {
    /// How long to wait for the answer before calling the database unhealthy (5 s).
    pub timeout: Duration,
    /// A slower answer is degraded (500 ms).
    pub degraded_latency: Duration,
    /// A pool whose share of connections in use (of its maximum) is at least this is degraded
    /// (0.9).
    pub degraded_pool_usage: f64,
}

impl Default for HealthOptions {
    fn default() -> Self {
        HealthOptions {
            timeout: Duration::from_secs(5),
            degraded_latency: Duration::from_millis(500),
            degraded_pool_usage: 0.9,
        }
    }
}

impl HealthOptions {
    /// Sets the timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    /// Sets the latency above which the database is degraded.
    pub fn degraded_latency(mut self, t: Duration) -> Self {
        self.degraded_latency = t;
        self
    }
    /// Sets the pool usage (0 to 1) at which the database is degraded.
    pub fn degraded_pool_usage(mut self, share: f64) -> Self {
        self.degraded_pool_usage = share;
        self
    }
}

/// The pool's figures.
pub(crate) fn pool_stats(pool: &Pool) -> PoolStats {
    macro_rules! stats {
        ($p:expr) => {{
            let (size, idle) = ($p.size(), $p.num_idle() as u32);
            PoolStats {
                size,
                idle,
                in_use: size.saturating_sub(idle),
                max: $p.options().get_max_connections(),
            }
        }};
    }
    match pool {
        #[cfg(feature = "sqlite")]
        Pool::Sqlite(p) => stats!(p),
        #[cfg(feature = "postgres")]
        Pool::Postgres(p) => stats!(p),
        #[cfg(feature = "mysql")]
        Pool::MySql(p) => stats!(p),
    }
}

/// Runs a trivial query (`SELECT 1`) with a timeout and says how the database is.
/// Never fails: an error is an [`Unhealthy`](HealthStatus::Unhealthy) report.
pub async fn check_health(db: &Executor, options: &HealthOptions) -> HealthReport {
    // Before the check takes a connection of its own: the application's use of the pool.
    let pool = pool_stats(db.pool());
    let started = Instant::now();
    let answer = tokio::time::timeout(
        options.timeout,
        db.raw().fetch_all_sql("SELECT 1 AS one", vec![]),
    )
    .await;
    let latency = started.elapsed();
    let (status, error) = match answer {
        Err(_) => (
            HealthStatus::Unhealthy,
            Some(format!("no answer within {:?}", options.timeout)),
        ),
        Ok(Err(e)) => (HealthStatus::Unhealthy, Some(e.to_string())),
        Ok(Ok(_)) => {
            let busy = pool.max > 0
                && f64::from(pool.in_use) / f64::from(pool.max) >= options.degraded_pool_usage;
            if latency > options.degraded_latency || busy {
                (HealthStatus::Degraded, None)
            } else {
                (HealthStatus::Healthy, None)
            }
        }
    };
    HealthReport {
        status,
        latency: latency.min(options.timeout),
        pool,
        error,
    }
}

type Callback = Arc<dyn Fn(&HealthReport) + Send + Sync>;

/// Checks the database at an interval in a task of its own. The latest report is
/// [`latest`](Self::latest); [`subscribe`](Self::subscribe) gives a `watch` receiver that sees
/// each new one; [`start_with`](Self::start_with) also runs a callback when the status changes
/// (the first report included). The task stops when the monitor is [`stop`](Self::stop)ped or
/// dropped.
///
/// ```no_run
/// # async fn f(db: kysera::Executor) {
/// use std::time::Duration;
/// use kysera::infra::{HealthMonitor, HealthOptions};
/// let monitor = HealthMonitor::start_with(db, Duration::from_secs(10), HealthOptions::default(), |r| {
///     tracing::warn!(status = ?r.status, "database health changed")
/// });
/// let now = monitor.latest();
/// # }
/// ```
pub struct HealthMonitor {
    latest: watch::Receiver<Option<HealthReport>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl HealthMonitor {
    /// Starts checking `db` every `interval` (at least a millisecond; the first check at once).
    pub fn start(db: Executor, interval: Duration, options: HealthOptions) -> Self {
        Self::spawn(db, interval, options, None)
    }

    /// [`start`](Self::start), running `on_change` with each report whose status differs from
    /// the one before (and with the first). A callback that panics is logged and kept.
    pub fn start_with(
        db: Executor,
        interval: Duration,
        options: HealthOptions,
        on_change: impl Fn(&HealthReport) + Send + Sync + 'static,
    ) -> Self {
        Self::spawn(db, interval, options, Some(Arc::new(on_change)))
    }

    fn spawn(
        db: Executor,
        interval: Duration,
        options: HealthOptions,
        callback: Option<Callback>,
    ) -> Self {
        let (tx, rx) = watch::channel(None::<HealthReport>);
        let interval = interval.max(Duration::from_millis(1));
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let report = check_health(&db, &options).await;
                let changed = tx
                    .borrow()
                    .as_ref()
                    .is_none_or(|before| before.status != report.status);
                if changed {
                    tracing::info!(target: "kysera::infra", status = ?report.status, error = ?report.error, "database health");
                    if let Some(f) = &callback {
                        let call = std::panic::AssertUnwindSafe(|| f(&report));
                        if std::panic::catch_unwind(call).is_err() {
                            tracing::error!(target: "kysera::infra", "the health callback panicked");
                        }
                    }
                }
                if tx.send(Some(report)).is_err() {
                    return;
                }
            }
        });
        HealthMonitor {
            latest: rx,
            task: Some(task),
        }
    }

    /// The latest report (`None` before the first check ends).
    pub fn latest(&self) -> Option<HealthReport> {
        self.latest.borrow().clone()
    }

    /// A receiver that sees every report as it comes.
    pub fn subscribe(&self) -> watch::Receiver<Option<HealthReport>> {
        self.latest.clone()
    }

    /// Stops checking and waits for the task to end.
    pub async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for HealthMonitor {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
