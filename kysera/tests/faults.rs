//! Real faults on PostgreSQL and MySQL/MariaDB: connections killed from a second session
//! (`pg_terminate_backend`, `KILL`) while a statement runs, while idle in the pool and inside a
//! transaction (run again whole by `transaction_with_retry`); write skew under `SERIALIZABLE`
//! refused and retried; and graceful shutdown on all three databases. (The circuit breaker
//! against a failing network is in `breaker.rs`.)
#![cfg(feature = "testing")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use kysera::infra::{self, RetryPolicy};
use kysera::sqlx::AssertSqlSafe;
use kysera::{Dialect, Error, Executor, IsolationLevel, Pool};

/// A second session on the same database: a pool of its own, one connection.
async fn second_session(db: &Executor) -> Executor {
    match db.pool() {
        Pool::Postgres(p) => Executor::new(
            kysera::sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect_with((*p.connect_options()).clone())
                .await
                .unwrap(),
        ),
        Pool::MySql(p) => Executor::new(
            kysera::sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(1)
                .connect_with((*p.connect_options()).clone())
                .await
                .unwrap(),
        ),
        other => panic!("no second session for {}", other.dialect()),
    }
}

/// The server's id of the connection `db` runs its next statement on (inside a transaction:
/// the transaction's).
async fn backend_id(db: &Executor) -> i64 {
    let sql = match db.dialect() {
        Dialect::Postgres => "SELECT CAST(pg_backend_pid() AS BIGINT) AS id",
        _ => "SELECT CAST(CONNECTION_ID() AS SIGNED) AS id",
    };
    let rows = db.raw().fetch_all_sql(sql, vec![]).await.unwrap();
    rows[0].get("id").unwrap()
}

/// The other connections to this test's database, seen from `admin`.
async fn other_connections(admin: &Executor) -> Vec<i64> {
    let sql = match admin.dialect() {
        Dialect::Postgres => {
            "SELECT CAST(pid AS BIGINT) AS id FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()"
        }
        _ => {
            "SELECT CAST(ID AS SIGNED) AS id FROM information_schema.PROCESSLIST \
             WHERE DB = DATABASE() AND ID <> CONNECTION_ID()"
        }
    };
    let rows = admin.raw().fetch_all_sql(sql, vec![]).await.unwrap();
    rows.iter().map(|r| r.get("id").unwrap()).collect()
}

/// Kills connection `id` from `admin`, and waits until the server no longer lists it.
async fn kill(admin: &Executor, id: i64) {
    let sql = match admin.dialect() {
        Dialect::Postgres => format!("SELECT pg_terminate_backend({id})"),
        _ => format!("KILL {id}"),
    };
    admin
        .raw()
        .fetch_all_sql(AssertSqlSafe(sql), vec![])
        .await
        .unwrap();
    for _ in 0..500 {
        if !other_connections(admin).await.contains(&id) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("connection {id} still listed 5 s after it was killed");
}

/// `?` or `$n`.
fn ph(d: Dialect, n: usize) -> String {
    match d {
        Dialect::Postgres => format!("${n}"),
        _ => "?".into(),
    }
}

#[kysera::test(databases = "all")]
async fn a_connection_killed_while_its_statement_runs(db: Executor) {
    let d = db.dialect();
    if d == Dialect::Sqlite {
        return; // no server to kill a connection from
    }
    let admin = second_session(&db).await;
    let running = {
        let db = db.clone();
        tokio::spawn(async move {
            let sleep = match db.dialect() {
                Dialect::Postgres => "SELECT pg_sleep(60) AS s",
                _ => "SELECT SLEEP(60) AS s",
            };
            db.raw().fetch_all_sql(sleep, vec![]).await
        })
    };
    // The sleeping statement's connection is the one other connection that is busy.
    let busy = match d {
        Dialect::Postgres => {
            "SELECT CAST(pid AS BIGINT) AS id FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND query LIKE 'SELECT pg_sleep(60)%'"
        }
        _ => {
            "SELECT CAST(ID AS SIGNED) AS id FROM information_schema.PROCESSLIST WHERE DB = DATABASE() \
             AND ID <> CONNECTION_ID() AND INFO LIKE 'SELECT SLEEP(60)%'"
        }
    };
    let mut victim = None;
    for _ in 0..1000 {
        let rows = admin.raw().fetch_all_sql(busy, vec![]).await.unwrap();
        if let Some(r) = rows.first() {
            victim = Some(r.get::<i64>("id").unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    kill(&admin, victim.expect("the sleeping statement shows up")).await;
    let result = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the killed statement returns")
        .unwrap();
    let err = result.expect_err("a killed statement fails");
    assert!(matches!(err, Error::ConnectionLost(_)), "{d}: {err:?}");
    assert!(
        !infra::is_retryable(&err),
        "{d}: it may have run, so it is not retried blindly"
    );
    assert!(err.is_unavailable(), "{d}");
    // The pool drops the dead connection and goes on.
    let rows = db.raw().fetch_all_sql("SELECT 1 AS one", vec![]).await;
    assert_eq!(rows.unwrap().len(), 1, "{d}");
}

#[kysera::test(databases = "all")]
async fn connections_killed_while_idle_are_replaced(db: Executor) {
    let d = db.dialect();
    if d == Dialect::Sqlite {
        return;
    }
    // Some connections, all back in the pool.
    let warm: Vec<_> = (0..3)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { backend_id(&db).await })
        })
        .collect();
    for w in warm {
        w.await.unwrap();
    }
    let admin = second_session(&db).await;
    let idle = other_connections(&admin).await;
    assert!(!idle.is_empty(), "{d}: the pool holds idle connections");
    for id in &idle {
        kill(&admin, *id).await;
    }
    // Every statement after that still runs: each dead connection is found out before use.
    for _ in 0..5 {
        let id = backend_id(&db).await;
        assert!(!idle.contains(&id), "{d}: {id} was killed");
    }
    let n = db
        .transaction(|tx| async move { Ok(backend_id(&tx).await) })
        .await
        .unwrap();
    assert!(!idle.contains(&n), "{d}");
}

#[kysera::test(databases = "all")]
async fn a_transaction_whose_connection_is_killed_is_run_again_whole(db: Executor) {
    let d = db.dialect();
    if d == Dialect::Sqlite {
        return;
    }
    db.raw()
        .execute_sql("CREATE TABLE k_lost (n BIGINT NOT NULL)", vec![])
        .await
        .unwrap();
    let admin = second_session(&db).await;
    let insert = format!("INSERT INTO k_lost (n) VALUES ({})", ph(d, 1));

    // Without retry: the error says the connection was lost, and nothing was committed.
    let plain = db
        .transaction(|tx| {
            let (admin, insert) = (admin.clone(), insert.clone());
            async move {
                tx.raw()
                    .execute_sql(AssertSqlSafe(insert.clone()), vec![1i64.into()])
                    .await?;
                kill(&admin, backend_id(&tx).await).await;
                tx.raw()
                    .execute_sql(AssertSqlSafe(insert), vec![2i64.into()])
                    .await?;
                Ok(())
            }
        })
        .await;
    assert!(
        matches!(plain, Err(Error::ConnectionLost(_))),
        "{d}: {plain:?}"
    );
    let count = |db: Executor| async move {
        db.raw()
            .fetch_all_sql("SELECT n FROM k_lost ORDER BY n", vec![])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<i64>("n").unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(count(db.clone()).await, Vec::<i64>::new(), "{d}");

    // With retry: the first attempt's connection dies after its first insert; the whole
    // transaction runs again, and its rows are there once.
    let attempts = Arc::new(AtomicU32::new(0));
    let policy = RetryPolicy::default().initial_delay(Duration::from_millis(5));
    infra::transaction_with_retry(&db, &policy, |tx| {
        let (admin, insert, attempts) = (admin.clone(), insert.clone(), attempts.clone());
        async move {
            let attempt = attempts.fetch_add(1, Ordering::SeqCst);
            tx.raw()
                .execute_sql(AssertSqlSafe(insert.clone()), vec![1i64.into()])
                .await?;
            if attempt == 0 {
                kill(&admin, backend_id(&tx).await).await;
            }
            tx.raw()
                .execute_sql(AssertSqlSafe(insert), vec![2i64.into()])
                .await?;
            Ok(())
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{d}: {e:?}"));
    assert_eq!(attempts.load(Ordering::SeqCst), 2, "{d}");
    assert_eq!(count(db.clone()).await, [1, 2], "{d}");
}

/// Write skew: two transactions each read that two people are on call and take themselves off.
/// Under the default level both commit (nobody is left on call); under SERIALIZABLE the
/// database refuses one (PostgreSQL 40001, MySQL a deadlock on its shared read locks), which
/// runs again, sees one person left, and leaves them on.
#[kysera::test(databases = "all")]
async fn write_skew_under_serializable_is_refused_and_retried(db: Executor) {
    let d = db.dialect();
    if d == Dialect::Sqlite {
        // One writer at a time: every level is met. The level is accepted and recorded.
        let s = db.with_isolation(IsolationLevel::Serializable);
        let level = s
            .transaction(|tx| async move { Ok(tx.isolation()) })
            .await
            .unwrap();
        assert_eq!(level, Some(IsolationLevel::Serializable));
        return;
    }
    db.raw()
        .execute_sql(
            "CREATE TABLE k_oncall (id BIGINT PRIMARY KEY, on_call BIGINT NOT NULL)",
            vec![],
        )
        .await
        .unwrap();
    let reset = || async {
        db.raw()
            .execute_sql("DELETE FROM k_oncall", vec![])
            .await
            .unwrap();
        db.raw()
            .execute_sql(
                "INSERT INTO k_oncall (id, on_call) VALUES (1, 1), (2, 1)",
                vec![],
            )
            .await
            .unwrap();
    };
    let on_call = || async {
        let rows = db
            .raw()
            .fetch_all_sql(
                "SELECT CAST(SUM(on_call) AS SIGNED) AS n FROM k_oncall",
                vec![],
            )
            .await;
        // PostgreSQL has no SIGNED.
        let rows = match rows {
            Ok(r) => r,
            Err(_) => db
                .raw()
                .fetch_all_sql(
                    "SELECT CAST(SUM(on_call) AS BIGINT) AS n FROM k_oncall",
                    vec![],
                )
                .await
                .unwrap(),
        };
        rows[0].get::<i64>("n").unwrap()
    };
    let skew = |exec: Executor, attempts: Arc<AtomicU32>| async move {
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let one = |me: i64| {
            let (exec, barrier, attempts) = (exec.clone(), barrier.clone(), attempts.clone());
            tokio::spawn(async move {
                let waited = Arc::new(AtomicBool::new(false));
                let policy = RetryPolicy::default().initial_delay(Duration::from_millis(10));
                infra::transaction_with_retry(&exec, &policy, |tx| {
                    let (barrier, attempts, waited) =
                        (barrier.clone(), attempts.clone(), waited.clone());
                    async move {
                        attempts.fetch_add(1, Ordering::SeqCst);
                        let rows = tx
                            .raw()
                            .fetch_all_sql("SELECT on_call FROM k_oncall", vec![])
                            .await?;
                        let n: i64 = rows
                            .iter()
                            .map(|r| r.get::<i64>("on_call"))
                            .sum::<kysera::Result<i64>>()?;
                        if !waited.swap(true, Ordering::SeqCst) {
                            barrier.wait().await; // both have read
                        }
                        if n >= 2 {
                            let off = format!(
                                "UPDATE k_oncall SET on_call = 0 WHERE id = {}",
                                ph(tx.dialect(), 1)
                            );
                            tx.raw()
                                .execute_sql(AssertSqlSafe(off), vec![me.into()])
                                .await?;
                        }
                        Ok(())
                    }
                })
                .await
            })
        };
        let (a, b) = (one(1), one(2));
        let (a, b) = tokio::time::timeout(Duration::from_secs(60), async { (a.await, b.await) })
            .await
            .expect("no hang");
        (a.unwrap(), b.unwrap())
    };

    // The default level lets the skew through: the test can tell the levels apart.
    reset().await;
    let (a, b) = skew(db.clone(), Arc::new(AtomicU32::new(0))).await;
    a.unwrap();
    b.unwrap();
    assert_eq!(on_call().await, 0, "{d}: both took themselves off");

    reset().await;
    let serializable = db.with_isolation(IsolationLevel::Serializable);
    let attempts = Arc::new(AtomicU32::new(0));
    let (a, b) = skew(serializable.clone(), attempts.clone()).await;
    a.unwrap_or_else(|e| panic!("{d}: {e:?}"));
    b.unwrap_or_else(|e| panic!("{d}: {e:?}"));
    assert!(attempts.load(Ordering::SeqCst) >= 3, "{d}: one ran again");
    assert_eq!(on_call().await, 1, "{d}: one stays on call");

    // A nested transaction cannot ask for another level.
    let nested = serializable
        .transaction(|tx| async move {
            tx.with_isolation(IsolationLevel::ReadCommitted)
                .transaction(|_| async { Ok(()) })
                .await
        })
        .await;
    assert!(matches!(nested, Err(Error::InvalidQuery(_))), "{nested:?}");
}

#[kysera::test(databases = "all")]
async fn shutdown_waits_for_running_work_and_refuses_new(db: Executor) {
    let d = db.dialect();
    db.raw()
        .execute_sql("CREATE TABLE k_shut (n BIGINT NOT NULL)", vec![])
        .await
        .unwrap();
    let insert = format!("INSERT INTO k_shut (n) VALUES ({})", ph(d, 1));
    let (began_tx, began) = tokio::sync::oneshot::channel();
    let (go_on_tx, go_on) = tokio::sync::oneshot::channel::<()>();
    let running = {
        let (db, insert) = (db.clone(), insert.clone());
        tokio::spawn(async move {
            db.transaction(|tx| async move {
                tx.raw()
                    .execute_sql(AssertSqlSafe(insert.clone()), vec![1i64.into()])
                    .await?;
                let _ = began_tx.send(());
                let _ = go_on.await;
                // Still running after the shutdown began: it goes on with its connection.
                tx.raw()
                    .execute_sql(AssertSqlSafe(insert), vec![2i64.into()])
                    .await?;
                let rows = tx
                    .raw()
                    .fetch_all_sql("SELECT n FROM k_shut", vec![])
                    .await?;
                Ok(rows.len())
            })
            .await
        })
    };
    began.await.unwrap();
    let shutting = {
        let db = db.clone();
        tokio::spawn(async move { infra::shutdown(&db, Duration::from_secs(60)).await })
    };
    while !db.pool().is_closed() {
        tokio::task::yield_now().await;
    }
    // New work is refused at once, statements and transactions alike.
    let e = db
        .raw()
        .fetch_all_sql("SELECT 1 AS one", vec![])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::PoolClosed), "{d}: {e:?}");
    let e = db
        .transaction(|_| async { Ok(()) })
        .await
        .expect_err("refused");
    assert!(matches!(e, Error::PoolClosed), "{d}: {e:?}");
    assert!(!shutting.is_finished(), "{d}: it waits for the transaction");

    go_on_tx.send(()).unwrap();
    let seen = running
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{d}: {e}"));
    assert_eq!(seen, 2, "{d}: the running transaction finished its work");
    let report = tokio::time::timeout(Duration::from_secs(60), shutting)
        .await
        .expect("shutdown ends once the transaction is done")
        .unwrap();
    assert!(report.drained, "{d}: {report:?}");
    assert!(report.in_use_at_start >= 1, "{d}: {report:?}");
}

#[kysera::test(databases = "all")]
async fn shutdown_gives_up_waiting_after_its_timeout(db: Executor) {
    let d = db.dialect();
    let (began_tx, began) = tokio::sync::oneshot::channel();
    let (go_on_tx, go_on) = tokio::sync::oneshot::channel::<()>();
    let running = {
        let db = db.clone();
        tokio::spawn(async move {
            db.transaction(|tx| async move {
                let _ = began_tx.send(());
                let _ = go_on.await;
                tx.raw().fetch_all_sql("SELECT 1 AS one", vec![]).await
            })
            .await
        })
    };
    began.await.unwrap();
    let report = infra::shutdown(&db, Duration::from_millis(200)).await;
    assert!(!report.drained, "{d}: {report:?}");
    assert!(report.in_use_at_start >= 1, "{d}: {report:?}");
    // The transaction was not cut off: it finishes, and its connection then closes.
    go_on_tx.send(()).unwrap();
    let rows = running
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{d}: {e}"));
    assert_eq!(rows.len(), 1, "{d}");
    let _ = tokio::time::timeout(Duration::from_secs(30), db.pool().close()).await;
}
