//! A write whose returned row cannot be decoded is undone, on every database: the caller sees
//! the decode error (naming the column, its SQL type and the Rust type) and no row stays, so a
//! retry does not duplicate it. Outside a transaction the write and its decoding form a
//! transaction of their own; inside one, a savepoint.

#[macro_use]
mod common;

use chrono::{DateTime, Utc};
use kysera::query::{Insert, Select};
use kysera::{Dialect, Error, Executor, Model, Repository};

/// `at` is a timestamp in Rust, but its column holds text that is not one ('soon').
#[derive(Debug, Repository)]
#[kysera(table = "k_dbc_stamps")]
struct Stamp {
    #[kysera(primary_key, generated)]
    id: i64,
    label: String,
    #[kysera(default)]
    at: DateTime<Utc>,
}

/// The same row read through the executor's typed fetch.
#[derive(Debug, kysera::FromRow)]
struct StampRow {
    id: i64,
    at: DateTime<Utc>,
}

/// `n` is an `i64` in Rust over an `INTEGER` column: a mismatch PostgreSQL reports (`INT4`).
#[derive(Debug, Repository)]
#[kysera(table = "k_dbc_counters")]
struct Counter {
    #[kysera(primary_key, generated)]
    id: i64,
    n: i64,
}

async fn tables(db: &Executor) {
    let d = db.dialect();
    common::drop_tables(db, &[Stamp::INFO.table, Counter::INFO.table]).await;
    let text = if d == Dialect::MySql {
        "VARCHAR(20)"
    } else {
        "TEXT"
    };
    common::ddl(
        db,
        &format!(
            "CREATE TABLE {} ({}, label VARCHAR(20) NOT NULL, at {text} NOT NULL DEFAULT 'soon')",
            Stamp::INFO.table,
            common::id_column(d)
        ),
    )
    .await;
    common::ddl(
        db,
        &format!(
            "CREATE TABLE {} ({}, n INTEGER NOT NULL)",
            Counter::INFO.table,
            common::id_column(d)
        ),
    )
    .await;
}

async fn rows(db: &Executor, table: &str) -> usize {
    db.raw().fetch_all(Select::from(table)).await.unwrap().len()
}

/// The labels stored, read as text (the `at` column is never decoded), sorted.
async fn labels(db: &Executor) -> Vec<String> {
    let rows = db.raw().fetch_all(Select::from(Stamp::INFO.table)).await;
    let mut out: Vec<String> = rows
        .unwrap()
        .iter()
        .map(|r| r.get("label").unwrap())
        .collect();
    out.sort();
    out
}

fn new_stamp(label: &str) -> NewStamp {
    NewStamp {
        label: label.into(),
        at: None,
    }
}

/// The error names the column, the SQL type and the Rust type.
fn assert_decode_of_at(d: Dialect, res: Result<impl std::fmt::Debug, Error>) {
    match res {
        Err(
            ref e @ Error::Decode {
                ref column,
                ref sql_type,
                ref rust_type,
                ..
            },
        ) => {
            assert_eq!(column, "at", "{d}");
            assert!(sql_type.is_some(), "{d}: {e}");
            assert_eq!(rust_type.as_deref(), Some("DateTime<Utc>"), "{d}");
            let shown = e.to_string();
            assert!(
                shown.contains("`at`") && shown.contains("DateTime<Utc>"),
                "{d}: {shown}"
            );
        }
        other => panic!("{d}: expected a decode error, got {other:?}"),
    }
}

per_database! {
    async fn failed_decodes_undo_their_writes(db) {
        let d = db.dialect();
        tables(&db).await;
        let stamps = Stamp::repo(&db);

        // One insert, and a batch: refused and undone.
        assert_decode_of_at(d, stamps.create(new_stamp("a")).await);
        assert_eq!(rows(&db, Stamp::INFO.table).await, 0, "{d}: create left its row");
        assert_decode_of_at(
            d,
            stamps.create_many(vec![new_stamp("b"), new_stamp("c")]).await,
        );
        assert_eq!(rows(&db, Stamp::INFO.table).await, 0, "{d}: create_many left rows");

        // The executor's own typed fetch of a write.
        let ins = Insert::into(Stamp::INFO.table)
            .primary_key(["id"])
            .set("label", "d")
            .returning_all();
        assert_decode_of_at(d, db.fetch_one_as::<StampRow>(ins).await.map(|s| (s.id, s.at)));
        assert_eq!(rows(&db, Stamp::INFO.table).await, 0, "{d}: fetch_one_as left its row");

        // An update whose new row cannot be read changes nothing.
        db.raw()
            .execute(Insert::into(Stamp::INFO.table).set("label", "old"))
            .await
            .unwrap();
        let id: i64 = db.raw().fetch_all(Select::from(Stamp::INFO.table)).await.unwrap()[0]
            .get("id")
            .unwrap();
        let patch = StampPatch {
            label: Some("new".into()),
            ..Default::default()
        };
        assert_decode_of_at(d, stamps.update(id, patch).await);
        assert_eq!(labels(&db).await, ["old"], "{d}: the failed update stayed");

        // Inside a transaction: the failed create is undone (a savepoint), the transaction goes
        // on and commits the rest.
        let tx_res = db
            .transaction(async |tx| {
                let failed = Stamp::repo(&tx).create(new_stamp("in-tx")).await;
                assert_decode_of_at(tx.dialect(), failed);
                tx.raw()
                    .execute(Insert::into(Stamp::INFO.table).set("label", "kept"))
                    .await?;
                Ok(())
            })
            .await;
        tx_res.unwrap();
        assert_eq!(labels(&db).await, ["kept", "old"], "{d}");

        // `i64` over `INTEGER`: PostgreSQL reports `INT4` and nothing is written; SQLite and
        // MySQL read it as `i64`.
        let counters = Counter::repo(&db);
        let made = counters.create(NewCounter { n: 7 }).await;
        if d == Dialect::Postgres {
            match &made {
                Err(Error::Decode { column, sql_type, rust_type, .. }) => {
                    assert_eq!(column, "n");
                    assert_eq!(sql_type.as_deref(), Some("INT4"));
                    assert_eq!(rust_type.as_deref(), Some("i64"));
                }
                other => panic!("expected a decode error, got {other:?}"),
            }
            assert_eq!(rows(&db, Counter::INFO.table).await, 0);
        } else {
            assert_eq!(made.unwrap().n, 7, "{d}");
            assert_eq!(rows(&db, Counter::INFO.table).await, 1, "{d}");
        }
        common::drop_tables(&db, &[Stamp::INFO.table, Counter::INFO.table]).await;
    }
}
