//! Graceful shutdown (`registerShutdownHandlers`): stop taking new work, let what runs finish
//! within a deadline, close the pool.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::health::pool_stats;
use crate::core::error::{Error, Result};
use crate::executor::Executor;

/// What a [`shutdown`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Connections lent out (statements or transactions running) when it began.
    pub in_use_at_start: u32,
    /// Whether all of them came back within the timeout, so every connection is closed. If
    /// not, the work still running was left to finish (it is not cut off); its connections
    /// close as they come back, and the idle ones when the pool is dropped (sqlx closes idle
    /// connections only once it has every connection back).
    pub drained: bool,
    /// How long it waited.
    pub waited: Duration,
}

/// Shuts the executor's pool down gracefully: from now on it lends no connection, so a new
/// statement or transaction on it (or on any executor sharing the pool) fails with
/// [`Error::PoolClosed`]; statements running and transactions open go on with the connection
/// they hold, and are waited for up to `timeout`; then every connection is closed (see
/// [`ShutdownReport::drained`] for when the timeout passes first).
///
/// ```no_run
/// use std::time::Duration;
/// # async fn f(db: kysera::Executor) {
/// let report = kysera::infra::shutdown(&db, Duration::from_secs(30)).await;
/// if !report.drained {
///     eprintln!("{} connections were still busy after 30 s", report.in_use_at_start);
/// }
/// # }
/// ```
pub async fn shutdown(db: &Executor, timeout: Duration) -> ShutdownReport {
    let in_use_at_start = pool_stats(db.pool()).in_use;
    let started = Instant::now();
    tracing::info!(target: "kysera::infra", in_use = in_use_at_start, ?timeout, "shutting down: the pool takes no new work");
    // Closing marks the pool closed at once; the future then waits for the connections lent out.
    let drained = tokio::time::timeout(timeout, db.pool().close())
        .await
        .is_ok();
    let waited = started.elapsed();
    if drained {
        tracing::info!(target: "kysera::infra", ?waited, "pool drained and closed");
    } else {
        tracing::warn!(target: "kysera::infra", ?waited, in_use = pool_stats(db.pool()).in_use,
            "shutdown timed out: work still running was left to finish");
    }
    ShutdownReport {
        in_use_at_start,
        drained,
        waited,
    }
}

/// A future that completes when the process receives SIGINT (Ctrl-C) or, on Unix, SIGTERM.
/// On Unix the signals are listened for from this call on, not from the first poll, so a
/// signal that arrives before the future is awaited is not missed (nor does it kill the
/// process); elsewhere, from the first poll. Once listened for, those signals no longer end
/// the process for its whole life (tokio's rule): a second Ctrl-C does nothing, so give the
/// shutdown a timeout. Must be called inside a tokio runtime with its I/O driver
/// (`enable_all`); otherwise [`Error::Signal`]. Use it where a server wants the signal itself
/// (for example axum's `with_graceful_shutdown`), then call [`shutdown`].
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(Error::Signal(std::io::Error::other(
            "not inside a tokio runtime",
        )));
    }
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(Error::Signal)?;
        let mut int = signal(SignalKind::interrupt()).map_err(Error::Signal)?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!(target: "kysera::infra", "SIGTERM received"),
                _ = int.recv() => tracing::info!(target: "kysera::infra", "SIGINT received"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        let ctrl_c = tokio::signal::ctrl_c();
        Ok(async move {
            let _ = ctrl_c.await;
        })
    }
}

/// [`shutdown`] on the first SIGINT or SIGTERM ([`shutdown_signal`]): spawn the future it
/// returns, and the pool drains and closes when the process is asked to stop.
///
/// ```no_run
/// use std::time::Duration;
/// # async fn f(db: kysera::Executor) -> kysera::Result<()> {
/// let on_signal = kysera::infra::shutdown_on_signal(&db, Duration::from_secs(30))?;
/// let drained = tokio::spawn(on_signal);
/// // … serve requests; after the signal, new work on `db` fails with Error::PoolClosed …
/// let report = drained.await.expect("the shutdown task panicked");
/// # Ok(()) }
/// ```
pub fn shutdown_on_signal(
    db: &Executor,
    timeout: Duration,
) -> Result<impl Future<Output = ShutdownReport> + Send + 'static> {
    let signal = shutdown_signal()?;
    let db = db.clone();
    Ok(async move {
        signal.await;
        shutdown(&db, timeout).await
    })
}
