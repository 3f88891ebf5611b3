//! Migrations on every database: an embedded folder applied and reverted (the schema read back),
//! a failing migration that leaves no history row, a changed migration refused, Rust-code
//! migrations, and eight runners at once applying each migration exactly once. Each test runs
//! with `#[kysera::test(databases = "all")]`: a fresh database per run, so fixed table names
//! and no cleaning up.
#![cfg(feature = "testing")]

use kysera::migrate::{Migration, Migrator, State};
use kysera::query::Select;
use kysera::{Dialect, Error, Executor};

/// Whether `table` exists (a select from it succeeds).
async fn exists(db: &Executor, table: &str) -> bool {
    db.raw().fetch_all(Select::from(table)).await.is_ok()
}

fn states(status: &[kysera::migrate::MigrationStatus]) -> Vec<(i64, State)> {
    status.iter().map(|s| (s.version, s.state)).collect()
}

#[kysera::test(databases = "all")]
async fn an_embedded_folder_goes_up_and_down(db: Executor) {
    let d = db.dialect();
    let history = "k_mig_hist_embedded";
    let migrator = kysera::migrations!("tests/migrations").table(history);
    assert_eq!(migrator.migrations().len(), 4, "{d}");
    let status = migrator.status(&db).await.unwrap();
    assert!(
        status.iter().all(|s| s.state == State::Pending),
        "{d}: {status:?}"
    );

    // A dry run lists the SQL and changes nothing.
    let plan = migrator.plan_up(&db).await.unwrap();
    assert_eq!(
        plan.iter().map(|p| p.version).collect::<Vec<_>>(),
        [1, 2, 3, 4],
        "{d}"
    );
    assert!(
        plan[2].sql.as_deref().unwrap().contains("CREATE INDEX"),
        "{d}"
    );
    assert!(!exists(&db, "k_mig_items").await, "{d}");

    assert_eq!(migrator.up_to(&db, 3).await.unwrap(), [1, 2, 3], "{d}");
    db.raw()
        .execute_sql(
            "INSERT INTO k_mig_items (id, name, qty) VALUES (1, 'a', 5)",
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("{d}: {e}"));
    assert!(exists(&db, "k_mig_tags").await, "{d}");
    let status = migrator.status(&db).await.unwrap();
    assert_eq!(
        states(&status),
        [
            (1, State::Applied),
            (2, State::Applied),
            (3, State::Applied),
            (4, State::Pending)
        ],
        "{d}"
    );
    assert!(
        status[0].applied_at.is_some() && status[0].duration_ms.is_some(),
        "{d}"
    );

    // Down two, redo, then all the way down: the schema is as it was.
    assert_eq!(migrator.down(&db, 2).await.unwrap(), [3, 2], "{d}");
    assert!(!exists(&db, "k_mig_tags").await, "{d}");
    assert!(
        db.raw()
            .execute_sql("SELECT qty FROM k_mig_items", vec![])
            .await
            .is_err(),
        "{d}: qty dropped"
    );
    assert_eq!(migrator.up_to(&db, 2).await.unwrap(), [2], "{d}");
    assert_eq!(migrator.redo(&db).await.unwrap(), [2], "{d}");
    assert_eq!(migrator.down_to(&db, 0).await.unwrap(), [2, 1], "{d}");
    assert!(!exists(&db, "k_mig_items").await, "{d}");
    let status = migrator.status(&db).await.unwrap();
    assert!(
        status.iter().all(|s| s.state == State::Pending),
        "{d}: {status:?}"
    );

    // Everything, then a step without a down cannot be reverted.
    assert_eq!(migrator.up(&db).await.unwrap(), [1, 2, 3, 4], "{d}");
    assert!(
        migrator.up(&db).await.unwrap().is_empty(),
        "{d}: nothing pending"
    );
    let seeded = db
        .raw()
        .fetch_all(Select::from("k_mig_items"))
        .await
        .unwrap();
    assert_eq!(
        seeded.len(),
        1,
        "{d}: the seed ran once, its `;` inside a string intact"
    );
    let res = migrator.down(&db, 1).await;
    assert!(
        matches!(&res, Err(Error::Migration { version: 4, reason, .. }) if reason.contains("no down")),
        "{d}: {res:?}"
    );
    assert_eq!(
        migrator.reset(&db).await.ok(),
        None,
        "{d}: reset stops at the step without a down"
    );
}

#[kysera::test(databases = "all")]
async fn a_failing_migration_records_nothing_and_a_changed_one_is_refused(db: Executor) {
    let d = db.dialect();
    let (t, history) = ("k_mig_fail".to_string(), "k_mig_hist".to_string());
    let first = Migration::sql(
        1,
        "first",
        format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY)"),
    )
    .with_down(format!("DROP TABLE {t}"));
    // The second creates a table, then fails.
    let u = format!("{t}_u");
    let broken = Migration::sql(
        2,
        "broken",
        format!(
            "CREATE TABLE {u} (id BIGINT); CREATE TABLE {u}_v (id BIGINT PRIMARY KEY, oops NOT_A_TYPE ("
        ),
    );
    let migrator = Migrator::new([first.clone(), broken])
        .unwrap()
        .table(&history);
    let res = migrator.up(&db).await;
    assert!(
        matches!(&res, Err(Error::Migration { version: 2, name, .. }) if name == "broken"),
        "{d}: {res:?}"
    );
    let status = migrator.status(&db).await.unwrap();
    assert_eq!(
        states(&status),
        [(1, State::Applied), (2, State::Pending)],
        "{d}: no history row for the failure"
    );
    if Migrator::transactional_ddl(d) {
        assert!(
            !exists(&db, &u).await,
            "{d}: the failed migration is undone whole"
        );
    }

    // A migration changed after it was applied is refused, naming it, unless allowed.
    let changed = Migration::sql(
        1,
        "first",
        format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, x INT)"),
    );
    let second = Migrator::new([changed]).unwrap().table(&history);
    let res = second.up(&db).await;
    assert!(
        matches!(&res, Err(Error::Migration { version: 1, reason, .. }) if reason.contains("changed")),
        "{d}: {res:?}"
    );
    assert_eq!(
        states(&second.status(&db).await.unwrap()),
        [(1, State::Changed)],
        "{d}"
    );
    assert!(
        second.clone().allow_changed(true).up(&db).await.is_ok(),
        "{d}"
    );

    // Applied in the database, missing from the set: reported.
    let other = Migrator::new([]).unwrap().table(&history);
    assert_eq!(
        states(&other.status(&db).await.unwrap()),
        [(1, State::Missing)],
        "{d}"
    );
    // Two migrations with one version are refused.
    assert!(
        matches!(
            Migrator::new([first.clone(), first]),
            Err(Error::Migration { version: 1, .. })
        ),
        "{d}"
    );
}

#[kysera::test(databases = "all")]
async fn runners_started_together_apply_each_migration_once(db: Executor) {
    let d = db.dialect();
    let (t, history) = ("k_mig_once".to_string(), "k_mig_hist".to_string());
    // Applied twice, the second would fail (the table exists) or add a second row.
    let migrator = Migrator::new([
        Migration::sql(1, "table", format!("CREATE TABLE {t} (n BIGINT NOT NULL)")),
        Migration::sql(2, "row", format!("INSERT INTO {t} (n) VALUES (1)")),
        Migration::code(3, "code", {
            let t = t.clone();
            move |tx: Executor| {
                let t = t.clone();
                async move {
                    tx.raw()
                        .execute_sql(
                            kysera::AssertSqlSafe(format!("INSERT INTO {t} (n) VALUES (3)")),
                            vec![],
                        )
                        .await
                        .map(drop)
                }
            }
        }),
    ])
    .unwrap()
    .table(&history);
    // A fresh database: the runners race to create the history table too.
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let runners: Vec<_> = (0..8)
        .map(|_| {
            let (db, m, start) = (db.clone(), migrator.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                m.up(&db).await
            })
        })
        .collect();
    let mut applied = Vec::new();
    for r in runners {
        applied.extend(r.await.unwrap().unwrap_or_else(|e| panic!("{d}: {e}")));
    }
    applied.sort();
    assert_eq!(
        applied,
        [1, 2, 3],
        "{d}: each applied by exactly one runner"
    );
    let rows = db.raw().fetch_all(Select::from(&t)).await.unwrap();
    assert_eq!(rows.len(), 2, "{d}: each data step ran once");
    let status = migrator.status(&db).await.unwrap();
    assert!(status.iter().all(|s| s.state == State::Applied), "{d}");
    if d == Dialect::Sqlite {
        // One connection: the runners took turns.
        assert_eq!(status.len(), 3);
    }
}

#[kysera::test(databases = "all")]
async fn a_migration_marked_no_transaction_runs_on_its_own(db: Executor) {
    let d = db.dialect();
    let (t, history) = ("k_mig_notx".to_string(), "k_mig_hist".to_string());
    // PostgreSQL refuses CREATE INDEX CONCURRENTLY inside a transaction.
    let concurrently = if d == Dialect::Postgres {
        "CONCURRENTLY "
    } else {
        ""
    };
    let index = format!("-- no-transaction\nCREATE INDEX {concurrently}{t}_n ON {t} (n)");
    let migrator = Migrator::new([
        Migration::sql(1, "table", format!("CREATE TABLE {t} (n BIGINT NOT NULL)"))
            .with_down(format!("DROP TABLE {t}")),
        Migration::sql(2, "index", index.clone()).with_down(format!(
            "-- no-transaction\nDROP INDEX {t}_n{}",
            if d == Dialect::MySql {
                format!(" ON {t}")
            } else {
                String::new()
            }
        )),
    ])
    .unwrap()
    .table(&history);
    assert_eq!(
        migrator
            .up(&db)
            .await
            .unwrap_or_else(|e| panic!("{d}: {e}")),
        [1, 2],
        "{d}"
    );
    assert_eq!(
        migrator
            .down(&db, 1)
            .await
            .unwrap_or_else(|e| panic!("{d}: {e}")),
        [2],
        "{d}"
    );
    // A template left as `migrate new` wrote it (comments only) runs as nothing, and a
    // function body's own `$1` is not a placeholder.
    let mut extra = vec![Migration::sql(
        4,
        "template",
        "-- Write the change here.\n/* later */\n",
    )];
    if d == Dialect::Postgres {
        extra.push(Migration::sql(
            5,
            "function",
            format!("CREATE FUNCTION {t}_inc(int) RETURNS int LANGUAGE sql RETURN $1 + 1"),
        ));
    }
    let more = Migrator::new(extra).unwrap().table(&history);
    assert!(
        !more
            .up(&db)
            .await
            .unwrap_or_else(|e| panic!("{d}: {e}"))
            .is_empty(),
        "{d}"
    );
    if d == Dialect::Postgres {
        db.raw()
            .execute_sql(
                kysera::AssertSqlSafe(format!("DROP FUNCTION {t}_inc(int)")),
                vec![],
            )
            .await
            .unwrap();
        // The same without the marker fails, and records nothing.
        let plain = Migrator::new([Migration::sql(
            3,
            "plain",
            index.replacen("-- no-transaction\n", "", 1),
        )])
        .unwrap()
        .table(&history);
        assert!(
            matches!(
                plain.up(&db).await,
                Err(Error::Migration { version: 3, .. })
            ),
            "{d}"
        );
    }
}
