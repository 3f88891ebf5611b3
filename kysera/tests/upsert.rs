//! Model-level upserts on every database: insert or update on the primary key or a unique key,
//! `DO NOTHING`, with timestamps, soft delete (revive), audit (a `create` or an `update` entry)
//! and tenant isolation (another tenant's row is never changed) — every effect read back from
//! the database.

#[macro_use]
mod common;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use kysera::audit::Audit;
use kysera::dal::Upsert;
use kysera::query::{Select, col};
use kysera::rls::{self, AuthContext};
use kysera::{Error, Executor, FixedClock, Model, Repository};

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_up_skus")]
#[timestamps]
#[soft_delete]
#[audit]
struct Sku {
    #[kysera(primary_key)]
    code: String,
    name: String,
    qty: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

fn sku(code: &str, name: &str, qty: i64) -> NewSku {
    NewSku {
        code: code.into(),
        name: name.into(),
        qty,
    }
}

/// The stored row, past every filter (soft-deleted rows too).
async fn stored(db: &Executor, code: &str) -> Option<Sku> {
    let rows = db
        .raw()
        .fetch_all(Sku::select().filter(col("code").eq(code)))
        .await
        .unwrap();
    rows.iter().map(|r| Sku::from_row(r).unwrap()).next()
}

async fn setup_skus(plain: &Executor, log: &str) -> (Executor, Arc<FixedClock>) {
    let d = plain.dialect();
    let ts = common::timestamp_type(d).replace("TIMESTAMP", "TIMESTAMPTZ");
    let t = Sku::INFO.table;
    common::drop_tables(plain, &[t, log]).await;
    common::ddl(plain, &format!("CREATE TABLE {t} (code VARCHAR(20) PRIMARY KEY, name VARCHAR(40) NOT NULL, qty BIGINT NOT NULL, created_at {ts} NOT NULL, updated_at {ts} NOT NULL, deleted_at {ts} NULL)")).await;
    let audit = Audit::new().table(log);
    audit.install(plain).await.unwrap();
    let clock = Arc::new(FixedClock::new("2026-11-28T09:00:00Z".parse().unwrap()));
    let db = plain
        .with_plugins(vec![Arc::new(audit)])
        .unwrap()
        .with_clock(clock.clone());
    (db, clock)
}

per_database! {
    async fn upsert_on_the_primary_key_with_every_behaviour(plain) {
        let d = plain.dialect();
        let (db, clock) = setup_skus(&plain, "k_up_skus_log").await;
        let skus = Sku::repo(&db);
        let t0 = kysera::Clock::now(&*clock);

        // A new key inserts: both timestamps from the clock.
        let a = skus.upsert(sku("a", "apple", 1)).await.unwrap_or_else(|e| panic!("{d}: {e}"));
        assert_eq!((a.name.as_str(), a.qty, a.created_at, a.updated_at), ("apple", 1, t0, t0), "{d}");

        // A taken key updates: the creation time stays, the update time moves.
        clock.advance(TimeDelta::seconds(10));
        let t1 = kysera::Clock::now(&*clock);
        let a = skus.upsert(sku("a", "apricot", 2)).await.unwrap();
        assert_eq!((a.name.as_str(), a.qty, a.created_at, a.updated_at), ("apricot", 2, t0, t1), "{d}");
        let back = stored(&db, "a").await.unwrap();
        assert_eq!(back, a, "{d}: as stored");
        assert_eq!(skus.count(None::<kysera::query::Filter>).await.unwrap(), 1, "{d}");

        // A soft-deleted row with the key is revived.
        skus.soft_delete("a".into()).await.unwrap();
        assert!(skus.find_by_id("a".into()).await.unwrap().is_none(), "{d}");
        clock.advance(TimeDelta::seconds(10));
        let t2 = kysera::Clock::now(&*clock);
        let a = skus.upsert(sku("a", "avocado", 3)).await.unwrap();
        assert_eq!((a.deleted_at, a.created_at, a.updated_at), (None, t0, t2), "{d}");
        assert_eq!(stored(&db, "a").await.unwrap().deleted_at, None, "{d}: revived in the table");
        assert_eq!(skus.find_by_id("a".into()).await.unwrap().unwrap().name, "avocado", "{d}");

        // Many rows: new and taken together, in input order, all or nothing.
        let rows = skus
            .upsert_many(vec![sku("b", "banana", 4), sku("a", "acerola", 5), sku("c", "cherry", 6)])
            .await
            .unwrap();
        let names: Vec<_> = rows.iter().map(|r| (r.code.as_str(), r.name.as_str())).collect();
        assert_eq!(names, [("b", "banana"), ("a", "acerola"), ("c", "cherry")], "{d}");
        // The same key twice in one batch is refused before any SQL.
        let res = skus.upsert_many(vec![sku("e", "elder", 1), sku("e", "elder2", 2)]).await;
        assert!(matches!(&res, Err(Error::InvalidQuery(m)) if m.contains("same key")), "{d}: {res:?}");
        assert!(stored(&db, "e").await.is_none(), "{d}");

        // Only the named columns change.
        let a = skus
            .upsert_with(&Upsert::on_primary_key().update(Sku::NAME), sku("a", "almond", 99))
            .await
            .unwrap();
        assert_eq!((a.name.as_str(), a.qty), ("almond", 5), "{d}");

        // DO NOTHING: a taken key leaves its row alone (even a soft-deleted one).
        let none = skus
            .upsert_with(&Upsert::on_primary_key().do_nothing(), sku("a", "anything", 0))
            .await
            .unwrap();
        assert!(none.is_none(), "{d}");
        assert_eq!(stored(&db, "a").await.unwrap().name, "almond", "{d}");
        skus.soft_delete("c".into()).await.unwrap();
        let inserted = skus
            .upsert_many_with(
                &Upsert::on_primary_key().do_nothing(),
                vec![sku("c", "x", 0), sku("f", "fig", 9), sku("a", "x", 0)],
            )
            .await
            .unwrap();
        assert_eq!(inserted.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(), ["f"], "{d}");
        let c = stored(&db, "c").await.unwrap();
        assert!(c.deleted_at.is_some() && c.name == "cherry", "{d}: untouched, still deleted");

        // The audit log: a create, then updates with the old values.
        let history = skus.audit_history("a".into()).await.unwrap();
        let ops: Vec<_> = history.iter().map(|h| h.operation.as_str()).collect();
        assert_eq!(
            ops,
            ["create", "update", "soft_delete", "update", "update", "update"],
            "{d}"
        );
        let first_update = &history[1];
        assert_eq!(first_update.old_values.as_ref().unwrap()["name"], "apple", "{d}");
        assert_eq!(first_update.new_values.as_ref().unwrap()["name"], "apricot", "{d}");
        let revive = &history[3];
        assert!(!revive.old_values.as_ref().unwrap()["deleted_at"].is_null(), "{d}");
        assert!(revive.new_values.as_ref().unwrap()["deleted_at"].is_null(), "{d}");
        let f = skus.audit_history("f".into()).await.unwrap();
        assert_eq!(f.iter().map(|h| h.operation.as_str()).collect::<Vec<_>>(), ["create"], "{d}");
        assert!(skus.audit_history("c".into()).await.unwrap().iter().all(|h| h.operation != "update" || h.new_values.as_ref().unwrap()["name"] == "cherry"), "{d}: DO NOTHING records nothing");
        common::drop_tables(&plain, &[Sku::INFO.table, "k_up_skus_log"]).await;
    }
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_up_members")]
#[rls(tenant = "tenant_id")]
struct Member {
    #[kysera(primary_key, generated)]
    id: i64,
    tenant_id: String,
    email: String,
    handle: String,
    name: String,
}

fn member(email: &str, handle: &str, name: &str) -> NewMember {
    NewMember {
        tenant_id: None,
        email: email.into(),
        handle: handle.into(),
        name: name.into(),
    }
}

per_database! {
    async fn upsert_never_crosses_tenants(db) {
        let d = db.dialect();
        let t = Member::INFO.table;
        common::drop_tables(&db, &[t]).await;
        let id = common::id_column(d);
        common::ddl(&db, &format!("CREATE TABLE {t} ({id}, tenant_id VARCHAR(20) NOT NULL, email VARCHAR(40) NOT NULL UNIQUE, handle VARCHAR(20) NOT NULL, name VARCHAR(20) NOT NULL, UNIQUE (tenant_id, handle))")).await;
        let members = Member::repo(&db);
        let by_email = Upsert::on(Member::EMAIL);
        let as_tenant = |t: &'static str| AuthContext::user(1i64).with_tenant(t);

        let a = rls::with_context(as_tenant("a"), async {
            members.upsert_with(&by_email, member("x@a", "x", "A1")).await.unwrap();
            members.upsert_with(&by_email, member("x@a", "x", "A2")).await.unwrap()
        })
        .await;
        assert_eq!((a.tenant_id.as_str(), a.name.as_str()), ("a", "A2"), "{d}");

        // Tenant b upserts the same email: refused as the database refuses a duplicate, and
        // tenant a's row is unchanged.
        let res = rls::with_context(as_tenant("b"), async {
            members.upsert_with(&by_email, member("x@a", "xb", "B")).await
        })
        .await;
        assert!(matches!(res, Err(Error::UniqueViolation(_))), "{d}: {res:?}");
        let res = rls::with_context(as_tenant("b"), async {
            members
                .upsert_many_with(&by_email, vec![member("y@b", "y", "B"), member("x@a", "xb", "B")])
                .await
        })
        .await;
        assert!(matches!(res, Err(Error::UniqueViolation(_))), "{d}: {res:?}");
        // DO NOTHING skips it, on every database.
        let skipped = rls::with_context(as_tenant("b"), async {
            members.upsert_with(&by_email.clone().do_nothing(), member("x@a", "xb", "B")).await
        })
        .await;
        assert!(matches!(skipped, Ok(None)), "{d}: {skipped:?}");
        let all = db.raw().fetch_all(Select::from(t).order_by(col("id"), kysera::query::Order::Asc)).await.unwrap();
        assert_eq!(all.len(), 1, "{d}: y@b was not kept (all or nothing)");
        let row = Member::from_row(&all[0]).unwrap();
        assert_eq!((row.tenant_id.as_str(), row.name.as_str(), row.handle.as_str()), ("a", "A2", "x"), "{d}");

        // A key per tenant: each tenant upserts its own row (the tenant given, or left to the
        // context as `create` leaves it).
        let by_handle = Upsert::on((Member::TENANT_ID, Member::HANDLE));
        for (tenant, email) in [("a", "h@a"), ("b", "h@b")] {
            rls::with_context(as_tenant(tenant), async {
                let mut m = member(email, "h", "first");
                m.tenant_id = Some(tenant.into());
                members.upsert_with(&by_handle, m).await.unwrap();
                let got = members.upsert_with(&by_handle, member(email, "h", "second")).await.unwrap();
                assert_eq!((got.tenant_id.as_str(), got.name.as_str()), (tenant, "second"), "{d}");
            })
            .await;
        }
        // Naming another tenant in the row is refused.
        let res = rls::with_context(as_tenant("b"), async {
            let mut m = member("z@b", "x", "B");
            m.tenant_id = Some("a".into());
            members.upsert_with(&by_handle, m).await
        })
        .await;
        assert!(matches!(res, Err(Error::AccessDenied { .. })), "{d}: {res:?}");
        let n = db.raw().fetch_all(Select::from(t)).await.unwrap().len();
        assert_eq!(n, 3, "{d}");

        // A key the rows cannot give is refused with a clear error.
        let res = rls::with_context(as_tenant("a"), async {
            members.upsert(member("q@a", "q", "Q")).await
        })
        .await;
        assert!(matches!(&res, Err(Error::InvalidQuery(m)) if m.contains("generated")), "{d}: {res:?}");
        common::drop_tables(&db, &[t]).await;
    }
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_up_counters")]
#[audit]
struct Counter {
    #[kysera(primary_key)]
    name: String,
    hits: i64,
}

per_database! {
    #[flavor(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_upserts_of_one_new_key_and_large_batches(plain) {
        let d = plain.dialect();
        let t = Counter::INFO.table;
        let log = "k_up_counters_log";
        common::drop_tables(&plain, &[t, log]).await;
        common::ddl(&plain, &format!("CREATE TABLE {t} (name VARCHAR(20) PRIMARY KEY, hits BIGINT NOT NULL)")).await;
        let audit = Audit::new().table(log);
        audit.install(&plain).await.unwrap();
        let db = plain.with_plugins(vec![Arc::new(audit)]).unwrap();

        // Eight upserts of one new key at once: each succeeds, one creates, the others update.
        let start = Arc::new(tokio::sync::Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (db, start) = (db.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    Counter::repo(&db).upsert(NewCounter { name: "k".into(), hits: i }).await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap_or_else(|e| panic!("{d}: {e}"));
        }
        let history = Counter::repo(&db).audit_history("k".into()).await.unwrap();
        let creates = history.iter().filter(|h| h.operation == "create").count();
        let updates = history.iter().filter(|h| h.operation == "update").count();
        assert_eq!((creates, updates), (1, 7), "{d}");
        let last = history.last().unwrap().new_values.clone().unwrap();
        let kept = Counter::repo(&db).find_by_id("k".into()).await.unwrap().unwrap();
        assert_eq!(last["hits"], kept.hits, "{d}: the log's last entry is the row as stored");

        // Eight DO NOTHING upserts of one new key at once: each succeeds, exactly one inserts.
        let start = Arc::new(tokio::sync::Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (db, start) = (db.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    let skip = Upsert::on_primary_key().do_nothing();
                    Counter::repo(&db).upsert_with(&skip, NewCounter { name: "once".into(), hits: i }).await
                })
            })
            .collect();
        let mut inserted = 0;
        for task in tasks {
            inserted += task.await.unwrap().unwrap_or_else(|e| panic!("{d}: {e}")).is_some() as usize;
        }
        assert_eq!(inserted, 1, "{d}");
        Counter::repo(&db).delete("once".into()).await.unwrap();

        // Inside a transaction whose snapshot is older than a row another session committed
        // (MySQL's REPEATABLE READ): the upsert finds that row when its insert collides, and
        // updates it.
        if d != kysera::Dialect::Sqlite {
            let outside = db.clone();
            let hits = db
                .transaction(async |tx| {
                    tx.count(Select::from(t)).await?; // the snapshot starts here
                    Counter::repo(&outside).create(NewCounter { name: "late".into(), hits: 1 }).await?;
                    Ok(Counter::repo(&tx).upsert(NewCounter { name: "late".into(), hits: 2 }).await?.hits)
                })
                .await
                .unwrap_or_else(|e| panic!("{d}: {e}"));
            assert_eq!(hits, 2, "{d}");
            Counter::repo(&db).delete("late".into()).await.unwrap();
        }

        // A key equal to a stored one only under the column's collation (MySQL's is
        // case-insensitive): the database decides, and either way nothing fails.
        let upper = Counter::repo(&db).upsert(NewCounter { name: "K".into(), hits: 100 }).await;
        let upper = upper.unwrap_or_else(|e| panic!("{d}: {e}"));
        assert_eq!(upper.hits, 100, "{d}");
        let ks = plain.count(Select::from(t)).await.unwrap();
        assert_eq!(ks, if d == kysera::Dialect::MySql { 1 } else { 2 }, "{d}");
        Counter::repo(&db).delete("K".into()).await.ok();
        if d == kysera::Dialect::MySql {
            Counter::repo(&db).upsert(NewCounter { name: "k".into(), hits: 0 }).await.unwrap();
        }

        // Large batches: all new, then half taken; every row read back.
        let n: i64 = if d == kysera::Dialect::MySql { 600 } else { 3_000 };
        let batch = |from: i64, hits: i64| -> Vec<NewCounter> {
            (from..from + n).map(|i| NewCounter { name: format!("n{i}"), hits }).collect()
        };
        let made = Counter::repo(&db).upsert_many(batch(0, 1)).await.unwrap();
        assert_eq!(made.len(), n as usize, "{d}");
        let again = Counter::repo(&db).upsert_many(batch(n / 2, 2)).await.unwrap();
        assert!(again.iter().all(|c| c.hits == 2), "{d}");
        let rows = plain.raw().fetch_all(Select::from(t)).await.unwrap();
        assert_eq!(rows.len() as i64, 1 + n + n / 2, "{d}");
        let twos = plain.count(Select::from(t).filter(col("hits").eq(2).and(col("name").ne("k")))).await.unwrap();
        assert_eq!(twos, n, "{d}");
        common::drop_tables(&plain, &[t, log]).await;
    }
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_up_tags")]
#[audit]
struct Tag {
    #[kysera(primary_key)]
    name: String,
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_up_docs")]
struct Doc {
    #[kysera(primary_key, assigned)]
    id: i64,
    owner: String,
    body: String,
}

per_database! {
    async fn nothing_to_write_and_update_policies(plain) {
        use kysera::query::Operation::{Insert as Ins, Select as Sel, Update as Upd};
        use kysera::rls::{Access, Policy, Rls, RlsSchema};
        let d = plain.dialect();
        let (tags, log, docs) = (Tag::INFO.table, "k_up_tags_log", Doc::INFO.table);
        common::drop_tables(&plain, &[tags, log, docs]).await;
        common::ddl(&plain, &format!("CREATE TABLE {tags} (name VARCHAR(20) PRIMARY KEY)")).await;
        common::ddl(&plain, &format!("CREATE TABLE {docs} (id BIGINT PRIMARY KEY, owner VARCHAR(20) NOT NULL, body VARCHAR(20) NOT NULL)")).await;
        let audit = Audit::new().table(log);
        audit.install(&plain).await.unwrap();

        // A row with only its key: a taken key has nothing to write, and records nothing.
        let db = plain.with_plugins(vec![Arc::new(audit)]).unwrap();
        let repo = Tag::repo(&db);
        repo.upsert(NewTag { name: "t".into() }).await.unwrap();
        let again = repo.upsert_many(vec![NewTag { name: "t".into() }, NewTag { name: "u".into() }]).await.unwrap();
        assert_eq!(again.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["t", "u"], "{d}");
        let ops: Vec<_> = repo.audit_history("t".into()).await.unwrap().into_iter().map(|h| h.operation).collect();
        assert_eq!(ops, ["create"], "{d}");

        // Update policies: a user updates only their own documents; another's key is refused as
        // a duplicate, and that document is unchanged.
        let schema = RlsSchema::new()
            .policy(docs, Policy::allow([Sel, Ins], |_| Access::Yes))
            .policy(docs, Policy::allow([Upd], |ctx| match &ctx.user_id {
                Some(u) => Access::Where(col("owner").eq(u.clone())),
                None => Access::No,
            }));
        let db = plain.with_plugins(vec![Arc::new(Rls::new(schema))]).unwrap();
        let doc = |id: i64, owner: &str, body: &str| NewDoc { id, owner: owner.into(), body: body.into() };
        let ann = AuthContext::user("ann");
        let bob = AuthContext::user("bob");
        rls::with_context(ann.clone(), Doc::repo(&db).upsert(doc(1, "ann", "v1"))).await.unwrap();
        let own = rls::with_context(ann, Doc::repo(&db).upsert(doc(1, "ann", "v2"))).await.unwrap();
        assert_eq!(own.body, "v2", "{d}");
        let res = rls::with_context(bob.clone(), Doc::repo(&db).upsert(doc(1, "bob", "mine now"))).await;
        assert!(matches!(res, Err(Error::UniqueViolation(_))), "{d}: {res:?}");
        let stored = plain.raw().fetch_all(Doc::select()).await.unwrap();
        let stored: Vec<Doc> = stored.iter().map(|r| Doc::from_row(r).unwrap()).collect();
        assert_eq!(stored, [Doc { id: 1, owner: "ann".into(), body: "v2".into() }], "{d}");
        // A new key is inserted whatever the update policy says.
        let made = rls::with_context(bob, Doc::repo(&db).upsert(doc(2, "bob", "b"))).await.unwrap();
        assert_eq!(made.owner, "bob", "{d}");
        common::drop_tables(&plain, &[tags, log, docs]).await;
    }
}
