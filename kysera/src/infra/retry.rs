//! Running work again when the database gave up on it for a concurrent transaction
//! (`withRetry`): exponential backoff with jitter, bounded by attempts and total time.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::core::error::{Error, Result};
use crate::executor::Executor;

/// How [`retry`] waits and when it gives up.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included (5).
    pub max_attempts: u32,
    /// The wait before the second attempt (20 ms); each later wait doubles, up to `max_delay`.
    pub initial_delay: Duration,
    /// The longest wait (1 s).
    pub max_delay: Duration,
    /// No attempt starts after this much time since the first (10 s).
    pub max_elapsed: Duration,
    /// Each wait is a random share (50–100 %) of its nominal length, so that transactions
    /// that collided do not retry in step (on).
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_secs(1),
            max_elapsed: Duration::from_secs(10),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// Sets the number of attempts (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }
    /// Sets the first wait.
    pub fn initial_delay(mut self, d: Duration) -> Self {
        self.initial_delay = d;
        self
    }
    /// Sets the longest wait.
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }
    /// Sets the time after which no attempt starts.
    pub fn max_elapsed(mut self, d: Duration) -> Self {
        self.max_elapsed = d;
        self
    }
    /// Turns the jitter on or off.
    pub fn jitter(mut self, on: bool) -> Self {
        self.jitter = on;
        self
    }

    /// The wait after failed attempt number `attempt` (1-based).
    fn delay(&self, attempt: u32) -> Duration {
        let doubled = self.initial_delay.saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        let nominal = doubled.min(self.max_delay);
        if !self.jitter {
            return nominal;
        }
        // 50–100 % of it, from the randomness the crate already has.
        let r = (uuid::Uuid::new_v4().as_u128() % 1_000) as f64 / 1_000.0;
        nominal.mul_f64(0.5 + r / 2.0)
    }
}

/// Whether [`retry`] runs work again after `err` ([`Error::is_retryable`]): a
/// [deadlock](Error::Deadlock) or [serialization failure](Error::SerializationFailure) (the
/// database undid the transaction: PostgreSQL `40P01` / `40001`, MySQL 1213), a [lock
/// timeout](Error::LockTimeout) (MySQL 1205, PostgreSQL `55P03`, SQLite busy or locked), or
/// [no connection](Error::Unavailable) (nothing was sent). Never a constraint violation, a
/// refused query, an open circuit breaker, or a [lost connection](Error::ConnectionLost): the
/// statement may have run.
pub fn is_retryable(err: &Error) -> bool {
    err.is_retryable()
}

/// Runs `work` until it succeeds, fails with an error that is not [retryable](is_retryable),
/// or the policy's attempts or time run out (then the last error). Waiting uses tokio's clock,
/// so a test with a paused clock does not wait.
///
/// For work on an executor outside a transaction (each statement its own transaction). Inside
/// a transaction, a deadlock or serialization failure undoes the whole transaction, not the
/// one statement, so retrying the statement there is wrong: use [`transaction_with_retry`],
/// which runs the whole transaction again.
///
/// ```no_run
/// use kysera::infra::{retry, RetryPolicy};
/// # async fn f(db: kysera::Executor) -> kysera::Result<()> {
/// let n = retry(&RetryPolicy::default(), || async {
///     db.raw().execute_sql("UPDATE counters SET n = n + 1", vec![]).await
/// })
/// .await?;
/// # Ok(()) }
/// ```
pub async fn retry<T, F, Fut>(policy: &RetryPolicy, mut work: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut backoff = Backoff::new(policy);
    loop {
        match work().await {
            Ok(v) => return Ok(v),
            Err(e) if backoff.again(&e).await => {}
            Err(e) => return Err(e),
        }
    }
}

/// [`Executor::transaction`] run again, whole, when the database undoes it for a concurrent
/// one or it could not run ([`retry`] with `policy`), and also when its connection was lost
/// before it committed ([`Error::ConnectionLost`] from a statement of the closure's
/// executor): the database then undid the whole transaction, so nothing of it stays. A
/// connection lost while it commits is [`Error::CommitOutcomeUnknown`] and is never retried.
/// Statements the closure runs on another executor, outside the transaction, are not covered
/// by that reasoning: keep them out of the closure. Nor is what MySQL commits on its own
/// inside a transaction (DDL and `LOCK TABLES` commit implicitly; writes to non-transactional
/// tables, such as MyISAM, stay): a closure doing those is run again on top of them. The closure runs once per attempt, each time in a fresh
/// transaction (write it `|tx| async move { … }`: the future it returns owns what it uses, so
/// the whole call can run in a spawned task); inside a transaction already (where the outer
/// one is what was undone) it runs once, as a nested transaction.
pub async fn transaction_with_retry<T, F, Fut>(
    db: &Executor,
    policy: &RetryPolicy,
    mut work: F,
) -> Result<T>
where
    F: FnMut(Executor) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    if db.in_transaction() {
        return db.transaction(work).await;
    }
    let mut backoff = Backoff::new(policy).also_lost_connections();
    loop {
        match db.transaction(&mut work).await {
            Ok(v) => return Ok(v),
            Err(e) if backoff.again(&e).await => {}
            Err(e) => return Err(e),
        }
    }
}

/// The retry loop's state: which attempt failed, and since when it has been trying.
struct Backoff<'a> {
    policy: &'a RetryPolicy,
    started: Instant,
    attempt: u32,
    /// Also retry a lost connection (the transaction it ran in was undone with it).
    lost_connections: bool,
}

impl<'a> Backoff<'a> {
    fn new(policy: &'a RetryPolicy) -> Self {
        Backoff {
            policy,
            started: Instant::now(),
            attempt: 1,
            lost_connections: false,
        }
    }

    fn also_lost_connections(self) -> Self {
        Backoff {
            lost_connections: true,
            ..self
        }
    }

    /// After attempt failed with `e`: waits and says `true` when another attempt is due;
    /// `false` (at once) when `e` is not retryable or the attempts or time are spent.
    async fn again(&mut self, e: &Error) -> bool {
        let lost = self.lost_connections && matches!(e, Error::ConnectionLost(_));
        if !(is_retryable(e) || lost) || self.attempt >= self.policy.max_attempts.max(1) {
            return false;
        }
        let wait = self.policy.delay(self.attempt);
        if self.started.elapsed().saturating_add(wait) > self.policy.max_elapsed {
            return false;
        }
        tracing::debug!(target: "kysera::infra", attempt = self.attempt, ?wait, error = %e, "retrying");
        tokio::time::sleep(wait).await;
        self.attempt += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_limit() {
        let p = RetryPolicy::default()
            .initial_delay(Duration::from_millis(10))
            .max_delay(Duration::from_millis(50))
            .jitter(false);
        let waits: Vec<u128> = (1..=5).map(|a| p.delay(a).as_millis()).collect();
        assert_eq!(waits, [10, 20, 40, 50, 50]);
        let j = RetryPolicy::default().initial_delay(Duration::from_millis(100));
        for _ in 0..50 {
            let d = j.delay(1).as_millis();
            assert!((50..=100).contains(&d), "{d}");
        }
        assert_eq!(p.delay(200), Duration::from_millis(50));
    }
}
