//! Statements that finish even when their caller is dropped, without a task per statement.
//!
//! A statement runs where its caller awaits it. Only when the caller is dropped before the
//! statement is done does the rest of it move to a task of its own, which finishes it (no
//! command is left half-done on a connection, no transaction lock released mid-statement) and
//! hands the result nobody waits for to a clean-up function (to roll back a transaction just
//! begun, say). Spawning a task and answering through a channel for every statement cost about
//! 30–40 µs a statement on a current-thread runtime on the CI machine (a read by key went from
//! 120 µs to 160 µs), which is why the common path has neither.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use crate::core::error::{Error, Result};

/// Whether the caller of a [`Finish`] is gone (its future was dropped before the end).
#[derive(Clone, Default)]
pub(crate) struct CallerGone(Arc<AtomicBool>);

impl CallerGone {
    /// True once the caller has dropped the statement's future.
    pub(crate) fn is_gone(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// A statement's future that finishes in a task of its own when dropped before its end; a
/// panic inside it is an error ([`sqlx::Error::WorkerCrashed`]), not a panic of the caller.
pub(crate) struct Finish<T: Send + 'static> {
    fut: Option<Pin<Box<dyn Future<Output = T> + Send>>>,
    gone: CallerGone,
    abandoned: fn(T),
    /// The runtime the statement was started on (whose I/O its connection uses): where the
    /// rest of it runs if the caller drops it, even from outside any runtime.
    runtime: Option<tokio::runtime::Handle>,
}

impl<T: Send + 'static> Finish<T> {
    /// `make` builds the statement's future from the flag that tells it whether its caller is
    /// gone; `abandoned` takes its result when nobody waits for it any more.
    pub(crate) fn new<F>(make: impl FnOnce(CallerGone) -> F, abandoned: fn(T)) -> Self
    where
        F: Future<Output = T> + Send + 'static,
    {
        let gone = CallerGone::default();
        Finish {
            fut: Some(Box::pin(make(gone.clone()))),
            gone,
            abandoned,
            runtime: tokio::runtime::Handle::try_current().ok(),
        }
    }
}

impl<T: Send + 'static> Future for Finish<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let Some(fut) = self.fut.as_mut() else {
            return Poll::Ready(Err(Error::Database(sqlx::Error::WorkerCrashed)));
        };
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => {
                self.fut = None;
                Poll::Ready(Ok(v))
            }
            Err(_) => {
                // Dropped here, on the caller's side: its state is not to be trusted.
                self.fut = None;
                Poll::Ready(Err(Error::Database(sqlx::Error::WorkerCrashed)))
            }
        }
    }
}

impl<T: Send + 'static> Drop for Finish<T> {
    fn drop(&mut self) {
        let Some(fut) = self.fut.take() else { return };
        self.gone.0.store(true, Ordering::Release);
        let abandoned = self.abandoned;
        let rest = async move { abandoned(fut.await) };
        match self.runtime.take() {
            // A runtime that has shut down drops the task: its connection is then closed by
            // the driver as the runtime's I/O goes away.
            Some(runtime) => {
                // In its context: what the driver spawns as things drop finds it.
                let _context = runtime.enter();
                drop(runtime.spawn(rest));
            }
            // Started outside any runtime (sqlx needs one: nothing of it can be in flight).
            None => drop(rest),
        }
    }
}

/// Runs `fut` as a [`Finish`]: finished in a task of its own if the caller is dropped first,
/// its result then given to `abandoned`.
pub(crate) async fn finish<T: Send + 'static>(
    fut: impl Future<Output = T> + Send + 'static,
    abandoned: fn(T),
) -> Result<T> {
    Finish::new(|_| fut, abandoned).await
}
