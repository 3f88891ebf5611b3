//! The circuit breaker (`CircuitBreaker` in the TypeScript Kysera, which never closes again
//! once open; this one does): after repeated failures to reach the database, calls fail fast
//! for a cool-down instead of each waiting for a connection that will not come, then a few
//! trial calls decide whether it closes again. Here, beside the executor, because an executor
//! can put every statement through one ([`Executor::with_circuit_breaker`]); re-exported from
//! [`kysera::infra`](crate::infra).

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::Executor;
use crate::core::error::{Error, Result};

/// When a [`CircuitBreaker`] opens and how it closes again.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BreakerOptions {
    /// Failures within [`window`](Self::window) that open the circuit (5).
    pub failure_threshold: u32,
    /// How far back failures count (30 s).
    pub window: Duration,
    /// How long an open circuit refuses calls before letting trial calls through (10 s).
    pub cool_down: Duration,
    /// Trial calls let through at once when half-open, and successes among them that close
    /// the circuit (1).
    pub trial_calls: u32,
}

impl Default for BreakerOptions {
    fn default() -> Self {
        BreakerOptions {
            failure_threshold: 5,
            window: Duration::from_secs(30),
            cool_down: Duration::from_secs(10),
            trial_calls: 1,
        }
    }
}

impl BreakerOptions {
    /// Sets the failures that open the circuit (at least 1).
    pub fn failure_threshold(mut self, n: u32) -> Self {
        self.failure_threshold = n.max(1);
        self
    }
    /// Sets how far back failures count.
    pub fn window(mut self, d: Duration) -> Self {
        self.window = d;
        self
    }
    /// Sets how long an open circuit refuses calls.
    pub fn cool_down(mut self, d: Duration) -> Self {
        self.cool_down = d;
        self
    }
    /// Sets the trial calls of the half-open state (at least 1).
    pub fn trial_calls(mut self, n: u32) -> Self {
        self.trial_calls = n.max(1);
        self
    }
}

/// Where a [`CircuitBreaker`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; failures are counted.
    Closed,
    /// Calls are refused with [`Error::CircuitOpen`] until the cool-down has passed.
    Open,
    /// A few trial calls go through (the rest are refused); their successes close the circuit,
    /// a failure opens it again.
    HalfOpen,
}

/// Which errors count as failures.
type Counts = Arc<dyn Fn(&Error) -> bool + Send + Sync>;

/// A circuit breaker: closed → open after [`failure_threshold`](BreakerOptions::failure_threshold)
/// failures within a [`window`](BreakerOptions::window) → half-open after the
/// [`cool_down`](BreakerOptions::cool_down) → closed after [`trial_calls`](BreakerOptions::trial_calls)
/// successful trials (or open again on a failed one). Refused calls fail at once with
/// [`Error::CircuitOpen`]. Transitions are logged with `tracing` (target `kysera::infra`).
///
/// By default a failure is an error that says the database could not be reached
/// ([`Error::is_unavailable`]): a constraint violation or a deadlock is the database
/// answering, and counts as a success. Cheap to clone: clones share the state. Time is tokio's
/// clock, so a test with a paused clock can move through the cool-down without waiting.
///
/// Around any call, or on an executor so that every statement (and every BEGIN) goes through
/// it:
///
/// ```no_run
/// use std::time::Duration;
/// use kysera::infra::{BreakerOptions, CircuitBreaker};
/// # async fn f(db: kysera::Executor) -> kysera::Result<()> {
/// let breaker = CircuitBreaker::new(
///     "primary",
///     BreakerOptions::default().failure_threshold(3).cool_down(Duration::from_secs(5)),
/// );
/// let db = db.with_circuit_breaker(breaker.clone());
/// match db.raw().execute_sql("UPDATE counters SET n = n + 1", vec![]).await {
///     Err(kysera::Error::CircuitOpen { retry_after, .. }) => println!("down; again in {retry_after:?}"),
///     other => { other?; }
/// }
/// // Or around anything else that can fail the same way.
/// let n = breaker.call(async { Ok::<_, kysera::Error>(1) }).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    options: BreakerOptions,
    counts: Counts,
    state: Mutex<State>,
}

/// The state, with what each needs. `generation` changes on every transition, so the outcome
/// of a call let through before one does not count after it.
struct State {
    generation: u64,
    phase: Phase,
}

enum Phase {
    Closed {
        failures: VecDeque<Instant>,
    },
    Open {
        until: Instant,
    },
    HalfOpen {
        /// When the last trial was let through.
        since: Instant,
        running: u32,
        succeeded: u32,
    },
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.inner.name)
            .field("state", &self.state())
            .field("options", &self.inner.options)
            .finish()
    }
}

impl CircuitBreaker {
    /// A closed breaker called `name` (shown in errors and logs).
    pub fn new(name: impl Into<String>, options: BreakerOptions) -> Self {
        CircuitBreaker::with_counts(name.into(), options, Arc::new(Error::is_unavailable))
    }

    /// A fresh breaker with this one's name and options (state is not carried over) counting
    /// as failures the errors for which `counts` is true, instead of [`Error::is_unavailable`].
    pub fn counting(self, counts: impl Fn(&Error) -> bool + Send + Sync + 'static) -> Self {
        CircuitBreaker::with_counts(
            self.inner.name.clone(),
            self.inner.options.clone(),
            Arc::new(counts),
        )
    }

    fn with_counts(name: String, options: BreakerOptions, counts: Counts) -> Self {
        CircuitBreaker {
            inner: Arc::new(Inner {
                name,
                options,
                counts,
                state: Mutex::new(State {
                    generation: 0,
                    phase: Phase::Closed {
                        failures: VecDeque::new(),
                    },
                }),
            }),
        }
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Where the breaker stands now (an open circuit whose cool-down has passed reads as
    /// half-open: the next call is a trial).
    pub fn state(&self) -> BreakerState {
        match &self.lock().phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { until } if Instant::now() < *until => BreakerState::Open,
            Phase::Open { .. } | Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Closes the circuit and forgets the failures counted.
    pub fn reset(&self) {
        let mut s = self.lock();
        let moved = s.enter(Phase::Closed {
            failures: VecDeque::new(),
        });
        drop(s);
        self.log(moved);
    }

    /// Runs `work` if the circuit lets it through, and counts its outcome; refused at once with
    /// [`Error::CircuitOpen`] otherwise. Dropped before it finishes, the call counts neither
    /// way (a trial slot it held is freed).
    pub async fn call<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        let permit = self.admit()?;
        let result = work.await;
        permit.record(&result);
        result
    }

    /// Lets a call through, or refuses it.
    pub(crate) fn admit(&self) -> Result<Permit> {
        let mut s = self.lock();
        let now = Instant::now();
        let o = &self.inner.options;
        let mut moved = None;
        match &mut s.phase {
            Phase::Closed { .. } => {}
            Phase::Open { until } if now < *until => {
                let wait = *until - now;
                drop(s);
                return Err(self.refused(wait));
            }
            Phase::Open { .. } => {
                moved = s.enter(Phase::HalfOpen {
                    since: now,
                    running: 1,
                    succeeded: 0,
                });
            }
            Phase::HalfOpen { running, since, .. } if *running < o.trial_calls => {
                *running += 1;
                *since = now;
            }
            // No trial let through for a whole cool-down has answered (a hung connection):
            // they no longer hold the circuit, new trials go.
            Phase::HalfOpen { since, running, .. } if now.duration_since(*since) >= o.cool_down => {
                *since = now;
                *running = 1;
            }
            Phase::HalfOpen { since, .. } => {
                let wait = o.cool_down.saturating_sub(now.duration_since(*since));
                drop(s);
                return Err(self.refused(wait));
            }
        }
        let permit = Permit {
            breaker: self.clone(),
            generation: s.generation,
            done: false,
        };
        drop(s);
        self.log(moved);
        Ok(permit)
    }

    fn refused(&self, retry_after: Duration) -> Error {
        Error::CircuitOpen {
            name: self.inner.name.clone(),
            retry_after,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent after every statement, so a panic elsewhere cannot leave it
        // half-changed.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Logs a transition (after the lock is released: a slow subscriber must not hold calls).
    fn log(&self, moved: Option<BreakerState>) {
        let name = &self.inner.name;
        match moved {
            Some(BreakerState::Open) => tracing::warn!(target: "kysera::infra", breaker = %name,
                cool_down = ?self.inner.options.cool_down, "circuit breaker opened"),
            Some(BreakerState::HalfOpen) => {
                tracing::info!(target: "kysera::infra", breaker = %name,
                "circuit breaker half-open: letting trial calls through")
            }
            Some(BreakerState::Closed) => {
                tracing::info!(target: "kysera::infra", breaker = %name, "circuit breaker closed")
            }
            None => {}
        }
    }

    /// Counts the outcome of a call let through in `generation`: `Some(true)` a failure,
    /// `Some(false)` a success, `None` neither (dropped, or refused before the database).
    fn outcome(&self, generation: u64, failed: Option<bool>) {
        let mut s = self.lock();
        if s.generation != generation {
            return;
        }
        let o = &self.inner.options;
        let now = Instant::now();
        let mut moved = None;
        match (&mut s.phase, failed) {
            (Phase::Closed { failures }, Some(true)) => {
                failures.push_back(now);
                while failures
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > o.window)
                {
                    failures.pop_front();
                }
                if failures.len() >= o.failure_threshold as usize {
                    moved = s.enter(Phase::Open {
                        until: now + o.cool_down,
                    });
                }
            }
            (Phase::HalfOpen { .. }, Some(true)) => {
                moved = s.enter(Phase::Open {
                    until: now + o.cool_down,
                });
            }
            (
                Phase::HalfOpen {
                    running, succeeded, ..
                },
                Some(false),
            ) => {
                *running = running.saturating_sub(1);
                *succeeded += 1;
                if *succeeded >= o.trial_calls {
                    moved = s.enter(Phase::Closed {
                        failures: VecDeque::new(),
                    });
                }
            }
            // Dropped: its trial slot is free for another call.
            (Phase::HalfOpen { running, .. }, None) => *running = running.saturating_sub(1),
            _ => {}
        }
        drop(s);
        self.log(moved);
    }
}

impl State {
    /// Moves to `phase`; says where to, for the log.
    fn enter(&mut self, phase: Phase) -> Option<BreakerState> {
        let to = match &phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        };
        self.generation += 1;
        self.phase = phase;
        Some(to)
    }
}

/// A call let through by a [`CircuitBreaker`]; its outcome is counted with
/// [`record`](Self::record). Dropped unrecorded, it counts neither way.
pub(crate) struct Permit {
    breaker: CircuitBreaker,
    generation: u64,
    done: bool,
}

impl Permit {
    /// Counts `result`: a failure if it is an error the breaker counts, a success otherwise.
    pub(crate) fn record<T>(self, result: &Result<T>) {
        self.counted(result.as_ref().err());
    }

    /// Counts a call that failed with `e` before it could run.
    pub(crate) fn record_error(self, e: &Error) {
        self.counted(Some(e));
    }

    fn counted(mut self, error: Option<&Error>) {
        self.done = true;
        let outcome = match error {
            // Refused before the database was asked: says nothing of the database.
            Some(e) if refused_here(e) => None,
            Some(e) => Some((self.breaker.inner.counts)(e)),
            None => Some(false),
        };
        self.breaker.outcome(self.generation, outcome);
    }
}

/// Errors of calls this process refused before asking the database (a closed pool or
/// transaction, a plugin's or policy's refusal, bad input): neither success nor failure.
fn refused_here(e: &Error) -> bool {
    matches!(
        e,
        Error::PoolClosed
            | Error::TransactionClosed
            | Error::TransactionPoisoned
            | Error::TransactionInUse
            | Error::ConnectionHeldByTransaction
            | Error::CircuitOpen { .. }
            | Error::InvalidQuery(_)
            | Error::Unsupported { .. }
            | Error::Rejected { .. }
            | Error::NoAuthContext { .. }
            | Error::AccessDenied { .. }
            | Error::Validation(_)
            | Error::MissingPlugin { .. }
            | Error::ConflictingModels { .. }
    )
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.outcome(self.generation, None);
        }
    }
}

impl Executor {
    /// A new executor over the same pool and plugins whose every statement, and every BEGIN,
    /// goes through `breaker` first: refused with [`Error::CircuitOpen`] while it is open, and
    /// counted as a success or a failure after. Executors given the same breaker (clones)
    /// share its state; transactions begun from this executor use it too.
    pub fn with_circuit_breaker(&self, breaker: CircuitBreaker) -> Executor {
        Executor {
            breaker: Some(breaker),
            ..self.clone()
        }
    }

    /// Lets a statement through this executor's breaker, if it has one.
    pub(super) fn admit(&self) -> Result<Option<Permit>> {
        self.breaker.as_ref().map(CircuitBreaker::admit).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost() -> Error {
        Error::Unavailable(sqlx::Error::PoolTimedOut)
    }

    #[tokio::test(start_paused = true)]
    async fn opens_half_opens_and_closes() {
        let b = CircuitBreaker::new(
            "t",
            BreakerOptions::default()
                .failure_threshold(3)
                .window(Duration::from_secs(10))
                .cool_down(Duration::from_secs(5))
                .trial_calls(2),
        );
        // Failures spread wider than the window do not open it.
        for _ in 0..2 {
            assert!(b.call(async { Err::<(), _>(lost()) }).await.is_err());
        }
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(b.call(async { Err::<(), _>(lost()) }).await.is_err());
        assert_eq!(b.state(), BreakerState::Closed);
        // A constraint violation is the database answering: not a failure.
        let answered = b
            .call(async { Err::<(), _>(Error::UniqueViolation(Default::default())) })
            .await;
        assert!(matches!(answered, Err(Error::UniqueViolation(_))));
        assert_eq!(b.state(), BreakerState::Closed);
        for _ in 0..2 {
            let _ = b.call(async { Err::<(), _>(lost()) }).await;
        }
        assert_eq!(b.state(), BreakerState::Open);
        let refused = b.call(async { Ok(()) }).await.unwrap_err();
        assert!(
            matches!(&refused, Error::CircuitOpen { retry_after, .. } if *retry_after == Duration::from_secs(5)),
            "{refused:?}"
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
        // Two trials at once; a third is refused while they run.
        let p1 = b.admit().unwrap();
        let p2 = b.admit().unwrap();
        assert!(matches!(b.admit(), Err(Error::CircuitOpen { .. })));
        // A trial dropped unfinished frees its slot.
        drop(p2);
        let p3 = b.admit().unwrap();
        p1.record(&Ok(()));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        p3.record(&Ok(()));
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_trial_frees_its_slot_after_a_cool_down_and_local_refusals_do_not_count() {
        let b = CircuitBreaker::new(
            "t",
            BreakerOptions::default()
                .failure_threshold(1)
                .cool_down(Duration::from_secs(2)),
        );
        let _ = b.call(async { Err::<(), _>(lost()) }).await;
        tokio::time::advance(Duration::from_secs(2)).await;
        let hung = b.admit().unwrap();
        let Err(refused) = b.admit() else {
            panic!("a second trial while one runs")
        };
        assert!(
            matches!(&refused, Error::CircuitOpen { retry_after, .. } if *retry_after == Duration::from_secs(2)),
            "{refused:?}"
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        let trial = b.admit().expect("a new trial after a cool-down of silence");
        // Refused before the database was asked: neither closes nor opens it.
        trial.record(&Err::<(), _>(Error::PoolClosed));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        b.admit().unwrap().record(&Ok(()));
        assert_eq!(b.state(), BreakerState::Closed);
        drop(hung);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_trial_opens_it_again_and_late_outcomes_do_not_count() {
        let b = CircuitBreaker::new(
            "t",
            BreakerOptions::default()
                .failure_threshold(1)
                .cool_down(Duration::from_secs(1)),
        );
        let before = b.admit().unwrap();
        let _ = b.call(async { Err::<(), _>(lost()) }).await;
        assert_eq!(b.state(), BreakerState::Open);
        // A call let through before it opened succeeds late: it does not close it.
        before.record(&Ok(()));
        assert_eq!(b.state(), BreakerState::Open);
        tokio::time::advance(Duration::from_secs(1)).await;
        let _ = b.call(async { Err::<(), _>(lost()) }).await;
        assert_eq!(b.state(), BreakerState::Open);
        b.reset();
        assert_eq!(b.state(), BreakerState::Closed);
        // Counting every error instead.
        let strict = b.counting(|_| true);
        let _ = strict
            .call(async { Err::<(), _>(Error::NotFound(None)) })
            .await;
        assert_eq!(strict.state(), BreakerState::Open);
    }
}
