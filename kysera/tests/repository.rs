//! Derived models end to end: every repository and DAL method, validation, pagination,
//! composite keys and every supported column type, on every configured database. Each test
//! has its own models and tables, so tests run in parallel without clashing. (A little over
//! 600 lines: one cohesive tour of the repository API, whose scenarios share their models.)

#[macro_use]
mod common;

use kysera::dal::{self, Context};
use kysera::{Dialect, Error, Executor, Model, Repository};

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_repo_members")]
struct Member {
    #[kysera(primary_key, generated)]
    id: i64,
    #[kysera(validate(email, length(max = 255)))]
    email: String,
    #[kysera(rename = "display_name", validate(length(min = 1, max = 50)))]
    name: String,
    #[kysera(validate(range(min = 0, max = 150)))]
    age: Option<i32>,
    #[kysera(default)]
    active: bool,
    score: f64,
    #[kysera(skip)]
    cache: Option<String>,
}

async fn members_table(db: &Executor, table: &str) {
    common::drop_tables(db, &[table]).await;
    common::ddl(
        db,
        &format!(
            "CREATE TABLE {table} ({}, email VARCHAR(255) NOT NULL UNIQUE, display_name VARCHAR(50) NOT NULL, \
             age INTEGER NULL, active BOOLEAN NOT NULL DEFAULT TRUE, score DOUBLE PRECISION NOT NULL)",
            common::id_column(db.dialect())
        ),
    )
    .await;
}

fn member(email: &str, name: &str, age: Option<i32>, score: f64) -> NewMember {
    NewMember {
        email: email.into(),
        name: name.into(),
        age,
        active: None,
        score,
    }
}

per_database! {
    async fn repository_crud(db) {
        assert_eq!(Member::INFO.table, "k_repo_members");
        assert_eq!(Member::INFO.primary_key, ["id"]);
        assert_eq!(Member::NAME.name(), "display_name");

        let d = db.dialect();
        members_table(&db, Member::INFO.table).await;
        let repo = Member::repo(&db);

        let ada = repo
            .create(member("ada@x.io", "Ada", Some(36), 9.5))
            .await
            .unwrap();
        assert!(ada.id > 0, "{d}");
        assert!(
            ada.active,
            "{d}: database default applies when `default` field is None"
        );
        assert_eq!(
            (ada.name.as_str(), ada.age, ada.cache.clone()),
            ("Ada", Some(36), None)
        );
        let mut off = member("off@x.io", "Off", None, 1.0);
        off.active = Some(false);
        let many = repo
            .create_many(vec![
                member("bob@x.io", "Bob", Some(17), 3.0),
                off,
                member("cy@y.io", "Cy", None, 7.25),
            ])
            .await
            .unwrap();
        assert_eq!(
            many.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
            ["Bob", "Off", "Cy"],
            "{d}"
        );
        assert!(!many[1].active && many[0].active, "{d}");
        assert!(repo.create_many(vec![]).await.unwrap().is_empty());

        assert_eq!(
            repo.find_by_id(ada.id).await.unwrap().as_ref(),
            Some(&ada),
            "{d}"
        );
        assert_eq!(repo.find_by_id(-5).await.unwrap(), None, "{d}");
        assert_eq!(repo.find_all().await.unwrap().len(), 4, "{d}");
        let cy = repo
            .find_one(Member::EMAIL.eq("cy@y.io"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cy.score, 7.25, "{d}");
        let adults = repo
            .find_many(Member::AGE.gte(18).or(Member::AGE.is_null()))
            .await
            .unwrap();
        assert_eq!(adults.len(), 3, "{d}");
        let named = repo
            .find()
            .filter(Member::NAME.like("%y"))
            .order_by(Member::NAME.asc())
            .all()
            .await
            .unwrap();
        assert_eq!(
            named.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
            ["Cy"],
            "{d}"
        );
        let first = repo
            .find()
            .order_by(Member::SCORE.desc())
            .one()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.name, "Ada", "{d}");
        assert_eq!(repo.count(None).await.unwrap(), 4, "{d}");
        assert_eq!(repo.count(Member::ACTIVE.eq(true)).await.unwrap(), 3, "{d}");
        assert!(
            repo.exists(Member::EMAIL.eq("bob@x.io")).await.unwrap(),
            "{d}"
        );
        assert!(
            !repo.exists(Member::EMAIL.eq("zed@x.io")).await.unwrap(),
            "{d}"
        );
        assert_eq!(
            repo.find()
                .filter(Member::SCORE.gt(2.0))
                .count()
                .await
                .unwrap(),
            3,
            "{d}"
        );

        // Update: only the fields given, NULL through Some(None), the rest untouched.
        let ada2 = repo
            .update(
                ada.id,
                MemberPatch::default().name("Ada L.").age(None).score(10.0),
            )
            .await
            .unwrap();
        assert_eq!(
            (
                ada2.name.as_str(),
                ada2.age,
                ada2.score,
                ada2.email.as_str()
            ),
            ("Ada L.", None, 10.0, "ada@x.io"),
            "{d}"
        );
        let reread = repo.find_by_id(ada.id).await.unwrap().unwrap();
        assert_eq!(reread, ada2, "{d}: read back from the database");
        assert_eq!(
            repo.update(ada.id, MemberPatch::default()).await.unwrap(),
            ada2,
            "{d}"
        );
        let missing = repo.update(-1, MemberPatch::default().score(1.0)).await;
        assert!(
            matches!(missing, Err(Error::NotFound(_))),
            "{d}: {missing:?}"
        );
        assert_eq!(
            repo.update_many(Member::ACTIVE.eq(true), MemberPatch::default().score(0.5))
                .await
                .unwrap(),
            3,
            "{d}"
        );
        assert_eq!(repo.count(Member::SCORE.eq(0.5)).await.unwrap(), 3, "{d}");
        assert!(matches!(
            repo.update_many(Member::ID.gt(0), MemberPatch::default())
                .await,
            Err(Error::InvalidQuery(_))
        ));

        // Validation: every failing field at once, before the database sees anything.
        let bad = repo
            .create(member("not-an-email", "", Some(200), 1.0))
            .await;
        match bad {
            Err(Error::Validation(v)) => assert_eq!(v.fields(), ["email", "name", "age"], "{d}"),
            other => panic!("{d}: expected validation error, got {other:?}"),
        }
        let bad = repo
            .update(ada.id, MemberPatch::default().age(Some(-3)))
            .await;
        assert!(
            matches!(bad, Err(Error::Validation(ref v)) if v.fields() == ["age"]),
            "{d}: {bad:?}"
        );
        let bad = repo
            .create_many(vec![
                member("ok@x.io", "Ok", None, 1.0),
                member("x", "X", None, 1.0),
            ])
            .await;
        assert!(matches!(bad, Err(Error::Validation(_))), "{d}");
        assert_eq!(
            repo.count(None).await.unwrap(),
            4,
            "{d}: nothing of a failed batch was written"
        );

        // Constraint errors come through classified.
        let dup = repo.create(member("bob@x.io", "Bob2", None, 1.0)).await;
        assert!(
            matches!(dup, Err(Error::UniqueViolation(_))),
            "{d}: {dup:?}"
        );

        // Delete.
        repo.delete(cy.id).await.unwrap();
        assert!(
            matches!(repo.delete(cy.id).await, Err(Error::NotFound(_))),
            "{d}"
        );
        assert_eq!(
            repo.delete_many(Member::AGE.is_null()).await.unwrap(),
            2,
            "{d}"
        );
        assert_eq!(repo.find_all().await.unwrap().len(), 1, "{d}");
        common::drop_tables(&db, &[Member::INFO.table]).await;
    }
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_repo_pages")]
struct Item {
    #[kysera(assigned)]
    id: i64,
    rank: i32,
    label: String,
}

per_database! {
    async fn offset_and_cursor_pagination(db) {
        let d = db.dialect();
        let t = Item::INFO.table;
        common::drop_tables(&db, &[t]).await;
        common::ddl(&db, &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, rank INTEGER NOT NULL, label VARCHAR(20) NOT NULL)")).await;
        let repo = Item::repo(&db);
        // 23 items; ranks repeat so the id breaks ties.
        let items: Vec<NewItem> = (1..=23)
            .map(|i| NewItem {
                id: i,
                rank: (i % 5) as i32,
                label: format!("item{i}"),
            })
            .collect();
        repo.create_many(items).await.unwrap();

        let p = repo
            .find()
            .order_by(Item::ID.asc())
            .page(2, 10)
            .await
            .unwrap();
        assert_eq!(
            (p.total, p.page, p.limit, p.total_pages),
            (23, 2, 10, 3),
            "{d}"
        );
        assert_eq!(p.items.first().map(|i| i.id), Some(11), "{d}");
        let last = repo
            .find()
            .order_by(Item::ID.asc())
            .page(3, 10)
            .await
            .unwrap();
        assert_eq!(last.items.len(), 3, "{d}");
        let beyond = repo.find().page(9, 10).await.unwrap();
        assert!(beyond.items.is_empty() && beyond.total == 23, "{d}");
        let filtered = repo
            .find()
            .filter(Item::RANK.eq(0))
            .page(1, 2)
            .await
            .unwrap();
        assert_eq!(
            (filtered.total, filtered.total_pages, filtered.items.len()),
            (4, 2, 2),
            "{d}"
        );
        assert!(matches!(
            repo.find().page(0, 10).await,
            Err(Error::InvalidQuery(_))
        ));

        // Cursor: rank descending, then id (added automatically as the tie-breaker).
        let mut expected = repo.find_all().await.unwrap();
        expected.sort_by(|a, b| b.rank.cmp(&a.rank).then(a.id.cmp(&b.id)));
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = repo
                .find()
                .order_by(Item::RANK.desc())
                .cursor(5, cursor.as_deref())
                .await
                .unwrap();
            pages += 1;
            seen.extend(page.items.iter().map(|i| i.id));
            assert_eq!(page.has_more, page.next_cursor.is_some(), "{d}");
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
            assert!(pages < 10, "{d}: cursor pagination does not end");
        }
        assert_eq!(pages, 5, "{d}");
        assert_eq!(
            seen,
            expected.iter().map(|i| i.id).collect::<Vec<_>>(),
            "{d}"
        );

        // A cursor used with another order, or edited, is refused.
        let first = repo
            .find()
            .order_by(Item::RANK.desc())
            .cursor(5, None)
            .await
            .unwrap();
        let c = first.next_cursor.unwrap();
        let wrong_order = repo
            .find()
            .order_by(Item::LABEL.asc())
            .cursor(5, Some(&c))
            .await;
        assert!(matches!(wrong_order, Err(Error::InvalidCursor(_))), "{d}");
        let mut edited = c.clone();
        edited.replace_range(10..11, if &c[10..11] == "A" { "B" } else { "A" });
        let tampered = repo
            .find()
            .order_by(Item::RANK.desc())
            .cursor(5, Some(&edited))
            .await;
        assert!(
            matches!(tampered, Err(Error::InvalidCursor(_))),
            "{d}: {tampered:?}"
        );
        common::drop_tables(&db, &[t]).await;
    }
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_repo_memberships")]
struct Membership {
    #[kysera(primary_key)]
    org_id: i64,
    #[kysera(primary_key)]
    user_id: i64,
    role: String,
}

per_database! {
    async fn composite_primary_keys(db) {
        assert_eq!(Membership::INFO.primary_key, ["org_id", "user_id"]);

        let d = db.dialect();
        let t = Membership::INFO.table;
        common::drop_tables(&db, &[t]).await;
        common::ddl(&db, &format!("CREATE TABLE {t} (org_id BIGINT NOT NULL, user_id BIGINT NOT NULL, role VARCHAR(20) NOT NULL, PRIMARY KEY (org_id, user_id))")).await;
        let repo = Membership::repo(&db);
        for (o, u, r) in [(1, 1, "owner"), (1, 2, "member"), (2, 1, "member")] {
            let m = repo
                .create(NewMembership {
                    org_id: o,
                    user_id: u,
                    role: r.into(),
                })
                .await
                .unwrap();
            assert_eq!(m.id(), (o, u), "{d}");
        }
        assert_eq!(
            repo.find_by_id((1, 2)).await.unwrap().unwrap().role,
            "member",
            "{d}"
        );
        assert_eq!(repo.find_by_id((2, 2)).await.unwrap(), None, "{d}");
        let up = repo
            .update((2, 1), MembershipPatch::default().role("admin"))
            .await
            .unwrap();
        assert_eq!(up.role, "admin", "{d}");
        assert_eq!(
            repo.find_by_id((1, 1)).await.unwrap().unwrap().role,
            "owner",
            "{d}: other rows untouched"
        );
        repo.delete((1, 2)).await.unwrap();
        assert_eq!(repo.count(None).await.unwrap(), 2, "{d}");
        common::drop_tables(&db, &[t]).await;
    }
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_repo_kinds")]
struct Kinds {
    #[kysera(primary_key)]
    key: uuid::Uuid,
    small: i16,
    real: f32,
    flag: Option<bool>,
    blob: Vec<u8>,
    day: chrono::NaiveDate,
    at: chrono::NaiveTime,
    local: chrono::NaiveDateTime,
    stamp: chrono::DateTime<chrono::Utc>,
    doc: serde_json::Value,
    note: Option<String>,
}

per_database! {
    async fn every_column_type_round_trips(db) {
        let d = db.dialect();
        let t = Kinds::INFO.table;
        common::drop_tables(&db, &[t]).await;
        let ddl = match d {
            Dialect::Postgres => format!(
                "CREATE TABLE {t} (key UUID PRIMARY KEY, small SMALLINT NOT NULL, real REAL NOT NULL, flag BOOLEAN, blob BYTEA NOT NULL, day DATE NOT NULL, at TIME NOT NULL, local TIMESTAMP NOT NULL, stamp TIMESTAMPTZ NOT NULL, doc JSONB NOT NULL, note TEXT)"
            ),
            Dialect::MySql => format!(
                "CREATE TABLE {t} (`key` BINARY(16) PRIMARY KEY, small SMALLINT NOT NULL, `real` FLOAT NOT NULL, flag BOOLEAN, `blob` BLOB NOT NULL, day DATE NOT NULL, at TIME(6) NOT NULL, `local` DATETIME(6) NOT NULL, stamp DATETIME(6) NOT NULL, doc JSON NOT NULL, note TEXT)"
            ),
            _ => format!(
                "CREATE TABLE {t} (key BLOB PRIMARY KEY, small INTEGER NOT NULL, real REAL NOT NULL, flag BOOLEAN, blob BLOB NOT NULL, day TEXT NOT NULL, at TEXT NOT NULL, local TEXT NOT NULL, stamp TEXT NOT NULL, doc TEXT NOT NULL, note TEXT)"
            ),
        };
        common::ddl(&db, &ddl).await;
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let at = chrono::NaiveTime::from_hms_micro_opt(18, 55, 42, 250_000).unwrap();
        let new = NewKinds {
            key: uuid::Uuid::new_v4(),
            small: -12,
            real: 1.5,
            flag: Some(false),
            blob: vec![0, 159, 146, 150, 255],
            day,
            at,
            local: day.and_time(at),
            stamp: day.and_time(at).and_utc(),
            doc: serde_json::json!({ "tags": ["a", "b"], "n": 3 }),
            note: None,
        };
        let created = Kinds::repo(&db).create(new.clone()).await.unwrap();
        let back = Kinds::repo(&db).find_by_id(new.key).await.unwrap().unwrap();
        assert_eq!(created, back, "{d}");
        let expected = Kinds {
            key: new.key,
            small: new.small,
            real: new.real,
            flag: new.flag,
            blob: new.blob.clone(),
            day,
            at,
            local: new.local,
            stamp: new.stamp,
            doc: new.doc.clone(),
            note: None,
        };
        assert_eq!(back, expected, "{d}");
        // Typed filters on each kind of column.
        let repo = Kinds::repo(&db);
        assert_eq!(
            repo.count(
                Kinds::STAMP
                    .lte(new.stamp)
                    .and(Kinds::DAY.eq(day))
                    .and(Kinds::NOTE.is_null())
            )
            .await
            .unwrap(),
            1,
            "{d}"
        );
        assert_eq!(repo.count(Kinds::FLAG.eq(true)).await.unwrap(), 0, "{d}");
        common::drop_tables(&db, &[t]).await;
    }
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_dal_accounts")]
struct Account {
    #[kysera(primary_key, generated)]
    id: i64,
    owner: String,
    balance: i64,
}

kysera::repositories! {
    /// Repositories that must see the same transaction.
    struct Repos { accounts: Account, members: Member }
}

per_database! {
    async fn dal_functions_and_transactions(db) {
        let d = db.dialect();
        let t = Account::INFO.table;
        common::drop_tables(&db, &[t]).await;
        common::ddl(
            &db,
            &format!(
                "CREATE TABLE {t} ({}, owner VARCHAR(20) NOT NULL, balance BIGINT NOT NULL)",
                common::id_column(d)
            ),
        )
        .await;

        // Query functions over any context.
        let open = dal::create_query(|ctx: Context, owner: String| async move {
            dal::create::<Account>(
                &ctx,
                NewAccount {
                    owner,
                    balance: 100,
                },
            )
            .await
        });
        let deposit = dal::create_query(|ctx: Context, acc: Account| async move {
            dal::update::<Account>(
                &ctx,
                &acc.id,
                AccountPatch::default().balance(acc.balance + 50),
            )
            .await
        });
        let open_and_deposit = dal::compose(open.clone(), deposit);
        let a = open_and_deposit.run(&db, "ann".into()).await.unwrap();
        assert_eq!(a.balance, 150, "{d}");

        // Independent queries at once.
        let results = dal::parallel([open.run(&db, "bo".into()), open.run(&db, "cid".into())])
            .await
            .unwrap();
        assert_eq!(results.len(), 2, "{d}");
        let (n, all) = tokio::try_join!(
            dal::count::<Account>(&db, None),
            dal::find_all::<Account>(&db)
        )
        .unwrap();
        assert_eq!((n, all.len()), (3, 3), "{d}");

        // A transaction: both repositories on it; an error rolls all of it back.
        let res: kysera::Result<()> = dal::with_transaction(&db, async |tx| {
            let repos = Repos::new(&tx);
            repos
                .accounts
                .create(NewAccount {
                    owner: "dee".into(),
                    balance: 1,
                })
                .await?;
            assert_eq!(repos.accounts.count(None).await?, 4);
            let composed = open_and_deposit.run(&tx, "eve".into()).await?;
            assert_eq!(composed.balance, 150);
            Err(Error::InvalidQuery("abort".into()))
        })
        .await;
        assert!(res.is_err());
        assert_eq!(
            Account::repo(&db).count(None).await.unwrap(),
            3,
            "{d}: rolled back"
        );
        dal::with_transaction(&db, async |tx| {
            let repos = Repos::new(&tx);
            let f = repos
                .accounts
                .find_one(Account::OWNER.eq("bo"))
                .await?
                .unwrap();
            repos
                .accounts
                .update(f.id, AccountPatch::default().balance(0))
                .await?;
            kysera::Result::<()>::Ok(())
        })
        .await
        .unwrap();
        let bo = Account::repo(&db)
            .find_one(Account::OWNER.eq("bo"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(bo.balance, 0, "{d}: committed");
        common::drop_tables(&db, &[t]).await;
    }
}
