//! `kysera::infra` against real databases: health reports (healthy, degraded by threshold,
//! unhealthy when the pool is gone), the monitor's reports and callback, retries bounded by
//! attempts and time (on tokio's paused clock), and a real deadlock — two transactions
//! updating two rows in opposite order — retried to success on PostgreSQL and MySQL.
#![cfg(feature = "testing")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use kysera::infra::{self, HealthMonitor, HealthOptions, HealthStatus, RetryPolicy};

/// A serialization failure as the driver reports one (SQLSTATE 40001).
#[derive(Debug)]
struct SerializationFailure;

impl std::fmt::Display for SerializationFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("could not serialize access due to concurrent update")
    }
}

impl std::error::Error for SerializationFailure {}

impl kysera::sqlx::error::DatabaseError for SerializationFailure {
    fn message(&self) -> &str {
        "could not serialize access due to concurrent update"
    }
    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some("40001".into())
    }
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }
    fn kind(&self) -> kysera::sqlx::error::ErrorKind {
        kysera::sqlx::error::ErrorKind::Other
    }
}

/// Classified as the executor classifies the driver's errors.
fn serialization_failure() -> Error {
    Error::from(kysera::sqlx::Error::Database(Box::new(
        SerializationFailure,
    )))
}
use kysera::{Dialect, Error, Executor};

#[kysera::test(databases = "all")]
async fn health_reports(db: Executor) {
    let d = db.dialect();
    // Generous thresholds: a loaded machine must not make a healthy database degraded.
    let relaxed = HealthOptions::default().degraded_latency(Duration::from_secs(30));
    let ok = infra::check_health(&db, &relaxed).await;
    assert_eq!(ok.status, HealthStatus::Healthy, "{d}: {ok:?}");
    assert!(
        ok.error.is_none() && ok.pool.max >= 1 && ok.pool.size >= 1,
        "{d}: {ok:?}"
    );
    let slow = infra::check_health(
        &db,
        &HealthOptions::default().degraded_latency(Duration::ZERO),
    )
    .await;
    assert_eq!(slow.status, HealthStatus::Degraded, "{d}: {slow:?}");

    let seen = Arc::new(AtomicU32::new(0));
    let counter = seen.clone();
    let monitor = HealthMonitor::start_with(
        db.clone(),
        Duration::from_millis(20),
        relaxed.clone(),
        move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        },
    );
    let mut reports = monitor.subscribe();
    for _ in 0..3 {
        tokio::time::timeout(Duration::from_secs(10), reports.changed())
            .await
            .expect("a report within 10 s")
            .unwrap();
    }
    assert_eq!(
        monitor.latest().map(|r| r.status),
        Some(HealthStatus::Healthy),
        "{d}"
    );
    monitor.stop().await;
    assert!(seen.load(Ordering::SeqCst) >= 1, "{d}: the callback ran");

    // The pool closed: unhealthy, with the reason, not an error or a hang.
    db.pool().close().await;
    let gone = infra::check_health(
        &db,
        &HealthOptions::default().timeout(Duration::from_secs(5)),
    )
    .await;
    assert_eq!(gone.status, HealthStatus::Unhealthy, "{d}: {gone:?}");
    assert!(gone.error.is_some(), "{d}");
}

#[tokio::test(start_paused = true)]
async fn retries_are_bounded_and_only_for_retryable_errors() {
    let policy = RetryPolicy::default().max_attempts(4);
    let calls = AtomicU32::new(0);
    let v = infra::retry(&policy, || async {
        if calls.fetch_add(1, Ordering::SeqCst) < 2 {
            Err(serialization_failure())
        } else {
            Ok(7)
        }
    })
    .await
    .unwrap();
    assert_eq!((v, calls.load(Ordering::SeqCst)), (7, 3));

    let calls = AtomicU32::new(0);
    let e = infra::retry(&policy, || async {
        calls.fetch_add(1, Ordering::SeqCst);
        Err::<(), _>(Error::UniqueViolation(Default::default()))
    })
    .await
    .unwrap_err();
    assert!(matches!(e, Error::UniqueViolation(_)));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "a constraint violation is not retried"
    );
    assert!(matches!(
        serialization_failure(),
        Error::SerializationFailure(_)
    ));
    // Nor a lost connection (the statement may have run); but a pool that gave no connection
    // in time sent nothing.
    let lost = Error::from(kysera::sqlx::Error::Io(
        std::io::ErrorKind::ConnectionReset.into(),
    ));
    assert!(matches!(lost, Error::ConnectionLost(_)) && !infra::is_retryable(&lost));
    let none = Error::from(kysera::sqlx::Error::PoolTimedOut);
    assert!(matches!(none, Error::Unavailable(_)) && infra::is_retryable(&none));

    let calls = AtomicU32::new(0);
    let started = tokio::time::Instant::now();
    let e = infra::retry(&policy, || async {
        calls.fetch_add(1, Ordering::SeqCst);
        Err::<(), _>(serialization_failure())
    })
    .await
    .unwrap_err();
    assert!(infra::is_retryable(&e));
    assert_eq!(calls.load(Ordering::SeqCst), 4, "max_attempts");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // A time budget shorter than the waits: fewer attempts.
    let calls = AtomicU32::new(0);
    let tight = RetryPolicy::default()
        .max_attempts(100)
        .initial_delay(Duration::from_secs(1))
        .max_delay(Duration::from_secs(1))
        .max_elapsed(Duration::from_millis(2500))
        .jitter(false);
    let _ = infra::retry(&tight, || async {
        calls.fetch_add(1, Ordering::SeqCst);
        Err::<(), _>(serialization_failure())
    })
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 3, "waits of 1 s within 2.5 s");
}

/// Two transactions lock one row each, then each wants the other's: the database kills one
/// (PostgreSQL 40P01, MySQL 1213); it is run again and both end having done their work.
#[kysera::test(databases = "all")]
async fn a_real_deadlock_is_retried_to_success(db: Executor) {
    let d = db.dialect();
    if d == Dialect::Sqlite {
        return; // one writer at a time: SQLite cannot deadlock
    }
    for sql in [
        "CREATE TABLE k_dl (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)",
        "INSERT INTO k_dl (id, n) VALUES (1, 0), (2, 0)",
    ] {
        db.raw().execute_sql(sql, vec![]).await.unwrap();
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let attempts = Arc::new(AtomicU32::new(0));
    let run = |first: i64, second: i64| {
        let (db, barrier, attempts) = (db.clone(), barrier.clone(), attempts.clone());
        tokio::spawn(async move {
            let policy = RetryPolicy::default().initial_delay(Duration::from_millis(10));
            let mine = Arc::new(AtomicU32::new(0));
            infra::transaction_with_retry(&db, &policy, |tx| {
                let (barrier, attempts, mine) = (barrier.clone(), attempts.clone(), mine.clone());
                async move {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    let bump = if tx.dialect() == Dialect::Postgres {
                        "UPDATE k_dl SET n = n + 1 WHERE id = $1"
                    } else {
                        "UPDATE k_dl SET n = n + 1 WHERE id = ?"
                    };
                    tx.raw().execute_sql(bump, vec![first.into()]).await?;
                    if mine.fetch_add(1, Ordering::SeqCst) == 0 {
                        barrier.wait().await; // both hold their first row
                    }
                    tx.raw().execute_sql(bump, vec![second.into()]).await?;
                    Ok(())
                }
            })
            .await
        })
    };
    let (a, b) = (run(1, 2), run(2, 1));
    let (a, b) = tokio::time::timeout(Duration::from_secs(60), async { (a.await, b.await) })
        .await
        .expect("no hang");
    a.unwrap().unwrap_or_else(|e| panic!("{d}: {e}"));
    b.unwrap().unwrap_or_else(|e| panic!("{d}: {e}"));
    assert!(
        attempts.load(Ordering::SeqCst) >= 3,
        "{d}: one of them ran again"
    );
    let rows = db
        .raw()
        .fetch_all(
            kysera::query::Select::from("k_dl")
                .order_by(kysera::query::col("id"), kysera::query::Order::Asc),
        )
        .await
        .unwrap();
    let ns: Vec<i64> = rows.iter().map(|r| r.get("n").unwrap()).collect();
    assert_eq!(ns, [2, 2], "{d}: each transaction's two updates, once");
}

/// A transaction that goes on after the database picked it as the deadlock victim (the error
/// swallowed) must not commit: on PostgreSQL its work is gone, and on MySQL its later
/// statements would run outside any transaction. Its commit is `TransactionPoisoned`, its
/// marker row never appears; the other transaction commits normally.
#[kysera::test(databases = "all")]
async fn a_swallowed_deadlock_does_not_commit(db: Executor) {
    let d = db.dialect();
    if d == Dialect::Sqlite {
        return;
    }
    for sql in [
        "CREATE TABLE k_dl2 (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)",
        "CREATE TABLE k_dl2_done (who BIGINT NOT NULL)",
        "INSERT INTO k_dl2 (id, n) VALUES (1, 0), (2, 0)",
    ] {
        db.raw().execute_sql(sql, vec![]).await.unwrap();
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let run = |first: i64, second: i64| {
        let (db, barrier) = (db.clone(), barrier.clone());
        tokio::spawn(async move {
            db.transaction(|tx| async move {
                let (bump, done) = if tx.dialect() == Dialect::Postgres {
                    (
                        "UPDATE k_dl2 SET n = n + 1 WHERE id = $1",
                        "INSERT INTO k_dl2_done (who) VALUES ($1)",
                    )
                } else {
                    (
                        "UPDATE k_dl2 SET n = n + 1 WHERE id = ?",
                        "INSERT INTO k_dl2_done (who) VALUES (?)",
                    )
                };
                tx.raw().execute_sql(bump, vec![first.into()]).await?;
                barrier.wait().await;
                // The victim's error is ignored, and it goes on.
                let _ = tx.raw().execute_sql(bump, vec![second.into()]).await;
                let _ = tx.raw().execute_sql(done, vec![first.into()]).await;
                Ok(())
            })
            .await
        })
    };
    let (a, b) = (run(1, 2), run(2, 1));
    let (a, b) = tokio::time::timeout(Duration::from_secs(60), async { (a.await, b.await) })
        .await
        .expect("no hang");
    let outcomes = [a.unwrap(), b.unwrap()];
    let poisoned = outcomes
        .iter()
        .filter(|o| matches!(o, Err(Error::TransactionPoisoned)))
        .count();
    let committed = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!((poisoned, committed), (1, 1), "{d}: {outcomes:?}");
    let markers = db
        .raw()
        .fetch_all_sql("SELECT who FROM k_dl2_done", vec![])
        .await
        .unwrap();
    assert_eq!(
        markers.len(),
        1,
        "{d}: only the committed transaction's marker"
    );
    let rows = db
        .raw()
        .fetch_all_sql("SELECT n FROM k_dl2 ORDER BY id", vec![])
        .await
        .unwrap();
    let ns: Vec<i64> = rows.iter().map(|r| r.get("n").unwrap()).collect();
    assert_eq!(ns, [1, 1], "{d}: only the winner's two updates");
}
