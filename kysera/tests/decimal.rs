//! `rust_decimal::Decimal` fields (feature `rust_decimal`) on all three databases: exact
//! values (more digits than a double holds, trailing zeros, negatives) round-trip through
//! create, find, typed filters, update, audit entries and cursor pagination; PostgreSQL
//! `NUMERIC`, MySQL `DECIMAL`, SQLite `TEXT` (every digit kept) — and a SQLite `NUMERIC`
//! column, which keeps 15 significant digits, is still read.
#![cfg(all(feature = "testing", feature = "rust_decimal"))]

use std::str::FromStr;
use std::sync::Arc;

use kysera::audit::Audit;
use kysera::sqlx::AssertSqlSafe;
use kysera::types::rust_decimal::Decimal;
use kysera::{Dialect, Executor, Repository};

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_ledger")]
#[audit]
struct Entry {
    #[kysera(primary_key, generated)]
    id: i64,
    amount: Decimal,
    fee: Option<Decimal>,
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

async fn table(db: &Executor) {
    let (id, num) = match db.dialect() {
        Dialect::Postgres => ("BIGSERIAL PRIMARY KEY", "NUMERIC(28, 8)"),
        Dialect::MySql => ("BIGINT AUTO_INCREMENT PRIMARY KEY", "DECIMAL(28, 8)"),
        _ => ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT"),
    };
    db.raw()
        .execute_sql(
            AssertSqlSafe(format!(
                "CREATE TABLE k_ledger (id {id}, amount {num} NOT NULL, fee {num})"
            )),
            vec![],
        )
        .await
        .unwrap();
    Audit::new().install(db).await.unwrap();
}

#[kysera::test(databases = "all")]
async fn decimals_round_trip_exactly(db: Executor) {
    table(&db).await;
    let db = db.with_plugins(vec![Arc::new(Audit::new())]).unwrap();
    let ledger = Entry::repo(&db);
    // 20 significant digits: a double would round the last five.
    let big = dec("123456789012.12345678");
    let rows = ledger
        .create_many(vec![
            NewEntry {
                amount: big,
                fee: Some(dec("0.10")),
            },
            NewEntry {
                amount: dec("-42.5"),
                fee: None,
            },
            NewEntry {
                amount: dec("7"),
                fee: Some(dec("0.00000001")),
            },
        ])
        .await
        .unwrap();
    let first = ledger.find_by_id(rows[0].id).await.unwrap().unwrap();
    assert_eq!(first.amount, big);
    assert_eq!(
        first.amount.to_string().trim_end_matches('0'),
        "123456789012.12345678"
    );
    assert_eq!(first.fee, Some(dec("0.1")));

    let found = ledger.find_many(Entry::AMOUNT.eq(big)).await.unwrap();
    assert_eq!(found.len(), 1, "an exact filter finds the row");
    // Equal decimals of other scales are equal in a filter too (0.10 = 0.1, 7 = 7.000).
    let tenth = ledger
        .find_many(Entry::FEE.eq(dec("0.1000")))
        .await
        .unwrap();
    assert_eq!(tenth.len(), 1);
    let seven = ledger
        .find_many(Entry::AMOUNT.eq(dec("7.000")))
        .await
        .unwrap();
    assert_eq!(seven.len(), 1);

    let updated = ledger
        .update(
            rows[1].id,
            EntryPatch::default()
                .amount(dec("-42.75"))
                .fee(Some(dec("1.5"))),
        )
        .await
        .unwrap();
    assert_eq!(
        (updated.amount, updated.fee),
        (dec("-42.75"), Some(dec("1.5")))
    );
    assert_eq!(
        ledger.find_by_id(rows[1].id).await.unwrap().unwrap(),
        updated
    );

    // The audit entry keeps every digit, and a restore brings them back.
    let history = ledger.audit_history(rows[1].id).await.unwrap();
    let change = history.iter().find(|r| r.operation == "update").unwrap();
    let old = change.old_values.as_ref().unwrap();
    assert_eq!(
        Decimal::from_str(old["amount"].as_str().unwrap()).unwrap(),
        dec("-42.5")
    );

    if db.dialect() != Dialect::Sqlite {
        // Numeric order (on SQLite's TEXT it would be text order).
        let positive = ledger
            .find_many(Entry::AMOUNT.gt(dec("6.99999999")))
            .await
            .unwrap();
        assert_eq!(positive.len(), 2);
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = ledger
                .find()
                .order_by(Entry::AMOUNT.asc())
                .cursor(1, cursor.as_deref())
                .await
                .unwrap();
            seen.extend(page.items.iter().map(|e| e.amount));
            match page.next_cursor {
                Some(c) if page.has_more => cursor = Some(c),
                _ => break,
            }
        }
        assert_eq!(seen, [dec("-42.75"), dec("7"), big]);
    }
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_prices")]
struct Price {
    #[kysera(primary_key, generated)]
    id: i64,
    amount: Decimal,
    fee: Option<Decimal>,
}

/// A SQLite `NUMERIC` column turns the text into an integer or a real: still read.
#[kysera::test]
async fn sqlite_numeric_columns_are_read(db: Executor) {
    db.raw()
        .execute_sql(
            AssertSqlSafe(
                "CREATE TABLE k_prices (id INTEGER PRIMARY KEY AUTOINCREMENT, amount NUMERIC NOT NULL, fee NUMERIC)"
                    .to_string(),
            ),
            vec![],
        )
        .await
        .unwrap();
    let prices = Price::repo(&db);
    let a = prices
        .create(NewPrice {
            amount: dec("12.50"),
            fee: Some(dec("3")),
        })
        .await
        .unwrap();
    assert_eq!((a.amount, a.fee), (dec("12.5"), Some(dec("3"))));
    let found = prices
        .find_many(Price::AMOUNT.gt(dec("9.5")))
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "NUMERIC compares as numbers");
}
