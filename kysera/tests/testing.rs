//! The testing utilities on every database: a test transaction always rolled back (after Ok,
//! Err and panic, with savepoints inside), factories (sequence, overrides, unsaved builds,
//! associations, behaviours applied), seeding from JSON, YAML and SQL, cleaning in foreign-key order.
#![cfg(feature = "testing")]

#[macro_use]
mod common;

use chrono::{DateTime, Utc};
use kysera::query::{Insert, Select};
use kysera::testing::{
    Clean, Factory, clean_database, seed_database, seed_yaml, test_in_transaction,
};
use kysera::{Dialect, Error, Executor, Model, Repository};

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_tt_authors")]
#[timestamps]
struct Author {
    #[kysera(primary_key, generated)]
    id: i64,
    email: String,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_tt_posts")]
struct Post {
    #[kysera(primary_key, generated)]
    id: i64,
    author_id: i64,
    title: String,
}

async fn rows(db: &Executor, table: &str) -> usize {
    db.raw().fetch_all(Select::from(table)).await.unwrap().len()
}

per_database! {
    #[flavor(flavor = "multi_thread", worker_threads = 2)]
    async fn test_transactions_and_factories(db) {
        let d = db.dialect();
        let clock = std::sync::Arc::new(kysera::FixedClock::new("2026-11-28T10:00:00Z".parse().unwrap()));
        let db = db.with_clock(clock.clone());
        let (a, p) = (Author::INFO.table, Post::INFO.table);
        common::drop_tables(&db, &[p, a]).await;
        let id = common::id_column(d);
        let ts = common::timestamp_type(d).replace("TIMESTAMP", "TIMESTAMPTZ");
        common::ddl(&db, &format!("CREATE TABLE {a} ({id}, email VARCHAR(60) NOT NULL UNIQUE, created_at {ts} NOT NULL)")).await;
        common::ddl(&db, &format!("CREATE TABLE {p} ({id}, author_id BIGINT NOT NULL, title VARCHAR(60) NOT NULL)")).await;

        let authors = Factory::<Author>::new(|n| NewAuthor { email: format!("author{n}@example.com") });
        let posts = Factory::<Post>::with_db({
            let authors = authors.clone();
            move |db, n| {
                let authors = authors.clone();
                async move {
                    let author = authors.create(&db).await?;
                    Ok(NewPost { author_id: author.id, title: format!("Post {n}") })
                }
            }
        });

        // Everything inside is rolled back after Ok, even a committed savepoint.
        let made = test_in_transaction(&db, async |tx| {
            let ada = authors.create_with(&tx, |n| n.email = "ada@example.com".into()).await?;
            assert_eq!(ada.created_at, kysera::Clock::now(&*clock), "timestamps applied");
            let many = authors.create_many(&tx, 3).await?;
            let post = posts.create_with(&tx, |n| n.title = "Hello".into()).await?;
            tx.transaction(async |inner| authors.create(&inner).await.map(drop)).await?;
            assert_eq!(Author::repo(&tx).count(None::<kysera::query::Filter>).await?, 6);
            Ok((ada, many, post))
        })
        .await
        .unwrap_or_else(|e| panic!("{d}: {e}"));
        assert_eq!(made.0.email, "ada@example.com", "{d}");
        let emails: Vec<_> = made.1.iter().map(|x| x.email.clone()).collect();
        assert_eq!(emails, ["author2@example.com", "author3@example.com", "author4@example.com"], "{d}: one sequence");
        assert_eq!(made.2.title, "Hello", "{d}");
        assert_eq!((rows(&db, a).await, rows(&db, p).await), (0, 0), "{d}: rolled back");

        // After Err: rolled back, the error returned.
        let res: kysera::Result<()> = test_in_transaction(&db, async |tx| {
            authors.create(&tx).await?;
            Err(Error::InvalidQuery("the test failed".into()))
        })
        .await;
        assert!(matches!(res, Err(Error::InvalidQuery(m)) if m == "the test failed"), "{d}");
        assert_eq!(rows(&db, a).await, 0, "{d}");

        // After a panic: rolled back, the panic goes on.
        let (db2, authors2) = (db.clone(), authors.clone());
        let panicked = tokio::spawn(async move {
            let _: kysera::Result<()> = test_in_transaction(&db2, async |tx| {
                authors2.create(&tx).await?;
                panic!("the test panicked");
            })
            .await;
        })
        .await;
        assert!(panicked.is_err_and(|e| e.is_panic()), "{d}");
        assert_eq!(rows(&db, a).await, 0, "{d}: rolled back after the panic");

        // Fake data through the re-exported `fake` crate.
        let fakes = {
            use kysera::testing::fake::{Fake, faker::internet::en::SafeEmail};
            Factory::<Author>::new(|n| NewAuthor { email: format!("{n}.{}", SafeEmail().fake::<String>()) })
        };
        let faked = test_in_transaction(&db, async |tx| fakes.create_many(&tx, 5).await).await.unwrap();
        assert!(faked.iter().all(|a| a.email.contains('@')), "{d}");

        // Unsaved builds; a factory that needs the database says so.
        let built = authors.build().unwrap();
        assert!(built.email.starts_with("author"), "{d}");
        assert_eq!(rows(&db, a).await, 0, "{d}: build saves nothing");
        assert!(matches!(posts.build(), Err(Error::InvalidQuery(_))), "{d}");
        common::drop_tables(&db, &[p, a]).await;
    }
}

per_database! {
    async fn seeding_and_cleaning_in_foreign_key_order(db) {
        let d = db.dialect();
        let (parents, children, kept) = ("k_seed_parents", "k_seed_children", "k_seed_kept");
        common::drop_tables(&db, &[children, parents, kept]).await;
        let auto = match d {
            Dialect::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Dialect::Postgres => "BIGSERIAL PRIMARY KEY",
            _ => "BIGINT AUTO_INCREMENT PRIMARY KEY",
        };
        if d == Dialect::Sqlite {
            common::ddl(&db, "PRAGMA foreign_keys = ON").await;
        }
        common::ddl(&db, &format!("CREATE TABLE {parents} (id {auto}, name VARCHAR(20) NOT NULL, note VARCHAR(20) NULL, born DATE NULL)")).await;
        common::ddl(&db, &format!("CREATE TABLE {children} (id BIGINT PRIMARY KEY, parent_id BIGINT NOT NULL REFERENCES {parents} (id), label VARCHAR(40) NOT NULL)")).await;
        common::ddl(&db, &format!("CREATE TABLE {kept} (id BIGINT PRIMARY KEY)")).await;
        db.execute(Insert::into(kept).set("id", 1i64)).await.unwrap();

        seed_database(&db, "tests/fixtures/seed").await.unwrap_or_else(|e| panic!("{d}: {e}"));
        assert_eq!((rows(&db, parents).await, rows(&db, children).await), (4, 3), "{d}");
        let label: String = db.raw().fetch_all(Select::from(children).filter(kysera::query::col("id").eq(11i64))).await.unwrap()[0].get("label").unwrap();
        assert_eq!(label, "b; with a semicolon", "{d}");
        // A date from JSON text (typed for PostgreSQL), and the counter moved past the fixture's
        // ids: the next row gets 3, not a duplicate 1.
        let born: chrono::NaiveDate = db.raw().fetch_all(Select::from(parents).filter(kysera::query::col("id").eq(1i64))).await.unwrap()[0].get("born").unwrap();
        assert_eq!(born.to_string(), "2026-01-02", "{d}");
        // From YAML: a date, a quoted string with a colon, a null.
        let six = &db.raw().fetch_all(Select::from(parents).filter(kysera::query::col("id").eq(6i64))).await.unwrap()[0];
        assert_eq!((six.get::<String>("name").unwrap(), six.get::<Option<String>>("note").unwrap()), ("six: quoted".into(), None), "{d}");
        let born: chrono::NaiveDate = db.raw().fetch_all(Select::from(parents).filter(kysera::query::col("id").eq(5i64))).await.unwrap()[0].get("born").unwrap();
        assert_eq!(born.to_string(), "2026-03-04", "{d}");
        let merged: chrono::NaiveDate = six.get("born").unwrap();
        assert_eq!(merged.to_string(), "2026-03-04", "{d}: the merge key applied");
        db.execute(Insert::into(parents).set("name", "next")).await.unwrap_or_else(|e| panic!("{d}: {e}"));
        let ids: Vec<i64> = db.raw().fetch_all(Select::from(parents)).await.unwrap().iter().map(|r| r.get("id").unwrap()).collect();
        assert!(ids.contains(&7), "{d}: {ids:?}");
        db.execute(kysera::query::Delete::from(parents).filter(kysera::query::col("id").eq(7i64))).await.unwrap();

        // Bad fixtures are errors that name the problem, and a failing file leaves nothing.
        for (yaml, says) in [
            ("k_seed_parents: [", "fixture YAML"),
            ("k_seed_parents: 3", "not a list of rows"),
            ("- k_seed_parents", "each item needs"),
            ("1: []", "must be a string"),
            ("k_seed_parents: [7]", "is not an object"),
            ("k_seed_parents: [{id: 20, name: x}, {id: 21, no_such_column: 1}]", ""),
        ] {
            let e = seed_yaml(&db, yaml).await.expect_err(yaml).to_string();
            assert!(e.contains(says), "{d}: {yaml}: {e}");
        }
        assert_eq!(rows(&db, parents).await, 4, "{d}: the failed file left no row");

        // Parents are listed first, and children reference them: emptied in the order the keys
        // allow; the kept table is left alone.
        let only = Clean::delete().only([parents, children, kept]).keep([kept]);
        let emptied = clean_database(&db, &only).await.unwrap_or_else(|e| panic!("{d}: {e}"));
        assert_eq!(emptied, [children, parents], "{d}");
        assert_eq!((rows(&db, parents).await, rows(&db, children).await, rows(&db, kept).await), (0, 0, 1), "{d}");

        // Truncate restarts the counters.
        for name in ["x", "y"] {
            db.execute(Insert::into(parents).set("name", name)).await.unwrap();
        }
        clean_database(&db, &Clean::truncate().only([parents, children])).await.unwrap_or_else(|e| panic!("{d}: {e}"));
        db.execute(Insert::into(parents).set("name", "fresh")).await.unwrap();
        let id: i64 = db.raw().fetch_all(Select::from(parents)).await.unwrap()[0].get("id").unwrap();
        assert_eq!(id, 1, "{d}: the counter restarted");

        if d == Dialect::Sqlite {
            // Every table of an isolated database (SQLite in memory is one), but the history.
            kysera::migrate::Migrator::new([]).unwrap().status(&db).await.unwrap();
            let emptied = clean_database(&db, &Clean::delete()).await.unwrap();
            assert!(emptied.contains(&kept.to_string()) && !emptied.iter().any(|t| t == "kysera_migrations"), "{emptied:?}");
            assert_eq!(rows(&db, kept).await, 0);
        }
        common::drop_tables(&db, &[children, parents, kept]).await;
    }
}

/// Each run (on every configured database) gets a database of its own, migrated and seeded:
/// the rows of the other test below, running at the same time on the same tables, never show.
#[kysera::test(
    databases = "all",
    migrations = "tests/migrations",
    fixtures = "tests/fixtures/attr"
)]
async fn a_fresh_database_per_run_a(db: Executor) -> kysera::Result<()> {
    fresh_database_run(db, "a").await
}

#[kysera::test(
    databases = "all",
    migrations = "tests/migrations",
    fixtures = "tests/fixtures/attr"
)]
async fn a_fresh_database_per_run_b(db: Executor) -> kysera::Result<()> {
    fresh_database_run(db, "b").await
}

async fn fresh_database_run(db: Executor, tag: &str) -> kysera::Result<()> {
    // The migration's own seed row and the fixture's.
    assert_eq!(rows(&db, "k_mig_items").await, 2, "{}", db.dialect());
    for i in 0..40i64 {
        db.execute(
            Insert::into("k_mig_items")
                .set("id", 10 + i)
                .set("name", format!("{tag}{i}")),
        )
        .await?;
        tokio::task::yield_now().await;
    }
    let all = db.raw().fetch_all(Select::from("k_mig_items")).await?;
    let foreign = all
        .iter()
        .filter(|r| {
            r.get::<String>("name").is_ok_and(|n| {
                n.len() > 1
                    && !n.starts_with(tag)
                    && n != "from a fixture"
                    && !n.starts_with("seeded")
            })
        })
        .count();
    assert_eq!(
        (all.len(), foreign),
        (42, 0),
        "{}: only this run's rows",
        db.dialect()
    );
    Ok(())
}

/// A failing test fails, on the database it failed on.
#[test]
fn a_failing_run_reports_its_database() {
    let outcome = std::panic::catch_unwind(|| {
        kysera::testing::__run_test(
            kysera::testing::__TestOptions {
                name: "doomed",
                databases: &["sqlite"],
                migrations: None,
                fixtures: &[],
            },
            &|_db| Box::pin(async { Err::<(), _>("it broke").map_err(|e| e.to_string()) }),
        )
    });
    let message = outcome.unwrap_err();
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        text.contains("doomed failed on SQLite") && text.contains("it broke"),
        "{text}"
    );
}
