//! Mistakes fail loudly on every database instead of quietly matching the wrong rows: a misspelt
//! column is an error (SQLite would read a double-quoted unknown name as a string), and raw SQL
//! whose placeholders and values do not match is refused (SQLite would bind NULL).

#[macro_use]
mod common;

use kysera::query::{Insert, Order, Select, Update, col};
use kysera::{AssertSqlSafe, Dialect, Executor};

async fn table(db: &Executor) -> String {
    let t = common::table("strict");
    common::ddl(
        db,
        &format!("CREATE TABLE {t} (a BIGINT NOT NULL, b VARCHAR(20) NULL)"),
    )
    .await;
    db.execute(
        Insert::into(&t)
            .columns(["a", "b"])
            .values([1.into(), kysera::Value::from("x")])
            .values([2.into(), kysera::Value::from("y")]),
    )
    .await
    .unwrap();
    t
}

async fn count(db: &Executor, t: &str) -> i64 {
    db.count(Select::from(t)).await.unwrap()
}

per_database! {
    async fn a_misspelt_column_is_an_error_on_every_path(db) {
        let d = db.dialect();
        let t = table(&db).await;
        let cases: Vec<(&str, kysera::Result<Vec<kysera::Row>>)> = vec![
            ("filter", db.fetch_all(Select::from(&t).filter(col("nosuch").ne("x"))).await),
            ("column", db.fetch_all(Select::from(&t).column(col("nosuch"))).await),
            ("order", db.fetch_all(Select::from(&t).order_by(col("nosuch"), Order::Asc)).await),
            ("qualified", db.fetch_all(Select::from(&t).filter(col(&format!("{t}.nosuch")).eq(1))).await),
        ];
        for (what, r) in cases {
            assert!(r.is_err(), "{d}: {what} on a misspelt column returned {r:?}");
        }
        assert!(db.execute(Update::table(&t).set("nosuch", 1)).await.is_err(), "{d}");
        assert!(db.count(Select::from(&t).filter(col("nosuch").is_null())).await.is_err(), "{d}");
        // Raw SQL with the database's own identifier quotes.
        let quoted = match d {
            Dialect::MySql => format!("SELECT `nosuch` FROM {t}"),
            _ => format!("SELECT \"nosuch\" FROM {t}"),
        };
        assert!(db.raw().fetch_all_sql(AssertSqlSafe(quoted), vec![]).await.is_err(), "{d}");
        // Text in single quotes is still text.
        let rows = db
            .raw()
            .fetch_all_sql(AssertSqlSafe(format!("SELECT a FROM {t} WHERE b = 'x'")), vec![])
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{d}");
        common::drop_tables(&db, &[&t]).await;
    }
}

per_database! {
    async fn raw_sql_with_mismatched_placeholders_is_refused(db) {
        let d = db.dialect();
        let t = table(&db).await;
        let insert = match d {
            Dialect::Postgres => format!("INSERT INTO {t} (a, b) VALUES ($1, $2)"),
            _ => format!("INSERT INTO {t} (a, b) VALUES (?, ?)"),
        };
        for values in [vec![], vec![kysera::Value::from(3i64)], vec![3i64.into(), "z".into(), 4i64.into()]] {
            let n = values.len();
            let r = db.raw().execute_sql(AssertSqlSafe(insert.clone()), values).await;
            assert!(r.is_err(), "{d}: 2 placeholders, {n} values: {r:?}");
            let r = db.raw().fetch_all_sql(AssertSqlSafe(insert.clone()), match n { 0 => vec![], _ => vec![kysera::Value::from(5i64)] }).await;
            assert!(r.is_err(), "{d}: fetch_all_sql with a mismatch: {r:?}");
        }
        assert_eq!(count(&db, &t).await, 2, "{d}: nothing was written");
        // The right number still works.
        db.raw().execute_sql(AssertSqlSafe(insert), vec![3i64.into(), "z".into()]).await.unwrap();
        assert_eq!(count(&db, &t).await, 3, "{d}");
        common::drop_tables(&db, &[&t]).await;
    }
}
