//! The application's own column types (`#[derive(kysera::Type)]`) on all three databases: a
//! newtype id as the primary key and as a nullable reference, an enum stored as text (renamed)
//! and one stored as its discriminant — through create, find, typed filters, update, cursor
//! pagination and a fixture-free read of a value the type does not know (a decode error naming
//! the column, not a panic).
#![cfg(feature = "testing")]

use kysera::sqlx::AssertSqlSafe;
use kysera::{Dialect, Error, Executor, Repository, Type};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, kysera::Type)]
#[serde(transparent)]
struct AccountId(i64);

/// A newtype of a newtype, with a named field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, kysera::Type)]
struct Handle {
    name: Name,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, kysera::Type)]
#[serde(transparent)]
struct Name(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, kysera::Type)]
#[kysera(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
enum Status {
    Active,
    OnHold,
    #[kysera(rename = "gone")]
    #[serde(rename = "gone")]
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, kysera::Type)]
#[kysera(repr = "i32")]
enum Priority {
    Low = 1,
    High = 10,
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_accounts")]
struct Account {
    #[kysera(primary_key)]
    id: AccountId,
    handle: Handle,
    status: Status,
    priority: Priority,
    parent: Option<AccountId>,
    backup_status: Option<Status>,
}

async fn table(db: &Executor) {
    let text = match db.dialect() {
        Dialect::MySql => "VARCHAR(64)",
        _ => "TEXT",
    };
    db.raw()
        .execute_sql(
            AssertSqlSafe(format!(
                "CREATE TABLE k_accounts (id BIGINT PRIMARY KEY, handle {text} NOT NULL, status {text} NOT NULL, \
                 priority INTEGER NOT NULL, parent BIGINT, backup_status {text})"
            )),
            vec![],
        )
        .await
        .unwrap();
}

fn account(id: i64, status: Status, priority: Priority, parent: Option<i64>) -> NewAccount {
    NewAccount {
        id: AccountId(id),
        handle: Handle {
            name: Name(format!("acct-{id}")),
        },
        status,
        priority,
        parent: parent.map(AccountId),
        backup_status: None,
    }
}

#[kysera::test(databases = "all")]
async fn own_types_round_trip_through_every_operation(db: Executor) {
    let d = db.dialect();
    table(&db).await;
    let repo = Account::repo(&db);
    let root = repo
        .create(account(1, Status::Active, Priority::High, None))
        .await
        .unwrap_or_else(|e| panic!("{d}: {e}"));
    assert_eq!(root.id, AccountId(1));
    assert_eq!(root.handle.name, Name("acct-1".into()));
    for id in 2..=5 {
        let status = if id % 2 == 0 {
            Status::OnHold
        } else {
            Status::Closed
        };
        repo.create(account(id, status, Priority::Low, Some(1)))
            .await
            .unwrap();
    }

    // Stored as the types say.
    let rows = db
        .raw()
        .fetch_all_sql(
            "SELECT status, priority FROM k_accounts ORDER BY id",
            vec![],
        )
        .await
        .unwrap();
    let stored: Vec<(String, i32)> = rows
        .iter()
        .map(|r| (r.get("status").unwrap(), r.get("priority").unwrap()))
        .collect();
    assert_eq!(stored[0], ("active".to_string(), 10), "{d}");
    assert_eq!(stored[1], ("on_hold".to_string(), 1), "{d}");
    assert_eq!(stored[2], ("gone".to_string(), 1), "{d}");

    // Found by the newtype key, filtered by typed columns.
    let found = repo.find_by_id(AccountId(1)).await.unwrap().unwrap();
    assert_eq!(found, root, "{d}");
    let on_hold = repo
        .find_many(Account::STATUS.eq(Status::OnHold))
        .await
        .unwrap();
    assert_eq!(
        on_hold.iter().map(|a| a.id).collect::<Vec<_>>(),
        [AccountId(2), AccountId(4)],
        "{d}"
    );
    // An enum stored as text takes `like`.
    assert_eq!(
        repo.count(Account::STATUS.like("on%")).await.unwrap(),
        2,
        "{d}"
    );
    let children = repo
        .find_many(Account::PARENT.eq(AccountId(1)))
        .await
        .unwrap();
    assert_eq!(children.len(), 4, "{d}");
    assert_eq!(
        repo.count(Account::PARENT.is_null()).await.unwrap(),
        1,
        "{d}"
    );
    let high = repo
        .find_many(Account::PRIORITY.eq(Priority::High))
        .await
        .unwrap();
    assert_eq!(high, std::slice::from_ref(&root), "{d}");

    // Updated, including an Option of an own type set and cleared.
    let updated = repo
        .update(
            AccountId(2),
            AccountPatch::default()
                .status(Status::Active)
                .backup_status(Some(Status::Closed))
                .parent(None),
        )
        .await
        .unwrap();
    assert_eq!(
        (updated.status, updated.backup_status, updated.parent),
        (Status::Active, Some(Status::Closed), None),
        "{d}"
    );
    let again = repo.find_by_id(AccountId(2)).await.unwrap().unwrap();
    assert_eq!(again, updated, "{d}");

    // Cursor pages ordered by the newtype key.
    let select = repo.find().order_by(Account::ID.asc()).into_select();
    let first = kysera::dal::paginate_cursor::<Account>(&db, select.clone(), 2, None)
        .await
        .unwrap();
    assert_eq!(
        first.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        [AccountId(1), AccountId(2)],
        "{d}"
    );
    let second =
        kysera::dal::paginate_cursor::<Account>(&db, select, 2, first.next_cursor.as_deref())
            .await
            .unwrap();
    assert_eq!(
        second.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        [AccountId(3), AccountId(4)],
        "{d}"
    );

    // A stored value the enum does not know: a decode error on that column, not a panic.
    db.raw()
        .execute_sql(
            "UPDATE k_accounts SET status = 'archived' WHERE id = 5",
            vec![],
        )
        .await
        .unwrap();
    let err = repo.find_by_id(AccountId(5)).await.unwrap_err();
    match &err {
        Error::Decode { column, .. } => assert_eq!(column, "status", "{d}"),
        other => panic!("{d}: {other:?}"),
    }
    assert!(
        std::error::Error::source(&err)
            .is_some_and(|s| s.to_string().contains("`archived` is not one of")),
        "{d}: {err:?}"
    );
    // An integer the enum has no variant for: the same.
    db.raw()
        .execute_sql(
            "UPDATE k_accounts SET status = 'active', priority = 7 WHERE id = 5",
            vec![],
        )
        .await
        .unwrap();
    match repo.find_by_id(AccountId(5)).await.unwrap_err() {
        Error::Decode { column, .. } => assert_eq!(column, "priority", "{d}"),
        other => panic!("{d}: {other:?}"),
    }
}

/// A tenant id of the application's own type: stored as text, and checked as text — a tenant
/// sees only its rows, and one that differs only by a trailing space or case is another tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, kysera::Type)]
#[serde(transparent)]
struct TenantId(String);

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_tenant_notes")]
#[rls(tenant = "tenant")]
struct Note {
    #[kysera(primary_key, assigned)]
    id: i64,
    tenant: TenantId,
    body: String,
}

#[kysera::test(databases = "all")]
async fn an_own_type_as_the_tenant_column_isolates_tenants(db: Executor) {
    use kysera::rls::{self, AuthContext};
    let d = db.dialect();
    let text = match d {
        Dialect::MySql => "VARCHAR(32)",
        _ => "TEXT",
    };
    db.raw()
        .execute_sql(
            AssertSqlSafe(format!(
                "CREATE TABLE k_tenant_notes (id BIGINT PRIMARY KEY, tenant {text} NOT NULL, body {text} NOT NULL)"
            )),
            vec![],
        )
        .await
        .unwrap();
    for (id, tenant) in [(1i64, "a"), (2, "b")] {
        rls::with_context(AuthContext::user("u").with_tenant(tenant), async {
            Note::repo(&db)
                .create(NewNote {
                    id,
                    tenant: None,
                    body: format!("{tenant}'s note"),
                })
                .await
                .unwrap_or_else(|e| panic!("{d}: {e}"));
        })
        .await;
    }
    for (tenant, seen) in [
        ("a", vec![1i64]),
        ("b", vec![2]),
        ("a ", vec![]),
        ("A", vec![]),
    ] {
        let ids: Vec<i64> = rls::with_context(AuthContext::user("u").with_tenant(tenant), async {
            Note::repo(&db).find_all().await.unwrap()
        })
        .await
        .into_iter()
        .map(|n| n.id)
        .collect();
        assert_eq!(ids, seen, "{d}: tenant {tenant:?}");
    }
    // Another tenant's row cannot be changed either.
    let other = rls::with_context(AuthContext::user("u").with_tenant("a"), async {
        Note::repo(&db)
            .update(2, NotePatch::default().body("taken".to_string()))
            .await
    })
    .await;
    assert!(other.is_err(), "{d}: {other:?}");
}

#[test]
fn the_stored_forms() {
    assert_eq!(Status::OnHold.to_repr(), "on_hold");
    assert_eq!(Status::Closed.to_repr(), "gone");
    assert_eq!(Status::from_repr("gone".into()), Ok(Status::Closed));
    assert!(Status::from_repr("Closed".into()).is_err());
    assert_eq!(Priority::High.to_repr(), 10);
    assert_eq!(Priority::from_repr(1), Ok(Priority::Low));
    assert!(Priority::from_repr(2).is_err());
    assert_eq!(AccountId(9).to_repr(), 9);
    assert_eq!(
        Handle {
            name: Name("x".into())
        }
        .to_repr(),
        Name("x".into())
    );
}
