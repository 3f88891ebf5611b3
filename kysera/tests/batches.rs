//! Large batches: `create_many` past one statement's parameter limit, all or nothing, on every
//! database.

#[macro_use]
mod common;

use kysera::query::Select;
use kysera::{Dialect, Error, Model, Repository};

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_batch_items")]
struct Item {
    #[kysera(primary_key, generated)]
    id: i64,
    code: String,
    qty: i64,
    note: String,
}

per_database! {
    async fn create_many_splits_past_the_parameter_limit_all_or_nothing(db) {
        let d = db.dialect();
        common::drop_tables(&db, &[Item::INFO.table]).await;
        common::ddl(
            &db,
            &format!(
                "CREATE TABLE {} ({}, code VARCHAR(20) NOT NULL UNIQUE, qty BIGINT NOT NULL, note VARCHAR(20) NOT NULL)",
                Item::INFO.table,
                common::id_column(d)
            ),
        )
        .await;
        // MySQL emulates RETURNING row by row: a smaller batch keeps the test quick there.
        let n: usize = if d == Dialect::MySql { 1_500 } else { 25_000 };
        let new = |i: usize| NewItem { code: format!("c{i}"), qty: i as i64, note: "n".into() };
        let repo = Item::repo(&db);
        let made = repo.create_many((0..n).map(new).collect()).await.unwrap_or_else(|e| panic!("{d}: {e}"));
        assert_eq!(made.len(), n, "{d}");
        assert!(made.iter().enumerate().all(|(i, m)| m.qty == i as i64), "{d}: input order");
        let stored = db.raw().fetch_all(Select::from(Item::INFO.table)).await.unwrap();
        assert_eq!(stored.len(), n, "{d}: read back");

        // A duplicate at the very end undoes the whole batch.
        let mut batch: Vec<NewItem> = (n..2 * n).map(new).collect();
        batch.push(new(0));
        let res = repo.create_many(batch).await;
        assert!(matches!(res, Err(Error::UniqueViolation(_))), "{d}: {res:?}");
        let stored = db.raw().fetch_all(Select::from(Item::INFO.table)).await.unwrap();
        assert_eq!(stored.len(), n, "{d}: nothing of the failed batch stayed");
        common::drop_tables(&db, &[Item::INFO.table]).await;
    }
}

per_database! {
    async fn in_lists_past_the_parameter_limit(db) {
        use kysera::query::col;
        let d = db.dialect();
        let t = common::table("inlist");
        common::ddl(&db, &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, s VARCHAR(10) NOT NULL)")).await;
        for id in [5i64, 69_999, 123_456] {
            db.execute(kysera::query::Insert::into(&t).set("id", id).set("s", "x")).await.unwrap();
        }
        let ids: Vec<i64> = (0..70_000).collect();
        let n = db.count(Select::from(&t).filter(col("id").is_in(ids.clone()))).await.unwrap();
        assert_eq!(n, 2, "{d}: IN 70,000 integers");
        let n = db.count(Select::from(&t).filter(col("id").not_in(ids))).await.unwrap();
        assert_eq!(n, 1, "{d}: NOT IN 70,000 integers");
        // Text cannot go inline: a clear error, not a driver failure.
        let texts: Vec<String> = (0..70_000).map(|i| format!("t{i}")).collect();
        let res = db.count(Select::from(&t).filter(col("s").is_in(texts))).await;
        assert!(
            matches!(&res, Err(Error::InvalidQuery(m)) if m.contains("70000") || m.contains("binds")),
            "{d}: {:?}",
            res.as_ref().err().map(ToString::to_string)
        );
        common::drop_tables(&db, &[&t]).await;
    }
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_batch_policed")]
struct Policed {
    #[kysera(primary_key, generated)]
    id: i64,
    code: String,
}

per_database! {
    async fn large_batches_under_a_text_policy(plain) {
        use kysera::query::{Operation, col};
        use kysera::rls::{self, Access, AuthContext, Policy, Rls, RlsSchema};
        let d = plain.dialect();
        common::drop_tables(&plain, &[Policed::INFO.table]).await;
        common::ddl(&plain, &format!("CREATE TABLE {} ({}, code VARCHAR(20) NOT NULL)", Policed::INFO.table, common::id_column(d))).await;
        // A text condition: decided by the database, in groups (a select list is limited).
        let schema = RlsSchema::new().policy(
            Policed::INFO.table,
            Policy::allow([Operation::Insert, Operation::Select], |_| Access::Where(col("code").like("c%"))),
        );
        let db = plain.with_plugins(vec![std::sync::Arc::new(Rls::new(schema))]).unwrap();
        let n: usize = if d == Dialect::MySql { 1_000 } else { 3_000 };
        let news: Vec<NewPoliced> = (0..n).map(|i| NewPoliced { code: format!("c{i}") }).collect();
        let made = rls::within(AuthContext::user("u"), Policed::repo(&db).create_many(news))
            .await
            .unwrap_or_else(|e| panic!("{d}: {e}"));
        assert_eq!(made.len(), n, "{d}");
        let mut bad: Vec<NewPoliced> = (0..n).map(|i| NewPoliced { code: format!("c{i}") }).collect();
        bad.push(NewPoliced { code: "x".into() });
        let res = rls::within(AuthContext::user("u"), Policed::repo(&db).create_many(bad)).await;
        assert!(matches!(res, Err(Error::AccessDenied { .. })), "{d}: {:?}", res.as_ref().err());
        let stored = plain.raw().fetch_all(Select::from(Policed::INFO.table)).await.unwrap();
        assert_eq!(stored.len(), n, "{d}: the refused batch left nothing");
        common::drop_tables(&plain, &[Policed::INFO.table]).await;
    }
}
