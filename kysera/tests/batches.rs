//! Large batches: `create_many` past one statement's parameter limit, all or nothing, on every
//! database.

#[macro_use]
mod common;

use kysera::query::Select;
use kysera::{Error, Model, Repository};

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
        // On MySQL too: one multi-row statement per batch, its AUTO_INCREMENT keys recovered.
        let n: usize = 25_000;
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
        common::ddl(&db, &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, s VARCHAR(40) NOT NULL)")).await;
        for id in [5i64, 69_999, 123_456] {
            db.execute(kysera::query::Insert::into(&t).set("id", id).set("s", "x")).await.unwrap();
        }
        let ids: Vec<i64> = (0..70_000).collect();
        let n = db.count(Select::from(&t).filter(col("id").is_in(ids.clone()))).await.unwrap();
        assert_eq!(n, 2, "{d}: IN 70,000 integers");
        let n = db.count(Select::from(&t).filter(col("id").not_in(ids))).await.unwrap();
        assert_eq!(n, 1, "{d}: NOT IN 70,000 integers");
        // Text goes inline too, as literals that mean what the bound values would: the
        // hostile ones match exactly their rows, on every database.
        let hostile = [
            "it's", "a\\'b", "$k0$", "ends $k0", "$k1$ and $k0$", "?", "$1", "\\", "", "ü ✓ 𝄞",
            "'; DROP TABLE x; --", "Zz",
        ];
        for (i, h) in hostile.iter().enumerate() {
            let row = kysera::query::Insert::into(&t).set("id", 1_000_000 + i as i64).set("s", *h);
            db.execute(row).await.unwrap_or_else(|e| panic!("{d}: {h:?}: {e}"));
        }
        let mut texts: Vec<String> = (0..70_000).map(|i| format!("t{i}")).collect();
        texts.extend(hostile.iter().map(|h| h.to_string()));
        let n = db.count(Select::from(&t).filter(col("s").is_in(texts.clone()))).await;
        assert_eq!(n.unwrap_or_else(|e| panic!("{d}: {e}")), hostile.len() as i64, "{d}: IN 70,000 texts");
        let n = db.count(Select::from(&t).filter(col("s").not_in(texts))).await.unwrap();
        assert_eq!(n, 3, "{d}: NOT IN 70,000 texts");
        // Each hostile value alone, bound and inline, finds the same rows.
        for h in hostile {
            let bound = db.count(Select::from(&t).filter(col("s").is_in([h]))).await.unwrap();
            let mut long: Vec<String> = (0..1_001).map(|i| format!("t{i}")).collect();
            long.push(h.to_string());
            let inline = db.count(Select::from(&t).filter(col("s").is_in(long))).await.unwrap();
            assert_eq!((bound, inline), (bound, bound), "{d}: {h:?}");
            assert!(bound >= 1, "{d}: {h:?}");
        }
        // A collation applies to inline text as to bound text (MySQL's folds case).
        let folded = |v: &str| {
            let mut long: Vec<String> = (0..1_001).map(|i| format!("t{i}")).collect();
            long.push(v.to_string());
            long
        };
        let bound = db.count(Select::from(&t).filter(col("s").eq("x"))).await.unwrap();
        let inline = db.count(Select::from(&t).filter(col("s").is_in(folded("x")))).await.unwrap();
        assert_eq!(inline, bound, "{d}: collation");
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
        let n: usize = 3_000;
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

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_batch_parallel")]
struct Tagged {
    #[kysera(primary_key, generated)]
    id: i64,
    batch: i64,
    pos: i64,
}

per_database! {
    #[flavor(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_batches_get_their_own_keys(db) {
        // Multi-row inserts from several sessions at once: each returned row carries the key the
        // database gave that very row (on MySQL, recovered from LAST_INSERT_ID and the
        // AUTO_INCREMENT step), checked against the table.
        let d = db.dialect();
        let t = Tagged::INFO.table;
        common::drop_tables(&db, &[t]).await;
        common::ddl(&db, &format!("CREATE TABLE {t} ({}, batch BIGINT NOT NULL, pos BIGINT NOT NULL)", common::id_column(d))).await;
        let tasks: Vec<_> = (0..6i64)
            .map(|b| {
                let db = db.clone();
                tokio::spawn(async move {
                    let mut all: Vec<Tagged> = Vec::new();
                    for round in 0..5i64 {
                        let news: Vec<NewTagged> = (0..200).map(|p| NewTagged { batch: b, pos: round * 1_000 + p }).collect();
                        all.extend(Tagged::repo(&db).create_many(news).await?);
                    }
                    Ok::<_, Error>(all)
                })
            })
            .collect();
        let mut returned = Vec::new();
        for (b, task) in tasks.into_iter().enumerate() {
            let rows = task.await.unwrap().unwrap_or_else(|e| panic!("{d}: {e}"));
            assert!(rows.iter().all(|r| r.batch == b as i64), "{d}");
            let pos: Vec<i64> = rows.iter().map(|r| r.pos).collect();
            let want: Vec<i64> = (0..5).flat_map(|r| (0..200).map(move |p| r * 1_000 + p)).collect();
            assert_eq!(pos, want, "{d}: input order");
            returned.extend(rows);
        }
        let stored = db.raw().fetch_all(Select::from(t)).await.unwrap();
        let stored: std::collections::HashMap<i64, Tagged> = stored
            .iter()
            .map(|r| Tagged::from_row(r).unwrap())
            .map(|r| (r.id, r))
            .collect();
        assert_eq!(stored.len(), returned.len(), "{d}");
        for r in &returned {
            assert_eq!(stored.get(&r.id), Some(r), "{d}: row {} as stored", r.id);
        }
        common::drop_tables(&db, &[t]).await;
    }
}
