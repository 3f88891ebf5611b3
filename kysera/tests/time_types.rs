//! The `time` crate's types as fields (feature `time`) on all three databases: dates, times,
//! date-times with and without an offset — at the edges of the years each database stores —
//! round-trip through create, find, typed filters, update, audit entries and cursor pages; an
//! instant written with an offset comes back as the same instant (in UTC).
#![cfg(all(feature = "testing", feature = "time"))]

use std::sync::Arc;

use kysera::audit::Audit;
use kysera::sqlx::AssertSqlSafe;
use kysera::types::time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};
use kysera::{Dialect, Executor, Repository};

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_times")]
#[audit]
struct Event {
    #[kysera(primary_key, generated)]
    id: i64,
    day: Date,
    at: Time,
    local: PrimitiveDateTime,
    instant: OffsetDateTime,
    ended: Option<OffsetDateTime>,
}

fn date(y: i32, m: Month, d: u8) -> Date {
    Date::from_calendar_date(y, m, d).unwrap()
}

fn time(h: u8, m: u8, s: u8, micro: u32) -> Time {
    Time::from_hms_micro(h, m, s, micro).unwrap()
}

async fn table(db: &Executor) {
    let (id, d, t, dt, tz) = match db.dialect() {
        Dialect::Postgres => (
            "BIGSERIAL PRIMARY KEY",
            "DATE",
            "TIME",
            "TIMESTAMP",
            "TIMESTAMPTZ",
        ),
        Dialect::MySql => (
            "BIGINT AUTO_INCREMENT PRIMARY KEY",
            "DATE",
            "TIME(6)",
            "DATETIME(6)",
            "DATETIME(6)",
        ),
        _ => (
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "TEXT",
            "TEXT",
            "TEXT",
            "TEXT",
        ),
    };
    db.raw()
        .execute_sql(
            AssertSqlSafe(format!(
                "CREATE TABLE k_times (id {id}, day {d} NOT NULL, at {t} NOT NULL, local {dt} NOT NULL, \
                 instant {tz} NOT NULL, ended {tz})"
            )),
            vec![],
        )
        .await
        .unwrap();
    Audit::new().install(db).await.unwrap();
}

#[kysera::test(databases = "all")]
async fn time_types_round_trip(db: Executor) {
    table(&db).await;
    let db = db.with_plugins(vec![Arc::new(Audit::new())]).unwrap();
    let events = Event::repo(&db);
    let ist = UtcOffset::from_hms(5, 30, 0).unwrap();
    // Year 1, just before the Unix epoch, past 2038, and the last microsecond of year 9999.
    let edges = [
        PrimitiveDateTime::new(date(1, Month::January, 1), time(0, 0, 0, 0)),
        PrimitiveDateTime::new(date(1969, Month::December, 31), time(23, 59, 59, 999_999)),
        PrimitiveDateTime::new(date(2038, Month::January, 19), time(3, 14, 8, 0)),
        PrimitiveDateTime::new(date(9999, Month::December, 31), time(23, 59, 59, 999_999)),
    ];
    let news: Vec<NewEvent> = edges
        .iter()
        .map(|&e| NewEvent {
            day: e.date(),
            at: e.time(),
            local: e,
            instant: e.assume_utc(),
            ended: None,
        })
        .collect();
    let made = events.create_many(news).await.unwrap();
    for (row, edge) in made.iter().zip(edges) {
        let back = events.find_by_id(row.id).await.unwrap().unwrap();
        assert_eq!(
            (back.day, back.at, back.local),
            (edge.date(), edge.time(), edge)
        );
        assert_eq!(back.instant, edge.assume_utc());
        assert_eq!(back.ended, None);
    }

    // An instant with an offset is the same instant back, in UTC.
    let noon_ist = PrimitiveDateTime::new(date(2026, Month::November, 28), time(12, 0, 0, 0))
        .assume_offset(ist);
    let updated = events
        .update(made[2].id, EventPatch::default().ended(Some(noon_ist)))
        .await
        .unwrap();
    let ended = updated.ended.unwrap();
    assert_eq!(ended, noon_ist);
    assert_eq!(ended.offset(), UtcOffset::UTC);
    assert_eq!(
        events.find_by_id(made[2].id).await.unwrap().unwrap(),
        updated
    );

    // Two instants in the same second, one on the second and one half a second past it:
    // ordered and compared as times on every database (on SQLite's text too).
    let whole = PrimitiveDateTime::new(date(2030, Month::June, 1), time(8, 0, 0, 0));
    let half = PrimitiveDateTime::new(date(2030, Month::June, 1), time(8, 0, 0, 500_000));
    let pair = events
        .create_many(
            [whole, half]
                .iter()
                .map(|&e| NewEvent {
                    day: e.date(),
                    at: e.time(),
                    local: e,
                    instant: e.assume_offset(ist),
                    ended: None,
                })
                .collect(),
        )
        .await
        .unwrap();
    let later = events
        .find_many(
            Event::INSTANT
                .gt(whole.assume_offset(ist))
                .and(Event::INSTANT.lt(whole.assume_utc())),
        )
        .await
        .unwrap();
    assert_eq!(later.iter().map(|e| e.id).collect::<Vec<_>>(), [pair[1].id]);
    let exact = events
        .find_many(Event::LOCAL.eq(whole).and(Event::AT.eq(whole.time())))
        .await
        .unwrap();
    assert_eq!(exact.len(), 1);
    events.delete(pair[0].id).await.unwrap();
    events.delete(pair[1].id).await.unwrap();

    // Typed filters compare as times, not text.
    let after_epoch = events
        .find_many(Event::INSTANT.gt(edges[1].assume_utc()))
        .await
        .unwrap();
    assert_eq!(after_epoch.len(), 2);
    let early_days = events
        .find_many(Event::DAY.lt(date(2000, Month::January, 1)))
        .await
        .unwrap();
    assert_eq!(early_days.len(), 2);

    // The audit entry keeps the value readably; cursor pages walk the rows in time order.
    let history = events.audit_history(made[2].id).await.unwrap();
    let change = history.iter().find(|r| r.operation == "update").unwrap();
    assert!(change.new_values.as_ref().unwrap()["ended"].is_string());
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = events
            .find()
            .order_by(Event::LOCAL.desc())
            .cursor(3, cursor.as_deref())
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|e| e.local));
        match page.next_cursor {
            Some(c) if page.has_more => cursor = Some(c),
            _ => break,
        }
    }
    let mut expected = edges.to_vec();
    expected.reverse();
    assert_eq!(seen, expected);
}
