//! The audit log on every configured database: every write leaves an entry (read back from the
//! audit table), in the write's transaction; history, filtered log, restore round trips.

#[macro_use]
mod common;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use kysera::audit::{Audit, AuditFilter};
use kysera::rls::{self, AuthContext};
use kysera::{Error, Executor, FixedClock, Model, Repository};

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_audit_accounts")]
#[audit(exclude(secret))]
#[soft_delete]
struct Account {
    #[kysera(primary_key, generated)]
    id: i64,
    owner: String,
    balance: i64,
    secret: String,
    deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_audit_notes")]
#[audit(operations(delete), new_values = false)]
struct Note {
    #[kysera(primary_key, generated)]
    id: i64,
    body: String,
}

async fn setup(plain: &Executor, audit_table: &str) -> (Executor, Arc<FixedClock>) {
    setup_tables(plain, audit_table, Account::INFO.table, Note::INFO.table).await
}

async fn setup_tables(
    plain: &Executor,
    audit_table: &str,
    accounts: &str,
    notes: &str,
) -> (Executor, Arc<FixedClock>) {
    let d = plain.dialect();
    let id = common::id_column(d);
    let ts = common::timestamp_type(d).replace("TIMESTAMP", "TIMESTAMPTZ");
    common::drop_tables(plain, &[accounts, notes, audit_table]).await;
    common::ddl(plain, &format!("CREATE TABLE {accounts} ({id}, owner VARCHAR(20) NOT NULL, balance BIGINT NOT NULL, secret VARCHAR(20) NOT NULL DEFAULT 's', deleted_at {ts} NULL)")).await;
    common::ddl(
        plain,
        &format!("CREATE TABLE {notes} ({id}, body VARCHAR(20) NOT NULL)"),
    )
    .await;
    let audit = Audit::new().table(audit_table);
    audit.install(plain).await.unwrap();
    audit.install(plain).await.unwrap(); // idempotent
    let clock = Arc::new(FixedClock::new("2026-11-25T09:00:00Z".parse().unwrap()));
    let db = plain
        .with_plugins(vec![Arc::new(audit)])
        .unwrap()
        .with_clock(clock.clone());
    (db, clock)
}

fn acct(owner: &str, balance: i64) -> NewAccount {
    NewAccount {
        owner: owner.into(),
        balance,
        secret: "hunter2".into(),
    }
}

per_database! {
    async fn every_change_is_recorded_in_its_transaction(plain) {
        let d = plain.dialect();
        let (db, clock) = setup(&plain, "k_audit_log_a").await;
        let t0 = kysera::Clock::now(&*clock);
        let accounts = Account::repo(&db);

        let ann = rls::with_context(AuthContext::user("alice"), accounts.create(acct("ann", 10)))
            .await
            .unwrap();
        clock.advance(TimeDelta::seconds(1));
        let many = accounts
            .create_many(vec![acct("bob", 20), acct("cy", 30)])
            .await
            .unwrap();
        clock.advance(TimeDelta::seconds(1));
        rls::with_context(
            AuthContext::user("bob"),
            accounts.update(ann.id, AccountPatch::default().balance(15)),
        )
        .await
        .unwrap();
        clock.advance(TimeDelta::seconds(1));
        assert_eq!(
            accounts
                .update_many(Account::BALANCE.gte(20), AccountPatch::default().balance(0))
                .await
                .unwrap(),
            2,
            "{d}"
        );
        accounts.soft_delete(many[0].id).await.unwrap();
        accounts.restore(many[0].id).await.unwrap();
        accounts.delete(many[1].id).await.unwrap();
        assert_eq!(
            accounts
                .delete_many(Account::OWNER.eq("nobody"))
                .await
                .unwrap(),
            0,
            "{d}"
        );

        let history = accounts.audit_history(ann.id).await.unwrap();
        let ops: Vec<&str> = history.iter().map(|h| h.operation.as_str()).collect();
        assert_eq!(ops, ["create", "update"], "{d}");
        let created = &history[0];
        assert_eq!(
            (
                created.changed_by.as_deref(),
                created.changed_at,
                created.old_values.is_none()
            ),
            (Some("alice"), t0, true),
            "{d}"
        );
        let new = created.new_values.as_ref().unwrap();
        assert_eq!(
            (new["owner"].as_str(), new["balance"].as_i64()),
            (Some("ann"), Some(10)),
            "{d}"
        );
        assert!(
            new.get("secret").is_none(),
            "{d}: excluded field leaked: {new}"
        );
        let updated = &history[1];
        assert_eq!(updated.changed_by.as_deref(), Some("bob"), "{d}");
        assert_eq!(updated.old_values.as_ref().unwrap()["balance"], 10, "{d}");
        assert_eq!(updated.new_values.as_ref().unwrap()["balance"], 15, "{d}");
        assert_eq!(updated.entity_id, ann.id.to_string(), "{d}");

        let bob_ops: Vec<String> = accounts
            .audit_history(many[0].id)
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.operation)
            .collect();
        assert_eq!(
            bob_ops,
            ["create", "update", "soft_delete", "restore"],
            "{d}"
        );
        let cy = accounts.audit_history(many[1].id).await.unwrap();
        assert_eq!(
            cy.iter().map(|h| h.operation.as_str()).collect::<Vec<_>>(),
            ["create", "update", "delete"],
            "{d}"
        );
        assert!(
            cy[2].new_values.is_none() && cy[2].old_values.is_some(),
            "{d}"
        );

        // A rolled-back change leaves no entry; a committed one has one.
        let id = ann.id;
        let res: kysera::Result<()> = db
            .transaction(async move |tx| {
                Account::repo(&tx)
                    .update(id, AccountPatch::default().balance(999))
                    .await?;
                Err(Error::InvalidQuery("abort".into()))
            })
            .await;
        assert!(res.is_err());
        assert_eq!(
            accounts.audit_history(ann.id).await.unwrap().len(),
            2,
            "{d}"
        );
        db.transaction(async move |tx| {
            Account::repo(&tx)
                .update(id, AccountPatch::default().balance(16))
                .await
        })
        .await
        .unwrap();
        assert_eq!(
            accounts.audit_history(ann.id).await.unwrap().len(),
            3,
            "{d}"
        );

        // The log: filters and pages, newest first.
        let all = kysera::audit::audit_log(&db, AuditFilter::new(), 1, 100)
            .await
            .unwrap();
        // 3 creates, ann's update, 2 by update_many, soft delete, restore, delete, the
        // committed update.
        assert_eq!(all.total, 10, "{d}");
        let updates = accounts
            .audit_log(AuditFilter::new().operation("update"), 1, 3)
            .await
            .unwrap();
        assert_eq!(
            (updates.total, updates.items.len(), updates.total_pages),
            (4, 3, 2),
            "{d}"
        );
        assert!(
            updates.items[0].changed_at >= updates.items[1].changed_at,
            "{d}"
        );
        let by_bob = accounts
            .audit_log(AuditFilter::new().user("bob"), 1, 10)
            .await
            .unwrap();
        assert_eq!(by_bob.total, 1, "{d}");
        let early = accounts
            .audit_log(AuditFilter::new().to(t0 + TimeDelta::seconds(1)), 1, 10)
            .await
            .unwrap();
        assert_eq!(early.total, 1, "{d}");
        let window = accounts
            .audit_log(
                AuditFilter::new()
                    .from(t0 + TimeDelta::seconds(1))
                    .to(t0 + TimeDelta::seconds(2)),
                1,
                10,
            )
            .await
            .unwrap();
        assert_eq!(window.total, 2, "{d}: the create_many entries");
        common::drop_tables(
            &plain,
            &[Account::INFO.table, Note::INFO.table, "k_audit_log_a"],
        )
        .await;
    }
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_audit_ledgers")]
#[audit(exclude(secret))]
#[soft_delete]
struct Ledger {
    #[kysera(primary_key, generated)]
    id: i64,
    owner: String,
    balance: i64,
    secret: String,
    deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_audit_memos")]
#[audit(operations(delete), new_values = false)]
struct Memo {
    #[kysera(primary_key, generated)]
    id: i64,
    body: String,
}

fn ledger(owner: &str, balance: i64) -> NewLedger {
    NewLedger {
        owner: owner.into(),
        balance,
        secret: "hunter2".into(),
    }
}

async fn setup_ledgers(plain: &Executor, audit_table: &str) -> (Executor, Arc<FixedClock>) {
    setup_tables(plain, audit_table, Ledger::INFO.table, Memo::INFO.table).await
}

per_database! {
    async fn restore_round_trip_and_options(plain) {
        let d = plain.dialect();
        let (db, _clock) = setup_ledgers(&plain, "k_audit_log_b").await;
        let accounts = Ledger::repo(&db);
        let a = accounts.create(ledger("ann", 10)).await.unwrap();
        accounts
            .update(a.id, LedgerPatch::default().balance(50).owner("anne"))
            .await
            .unwrap();
        let update_entry = accounts.audit_history(a.id).await.unwrap()[1].id;
        let back = accounts.restore_from_audit(update_entry).await.unwrap();
        assert_eq!((back.owner.as_str(), back.balance), ("ann", 10), "{d}");
        assert_eq!(
            accounts.find_by_id(a.id).await.unwrap().unwrap().balance,
            10,
            "{d}: read back"
        );

        // A deleted row is re-created with its key.
        accounts.delete(a.id).await.unwrap();
        assert_eq!(accounts.find_by_id(a.id).await.unwrap(), None, "{d}");
        let delete_entry = accounts
            .audit_history(a.id)
            .await
            .unwrap()
            .last()
            .unwrap()
            .id;
        // `secret` is excluded from the audit and required (not an Option, no `default`): the
        // entry cannot re-create the row alone, and says which column it lacks.
        match accounts.restore_from_audit(delete_entry).await {
            Err(Error::RestoreIncomplete { columns, entry_id, .. }) => {
                assert_eq!((columns, entry_id), (vec!["secret".to_string()], delete_entry), "{d}");
            }
            other => panic!("{d}: expected RestoreIncomplete, got {other:?}"),
        }
        assert_eq!(
            accounts.find_by_id_with_deleted(a.id).await.unwrap(),
            None,
            "{d}: nothing was written"
        );
        let again = accounts
            .restore_from_audit_with(delete_entry, LedgerPatch::default().secret("fresh"))
            .await
            .unwrap();
        assert_eq!(
            (again.id, again.owner.as_str(), again.balance, again.secret.as_str()),
            (a.id, "ann", 10, "fresh"),
            "{d}"
        );
        let stored = plain
            .raw()
            .fetch_all(kysera::query::Select::from(Ledger::INFO.table))
            .await
            .unwrap();
        assert_eq!(stored.len(), 1, "{d}");
        assert_eq!(stored[0].get::<String>("secret").unwrap(), "fresh", "{d}: read back");
        let ops: Vec<String> = accounts
            .audit_history(a.id)
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.operation)
            .collect();
        assert_eq!(
            ops,
            ["create", "update", "update", "delete", "create"],
            "{d}"
        );
        let create_entry = accounts.audit_history(a.id).await.unwrap()[0].id;
        assert!(
            matches!(
                accounts.restore_from_audit(create_entry).await,
                Err(Error::InvalidQuery(_))
            ),
            "{d}"
        );

        // Options: only deletes, and without new values.
        let notes = Memo::repo(&db);
        let n = notes.create(NewMemo { body: "x".into() }).await.unwrap();
        notes
            .update(n.id, MemoPatch::default().body("y"))
            .await
            .unwrap();
        assert!(notes.audit_history(n.id).await.unwrap().is_empty(), "{d}");
        notes.delete(n.id).await.unwrap();
        let h = notes.audit_history(n.id).await.unwrap();
        assert_eq!(h.len(), 1, "{d}");
        assert_eq!(h[0].old_values.as_ref().unwrap()["body"], "y", "{d}");

        // An audited model on an executor without the plugin: refused, not unrecorded.
        let unaudited = Ledger::repo(&plain).create(ledger("zed", 1)).await;
        assert!(matches!(unaudited, Err(Error::MissingPlugin { .. })), "{d}");
        // A custom user source.
        let custom = plain
            .with_plugins(vec![Arc::new(
                Audit::new()
                    .table("k_audit_log_b")
                    .user(|| Some("cron".into())),
            )])
            .unwrap();
        let z = Ledger::repo(&custom)
            .create(ledger("zed", 1))
            .await
            .unwrap();
        assert_eq!(
            Ledger::repo(&custom).audit_history(z.id).await.unwrap()[0]
                .changed_by
                .as_deref(),
            Some("cron"),
            "{d}"
        );
        common::drop_tables(
            &plain,
            &[Ledger::INFO.table, Memo::INFO.table, "k_audit_log_b"],
        )
        .await;
    }
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_audit_tallies")]
#[audit]
#[soft_delete]
struct Tally {
    #[kysera(primary_key, generated)]
    id: i64,
    n: i64,
    deleted_at: Option<DateTime<Utc>>,
}

per_database! {
    async fn entries_only_for_changed_rows_in_batches_and_nested(plain) {
        let d = plain.dialect();
        let t = Tally::INFO.table;
        let log = "k_audit_log_c";
        let ts = common::timestamp_type(d).replace("TIMESTAMP", "TIMESTAMPTZ");
        common::drop_tables(&plain, &[t, log]).await;
        common::ddl(
            &plain,
            &format!(
                "CREATE TABLE {t} ({}, n BIGINT NOT NULL, deleted_at {ts} NULL)",
                common::id_column(d)
            ),
        )
        .await;
        let audit = Audit::new().table(log);
        audit.install(&plain).await.unwrap();
        let db = plain.with_plugins(vec![Arc::new(audit)]).unwrap();
        let tallies = Tally::repo(&db);
        let entries = || async {
            kysera::audit::audit_log(&db, AuditFilter::new(), 1, 1)
                .await
                .unwrap()
                .total
        };

        // More rows than one batch of entries (500).
        let rows = tallies
            .create_many((0..1200).map(|n| NewTally { n }).collect())
            .await
            .unwrap();
        assert_eq!(entries().await, 1200, "{d}");
        assert_eq!(
            tallies
                .update_many(Tally::N.gte(0), TallyPatch::default().n(7))
                .await
                .unwrap(),
            1200,
            "{d}"
        );
        assert_eq!(entries().await, 2400, "{d}");
        let sample = tallies.audit_history(rows[1000].id).await.unwrap();
        assert_eq!(sample.len(), 2, "{d}");
        assert_eq!(sample[1].old_values.as_ref().unwrap()["n"], 1000, "{d}");
        assert_eq!(sample[1].new_values.as_ref().unwrap()["n"], 7, "{d}");

        // A write that changes nothing records nothing: a hidden (soft-deleted) row, a missing id.
        let first = rows[0].id;
        tallies.soft_delete(first).await.unwrap();
        let before = entries().await;
        assert!(
            matches!(
                tallies.update(first, TallyPatch::default().n(1)).await,
                Err(Error::NotFound(_))
            ),
            "{d}"
        );
        assert!(
            matches!(tallies.delete(-5).await, Err(Error::NotFound(_))),
            "{d}"
        );
        assert_eq!(
            tallies.delete_many(Tally::N.eq(-1)).await.unwrap(),
            0,
            "{d}"
        );
        assert_eq!(entries().await, before, "{d}");

        // An audited write through the outer level, inside a nested transaction: no deadlock.
        let id = rows[1].id;
        let nested = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            db.transaction(async move |tx| {
                let outer = Tally::repo(&tx);
                tx.transaction(async |_sp| outer.update(id, TallyPatch::default().n(99)).await)
                    .await
            }),
        )
        .await;
        assert!(nested.is_ok(), "{d}: the nested audited write hung");
        assert_eq!(nested.unwrap().unwrap().n, 99, "{d}");
        assert_eq!(entries().await, before + 1, "{d}");

        // Two audited writes at once on one transaction: each keeps its change and its entry.
        let (a, b) = (rows[2].id, rows[3].id);
        db.transaction(async move |tx| {
            let r = Tally::repo(&tx);
            let (x, y) = tokio::join!(
                r.update(a, TallyPatch::default().n(11)),
                r.update(b, TallyPatch::default().n(22))
            );
            x?;
            y?;
            Ok::<_, Error>(())
        })
        .await
        .unwrap_or_else(|e| panic!("{d}: {e}"));
        assert_eq!(entries().await, before + 3, "{d}");
        assert_eq!(tallies.find_by_id(a).await.unwrap().unwrap().n, 11, "{d}");
        assert_eq!(tallies.find_by_id(b).await.unwrap().unwrap().n, 22, "{d}");
        assert_eq!(
            tallies
                .audit_history(b)
                .await
                .unwrap()
                .last()
                .unwrap()
                .new_values
                .as_ref()
                .unwrap()["n"],
            22,
            "{d}"
        );
        common::drop_tables(&plain, &[t, log]).await;
    }
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_audit_counters")]
#[audit]
struct Counter {
    #[kysera(primary_key, generated)]
    id: i64,
    n: i64,
}

/// A SQLite file has several connections: audited writers begin IMMEDIATE and wait for each
/// other (the busy timeout) instead of failing when another wrote first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_audited_writers_on_a_sqlite_file() {
    let path =
        std::env::temp_dir().join(format!("kysera_audit_{}.db", uuid::Uuid::new_v4().simple()));
    let plain = kysera::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    common::ddl(
        &plain,
        "CREATE TABLE k_audit_counters (id INTEGER PRIMARY KEY AUTOINCREMENT, n BIGINT NOT NULL)",
    )
    .await;
    let audit = Audit::new().table("k_audit_log_d");
    audit.install(&plain).await.unwrap();
    let db = plain.with_plugins(vec![Arc::new(audit)]).unwrap();
    let mut tasks = Vec::new();
    for w in 0..8i64 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let repo = Counter::repo(&db);
            for i in 0..5 {
                let c = repo.create(NewCounter { n: w * 100 + i }).await?;
                repo.update(c.id, CounterPatch::default().n(c.n + 1))
                    .await?;
            }
            Ok::<_, Error>(())
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("an audited writer failed");
    }
    assert_eq!(Counter::repo(&db).count(None).await.unwrap(), 40);
    assert_eq!(
        kysera::audit::audit_log(&db, AuditFilter::new(), 1, 1)
            .await
            .unwrap()
            .total,
        80
    );
    db.pool().close().await;
    let _ = std::fs::remove_file(&path);
}
