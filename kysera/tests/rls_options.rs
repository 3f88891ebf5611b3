//! Row-level policies on written values for every operator, NULL-safe deny, the bypass and skip
//! options and their order, and `restore_many` — on every configured database, each outcome
//! read back from the table.

#[macro_use]
mod common;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kysera::audit::Audit;
use kysera::query::{Insert, Operation, Select, Update, col};
use kysera::rls::{self, Access, AuthContext, Policy, Rls, RlsSchema};
use kysera::{Error, Executor, Model, Repository, Value};

fn denied<T: std::fmt::Debug>(res: &kysera::Result<T>) -> bool {
    matches!(res, Err(Error::AccessDenied { .. }))
}

/// `(id, amount, status)` of every row, by id, read without plugins.
async fn rows(plain: &Executor, t: &str) -> Vec<(i64, i64, Option<String>)> {
    let mut out: Vec<_> = plain
        .raw()
        .fetch_all(Select::from(t))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get::<i64>("id").unwrap(),
                r.get::<i64>("amount").unwrap(),
                r.get::<Option<String>>("status").unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

async fn amounts_table(plain: &Executor, t: &str) {
    common::ddl(
        plain,
        &format!(
            "CREATE TABLE {t} (id BIGINT PRIMARY KEY, amount BIGINT NOT NULL, status VARCHAR(10) NULL)"
        ),
    )
    .await;
    for (id, amount, status) in [
        (1i64, 50i64, Some("open")),
        (2, 10, None),
        (3, 20, Some("archived")),
    ] {
        plain
            .raw()
            .execute(
                Insert::into(t)
                    .set("id", id)
                    .set("amount", amount)
                    .set("status", Value::String(status.map(str::to_string))),
            )
            .await
            .unwrap();
    }
}

per_database! {
    async fn written_values_are_checked_for_every_operator(plain) {
        use Operation::{Delete as Del, Insert as Ins, Select as Sel, Update as Upd};
        let d = plain.dialect();
        let t = common::table("rls_amounts");
        amounts_table(&plain, &t).await;
        let schema = RlsSchema::new()
            .policy(&t, Policy::allow([Sel], |_| Access::Yes))
            .policy(&t, Policy::allow([Ins, Upd, Del], |_| {
                Access::Where(col("amount").lt(100i64))
            }));
        let db = plain.with_plugins(vec![Arc::new(Rls::new(schema))]).unwrap();
        let ctx = AuthContext::user("u");
        let before = rows(&plain, &t).await;

        // Inserts: inside the range, and outside it.
        let ok = rls::with_context(ctx.clone(), db.execute(Insert::into(&t).set("id", 4i64).set("amount", 5i64))).await;
        assert_eq!(ok.unwrap(), 1, "{d}: amount 5 is allowed");
        let no = rls::with_context(ctx.clone(), db.execute(Insert::into(&t).set("id", 5i64).set("amount", 500i64))).await;
        assert!(denied(&no), "{d}: amount 500: {no:?}");
        let after_inserts = rows(&plain, &t).await;
        assert_eq!(after_inserts.len(), before.len() + 1, "{d}");
        assert!(after_inserts.iter().all(|r| r.0 != 5), "{d}: the refused row is not stored");

        // Updates that would take a row out of the policy are refused and change nothing.
        let out = rls::with_context(ctx.clone(), db.execute(Update::table(&t).set("amount", 5000i64).filter(col("id").eq(1i64)))).await;
        assert!(denied(&out), "{d}: 50 → 5000: {out:?}");
        let many = rls::with_context(ctx.clone(), db.execute(Update::table(&t).set("amount", 7000i64).filter(col("amount").gt(0i64)))).await;
        assert!(denied(&many), "{d}: builder update to 7000: {many:?}");
        assert_eq!(rows(&plain, &t).await, after_inserts, "{d}: nothing changed");
        // An update that changes no row is not refused (as in PostgreSQL).
        let none = rls::with_context(ctx.clone(), db.execute(Update::table(&t).set("amount", 9000i64).filter(col("id").eq(999i64)))).await;
        assert_eq!(none.unwrap(), 0, "{d}");
        // Inside the range: allowed.
        let fine = rls::with_context(ctx.clone(), db.execute(Update::table(&t).set("amount", 60i64).filter(col("id").eq(1i64)))).await;
        assert_eq!(fine.unwrap(), 1, "{d}");
        assert_eq!(rows(&plain, &t).await[0], (1, 60, Some("open".into())), "{d}");

        // A condition on a column the update does not set is checked on the row in the
        // database: a policy `status = 'open'` keeps `amount`-only updates to open rows.
        let t2 = common::table("rls_status");
        amounts_table(&plain, &t2).await;
        let schema = RlsSchema::new()
            .policy(&t2, Policy::allow([Sel, Upd], |_| {
                Access::Where(col("status").eq("open").or(col("amount").lt(15i64)))
            }));
        let db2 = plain.with_plugins(vec![Arc::new(Rls::new(schema))]).unwrap();
        // Row 2 (amount 10, NULL status) is allowed by its amount; moving it to 40 takes it
        // out: refused.
        let res = rls::with_context(ctx.clone(), db2.execute(Update::table(&t2).set("amount", 40i64).filter(col("id").eq(2i64)))).await;
        assert!(denied(&res), "{d}: {res:?}");
        // Row 1 (open) may take any amount.
        let res = rls::with_context(ctx.clone(), db2.execute(Update::table(&t2).set("amount", 999i64).filter(col("id").eq(1i64)))).await;
        assert_eq!(res.unwrap(), 1, "{d}");
        let stored = rows(&plain, &t2).await;
        assert_eq!((stored[0].1, stored[1].1), (999, 10), "{d}");
        common::drop_tables(&plain, &[&t, &t2]).await;
    }
}

per_database! {
    async fn a_deny_removes_only_rows_where_it_is_true(plain) {
        use Operation::{Delete as Del, Insert as Ins, Select as Sel, Update as Upd};
        let d = plain.dialect();
        let t = common::table("rls_deny");
        amounts_table(&plain, &t).await;
        let schema = RlsSchema::new()
            .policy(&t, Policy::allow([Sel, Ins, Upd, Del], |_| Access::Yes))
            .policy(&t, Policy::deny([Sel, Ins, Upd, Del], |_| {
                Access::Where(col("status").eq("archived"))
            }));
        let db = plain.with_plugins(vec![Arc::new(Rls::new(schema))]).unwrap();
        let ctx = AuthContext::user("u");
        // The NULL-status row is visible; the archived one is not.
        let seen = rls::with_context(ctx.clone(), db.fetch_all(Select::from(&t))).await.unwrap();
        let mut ids: Vec<i64> = seen.iter().map(|r| r.get("id").unwrap()).collect();
        ids.sort();
        assert_eq!(ids, [1, 2], "{d}");
        // Updates reach it.
        let n = rls::with_context(ctx.clone(), db.execute(Update::table(&t).set("amount", 11i64).filter(col("amount").gt(0i64)))).await.unwrap();
        assert_eq!(n, 2, "{d}");
        assert_eq!(rows(&plain, &t).await[1], (2, 11, None), "{d}");
        // A new row with a NULL status is stored.
        let n = rls::with_context(ctx.clone(), db.execute(Insert::into(&t).set("id", 4i64).set("amount", 1i64).set("status", Value::String(None)))).await.unwrap();
        assert_eq!(n, 1, "{d}");
        assert_eq!(rows(&plain, &t).await.len(), 4, "{d}");
        // Archiving a row through an update is refused (the new row would be denied).
        let res = rls::with_context(ctx.clone(), db.execute(Update::table(&t).set("status", "archived").filter(col("id").eq(4i64)))).await;
        assert!(denied(&res), "{d}: {res:?}");
        common::drop_tables(&plain, &[&t]).await;
    }
}

per_database! {
    async fn bypass_roles_and_skips_come_before_deny(plain) {
        use Operation::{Delete as Del, Insert as Ins, Select as Sel, Update as Upd};
        let d = plain.dialect();
        let t = common::table("rls_bypass");
        amounts_table(&plain, &t).await;
        let schema = RlsSchema::new()
            .policy(&t, Policy::allow([Sel], |_| Access::Where(col("amount").lt(30i64))))
            .policy(&t, Policy::deny([Del], |_| Access::Yes))
            .bypass_roles(&t, ["auditor"])
            .skip_for(&t, [Ins])
            .skip_when(&t, [Upd], |ctx| ctx.has_role("janitor"));
        let db = plain.with_plugins(vec![Arc::new(Rls::new(schema))]).unwrap();
        let user = AuthContext::user("u");
        let count = |ctx: AuthContext| {
            let db = db.clone();
            let t = t.clone();
            async move { rls::with_context(ctx, db.count(Select::from(&t))).await }
        };
        assert_eq!(count(user.clone()).await.unwrap(), 2, "{d}: amount < 30");
        let auditor = AuthContext::user("a").with_roles(["auditor"]);
        assert_eq!(count(auditor.clone()).await.unwrap(), 3, "{d}: a bypass role sees all");
        // The bypass role passes the outright deny too.
        let del = rls::with_context(auditor.clone(), db.execute(kysera::query::Delete::from(&t).filter(col("id").eq(3i64)))).await;
        assert_eq!(del.unwrap(), 1, "{d}");
        let del = rls::with_context(user.clone(), db.execute(kysera::query::Delete::from(&t).filter(col("id").eq(2i64)))).await;
        assert!(denied(&del), "{d}");
        // Inserts skip the policies (none allows them otherwise).
        let ins = rls::with_context(user.clone(), db.execute(Insert::into(&t).set("id", 9i64).set("amount", 90i64))).await;
        assert_eq!(ins.unwrap(), 1, "{d}");
        // Updates: refused (no allow) unless the context is a janitor.
        let upd = |ctx: AuthContext| {
            let db = db.clone();
            let t = t.clone();
            async move {
                rls::with_context(ctx, db.execute(Update::table(&t).set("amount", 1i64).filter(col("id").eq(9i64)))).await
            }
        };
        assert!(denied(&upd(user.clone()).await), "{d}");
        let janitor = AuthContext::user("j").with_roles(["janitor"]);
        assert_eq!(upd(janitor).await.unwrap(), 1, "{d}");
        assert_eq!(rows(&plain, &t).await.iter().find(|r| r.0 == 9).unwrap().1, 1, "{d}");
        common::drop_tables(&plain, &[&t]).await;
    }
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_rls_opt_notes")]
#[soft_delete]
#[audit]
#[rls(tenant = "tenant_id")]
struct Note {
    #[kysera(primary_key, generated)]
    id: i64,
    tenant_id: String,
    body: String,
    deleted_at: Option<DateTime<Utc>>,
}

per_database! {
    async fn restore_many_brings_back_the_tenants_deleted_rows(plain) {
        let d = plain.dialect();
        let audit_table = common::table("rls_opt_audit");
        common::drop_tables(&plain, &[Note::INFO.table]).await;
        common::ddl(
            &plain,
            &format!(
                "CREATE TABLE {} ({}, tenant_id VARCHAR(10) NOT NULL, body VARCHAR(20) NOT NULL, deleted_at {} NULL)",
                Note::INFO.table,
                common::id_column(d),
                common::timestamp_type(d).replace("TIMESTAMP", "TIMESTAMPTZ")
            ),
        )
        .await;
        let audit = Audit::new().table(&audit_table);
        audit.install(&plain).await.unwrap();
        let db = plain.with_plugins(vec![Arc::new(audit)]).unwrap();
        let as_tenant = |t: &str| AuthContext::user(format!("user-{t}")).with_tenant(t);
        let new = |body: &str| NewNote { tenant_id: None, body: body.into() };

        let (a1, a2, a3) = rls::within(as_tenant("a"), async {
            let notes = Note::repo(&db);
            Ok((notes.create(new("a1")).await?, notes.create(new("a2")).await?, notes.create(new("a3")).await?))
        })
        .await
        .unwrap();
        let b1 = rls::within(as_tenant("b"), Note::repo(&db).create(new("b1"))).await.unwrap();
        rls::within(as_tenant("a"), async {
            let notes = Note::repo(&db);
            notes.soft_delete(a1.id).await?;
            notes.soft_delete(a2.id).await?;
            Ok(())
        })
        .await
        .unwrap();
        rls::within(as_tenant("b"), Note::repo(&db).soft_delete(b1.id)).await.unwrap();

        // Tenant a restores a1, a2 (deleted), a3 (live: left alone) and b1 (another tenant's:
        // not reachable).
        let back = rls::within(as_tenant("a"), async {
            Note::repo(&db).restore_many(&[a1.id, a2.id, a3.id, b1.id]).await
        })
        .await
        .unwrap();
        let mut ids: Vec<i64> = back.iter().map(|n| n.id).collect();
        ids.sort();
        assert_eq!(ids, [a1.id, a2.id], "{d}");
        assert!(back.iter().all(|n| n.deleted_at.is_none()), "{d}");
        // Read back: a's rows live, b's still deleted.
        let stored = plain.raw().fetch_all(Select::from(Note::INFO.table)).await.unwrap();
        for r in &stored {
            let id: i64 = r.get("id").unwrap();
            let deleted: Option<DateTime<Utc>> = r.get("deleted_at").unwrap();
            assert_eq!(deleted.is_some(), id == b1.id, "{d}: row {id}");
        }
        // Audited like restore: one entry per restored row.
        let history = rls::within(as_tenant("a"), Note::repo(&db).audit_history(a1.id)).await.unwrap();
        let ops: Vec<&str> = history.iter().map(|h| h.operation.as_str()).collect();
        assert_eq!(ops, ["create", "soft_delete", "restore"], "{d}");
        assert!(rls::within(as_tenant("a"), Note::repo(&db).restore_many(&[])).await.unwrap().is_empty());
        common::drop_tables(&plain, &[Note::INFO.table, &audit_table]).await;
    }
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_rls_opt_plain")]
#[audit]
struct Plain {
    #[kysera(primary_key, generated)]
    id: i64,
    body: String,
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_rls_opt_tagged")]
#[audit]
#[rls(tenant = "tenant_id")]
struct Tagged {
    #[kysera(primary_key, generated)]
    id: i64,
    tenant_id: String,
    body: String,
}

per_database! {
    async fn models_without_rls_audit_without_a_context(plain) {
        let d = plain.dialect();
        let audit_table = common::table("rls_opt_plain_audit");
        common::drop_tables(&plain, &[Plain::INFO.table, Tagged::INFO.table]).await;
        common::ddl(&plain, &format!("CREATE TABLE {} ({}, body VARCHAR(20) NOT NULL)", Plain::INFO.table, common::id_column(d))).await;
        common::ddl(
            &plain,
            &format!(
                "CREATE TABLE {} ({}, tenant_id VARCHAR(10) NOT NULL, body VARCHAR(20) NOT NULL)",
                Tagged::INFO.table,
                common::id_column(d)
            ),
        )
        .await;
        let audit = Audit::new().table(&audit_table);
        audit.install(&plain).await.unwrap();
        let db = plain.with_plugins(vec![Arc::new(audit)]).unwrap();
        // This program links #[rls] models (Tagged); Plain has none: it is written and its history
        // read with no auth context at all.
        let repo = Plain::repo(&db);
        let p = repo.create(NewPlain { body: "x".into() }).await.unwrap();
        repo.update(p.id, PlainPatch::default().body("y")).await.unwrap();
        let history = repo.audit_history(p.id).await.unwrap();
        let ops: Vec<&str> = history.iter().map(|h| h.operation.as_str()).collect();
        assert_eq!(ops, ["create", "update"], "{d}");
        // A tenant's entries stay out of reach without a context.
        let ctx = AuthContext::user("u").with_tenant("a");
        let n = rls::within(ctx, Tagged::repo(&db).create(NewTagged { tenant_id: None, body: "n".into() }))
            .await
            .unwrap();
        let page = Tagged::repo(&db)
            .audit_log(kysera::audit::AuditFilter::new(), 1, 50)
            .await
            .unwrap();
        assert_eq!(page.total, 0, "{d}: another tenant's entries without a context");
        let raw = plain.raw().fetch_all(Select::from(&audit_table)).await.unwrap();
        assert_eq!(raw.len(), 3, "{d}");
        let _ = n;
        common::drop_tables(&plain, &[Plain::INFO.table, Tagged::INFO.table, &audit_table]).await;
    }
}

per_database! {
    async fn written_rows_are_checked_as_stored(plain) {
        use Operation::{Insert as Ins, Select as Sel, Update as Upd};
        let d = plain.dialect();
        let t = common::table("rls_stored");
        // A case-insensitive column where the database has one, and an integer column.
        let role = match d {
            kysera::Dialect::Sqlite => "TEXT COLLATE NOCASE",
            kysera::Dialect::MySql => "VARCHAR(10) COLLATE utf8mb4_general_ci",
            _ => "VARCHAR(10)",
        };
        common::ddl(&plain, &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, role {role} NOT NULL, amount BIGINT NOT NULL)")).await;
        let schema = RlsSchema::new()
            .policy(&t, Policy::allow([Sel, Ins, Upd], |_| Access::Where(col("amount").lt(100i64))))
            .policy(&t, Policy::deny([Ins, Upd], |_| Access::Where(col("role").eq("admin"))));
        let db = plain.with_plugins(vec![Arc::new(Rls::new(schema))]).unwrap();
        let ctx = AuthContext::user("u");
        let insert = |id: i64, role: &str, amount: Value| {
            Insert::into(&t).primary_key(["id"]).set("id", id).set("role", role).set("amount", amount)
        };
        let ok = rls::with_context(ctx.clone(), db.execute(insert(1, "user", Value::from(5i64)))).await;
        assert_eq!(ok.unwrap(), 1, "{d}");
        // 'Admin' is 'admin' to a case-insensitive column: refused where the column says so.
        let admin = rls::with_context(ctx.clone(), db.execute(insert(2, "Admin", Value::from(5i64)))).await;
        assert_eq!(denied(&admin), d != kysera::Dialect::Postgres, "{d}: {admin:?}");
        // 99.5 stored in an integer column is 100 on PostgreSQL and MySQL: refused there.
        let rounded = rls::with_context(ctx.clone(), db.execute(insert(3, "user", Value::from(99.5f64)))).await;
        assert_eq!(denied(&rounded), d != kysera::Dialect::Sqlite, "{d}: {rounded:?}");
        // An update through the same check.
        let up = rls::with_context(
            ctx.clone(),
            db.execute(Update::table(&t).primary_key(["id"]).set("role", "ADMIN").filter(col("id").eq(1i64))),
        )
        .await;
        assert_eq!(denied(&up), d != kysera::Dialect::Postgres, "{d}: {up:?}");
        // What was refused is not stored.
        let stored = plain.raw().fetch_all(Select::from(&t)).await.unwrap();
        for r in &stored {
            let role: String = r.get("role").unwrap();
            // SQLite keeps 99.5 as a REAL in an INTEGER column.
            let amount: f64 = r.get::<i64>("amount").map(|a| a as f64).or_else(|_| r.get::<f64>("amount")).unwrap();
            assert!(amount < 100.0, "{d}: {amount}");
            if d != kysera::Dialect::Postgres {
                assert!(!role.eq_ignore_ascii_case("admin"), "{d}: {role}");
            }
        }
        common::drop_tables(&plain, &[&t]).await;
    }
}
