//! The executor: plugins intercepting every query (inside and outside transactions), raw
//! bypass, plugin validation, transactions (commit, rollback, panic, savepoints), connecting.

#[macro_use]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kysera::query::{Delete, Insert, Operation, Query, Select, Update, col};
use kysera::{Error, Executor, Plugin, QueryContext};

/// Scopes one table to an organisation: adds `org = 'a'` to every read/update/delete of the
/// table (main or joined) and sets `org` on inserts; counts what it saw; refuses DELETE
/// without a filter.
struct OrgScope {
    table: String,
    seen: AtomicUsize,
    in_tx: AtomicUsize,
}

impl Plugin for OrgScope {
    fn name(&self) -> &str {
        "org-scope"
    }
    fn intercept(&self, query: &mut Query, cx: &QueryContext) -> kysera::Result<()> {
        let touches_main = query.table() == self.table;
        let joined: Vec<String> = query
            .joined_tables()
            .filter(|t| t.name == self.table)
            .map(|t| t.reference().to_string())
            .collect();
        if !touches_main && joined.is_empty() {
            return Ok(());
        }
        self.seen.fetch_add(1, Ordering::SeqCst);
        if cx.in_transaction {
            self.in_tx.fetch_add(1, Ordering::SeqCst);
        }
        if query.operation() == Operation::Delete && query.filter().is_none() {
            return Err(Error::rejected(self.name(), "DELETE without WHERE"));
        }
        match query {
            Query::Insert(_) => query.set_value("org", "a")?,
            Query::Select(s) => {
                if touches_main {
                    let prefix = s.table.reference().to_string();
                    s.add_filter(col(&format!("{prefix}.org")).eq("a"));
                }
                for alias in joined {
                    s.add_filter(col(&format!("{alias}.org")).eq("a"));
                }
            }
            _ => query.add_filter(col("org").eq("a"))?,
        }
        Ok(())
    }
}

fn org_scope(table: &str) -> Arc<OrgScope> {
    Arc::new(OrgScope {
        table: table.to_string(),
        seen: AtomicUsize::new(0),
        in_tx: AtomicUsize::new(0),
    })
}

async fn seed_orgs(raw: &Executor, t: &str) {
    let ins = Insert::into(t)
        .columns(["email", "name", "org"])
        .values(["a1@x", "A1", "a"])
        .values(["a2@x", "A2", "a"])
        .values(["b1@x", "B1", "b"]);
    raw.raw().execute(ins).await.unwrap();
}

/// The same scenario, run through `db` (plain or a transaction executor).
async fn scoped_scenario(db: &Executor, t: &str) {
    let d = db.dialect();
    assert_eq!(db.count(Select::from(t)).await.unwrap(), 2, "{d}");
    let names: Vec<String> = db
        .fetch_all(Select::from(t).column(col("name")))
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("name").unwrap())
        .collect();
    assert!(names.iter().all(|n| n.starts_with('A')), "{d}: {names:?}");
    assert!(
        !db.exists(Select::from(t).filter(col("name").eq("B1")))
            .await
            .unwrap(),
        "{d}"
    );
    // Joined under an alias, the filter follows the alias.
    let self_join = Select::from(t)
        .alias("x")
        .inner_join(t, "y", col("y.id").eq_col(col("x.id")))
        .filter(col("y.name").eq("B1"));
    assert!(db.fetch_all(self_join).await.unwrap().is_empty(), "{d}");
    // Writes only reach the scope.
    assert_eq!(
        db.execute(Update::table(t).set("age", 5i64)).await.unwrap(),
        2,
        "{d}"
    );
    assert_eq!(
        db.execute(Delete::from(t).filter(col("name").eq("B1")))
            .await
            .unwrap(),
        0,
        "{d}"
    );
    // Inserts get the org set, whatever they said.
    db.execute(
        Insert::into(t)
            .set("email", "new@x")
            .set("name", "N")
            .set("org", "b"),
    )
    .await
    .unwrap();
    assert_eq!(db.count(Select::from(t)).await.unwrap(), 3, "{d}");
    // The plugin refuses, with its name.
    match db.execute(Delete::from(t)).await {
        Err(Error::Rejected { plugin, .. }) => assert_eq!(plugin, "org-scope"),
        other => panic!("{d}: expected a refusal, got {other:?}"),
    }
}

per_database! {
    async fn interceptor_filters_inside_and_outside_transactions(plain) {
        let d = plain.dialect();
        for in_tx in [false, true] {
            let t = common::users_table(&plain).await;
            seed_orgs(&plain, &t).await;
            let plugin = org_scope(&t);
            let db = plain.with_plugins(vec![plugin.clone()]).unwrap();
            assert_eq!(db.plugins().len(), 1);
            if in_tx {
                let t2 = t.clone();
                db.transaction(async move |tx| {
                    scoped_scenario(&tx, &t2).await;
                    Ok::<_, kysera::Error>(())
                })
                .await
                .unwrap();
                assert!(
                    plugin.in_tx.load(Ordering::SeqCst) >= 9,
                    "{d}: plugin not applied in tx"
                );
            } else {
                scoped_scenario(&db, &t).await;
                assert_eq!(plugin.in_tx.load(Ordering::SeqCst), 0);
            }
            assert!(plugin.seen.load(Ordering::SeqCst) >= 9, "{d}");
            // What really is in the table: raw bypasses the plugin; B1 untouched, the insert
            // was forced into org a, the update reached only org a.
            let rows = db
                .raw()
                .fetch_all(Select::from(&t).order_by(col("email"), kysera::query::Order::Asc))
                .await
                .unwrap();
            let got: Vec<(String, String, Option<i64>)> = rows
                .iter()
                .map(|r| {
                    (
                        r.get("name").unwrap(),
                        r.get("org").unwrap(),
                        r.get("age").unwrap(),
                    )
                })
                .collect();
            assert_eq!(
                got,
                [
                    ("A1".into(), "a".into(), Some(5)),
                    ("A2".into(), "a".into(), Some(5)),
                    ("B1".into(), "b".into(), None),
                    ("N".into(), "a".into(), None),
                ],
                "{d} in_tx={in_tx}"
            );
            // to_sql shows the rewritten query.
            let (sql, params) = db.to_sql(Select::from(&t)).unwrap();
            assert!(sql.contains("org"), "{sql}");
            assert_eq!(params.len(), 1);
            common::drop_tables(&plain, &[&t]).await;
        }
    }
}

#[tokio::test]
async fn plugin_validation_reaches_the_executor() {
    struct Named(&'static str, Vec<String>);
    impl Plugin for Named {
        fn name(&self) -> &str {
            self.0
        }
        fn dependencies(&self) -> Vec<String> {
            self.1.clone()
        }
    }
    let db = kysera::connect("sqlite::memory:").await.unwrap();
    let err = db
        .with_plugins(vec![Arc::new(Named("audit", vec!["rls".into()]))])
        .unwrap_err();
    assert!(
        matches!(err, Error::PluginConfig(ref m) if m.contains("`rls`")),
        "{err}"
    );
    let err = db
        .with_plugins(vec![
            Arc::new(Named("a", vec!["b".into()])),
            Arc::new(Named("b", vec!["a".into()])),
        ])
        .unwrap_err();
    assert!(err.to_string().contains("cycle"), "{err}");
    let ok = db
        .with_plugins(vec![
            Arc::new(Named("audit", vec!["rls".into()])),
            Arc::new(Named("rls", vec![])),
        ])
        .unwrap();
    let order: Vec<&str> = ok.plugins().iter().map(|p| p.name()).collect();
    assert_eq!(order, ["rls", "audit"]);
}

per_database! {
    async fn transactions_commit_rollback_panic_and_savepoints(db) {
        let d = db.dialect();
        let t = common::users_table(&db).await;
        let count =
            |db: Executor, t: String| async move { db.count(Select::from(&t)).await.unwrap() };
        let add = |email: &str| {
            Insert::into(&t)
                .set("email", email.to_string())
                .set("name", "n")
        };

        // Commit on Ok.
        let (q1, q2) = (add("c1@x"), add("c2@x"));
        db.transaction(async move |tx| {
            tx.execute(q1).await?;
            tx.execute(q2).await?;
            Ok::<_, kysera::Error>(())
        })
        .await
        .unwrap();
        assert_eq!(count(db.clone(), t.clone()).await, 2, "{d}");

        // Rollback on Err, and the error comes back unchanged.
        let q = add("r1@x");
        #[derive(Debug, PartialEq)]
        enum AppError {
            Db(String),
            Rule,
        }
        impl From<Error> for AppError {
            fn from(e: Error) -> Self {
                AppError::Db(e.to_string())
            }
        }
        let res: Result<(), AppError> = db
            .transaction_with_error(async move |tx| {
                tx.execute(q).await?;
                Err(AppError::Rule)
            })
            .await;
        assert_eq!(res, Err(AppError::Rule));
        assert_eq!(count(db.clone(), t.clone()).await, 2, "{d}: rolled back");

        // A database error inside rolls everything back.
        let (q1, q2) = (add("r2@x"), add("c1@x"));
        let res = db
            .transaction(async move |tx| {
                tx.execute(q1).await?;
                tx.execute(q2).await // duplicate email
            })
            .await;
        assert!(
            matches!(res, Err(Error::UniqueViolation(_))),
            "{d}: {res:?}"
        );
        assert_eq!(count(db.clone(), t.clone()).await, 2, "{d}");

        // Rollback on panic; the panic continues to the caller.
        let q = add("p1@x");
        let db2 = db.clone();
        let joined = tokio::spawn(async move {
            db2.transaction(async move |tx| {
                tx.execute(q).await?;
                if tx.in_transaction() {
                    panic!("boom");
                }
                Ok::<_, kysera::Error>(())
            })
            .await
        })
        .await;
        assert!(joined.unwrap_err().is_panic());
        assert_eq!(
            count(db.clone(), t.clone()).await,
            2,
            "{d}: rolled back after panic"
        );

        // Nested: the inner savepoint rolls back alone; the outer commits.
        let (outer_q, inner_q, inner_ok) = (add("o1@x"), add("i1@x"), add("i2@x"));
        let t2 = t.clone();
        db.transaction(async move |tx| {
            tx.execute(outer_q).await?;
            let inner: kysera::Result<()> = tx
                .transaction(async move |sp| {
                    sp.execute(inner_q).await?;
                    Err(Error::InvalidQuery("inner fails".into()))
                })
                .await;
            assert!(inner.is_err());
            tx.transaction(async move |sp| sp.execute(inner_ok).await.map(drop))
                .await?;
            assert_eq!(tx.count(Select::from(&t2)).await?, 4);
            Ok::<_, kysera::Error>(())
        })
        .await
        .unwrap();
        let emails: Vec<String> = db
            .fetch_all(
                Select::from(&t)
                    .column(col("email"))
                    .order_by(col("email"), kysera::query::Order::Asc),
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("email").unwrap())
            .collect();
        assert_eq!(emails, ["c1@x", "c2@x", "i2@x", "o1@x"], "{d}");

        // A transaction executor kept past its closure is closed, not silently auto-committing.
        let leaked = db
            .transaction(async |tx| Ok::<_, kysera::Error>(tx))
            .await
            .unwrap();
        let res = leaked.execute(add("late@x")).await;
        assert!(matches!(res, Err(Error::TransactionClosed)), "{d}: {res:?}");
        common::drop_tables(&db, &[&t]).await;
    }
}

#[tokio::test]
async fn connect_errors_are_clear() {
    let err = kysera::connect("oracle://scott:tiger@db/x")
        .await
        .unwrap_err();
    match &err {
        Error::InvalidUrl { url, .. } => assert!(!url.contains("tiger"), "password leaked: {url}"),
        other => panic!("{other:?}"),
    }
    // Nothing listens on port 1; both attempts run at once (each retries until its timeout).
    let (pg, my) = tokio::join!(
        kysera::connect("postgres://u:secret@127.0.0.1:1/nothing"),
        kysera::connect("mysql://root@127.0.0.1:1/nothing")
    );
    match &pg.unwrap_err() {
        Error::Connection { url, .. } => assert!(!url.contains("secret") && url.contains("***")),
        other => panic!("{other:?}"),
    }
    let err = my.unwrap_err();
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
    let err = kysera::connect("postgres://[bad").await.unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
    // A SQLite file that does not exist is not created unless the URL asks.
    let err = kysera::connect("sqlite:/nonexistent-dir/x/y.db")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidUrl { reason, .. } if reason.contains("mode=rwc")),
        "{err:?}"
    );
    let err = kysera::connect("sqlite:/nonexistent-dir/x/y.db?mode=rwc")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
    let path =
        std::env::temp_dir().join(format!("kysera_new_{}.db", uuid::Uuid::new_v4().simple()));
    let missing = format!("sqlite://{}", path.display());
    assert!(matches!(
        kysera::connect(&missing).await,
        Err(Error::InvalidUrl { .. })
    ));
    assert!(!path.exists(), "a misspelt path creates nothing");
    let created = kysera::connect(&format!("{missing}?mode=rwc"))
        .await
        .unwrap();
    assert!(path.exists());
    created.pool().close().await;
    // Once it exists, the plain URL opens it.
    kysera::connect(&missing)
        .await
        .unwrap()
        .pool()
        .close()
        .await;
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn existing_pool_and_raw_sql() {
    let pool = kysera::sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    let db = Executor::new(pool);
    assert_eq!(db.dialect(), kysera::Dialect::Sqlite);
    db.raw()
        .execute_sql(
            "CREATE TABLE t (x INTEGER); CREATE TABLE u (y INTEGER)",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        db.raw()
            .execute_sql(
                "INSERT INTO t (x) VALUES (?), (?)",
                vec![1.into(), 2.into()]
            )
            .await
            .unwrap(),
        2
    );
    let rows = db
        .raw()
        .fetch_all_sql("SELECT x FROM t WHERE x > ?", vec![1.into()])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<i64>("x").unwrap(), 2);
}

per_database! {
    async fn nested_transactions_are_isolated_cancellable_and_recoverable(db) {
        let d = db.dialect();
        let t = common::users_table(&db).await;
        let add = |email: &str| {
            Insert::into(&t)
                .set("email", email.to_string())
                .set("name", "n")
        };
        let (a1, a2, b1, gone, after, dup, last) = (
            add("a1@x"),
            add("a2@x"),
            add("b1@x"),
            add("gone@x"),
            add("after@x"),
            add("after@x"),
            add("last@x"),
        );
        let t2 = t.clone();
        db.transaction(async move |tx| {
            // Two nested transactions started at once: they run one after the other, and the
            // failing one rolls back only its own work.
            let failing = tx.transaction(async move |sp| {
                sp.execute(a1).await?;
                tokio::task::yield_now().await;
                sp.execute(a2).await?;
                Err::<(), _>(Error::InvalidQuery("a fails".into()))
            });
            let succeeding = tx.transaction(async move |sp| sp.execute(b1).await);
            let (ra, rb) = tokio::join!(failing, succeeding);
            assert!(ra.is_err());
            rb?;

            // A nested transaction whose future is dropped (here by a timeout) is undone.
            let slow = tx.transaction(async move |sp| {
                sp.execute(gone).await?;
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                Ok::<_, Error>(())
            });
            assert!(
                tokio::time::timeout(std::time::Duration::from_millis(200), slow)
                    .await
                    .is_err()
            );

            // A failed statement swallowed inside a savepoint: the level is undone (PostgreSQL
            // refuses RELEASE then, and says so), and the outer transaction goes on.
            tx.execute(after).await?;
            let swallowed = tx
                .transaction(async move |sp| {
                    let dup_result = sp.execute(dup).await;
                    assert!(matches!(dup_result, Err(Error::UniqueViolation(_))));
                    Ok::<_, Error>(())
                })
                .await;
            if tx.dialect() == kysera::Dialect::Postgres {
                assert!(swallowed.is_err());
            }
            tx.execute(last).await?;

            // A nested executor kept past its closure cannot open savepoints either.
            let kept = tx.transaction(async |sp| Ok::<_, Error>(sp)).await?;
            let res = kept
                .transaction(async |sp| sp.execute(Select::from(&t2)).await)
                .await;
            assert!(matches!(res, Err(Error::TransactionClosed)), "{res:?}");
            Ok::<_, Error>(())
        })
        .await
        .unwrap_or_else(|e| panic!("{d}: {e}"));
        let emails: Vec<String> = db
            .fetch_all(
                Select::from(&t)
                    .column(col("email"))
                    .order_by(col("email"), kysera::query::Order::Asc),
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("email").unwrap())
            .collect();
        assert_eq!(emails, ["after@x", "b1@x", "last@x"], "{d}");
        common::drop_tables(&db, &[&t]).await;
    }
}

/// On an in-memory SQLite database (one connection), using the outer executor inside one of its
/// transactions fails at once with an error saying what to do, instead of waiting for the pool's
/// acquire timeout.
#[tokio::test]
async fn the_outer_handle_inside_a_transaction_on_in_memory_sqlite_fails_at_once() {
    let db = kysera::connect("sqlite::memory:").await.unwrap();
    common::ddl(&db, "CREATE TABLE t (x INTEGER)").await;
    let started = std::time::Instant::now();
    let outer = db.clone();
    db.transaction(async |tx| {
        tx.execute(Insert::into("t").set("x", 1i64)).await?;
        let wrong = outer.count(Select::from("t")).await;
        assert!(
            matches!(wrong, Err(Error::ConnectionHeldByTransaction)),
            "{wrong:?}"
        );
        // The transaction's own executor works, and so does the outer one once it ends.
        assert_eq!(tx.count(Select::from("t")).await?, 1);
        Ok(())
    })
    .await
    .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(db.count(Select::from("t")).await.unwrap(), 1);
    // Outside any transaction, concurrent use of the one connection simply waits its turn.
    let (a, b) = tokio::join!(db.count(Select::from("t")), db.count(Select::from("t")));
    assert_eq!((a.unwrap(), b.unwrap()), (1, 1));
}
