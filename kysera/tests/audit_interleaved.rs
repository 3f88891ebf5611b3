//! Audited writes that wait for another transaction's lock record the rows as that transaction
//! left them, and change only the rows that still match once it committed: the entries name
//! exactly the rows changed, with their real before and after (on PostgreSQL the audited write
//! is one statement that locks, changes and returns; elsewhere a locked read, then the write).
#![cfg(feature = "testing")]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kysera::audit::{Audit, AuditFilter};
use kysera::query::{Update, col};
use kysera::{Dialect, Executor, Model, Repository};
use tokio::sync::oneshot;

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_ai_accounts")]
#[audit]
#[soft_delete]
struct Account {
    #[kysera(primary_key, generated)]
    id: i64,
    owner: String,
    balance: i64,
    deleted_at: Option<DateTime<Utc>>,
}

fn acct(owner: &str, balance: i64) -> NewAccount {
    NewAccount {
        owner: owner.into(),
        balance,
    }
}

/// Runs `change` (unaudited, through the builder) in a transaction that holds its locks for a
/// while after `started` fires; returns when that transaction has committed.
async fn holding(db: &Executor, change: Update) -> tokio::task::JoinHandle<()> {
    let (started, wait) = oneshot::channel();
    let db = db.clone();
    let task = tokio::spawn(async move {
        db.transaction(async |tx| {
            tx.raw().execute(change).await?;
            let _ = started.send(());
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(())
        })
        .await
        .unwrap();
    });
    wait.await.unwrap();
    task
}

#[kysera::test(databases = "all, mysql-emulated")]
async fn audited_writes_see_what_the_lock_holder_committed(plain: Executor) {
    let d = plain.dialect();
    let id = match d {
        Dialect::Sqlite => "id INTEGER PRIMARY KEY AUTOINCREMENT",
        Dialect::Postgres => "id BIGSERIAL PRIMARY KEY",
        _ => "id BIGINT AUTO_INCREMENT PRIMARY KEY",
    };
    let ts = match d {
        Dialect::Postgres => "TIMESTAMPTZ",
        Dialect::MySql => "DATETIME(6)",
        _ => "TEXT",
    };
    plain
        .raw()
        .execute_sql(
            kysera::AssertSqlSafe(format!(
                "CREATE TABLE k_ai_accounts ({id}, owner VARCHAR(20) NOT NULL, balance BIGINT NOT NULL, deleted_at {ts} NULL)"
            )),
            vec![],
        )
        .await
        .unwrap();
    let audit = Audit::new().table("k_ai_log");
    audit.install(&plain).await.unwrap();
    let db = plain.with_plugins(vec![Arc::new(audit)]).unwrap();
    let accounts = Account::repo(&db);
    let ann = accounts.create(acct("ann", 10)).await.unwrap();
    let bob = accounts.create(acct("bob", 10)).await.unwrap();
    let cy = accounts.create(acct("cy", 10)).await.unwrap();

    // By key, while another transaction moves ann's balance to 20: the entry's "before" is 20.
    let other = holding(
        &plain,
        Update::table("k_ai_accounts")
            .set("balance", 20i64)
            .filter(col("id").eq(ann.id)),
    )
    .await;
    let after = accounts
        .update(ann.id, AccountPatch::default().balance(30))
        .await
        .unwrap();
    other.await.unwrap();
    assert_eq!(after.balance, 30, "{d}");
    let entry = accounts.audit_history(ann.id).await.unwrap().pop().unwrap();
    assert_eq!(entry.operation, "update", "{d}");
    let balance = |v: &Option<serde_json::Value>| v.as_ref().unwrap()["balance"].as_i64();
    assert_eq!(
        (balance(&entry.old_values), balance(&entry.new_values)),
        (Some(20), Some(30)),
        "{d}: the entry records the committed state it replaced"
    );

    // By condition, while another transaction takes bob out of it: only cy changes and only cy
    // is recorded.
    let other = holding(
        &plain,
        Update::table("k_ai_accounts")
            .set("balance", 11i64)
            .filter(col("id").eq(bob.id)),
    )
    .await;
    let n = accounts
        .update_many(Account::BALANCE.eq(10), AccountPatch::default().owner("z"))
        .await
        .unwrap();
    other.await.unwrap();
    assert_eq!(n, 1, "{d}");
    let owners: Vec<String> = accounts
        .find_all()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.owner)
        .collect();
    assert_eq!(owners, ["ann", "bob", "z"], "{d}");
    assert_eq!(
        accounts.audit_history(bob.id).await.unwrap().len(),
        1,
        "{d}: bob's create only"
    );
    assert_eq!(accounts.audit_history(cy.id).await.unwrap().len(), 2, "{d}");

    // A hard delete by condition, while another transaction takes cy out of it: nothing is
    // deleted and nothing recorded.
    let other = holding(
        &plain,
        Update::table("k_ai_accounts")
            .set("owner", "cy2")
            .filter(col("id").eq(cy.id)),
    )
    .await;
    let removed = accounts.delete_many(Account::OWNER.eq("z")).await.unwrap();
    other.await.unwrap();
    assert_eq!(removed, 0, "{d}");
    let total = kysera::audit::audit_log(&db, AuditFilter::new(), 1, 1)
        .await
        .unwrap()
        .total;
    assert_eq!(
        total,
        3 + 1 + 1,
        "{d}: three creates, two updates, no delete"
    );

    // And without interference a delete records each removed row with its last state.
    assert_eq!(
        accounts
            .delete_many(Account::OWNER.eq("cy2"))
            .await
            .unwrap(),
        1,
        "{d}"
    );
    let last = accounts.audit_history(cy.id).await.unwrap().pop().unwrap();
    assert_eq!(
        (
            last.operation.as_str(),
            last.old_values.as_ref().unwrap()["owner"].as_str(),
            last.new_values.is_none()
        ),
        ("delete", Some("cy2"), true),
        "{d}"
    );
}

/// An audited model under a row policy that checks the values an update writes.
#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_ai_owned")]
#[audit]
struct Owned {
    #[kysera(primary_key, generated)]
    id: i64,
    author_id: i64,
    title: String,
}

/// The policy's check on the new values applies to audited writes as to plain ones: handing
/// one's row to another author is refused, changes nothing and records nothing; an ordinary
/// edit passes and is recorded; another author's row is out of reach.
#[kysera::test(databases = "all, mysql-emulated")]
async fn audited_writes_keep_the_row_policies_checks(plain: Executor) {
    use kysera::query::Operation::{Delete as Del, Select as Sel, Update as Upd};
    use kysera::rls::{Access, AuthContext, Policy, Rls, RlsSchema};

    let d = plain.dialect();
    let id = match d {
        Dialect::Sqlite => "id INTEGER PRIMARY KEY AUTOINCREMENT",
        Dialect::Postgres => "id BIGSERIAL PRIMARY KEY",
        _ => "id BIGINT AUTO_INCREMENT PRIMARY KEY",
    };
    let t = Owned::INFO.table;
    for sql in [
        format!("CREATE TABLE {t} ({id}, author_id BIGINT NOT NULL, title VARCHAR(50) NOT NULL)"),
        format!("INSERT INTO {t} (author_id, title) VALUES (1, 'mine'), (2, 'theirs')"),
    ] {
        plain
            .raw()
            .execute_sql(kysera::AssertSqlSafe(sql), vec![])
            .await
            .unwrap();
    }
    let audit = Audit::new().table("k_ai_owned_log");
    audit.install(&plain).await.unwrap();
    let schema = RlsSchema::new()
        .policy(t, Policy::allow([Sel], |_| Access::Yes))
        .policy(
            t,
            // Qualified by the table's name, which the check of the rows written must resolve.
            Policy::allow([Upd, Del], |ctx| {
                Access::Where(col("k_ai_owned.author_id").eq(ctx.user_id.clone().unwrap()))
            }),
        );
    let db = plain
        .with_plugins(vec![Arc::new(Rls::new(schema)), Arc::new(audit)])
        .unwrap();
    let entries = |db: Executor| async move {
        kysera::audit::audit_log(&db, AuditFilter::new(), 1, 1)
            .await
            .unwrap()
            .total
    };
    kysera::rls::with_context(AuthContext::user(1i64), async {
        let owned = Owned::repo(&db);
        let handed = owned.update(1, OwnedPatch::default().author_id(2)).await;
        assert!(
            matches!(handed, Err(kysera::Error::AccessDenied { .. })),
            "{d}: {handed:?}"
        );
        let stored: i64 = plain
            .raw()
            .fetch_all(kysera::query::Select::from(t).filter(col("id").eq(1i64)))
            .await
            .unwrap()[0]
            .get("author_id")
            .unwrap();
        assert_eq!(stored, 1, "{d}: the refused write changed the row");
        assert_eq!(
            entries(db.clone()).await,
            0,
            "{d}: the refused write was recorded"
        );

        let edited = owned
            .update(1, OwnedPatch::default().title("edited"))
            .await
            .unwrap();
        assert_eq!(edited.title, "edited", "{d}");
        assert_eq!(entries(db.clone()).await, 1, "{d}");
        let theirs = owned
            .update(2, OwnedPatch::default().title("mine now"))
            .await;
        assert!(theirs.is_err(), "{d}: {theirs:?}");
        assert_eq!(entries(db.clone()).await, 1, "{d}");
    })
    .await;
}
