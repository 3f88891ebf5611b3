//! Every value in a date/time type's range round-trips exactly on every database, or the write
//! is refused before anything is stored: never stored as NULL while the write reports success.

#[macro_use]
mod common;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use kysera::query::{Insert, Select, col};
use kysera::{Dialect, Executor, Value};

fn naive(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
}

/// The edges the issue names: year 1, just before the Unix epoch, just past the 32-bit
/// `TIMESTAMP` limit, the last microsecond of year 9999.
fn edges() -> Vec<NaiveDateTime> {
    [
        "0001-01-01 00:00:00.000000",
        "1969-12-31 23:59:59.999999",
        "1970-01-01 00:00:00.000000",
        "2038-01-19 03:14:07.999999",
        "2038-01-19 03:14:08.000000",
        "9999-12-31 23:59:59.999999",
    ]
    .iter()
    .map(|s| naive(s))
    .collect()
}

async fn table(db: &Executor) -> String {
    let t = common::table("ranges");
    let (utc, ts, date, time) = match db.dialect() {
        Dialect::Postgres => ("TIMESTAMPTZ", "TIMESTAMP", "DATE", "TIME"),
        Dialect::MySql => ("DATETIME(6)", "DATETIME(6)", "DATE", "TIME(6)"),
        _ => ("TEXT", "TEXT", "TEXT", "TEXT"),
    };
    common::ddl(
        db,
        &format!(
            "CREATE TABLE {t} (id BIGINT NOT NULL, utc {utc} NULL, naive {ts} NULL, day {date} NULL, tod {time} NULL)"
        ),
    )
    .await;
    t
}

per_database! {
    async fn date_time_edges_round_trip_exactly(db) {
        let d = db.dialect();
        let t = table(&db).await;
        for (i, n) in edges().into_iter().enumerate() {
            let id = i as i64;
            let utc = n.and_utc();
            let row = Insert::into(&t)
                .set("id", id)
                .set("utc", utc)
                .set("naive", n)
                .set("day", n.date())
                .set("tod", n.time());
            db.execute(row).await.unwrap_or_else(|e| panic!("{d}: insert {n}: {e}"));
            let back = db
                .fetch_one(Select::from(&t).filter(col("id").eq(id)))
                .await
                .unwrap();
            assert_eq!(back.get::<Option<DateTime<Utc>>>("utc").unwrap(), Some(utc), "{d}: utc {n}");
            assert_eq!(back.get::<Option<NaiveDateTime>>("naive").unwrap(), Some(n), "{d}: naive {n}");
            assert_eq!(back.get::<Option<NaiveDate>>("day").unwrap(), Some(n.date()), "{d}: date {n}");
            assert_eq!(back.get::<Option<NaiveTime>>("tod").unwrap(), Some(n.time()), "{d}: time {n}");
            // Filtering by the value finds the row.
            let found = db
                .count(Select::from(&t).filter(col("utc").eq(utc)).filter(col("naive").eq(n)))
                .await
                .unwrap();
            assert_eq!(found, 1, "{d}: filter by {n}");
        }
        // Through raw SQL with bound values too.
        let n = naive("1969-07-20 20:17:40.000000");
        let insert = match d {
            Dialect::Postgres => format!("INSERT INTO {t} (id, utc, naive) VALUES ($1, $2, $3)"),
            _ => format!("INSERT INTO {t} (id, utc, naive) VALUES (?, ?, ?)"),
        };
        db.raw()
            .execute_sql(kysera::AssertSqlSafe(insert), vec![Value::from(100i64), n.and_utc().into(), n.into()])
            .await
            .unwrap();
        let back = db.fetch_one(Select::from(&t).filter(col("id").eq(100i64))).await.unwrap();
        assert_eq!(back.get::<Option<DateTime<Utc>>>("utc").unwrap(), Some(n.and_utc()), "{d}: raw utc");
        common::drop_tables(&db, &[&t]).await;
    }
}
