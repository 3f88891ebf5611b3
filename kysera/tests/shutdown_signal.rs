//! `infra::shutdown_on_signal` with a real SIGTERM sent to this test process. Alone in its
//! test binary: once the handler is installed the signal no longer ends the process, and no
//! other test should share that.
#![cfg(all(unix, feature = "sqlite"))]

use std::time::Duration;

use kysera::{Error, infra};

#[tokio::test]
async fn sigterm_drains_and_closes_the_pool() {
    let db = kysera::connect("sqlite::memory:").await.unwrap();
    db.raw()
        .execute_sql("CREATE TABLE t (n INTEGER)", vec![])
        .await
        .unwrap();
    let on_signal = infra::shutdown_on_signal(&db, Duration::from_secs(10)).unwrap();
    let waiting = tokio::spawn(on_signal);
    // Before the signal the pool works.
    db.raw()
        .execute_sql("INSERT INTO t (n) VALUES (1)", vec![])
        .await
        .unwrap();
    assert!(!waiting.is_finished());
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let report = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the signal is seen")
        .unwrap();
    assert!(report.drained, "{report:?}");
    assert!(db.pool().is_closed());
    let e = db
        .raw()
        .execute_sql("INSERT INTO t (n) VALUES (2)", vec![])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::PoolClosed), "{e:?}");
}
