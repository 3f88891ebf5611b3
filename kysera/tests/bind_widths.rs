//! Bound parameters of every integer width against every integer column type, the same SQL
//! text run again with another width (PostgreSQL caches a statement's parameter types by its
//! text), `i8` compared as a number, and non-finite floats refused where the database would
//! store something else — on every database.

#[macro_use]
mod common;

use kysera::query::{Insert, Select, Update, col};
use kysera::{Dialect, Error, Value};

/// 5 as every integer width Kysera binds.
fn fives() -> Vec<(&'static str, Value)> {
    vec![
        ("i8", 5i8.into()),
        ("i16", 5i16.into()),
        ("i32", 5i32.into()),
        ("i64", 5i64.into()),
        ("u8", 5u8.into()),
        ("u16", 5u16.into()),
        ("u32", 5u32.into()),
        ("u64", 5u64.into()),
    ]
}

per_database! {
    async fn every_integer_width_against_every_integer_column(db) {
        let d = db.dialect();
        let t = common::table("widths");
        common::ddl(
            &db,
            &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, a SMALLINT NOT NULL, b INTEGER NOT NULL, c BIGINT NOT NULL)"),
        )
        .await;
        for (id, v) in [(1i64, 5i64), (2, 7)] {
            db.execute(Insert::into(&t).set("id", id).set("a", v as i16).set("b", v as i32).set("c", v))
                .await
                .unwrap();
        }
        // The same SQL text, one width after another, in one process: every statement path.
        for column in ["a", "b", "c"] {
            for (width, five) in fives() {
                let what = format!("{d}: {column} against {width}");
                let s = Select::from(&t).filter(col(column).ne(five.clone()));
                assert_eq!(db.count(s.clone()).await.unwrap(), 1, "{what}: count");
                assert!(db.exists(s.clone()).await.unwrap(), "{what}: exists");
                assert_eq!(db.fetch_all(s).await.unwrap().len(), 1, "{what}: fetch");
                let gt = Select::from(&t).filter(col(column).gt(five.clone()));
                assert_eq!(db.count(gt).await.unwrap(), 1, "{what}: greater than");
                let n = db
                    .execute(Update::table(&t).set(column, five.clone()).filter(col(column).eq(five.clone())))
                    .await
                    .unwrap_or_else(|e| panic!("{what}: update: {e}"));
                assert!(n <= 1, "{what}: update");
                let ins = db
                    .execute(Insert::into(&t).set("id", 100i64).set("a", five.clone()).set("b", five.clone()).set("c", five.clone()))
                    .await;
                assert_eq!(ins.unwrap_or_else(|e| panic!("{what}: insert: {e}")), 1, "{what}: insert");
                db.execute(kysera::query::Delete::from(&t).filter(col("id").eq(100i64)))
                    .await
                    .unwrap();
            }
        }
        // Raw SQL binds the same way.
        let p = if d == Dialect::Postgres { "$1" } else { "?" };
        for (width, five) in fives() {
            let rows = db
                .raw()
                .fetch_all_sql(kysera::AssertSqlSafe(format!("SELECT id FROM {t} WHERE b = {p}")), vec![five])
                .await
                .unwrap_or_else(|e| panic!("{d}: raw {width}: {e}"));
            assert_eq!(rows.len(), 1, "{d}: raw {width}");
        }
        // Out of the column's range: the database's own error, not a protocol failure.
        let big = db.execute(Insert::into(&t).set("id", 3i64).set("a", 70_000i32).set("b", 1).set("c", 1)).await;
        if d != Dialect::Sqlite {
            assert!(big.is_err(), "{d}: 70000 in a SMALLINT");
        }
        common::drop_tables(&db, &[&t]).await;
    }
}

per_database! {
    async fn non_finite_floats_are_refused_where_they_would_change(db) {
        let d = db.dialect();
        let t = common::table("floats");
        common::ddl(&db, &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, x DOUBLE PRECISION NULL)")).await;
        for (id, x) in [(1i64, f64::NAN), (2, f64::INFINITY), (3, f64::NEG_INFINITY), (4, 1.5)] {
            let res = db.execute(Insert::into(&t).set("id", id).set("x", x)).await;
            let accepted = match d {
                Dialect::Postgres => true,
                Dialect::Sqlite => !x.is_nan(),
                _ => x.is_finite(),
            };
            match (&res, accepted) {
                (Ok(1), true) => {}
                (Err(Error::Unsupported { .. }), false) => {}
                other => panic!("{d}: {x}: {other:?}"),
            }
        }
        // What was accepted reads back as written (never NULL for a value that was given).
        for r in db.fetch_all(Select::from(&t)).await.unwrap() {
            let id: i64 = r.get("id").unwrap();
            let x: Option<f64> = r.get("x").unwrap();
            let expected = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.5][id as usize - 1];
            let x = x.unwrap_or_else(|| panic!("{d}: row {id} stored NULL"));
            assert!(x == expected || (x.is_nan() && expected.is_nan()), "{d}: row {id}: {x}");
        }
        common::drop_tables(&db, &[&t]).await;
    }
}
