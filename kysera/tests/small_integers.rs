//! `i8`, `u8`, `u16` and `u32` fields on all three databases: their extremes round-trip through
//! create, find, typed filters, update and cursor pagination, each stored in the narrowest
//! column that holds it on that database; a stored value the field cannot hold is a decode
//! error naming the column, never a wrapped number.
#![cfg(feature = "testing")]

use kysera::sqlx::AssertSqlSafe;
use kysera::{Dialect, Error, Executor, Repository};

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_small_ints")]
struct Gauge {
    #[kysera(primary_key)]
    id: u32,
    tiny: i8,
    byte: u8,
    port: u16,
    #[kysera(validate(range(min = 1, max = 4000000000)))]
    count: u32,
    maybe: Option<u16>,
}

async fn table(db: &Executor) {
    // i8 in a SMALLINT everywhere, so that an out-of-range value can be stored by hand.
    let (byte, port, count) = match db.dialect() {
        Dialect::Postgres => ("SMALLINT", "INTEGER", "BIGINT"),
        Dialect::MySql => ("TINYINT UNSIGNED", "SMALLINT UNSIGNED", "INT UNSIGNED"),
        _ => ("INTEGER", "INTEGER", "INTEGER"),
    };
    let id = if db.dialect() == Dialect::MySql {
        "INT UNSIGNED"
    } else {
        "BIGINT"
    };
    db.raw()
        .execute_sql(
            AssertSqlSafe(format!(
                "CREATE TABLE k_small_ints (id {id} PRIMARY KEY, tiny SMALLINT NOT NULL, byte {byte} NOT NULL, \
                 port {port} NOT NULL, count {count} NOT NULL, maybe {port})"
            )),
            vec![],
        )
        .await
        .unwrap();
}

fn gauge(id: u32, tiny: i8, byte: u8, port: u16, count: u32, maybe: Option<u16>) -> NewGauge {
    NewGauge {
        id,
        tiny,
        byte,
        port,
        count,
        maybe,
    }
}

#[kysera::test(databases = "all")]
async fn narrow_and_unsigned_integers_round_trip(db: Executor) {
    table(&db).await;
    let gauges = Gauge::repo(&db);
    let rows = vec![
        gauge(
            u32::MAX,
            i8::MIN,
            u8::MAX,
            u16::MAX,
            4_000_000_000,
            Some(u16::MAX),
        ),
        gauge(1, i8::MAX, 0, 0, 1, None),
        gauge(2, -1, 128, 32_768, 2_147_483_648, Some(0)),
    ];
    let created = gauges.create_many(rows).await.unwrap();
    assert_eq!(created.len(), 3);

    let top = gauges.find_by_id(u32::MAX).await.unwrap().unwrap();
    assert_eq!(
        (top.tiny, top.byte, top.port, top.count, top.maybe),
        (i8::MIN, u8::MAX, u16::MAX, 4_000_000_000, Some(u16::MAX))
    );
    let high = gauges
        .find_many(
            Gauge::PORT
                .gte(32_768u16)
                .and(Gauge::COUNT.gt(2_147_483_647u32)),
        )
        .await
        .unwrap();
    let mut ids: Vec<u32> = high.iter().map(|g| g.id).collect();
    ids.sort();
    assert_eq!(ids, [2, u32::MAX]);

    let updated = gauges
        .update(2, GaugePatch::default().tiny(i8::MIN).maybe(None::<u16>))
        .await
        .unwrap();
    assert_eq!((updated.tiny, updated.maybe), (i8::MIN, None));
    let read = gauges.find_by_id(2).await.unwrap().unwrap();
    assert_eq!(read, updated);

    // Validation sees the field's own type.
    let err = gauges.create(gauge(3, 0, 0, 0, 0, None)).await.unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");

    // Cursor pages ordered by a u32 column walk every row once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = gauges
            .find()
            .order_by(Gauge::COUNT.asc())
            .cursor(2, cursor.as_deref())
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|g| g.count));
        match page.next_cursor {
            Some(c) if page.has_more => cursor = Some(c),
            _ => break,
        }
    }
    assert_eq!(seen, [1, 2_147_483_648, 4_000_000_000]);

    // A stored value the field cannot hold: an error naming the column, not a wrapped number.
    db.raw()
        .execute_sql(
            AssertSqlSafe("UPDATE k_small_ints SET tiny = 300 WHERE id = 1".to_string()),
            vec![],
        )
        .await
        .unwrap();
    let err = gauges.find_by_id(1).await.unwrap_err();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(e) = source {
        text.push_str(&format!(": {e}"));
        source = e.source();
    }
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert!(
        text.contains("tiny") && text.contains("300"),
        "the error names the column and the value: {text}"
    );
}
