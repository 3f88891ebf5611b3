//! Custom row-level policies ([`RlsSchema`]: filter, allow, deny, validate) on every configured
//! database, checked against the values a statement writes; and PostgreSQL native RLS, where
//! the database itself filters under a role that is not a superuser.

#[macro_use]
mod common;

use std::sync::Arc;

use kysera::Error;
use kysera::query::{Delete, Insert, Operation, Order, Select, Update, col};
use kysera::rls::{self, Access, AuthContext, Policy, Rls, RlsSchema};

per_database! {
    async fn custom_policies_from_the_schema(plain) {
        use Operation::{Delete as Del, Insert as Ins, Select as Sel, Update as Upd};

        let d = plain.dialect();
        let t = "k_rls_documents";
        common::drop_tables(&plain, &[t]).await;
        common::ddl(&plain, &format!("CREATE TABLE {t} ({}, org VARCHAR(10) NOT NULL, author_id BIGINT NOT NULL, title VARCHAR(50) NOT NULL)", common::id_column(d))).await;
        let schema = RlsSchema::new()
            .policy(
                t,
                Policy::filter(|ctx| {
                    ctx.attributes
                        .get("org")
                        .and_then(|o| o.as_str())
                        .map(|o| col("org").eq(o))
                }),
            )
            .policy(t, Policy::allow([Sel], |_| Access::Yes))
            .policy(
                t,
                Policy::allow([Ins], |ctx| match &ctx.user_id {
                    Some(u) => Access::Where(col("author_id").eq(u.clone())),
                    None => Access::No,
                }),
            )
            .policy(
                t,
                Policy::allow([Upd, Del], |ctx| match &ctx.user_id {
                    Some(u) => Access::Where(col("author_id").eq(u.clone())),
                    None => Access::No,
                }),
            )
            .policy(t, Policy::allow_roles([Upd, Del], ["admin"]))
            .policy(
                t,
                Policy::deny([Del], |ctx| Access::from(ctx.has_role("suspended"))),
            )
            .policy(
                t,
                Policy::validate([Ins, Upd], |_, values| {
                    match values.iter().find(|(c, _)| *c == "title") {
                        Some((_, v)) if **v == kysera::Value::from("") => {
                            Err("the title is empty".into())
                        }
                        _ => Ok(()),
                    }
                }),
            );
        let db = plain
            .with_plugins(vec![Arc::new(Rls::new(schema))])
            .unwrap();
        let doc = |org: &str, author: i64, title: &str| {
            Insert::into(t)
                .set("org", org.to_string())
                .set("author_id", author)
                .set("title", title.to_string())
        };
        let ann = || AuthContext::user(1i64).with_attribute("org", serde_json::json!("x"));
        let bob = || AuthContext::user(2i64).with_attribute("org", serde_json::json!("x"));
        rls::with_context(ann(), async {
            db.execute(doc("x", 1, "ann-1")).await?;
            db.execute(doc("y", 1, "ann-in-y")).await?;
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
        rls::with_context(bob(), db.execute(doc("x", 2, "bob-1")))
            .await
            .unwrap();

        let outcome: kysera::Result<()> = rls::with_context(bob(), async {
            // Filter policy: org x only.
            assert_eq!(db.count(Select::from(t)).await?, 2);
            // Insert allowed only as oneself; validation runs.
            let as_ann = db.execute(doc("x", 1, "forged")).await;
            assert!(matches!(as_ann, Err(Error::AccessDenied { .. })), "{as_ann:?}");
            let empty = db.execute(doc("x", 2, "")).await;
            assert!(matches!(empty, Err(Error::AccessDenied { ref reason, .. }) if reason.contains("empty")), "{empty:?}");
            // Update/delete only one's own rows.
            assert_eq!(db.execute(Update::table(t).set("title", "edited")).await?, 1);
            assert_eq!(db.execute(Delete::from(t).filter(col("title").eq("ann-1"))).await?, 0);
            Ok(())
        })
        .await;
        outcome.unwrap_or_else(|e| panic!("{d}: {e}"));
        // An admin may change anyone's; a suspended admin may not delete; no user: default deny.
        let admin = || bob().with_roles(["admin"]);
        assert_eq!(
            rls::with_context(
                admin(),
                db.execute(
                    Update::table(t)
                        .set("title", "by-admin")
                        .filter(col("author_id").eq(1i64))
                )
            )
            .await
            .unwrap(),
            2,
            "{d}"
        );
        let suspended = rls::with_context(
            admin().with_roles(["suspended"]),
            db.execute(Delete::from(t)),
        )
        .await;
        assert!(matches!(suspended, Err(Error::AccessDenied { .. })), "{d}");
        let anonymous =
            rls::with_context(AuthContext::default(), db.execute(doc("x", 1, "anon"))).await;
        assert!(
            matches!(anonymous, Err(Error::AccessDenied { ref reason, .. }) if reason.contains("no policy")),
            "{d}: {anonymous:?}"
        );
        assert!(
            matches!(
                db.count(Select::from(t)).await,
                Err(Error::NoAuthContext { .. })
            ),
            "{d}"
        );
        let titles: Vec<String> = db
            .raw()
            .fetch_all(
                Select::from(t)
                    .column(col("title"))
                    .order_by(col("title"), Order::Asc),
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("title").unwrap())
            .collect();
        assert_eq!(titles, ["by-admin", "by-admin", "edited"], "{d}");
        common::drop_tables(&plain, &[t]).await;
    }
}

/// Runs `f` as tenant `b`.
async fn as_b<F: std::future::Future>(f: F) -> F::Output {
    rls::with_context(AuthContext::user("u").with_tenant("b"), f).await
}

#[tokio::test]
async fn postgres_native_rls() {
    let Ok(url) = std::env::var(common::POSTGRES_ENV) else {
        return;
    };
    let db = kysera::connect(&url).await.unwrap().with_postgres_rls(true);
    let t = "k_rls_native";
    common::drop_tables(&db, &[t]).await;
    common::ddl(&db, &format!("CREATE TABLE {t} (id BIGSERIAL PRIMARY KEY, tenant_id TEXT NOT NULL, body TEXT NOT NULL)")).await;
    common::ddl(&db, "DO $$ BEGIN CREATE ROLE kysera_rls_app NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$").await;
    common::ddl(
        &db,
        &format!("GRANT SELECT, INSERT, UPDATE, DELETE ON {t} TO kysera_rls_app"),
    )
    .await;
    common::ddl(
        &db,
        &format!("GRANT USAGE, SELECT ON SEQUENCE {t}_id_seq TO kysera_rls_app"),
    )
    .await;
    for stmt in rls::postgres_tenant_policy(t, "tenant_id") {
        common::ddl(&db, &stmt).await;
    }
    db.raw()
        .execute_sql(
            kysera::AssertSqlSafe(format!(
                "INSERT INTO {t} (tenant_id, body) VALUES ('a', 'a1'), ('b', 'b1'), ('b', 'b2')"
            )),
            vec![],
        )
        .await
        .unwrap();

    // Raw SQL bypasses Kysera's own policies: here the database alone filters, under a role that
    // is not a superuser, with the settings the executor passed to the transaction.
    let seen = rls::with_context(
        AuthContext::user("u").with_tenant("b"),
        db.transaction(async |tx| {
            tx.raw()
                .execute_sql("SET LOCAL ROLE kysera_rls_app", vec![])
                .await?;
            let rows = tx
                .raw()
                .fetch_all_sql(
                    kysera::AssertSqlSafe(format!("SELECT body FROM {t} ORDER BY body")),
                    vec![],
                )
                .await?;
            let bodies: Vec<String> = rows.iter().map(|r| r.get("body").unwrap()).collect();
            let forged = tx
                .raw()
                .execute_sql(
                    kysera::AssertSqlSafe(format!(
                        "INSERT INTO {t} (tenant_id, body) VALUES ('a', 'x')"
                    )),
                    vec![],
                )
                .await;
            assert!(
                forged.is_err(),
                "the database refuses a row for another tenant"
            );
            Ok::<_, Error>(bodies)
        }),
    )
    .await;
    // The refused insert aborted the transaction, so it reports an error at commit or earlier;
    // check the read on its own too.
    let bodies = match seen {
        Ok(b) => b,
        Err(_) => rls::with_context(
            AuthContext::user("u").with_tenant("b"),
            db.transaction(async |tx| {
                tx.raw()
                    .execute_sql("SET LOCAL ROLE kysera_rls_app", vec![])
                    .await?;
                let rows = tx
                    .raw()
                    .fetch_all_sql(
                        kysera::AssertSqlSafe(format!("SELECT body FROM {t} ORDER BY body")),
                        vec![],
                    )
                    .await?;
                Ok::<_, Error>(
                    rows.iter()
                        .map(|r| r.get::<String>("body").unwrap())
                        .collect::<Vec<_>>(),
                )
            }),
        )
        .await
        .unwrap(),
    };
    assert_eq!(bodies, ["b1", "b2"]);
    // No context: the setting is unset and the role sees nothing.
    let none = db
        .transaction(async |tx| {
            tx.raw()
                .execute_sql("SET LOCAL ROLE kysera_rls_app", vec![])
                .await?;
            tx.raw()
                .fetch_all_sql(
                    kysera::AssertSqlSafe(format!("SELECT body FROM {t}")),
                    vec![],
                )
                .await
        })
        .await
        .unwrap();
    assert!(none.is_empty());
    // The system context passes.
    let all = rls::as_system(db.transaction(async |tx| {
        tx.raw()
            .execute_sql("SET LOCAL ROLE kysera_rls_app", vec![])
            .await?;
        tx.raw()
            .fetch_all_sql(
                kysera::AssertSqlSafe(format!("SELECT body FROM {t}")),
                vec![],
            )
            .await
    }))
    .await
    .unwrap();
    assert_eq!(all.len(), 3);

    // Outside any explicit transaction, as a role that logs in without being a superuser: every
    // statement gets the settings (in a transaction of its own), so the database gives the same
    // rows as Kysera's own isolation would, for every operation.
    common::ddl(&db, "DO $$ BEGIN CREATE ROLE kysera_rls_login LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$").await;
    common::ddl(
        &db,
        &format!("GRANT SELECT, INSERT, UPDATE, DELETE ON {t} TO kysera_rls_login"),
    )
    .await;
    common::ddl(
        &db,
        &format!("GRANT USAGE, SELECT ON SEQUENCE {t}_id_seq TO kysera_rls_login"),
    )
    .await;
    let app_url = match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}kysera_rls_login{}", &url[..s + 3], &url[at..]),
        _ => panic!("{} needs a user name", common::POSTGRES_ENV),
    };
    let app = kysera::connect(&app_url)
        .await
        .unwrap()
        .with_postgres_rls(true);
    let bodies = |rows: Vec<kysera::Row>| -> Vec<String> {
        rows.iter()
            .map(|r| r.get::<String>("body").unwrap())
            .collect()
    };
    let read = Select::from(t)
        .column(col("body"))
        .order_by(col("body"), Order::Asc);
    assert_eq!(
        bodies(as_b(app.fetch_all(read.clone())).await.unwrap()),
        ["b1", "b2"]
    );
    assert_eq!(as_b(app.count(Select::from(t))).await.unwrap(), 2);
    let forged = as_b(app.execute(Insert::into(t).set("tenant_id", "a").set("body", "x"))).await;
    assert!(
        forged.is_err(),
        "the database refuses a row for another tenant: {forged:?}"
    );
    assert_eq!(
        as_b(app.execute(Update::table(t).set("body", "b!")))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        as_b(app.execute(Delete::from(t).filter(col("body").eq("a1"))))
            .await
            .unwrap(),
        0
    );
    let raw = as_b(app.raw().fetch_all_sql(
        kysera::AssertSqlSafe(format!("SELECT body FROM {t}")),
        vec![],
    ))
    .await
    .unwrap();
    assert_eq!(bodies(raw), ["b!", "b!"]);
    // No context: nothing; the system context: everything, a's row untouched.
    assert!(app.fetch_all(read.clone()).await.unwrap().is_empty());
    let everything = rls::as_system(app.fetch_all(read)).await.unwrap();
    assert_eq!(bodies(everything), ["a1", "b!", "b!"]);
    app.pool().close().await;
    common::drop_tables(&db, &[t]).await;
}

per_database! {
    async fn policy_updates_are_checked_against_the_new_values(plain) {
        use Operation::{Select as Sel, Update as Upd};

        let d = plain.dialect();
        let t = "k_rls_owned";
        common::drop_tables(&plain, &[t]).await;
        common::ddl(&plain, &format!("CREATE TABLE {t} ({}, author_id BIGINT NOT NULL, org VARCHAR(10) NOT NULL, title VARCHAR(50) NOT NULL)", common::id_column(d))).await;
        plain.raw().execute_sql(kysera::AssertSqlSafe(format!("INSERT INTO {t} (author_id, org, title) VALUES (1, 'x', 'mine'), (2, 'y', 'theirs')")), vec![]).await.unwrap();
        let schema = RlsSchema::new()
            // Written qualified by the table's name: it must follow an alias.
            .policy(t, Policy::filter(|_| Some(col("k_rls_owned.org").eq("x"))))
            .policy(t, Policy::allow([Sel], |_| Access::Yes))
            .policy(
                t,
                Policy::allow([Upd], |ctx| {
                    Access::Where(col("author_id").eq(ctx.user_id.clone().unwrap()))
                }),
            );
        let db = plain
            .with_plugins(vec![Arc::new(Rls::new(schema))])
            .unwrap();
        let outcome: kysera::Result<()> = rls::with_context(AuthContext::user(1i64), async {
            let aliased = db
                .fetch_all(Select::from(t).alias("d").column(col("d.title")))
                .await?;
            assert_eq!(aliased.len(), 1, "{d}: the filter follows the alias");
            // Handing one's row to another author is refused; ordinary edits pass.
            let handed = db
                .execute(
                    Update::table(t)
                        .set("author_id", 2i64)
                        .filter(col("title").eq("mine")),
                )
                .await;
            assert!(
                matches!(handed, Err(Error::AccessDenied { .. })),
                "{d}: {handed:?}"
            );
            assert_eq!(
                db.execute(Update::table(t).set("title", "still mine"))
                    .await?,
                1,
                "{d}"
            );
            Ok(())
        })
        .await;
        outcome.unwrap_or_else(|e| panic!("{d}: {e}"));
        common::drop_tables(&plain, &[t]).await;
    }
}
