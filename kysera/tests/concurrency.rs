//! Nothing returned `Ok` is lost, whatever runs concurrently or is cancelled:
//! - many random interleavings of writes, failing and succeeding nested transactions and
//!   audited writes on one transaction: every write that returned `Ok` in a transaction that
//!   committed is in the database with its audit entry, and nothing a failed nested transaction
//!   wrote is;
//! - audited writes dropped at random moments: the pool answers within a second afterwards, and
//!   every row present has its audit entry (and no entry exists for a row that is not there).
//!
//! Both are bounded in count and time.

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use kysera::audit::Audit;
use kysera::query::{Insert, Select, col};
use kysera::{Error, Executor, Model, Repository};

/// One audited, soft-deleting model shape, declared once per scenario: scenarios run in
/// parallel on the same servers, so each has a table of its own.
macro_rules! item_model {
    ($(#[doc = $doc:literal])* $name:ident, $table:literal) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, PartialEq, Repository)]
        #[kysera(table = $table)]
        #[audit]
        #[soft_delete]
        struct $name {
            #[kysera(primary_key, generated)]
            id: i64,
            label: String,
            n: i64,
            deleted_at: Option<chrono::DateTime<chrono::Utc>>,
        }
    };
}

item_model!(
    /// For the interleavings on one transaction.
    Item,
    "k_conc_items"
);
item_model!(
    /// For the cancellations of top-level writes.
    Cancelled,
    "k_conc_cancelled"
);
item_model!(
    /// For the cancellations inside one transaction.
    Inner,
    "k_conc_inner"
);

/// A small deterministic generator (xorshift), so a failing interleaving can be replayed:
/// `KYSERA_TEST_SEED=<n>` replaces the default seed.
struct Rng(u64);

fn seed(default: u64) -> u64 {
    std::env::var("KYSERA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
        | 1
}

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

async fn setup(plain: &Executor, t: &str, audit_table: &str) -> Executor {
    let d = plain.dialect();
    common::drop_tables(plain, &[t, audit_table]).await;
    let ts = common::timestamp_type(d).replace("TIMESTAMP", "TIMESTAMPTZ");
    common::ddl(
        plain,
        &format!(
            "CREATE TABLE {t} ({}, label VARCHAR(40) NOT NULL, n BIGINT NOT NULL, deleted_at {ts} NULL)",
            common::id_column(d)
        ),
    )
    .await;
    let audit = Audit::new().table(audit_table);
    audit.install(plain).await.unwrap();
    plain.with_plugins(vec![Arc::new(audit)]).unwrap()
}

/// The labels of the rows in the table, and of the rows the audit log recorded a create of.
async fn state(db: &Executor, t: &str, audit_table: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let rows: BTreeSet<String> = db
        .raw()
        .fetch_all(Select::from(t).column(col("label")))
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String>("label").unwrap())
        .collect();
    let created: BTreeSet<String> = db
        .raw()
        .fetch_all(
            Select::from(audit_table)
                .column(col("new_values"))
                .filter(col("operation").eq("create")),
        )
        .await
        .unwrap()
        .iter()
        .filter_map(|r| {
            let v: Option<serde_json::Value> = r.get("new_values").ok()?;
            let v = match v? {
                serde_json::Value::String(s) => serde_json::from_str(&s).ok()?,
                other => other,
            };
            v.get("label")?.as_str().map(str::to_string)
        })
        .collect();
    (rows, created)
}

/// One operation of an interleaving, and the label it writes when it returns `Ok`.
enum Op {
    /// A plain insert through the builder (not audited).
    Insert(String),
    /// An audited create.
    Create(String),
    /// A nested transaction that creates then fails: nothing of it may stay.
    FailingNested(String),
    /// A nested transaction that creates and commits.
    Nested(String),
}

async fn run(tx: &Executor, op: &Op, pause: u64) -> kysera::Result<Option<String>> {
    tokio::time::sleep(Duration::from_micros(pause)).await;
    let new = |label: &str| NewItem {
        label: label.into(),
        n: 1,
    };
    match op {
        Op::Insert(l) => {
            tx.execute(
                Insert::into(Item::INFO.table)
                    .set("label", l.as_str())
                    .set("n", 0i64),
            )
            .await?;
            Ok(Some(l.clone()))
        }
        Op::Create(l) => {
            Item::repo(tx).create(new(l)).await?;
            Ok(Some(l.clone()))
        }
        Op::FailingNested(l) => {
            let r: kysera::Result<()> = tx
                .transaction(async |inner| {
                    Item::repo(&inner).create(new(l)).await?;
                    tokio::time::sleep(Duration::from_micros(pause)).await;
                    Err(Error::InvalidQuery("changed my mind".into()))
                })
                .await;
            assert!(r.is_err());
            Ok(None)
        }
        Op::Nested(l) => {
            tx.transaction(async |inner| {
                tokio::time::sleep(Duration::from_micros(pause)).await;
                Item::repo(&inner).create(new(l)).await
            })
            .await?;
            Ok(Some(l.clone()))
        }
    }
}

per_database! {
    #[flavor(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_work_on_one_transaction_loses_nothing(plain) {
        let d = plain.dialect();
        let audit_table = "k_conc_audit_a";
        let db = setup(&plain, Item::INFO.table, audit_table).await;
        let seed = seed(0x9E37_79B9_7F4A_7C15);
        let mut rng = Rng(seed);
        let started = std::time::Instant::now();
        let mut expected = BTreeSet::new();
        for round in 0..12 {
            if started.elapsed() > Duration::from_secs(20) {
                break;
            }
            let ops: Vec<(Op, u64)> = (0..8)
                .map(|i| {
                    let label = format!("r{round}-{i}");
                    let op = match rng.below(4) {
                        0 => Op::Insert(label),
                        1 => Op::Create(label),
                        2 => Op::FailingNested(label),
                        _ => Op::Nested(label),
                    };
                    (op, rng.below(1500))
                })
                .collect();
            let written: Vec<String> = db
                .transaction(async |tx| {
                    let results = join_all(ops.iter().map(|(op, pause)| run(&tx, op, *pause))).await;
                    let mut ok = Vec::new();
                    for r in results {
                        if let Some(label) = r? {
                            ok.push(label);
                        }
                    }
                    Ok::<_, Error>(ok)
                })
                .await
                .unwrap_or_else(|e| panic!("{d}: seed {seed}, round {round}: {e:?}"));
            expected.extend(written);
            let (rows, _) = state(&db, Item::INFO.table, audit_table).await;
            assert_eq!(rows, expected, "{d}: seed {seed}, round {round}: rows that returned Ok");
        }
        let (rows, created) = state(&db, Item::INFO.table, audit_table).await;
        assert_eq!(rows, expected, "{d}");
        // Every audited create that stayed has its entry, and no entry outlived its row.
        let audited: BTreeSet<String> = rows.iter().filter(|l| created.contains(*l)).cloned().collect();
        assert_eq!(created, audited, "{d}: audit entries of rows that are not there");
        common::drop_tables(&plain, &[Item::INFO.table, audit_table]).await;
    }
}

per_database! {
    async fn the_outer_executor_used_inside_a_nested_transaction(plain) {
        let d = plain.dialect();
        let t = common::table("outer");
        common::ddl(&plain, &format!("CREATE TABLE {t} (x BIGINT NOT NULL)")).await;
        plain
            .transaction(async |outer| {
                let outer2 = outer.clone();
                let nested: kysera::Result<()> = outer
                    .transaction(async |_inner| {
                        // A statement on the outer executor issued from inside the nested
                        // transaction's closure is part of its work (it does not wait for it).
                        outer2.execute(Insert::into(&t).set("x", 1i64)).await?;
                        // Opening another nested transaction on the outer executor from here
                        // would wait for itself: refused.
                        let sibling = outer2.transaction(async |_s| Ok::<_, Error>(())).await;
                        assert!(matches!(sibling, Err(Error::TransactionInUse)), "{sibling:?}");
                        Err(Error::InvalidQuery("undo the nested work".into()))
                    })
                    .await;
                assert!(nested.is_err());
                outer.execute(Insert::into(&t).set("x", 2i64)).await?;
                Ok::<_, Error>(())
            })
            .await
            .unwrap();
        let xs: Vec<i64> = plain
            .fetch_all(Select::from(&t))
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("x").unwrap())
            .collect();
        assert_eq!(xs, [2], "{d}: the nested work was undone, the outer work committed");
        common::drop_tables(&plain, &[&t]).await;
    }
}

per_database! {
    #[flavor(flavor = "multi_thread", worker_threads = 2)]
    async fn cancelled_audited_writes_leave_the_pool_answering_and_the_log_exact(plain) {
        let d = plain.dialect();
        let audit_table = "k_conc_audit_b";
        let db = setup(&plain, Cancelled::INFO.table, audit_table).await;
        let repo = Cancelled::repo(&db);
        let seed = seed(0xD1B5_4A32_D192_ED03);
        let mut rng = Rng(seed);
        let anchor = repo.create(NewCancelled { label: "anchor".into(), n: 0 }).await.unwrap();
        let started = std::time::Instant::now();
        for i in 0..60 {
            if started.elapsed() > Duration::from_secs(30) {
                break;
            }
            let budget = Duration::from_micros(rng.below(4000));
            let label = format!("c{i}");
            let _ = match rng.below(4) {
                0 => tokio::time::timeout(budget, async { repo.create(NewCancelled { label, n: 1 }).await.map(drop) }).await,
                1 => tokio::time::timeout(budget, async { repo.update(anchor.id, CancelledPatch::default().n(i as i64)).await.map(drop) }).await,
                2 => tokio::time::timeout(budget, async { repo.soft_delete(anchor.id).await.map(drop) }).await,
                _ => tokio::time::timeout(budget, async { repo.restore(anchor.id).await.map(drop) }).await,
            };
            // The pool answers at once after every cancellation.
            let alive = tokio::time::timeout(Duration::from_secs(1), db.raw().fetch_all(Select::from(Cancelled::INFO.table))).await;
            assert!(matches!(alive, Ok(Ok(_))), "{d}: seed {seed}: the pool hangs after cancelling operation {i}: {alive:?}");
        }
        let (rows, created) = state(&db, Cancelled::INFO.table, audit_table).await;
        let created_rows: BTreeSet<String> = rows.iter().filter(|l| l.starts_with('c')).cloned().collect();
        let created_entries: BTreeSet<String> = created.iter().filter(|l| l.starts_with('c')).cloned().collect();
        assert_eq!(created_rows, created_entries, "{d}: a create and its audit entry are all or nothing");
        common::drop_tables(&plain, &[Cancelled::INFO.table, audit_table]).await;
        let closing = tokio::time::timeout(Duration::from_secs(5), db.pool().close()).await;
        assert!(closing.is_ok(), "{d}: the pool does not close");
    }
}

per_database! {
    #[flavor(flavor = "multi_thread", worker_threads = 2)]
    async fn cancelled_work_inside_a_transaction_is_undone_and_the_transaction_goes_on(plain) {
        let d = plain.dialect();
        let audit_table = "k_conc_audit_d";
        let db = setup(&plain, Inner::INFO.table, audit_table).await;
        let seed = seed(0x2545_F491_4F6C_DD1D);
        let mut rng = Rng(seed);
        let anchor = Inner::repo(&db).create(NewInner { label: "anchor".into(), n: 0 }).await.unwrap();
        db.transaction(async |tx| {
            for i in 0..40 {
                let budget = Duration::from_micros(rng.below(3000));
                let label = format!("i{i}");
                let new = NewInner { label, n: 1 };
                let _ = match rng.below(3) {
                    0 => tokio::time::timeout(budget, async { Inner::repo(&tx).create(new).await.map(drop) }).await,
                    1 => tokio::time::timeout(budget, tx.transaction(async |nested| Inner::repo(&nested).create(new).await.map(drop))).await,
                    _ => tokio::time::timeout(budget, async { Inner::repo(&tx).update(anchor.id, InnerPatch::default().n(i as i64)).await.map(drop) }).await,
                };
                // The transaction answers at once after every cancellation.
                let alive = tokio::time::timeout(Duration::from_secs(1), tx.count(Select::from(Inner::INFO.table))).await;
                assert!(matches!(alive, Ok(Ok(_))), "{d}: seed {seed}: the transaction hangs after cancelling operation {i}: {alive:?}");
            }
            Ok::<_, Error>(())
        })
        .await
        .unwrap_or_else(|e| panic!("{d}: seed {seed}: {e:?}"));
        let (rows, created) = state(&db, Inner::INFO.table, audit_table).await;
        let rows: BTreeSet<String> = rows.into_iter().filter(|l| l.starts_with('i')).collect();
        let created: BTreeSet<String> = created.into_iter().filter(|l| l.starts_with('i')).collect();
        assert_eq!(rows, created, "{d}: seed {seed}: a create and its audit entry are all or nothing");
        common::drop_tables(&plain, &[Inner::INFO.table, audit_table]).await;
    }
}
