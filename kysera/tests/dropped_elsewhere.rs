//! A statement's future started on a runtime and dropped mid-statement on a thread with no
//! runtime (a caller's future dropped by other code, or after a `select!` elsewhere): no panic,
//! the statement finishes on the runtime it started on, and the pool is usable right after —
//! on every configured database.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use kysera::Dialect;

fn slow_sql(d: Dialect) -> &'static str {
    match d {
        Dialect::Postgres => "SELECT pg_sleep(0.3)",
        Dialect::MySql => "SELECT SLEEP(0.3)",
        _ => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) FROM c"
        }
    }
}

fn scenario(url: Option<String>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let db = rt.block_on(async {
        match &url {
            Some(u) => kysera::connect(u).await.unwrap(),
            None => kysera::connect("sqlite::memory:").await.unwrap(),
        }
    });
    let d = db.dialect();
    let other = db.clone();
    let mut slow = Box::pin(async move { other.raw().fetch_all_sql(slow_sql(d), vec![]).await });
    // Started, and still running when the wait gives up.
    let started = rt.block_on(async {
        tokio::time::timeout(Duration::from_millis(50), &mut slow)
            .await
            .is_err()
    });
    assert!(started, "{d}: the slow statement ended within 50 ms");
    std::thread::spawn(move || drop(slow))
        .join()
        .unwrap_or_else(|_| panic!("{d}: dropping the statement outside a runtime panicked"));
    let t = Instant::now();
    let one = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(10),
            db.raw().fetch_all_sql("SELECT 1 AS one", vec![]),
        )
        .await
    });
    let rows = one
        .unwrap_or_else(|_| panic!("{d}: the pool did not answer"))
        .unwrap();
    assert_eq!(rows.len(), 1, "{d}");
    assert!(t.elapsed() < Duration::from_secs(10), "{d}");
}

#[test]
fn dropped_outside_a_runtime_on_sqlite() {
    scenario(None);
}

#[test]
fn dropped_outside_a_runtime_on_postgres() {
    if let Ok(u) = std::env::var(common::POSTGRES_ENV) {
        scenario(Some(u));
    }
}

#[test]
fn dropped_outside_a_runtime_on_mysql() {
    if let Ok(u) = std::env::var(common::MYSQL_ENV) {
        scenario(Some(u));
    }
}
