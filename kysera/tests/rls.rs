//! Tenant isolation on every configured database: tenant A tries every operation on tenant B's
//! rows and fails; many tenants at once never see each other's rows; no way around the
//! policies. Custom policies and PostgreSQL native RLS are in `rls_policies.rs`.

#[macro_use]
mod common;

use std::sync::Arc;

use kysera::query::{Delete, Insert, Order, Select, Update, col};
use kysera::rls::{self, AuthContext};
use kysera::{Dialect, Error, Executor, Model, Repository};

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_rls_projects")]
#[rls(tenant = "tenant_id")]
struct Project {
    #[kysera(primary_key, generated)]
    id: i64,
    tenant_id: String,
    name: String,
    budget: i64,
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_rls_tasks")]
#[rls(tenant = "tenant_id")]
struct Task {
    #[kysera(primary_key, generated)]
    id: i64,
    tenant_id: String,
    project_id: i64,
    title: String,
}

async fn schema(db: &Executor, projects: &str, tasks: &str) {
    let id = common::id_column(db.dialect());
    common::drop_tables(db, &[tasks, projects]).await;
    common::ddl(db, &format!("CREATE TABLE {projects} ({id}, tenant_id VARCHAR(20) NOT NULL, name VARCHAR(50) NOT NULL, budget BIGINT NOT NULL)")).await;
    common::ddl(db, &format!("CREATE TABLE {tasks} ({id}, tenant_id VARCHAR(20) NOT NULL, project_id BIGINT NOT NULL, title VARCHAR(50) NOT NULL)")).await;
}

fn tenant(t: &str) -> AuthContext {
    AuthContext::user(format!("user-of-{t}")).with_tenant(t)
}

fn project(name: &str, budget: i64) -> NewProject {
    NewProject {
        tenant_id: None,
        name: name.into(),
        budget,
    }
}

per_database! {
    async fn a_tenant_cannot_reach_another_tenants_rows(db) {
        let d = db.dialect();
        schema(&db, Project::INFO.table, Task::INFO.table).await;

        // Seed both tenants as the system (which must be asked for).
        let (b_project, a_project) = rls::as_system(async {
            let repo = Project::repo(&db);
            let mk = |t: &str, name: &str, budget| NewProject {
                tenant_id: Some(t.into()),
                name: name.into(),
                budget,
            };
            let b = repo.create(mk("b", "b-secret", 900)).await?;
            repo.create(mk("b", "shared-name", 50)).await?;
            let a = repo.create(mk("a", "a-one", 10)).await?;
            repo.create(mk("a", "shared-name", 20)).await?;
            // A task of tenant a that points at b's project (a cross-tenant reference).
            Task::repo(&db)
                .create(NewTask {
                    tenant_id: Some("a".into()),
                    project_id: b.id,
                    title: "sneaky".into(),
                })
                .await?;
            Task::repo(&db)
                .create(NewTask {
                    tenant_id: Some("a".into()),
                    project_id: a.id,
                    title: "honest".into(),
                })
                .await?;
            Ok::<_, Error>((b, a))
        })
        .await
        .unwrap();

        let outcome: kysera::Result<()> = rls::with_context(tenant("a"), async {
            let repo = Project::repo(&db);
            // Reads.
            assert_eq!(
                repo.find_by_id(b_project.id).await?,
                None,
                "{d}: find by id"
            );
            let all = repo.find_all().await?;
            assert!(
                all.iter().all(|p| p.tenant_id == "a") && all.len() == 2,
                "{d}: find all {all:?}"
            );
            assert_eq!(
                repo.find_many(Project::NAME.eq("b-secret")).await?.len(),
                0,
                "{d}: find many"
            );
            assert_eq!(repo.count(None).await?, 2, "{d}: count");
            assert!(
                !repo.exists(Project::ID.eq(b_project.id)).await?,
                "{d}: exists"
            );
            assert_eq!(repo.find().page(1, 10).await?.total, 2, "{d}: paginate");
            let cursor = repo
                .find()
                .order_by(Project::BUDGET.desc())
                .cursor(1, None)
                .await?;
            let next = repo
                .find()
                .order_by(Project::BUDGET.desc())
                .cursor(5, cursor.next_cursor.as_deref())
                .await?;
            assert_eq!(
                cursor.items.len() + next.items.len(),
                2,
                "{d}: cursor pages"
            );
            assert_eq!(
                db.count(Select::from(Project::INFO.table)).await?,
                2,
                "{d}: builder"
            );
            // Joins: b's project does not join to a's task, even by its id.
            let joined = db
                .fetch_all(
                    Select::from(Task::INFO.table)
                        .alias("t")
                        .column(col("t.title"))
                        .expr_as(col("p.name"), "project")
                        .left_join(
                            Project::INFO.table,
                            "p",
                            col("p.id").eq_col(col("t.project_id")),
                        )
                        .order_by(col("t.title"), Order::Asc),
                )
                .await?;
            let got: Vec<(String, Option<String>)> = joined
                .iter()
                .map(|r| (r.get("title").unwrap(), r.get("project").unwrap()))
                .collect();
            assert_eq!(
                got,
                [
                    ("honest".into(), Some("a-one".into())),
                    ("sneaky".into(), None)
                ],
                "{d}: join"
            );

            // Writes.
            assert!(
                matches!(
                    repo.update(b_project.id, ProjectPatch::default().budget(0))
                        .await,
                    Err(Error::NotFound(_))
                ),
                "{d}: update"
            );
            assert_eq!(
                repo.update_many(Project::BUDGET.gt(0), ProjectPatch::default().budget(1))
                    .await?,
                2,
                "{d}: update many"
            );
            assert!(
                matches!(repo.delete(b_project.id).await, Err(Error::NotFound(_))),
                "{d}: delete"
            );
            assert_eq!(
                repo.delete_many(Project::NAME.eq("shared-name")).await?,
                1,
                "{d}: delete many"
            );
            let forged = repo
                .create(NewProject {
                    tenant_id: Some("b".into()),
                    name: "x".into(),
                    budget: 1,
                })
                .await;
            assert!(
                matches!(forged, Err(Error::AccessDenied { .. })),
                "{d}: insert for b: {forged:?}"
            );
            let moved = db
                .execute(
                    Update::table(Project::INFO.table)
                        .set("tenant_id", "b")
                        .filter(col("id").eq(a_project.id)),
                )
                .await;
            assert!(
                matches!(moved, Err(Error::AccessDenied { .. })),
                "{d}: move to b: {moved:?}"
            );
            let raw_delete = db.execute(Delete::from(Project::INFO.table)).await?;
            assert_eq!(
                raw_delete, 1,
                "{d}: a builder DELETE reaches a's remaining row only"
            );
            // An upsert could overwrite another tenant's row; a RIGHT JOIN would show one.
            let upsert = db
                .execute(
                    Insert::into(Project::INFO.table)
                        .set("id", b_project.id)
                        .set("name", "taken")
                        .set("budget", 1i64)
                        .on_conflict_update(["id"], ["name"]),
                )
                .await;
            assert!(
                matches!(upsert, Err(Error::AccessDenied { .. })),
                "{d}: upsert {upsert:?}"
            );
            let right = db
                .fetch_all(Select::from(Task::INFO.table).join(
                    kysera::query::JoinKind::Right,
                    Project::INFO.table,
                    "p",
                    col("p.id").eq_col(col("project_id")),
                ))
                .await;
            assert!(
                matches!(right, Err(Error::InvalidQuery(_))),
                "{d}: right join {right:?}"
            );
            let mine = repo.create(project("mine", 5)).await?;
            assert_eq!(mine.tenant_id, "a", "{d}: the context's tenant is set");
            // Inside a transaction, the same.
            db.transaction(async |tx| {
                let n = Project::repo(&tx).count(None).await?;
                assert_eq!(n, 1);
                assert_eq!(Project::repo(&tx).find_by_id(b_project.id).await?, None);
                Ok::<_, Error>(())
            })
            .await?;
            Ok(())
        })
        .await;
        outcome.unwrap_or_else(|e| panic!("{d}: {e:?}"));

        // b's rows are exactly as they were.
        let b_rows = rls::with_context(
            tenant("b"),
            Project::repo(&db)
                .find()
                .order_by(Project::NAME.asc())
                .all(),
        )
        .await
        .unwrap();
        let got: Vec<(&str, i64)> = b_rows.iter().map(|p| (p.name.as_str(), p.budget)).collect();
        assert_eq!(got, [("b-secret", 900), ("shared-name", 50)], "{d}");

        // No context: refused, not unfiltered. A context without a tenant: refused.
        assert!(
            matches!(
                Project::repo(&db).find_all().await,
                Err(Error::NoAuthContext { .. })
            ),
            "{d}"
        );
        assert!(
            matches!(
                db.count(Select::from(Project::INFO.table)).await,
                Err(Error::NoAuthContext { .. })
            ),
            "{d}"
        );
        let no_tenant =
            rls::with_context(AuthContext::user("x"), Project::repo(&db).count(None)).await;
        assert!(matches!(no_tenant, Err(Error::AccessDenied { .. })), "{d}");
        // The system context sees everything.
        // b's two rows and the one a created.
        assert_eq!(
            rls::as_system(Project::repo(&db).count(None))
                .await
                .unwrap(),
            3,
            "{d}"
        );
        common::drop_tables(&db, &[Task::INFO.table, Project::INFO.table]).await;
    }
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_rls_notes")]
#[rls(tenant = "tenant_id")]
struct Note {
    #[kysera(primary_key, generated)]
    id: i64,
    tenant_id: i64,
    body: String,
}

per_database! {
    #[flavor(flavor = "multi_thread", worker_threads = 2)]
    async fn many_tenants_at_once_never_cross(db) {
        let d = db.dialect();
        let t = Note::INFO.table;
        common::drop_tables(&db, &[t]).await;
        common::ddl(
            &db,
            &format!(
                "CREATE TABLE {t} ({}, tenant_id BIGINT NOT NULL, body VARCHAR(50) NOT NULL)",
                common::id_column(d)
            ),
        )
        .await;
        // SQLite in memory has one connection: fewer tasks, same interleaving.
        let tenants: i64 = if d == Dialect::Sqlite { 6 } else { 12 };
        let mut handles = Vec::new();
        for task in 0..tenants * 2 {
            let tenant_id = task % tenants;
            let db = db.clone();
            handles.push(tokio::spawn(rls::with_context(
                AuthContext::user(task).with_tenant(tenant_id),
                async move {
                    let repo = Note::repo(&db);
                    for i in 0..5 {
                        repo.create(NewNote {
                            tenant_id: None,
                            body: format!("{task}-{i}"),
                        })
                        .await?;
                        tokio::task::yield_now().await;
                    }
                    // Work spawned with rls::spawn keeps the context…
                    let db2 = db.clone();
                    let seen = rls::spawn(async move { Note::repo(&db2).find_all().await })
                        .await
                        .expect("task")?;
                    assert!(
                        seen.iter().all(|n| n.tenant_id == tenant_id),
                        "tenant {tenant_id} saw {seen:?}"
                    );
                    // …a plain spawn has none, and is refused.
                    let db3 = db.clone();
                    let bare = tokio::spawn(async move { Note::repo(&db3).count(None).await })
                        .await
                        .expect("task");
                    assert!(matches!(bare, Err(Error::NoAuthContext { .. })));
                    Ok::<_, Error>(())
                },
            )));
        }
        for h in handles {
            h.await
                .expect("task panicked")
                .unwrap_or_else(|e| panic!("{d}: {e}"));
        }
        for tenant_id in 0..tenants {
            let rows = rls::with_context(
                AuthContext::user(0i64).with_tenant(tenant_id),
                Note::repo(&db).find_all(),
            )
            .await
            .unwrap();
            assert_eq!(rows.len(), 10, "{d}: tenant {tenant_id}");
            assert!(rows.iter().all(|n| n.tenant_id == tenant_id), "{d}");
        }
        let all = rls::as_system(Note::repo(&db).count(None)).await.unwrap();
        assert_eq!(all, tenants * 10, "{d}");
        common::drop_tables(&db, &[t]).await;
    }
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_rls_secrets")]
#[rls(tenant = "tenant_id")]
#[audit]
struct Secret {
    #[kysera(primary_key, generated)]
    id: i64,
    tenant_id: String,
    body: String,
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_rls_widgets")]
#[rls(tenant = "tenant_id")]
struct Widget {
    #[kysera(primary_key, generated)]
    id: i64,
    tenant_id: String,
    name: String,
    budget: i64,
}

per_database! {
    async fn no_way_around_the_policies(plain) {
        let d = plain.dialect();
        let (projects, tasks) = (Widget::INFO.table, "k_rls_widget_tasks");
        schema(&plain, projects, tasks).await;
        common::drop_tables(&plain, &[Secret::INFO.table, "k_rls_audit"]).await;
        common::ddl(
            &plain,
            &format!(
                "CREATE TABLE {} ({}, tenant_id VARCHAR(20) NOT NULL, body VARCHAR(50) NOT NULL)",
                Secret::INFO.table,
                common::id_column(d)
            ),
        )
        .await;
        let audit = kysera::audit::Audit::new().table("k_rls_audit");
        audit.install(&plain).await.unwrap();
        let db = plain.with_plugins(vec![Arc::new(audit)]).unwrap();

        // Case variants of a protected table or its tenant column do not escape the policy.
        let upper = Widget::INFO.table.to_uppercase();
        let r = db.count(Select::from(upper.as_str())).await;
        assert!(matches!(r, Err(Error::NoAuthContext { .. })), "{d}: {r:?}");
        let outcome: kysera::Result<()> = rls::with_context(tenant("a"), async {
            let p = Widget::repo(&db)
                .create(NewWidget {
                    tenant_id: None,
                    name: "p".into(),
                    budget: 1,
                })
                .await?;
            let moved = db
                .execute(
                    Update::table(Widget::INFO.table)
                        .set("TENANT_ID", "b")
                        .filter(col("id").eq(p.id)),
                )
                .await;
            assert!(
                matches!(moved, Err(Error::AccessDenied { .. })),
                "{d}: {moved:?}"
            );
            let forged = db
                .execute(
                    Insert::into(Widget::INFO.table)
                        .set("TENANT_ID", "b")
                        .set("name", "x")
                        .set("budget", 1i64),
                )
                .await;
            assert!(
                matches!(forged, Err(Error::AccessDenied { .. })),
                "{d}: {forged:?}"
            );
            // A column written twice is refused whatever the case.
            let mut twice = Update::table(Widget::INFO.table)
                .set("name", "y")
                .filter(col("id").eq(p.id));
            twice.values.push(("NAME".into(), "z".into()));
            assert!(
                matches!(db.execute(twice).await, Err(Error::InvalidQuery(_))),
                "{d}"
            );

            // The audit log is read under the same isolation.
            let s = Secret::repo(&db)
                .create(NewSecret {
                    tenant_id: None,
                    body: "a's".into(),
                })
                .await?;
            assert_eq!(Secret::repo(&db).audit_history(s.id).await?.len(), 1);
            let (id, db_b) = (s.id, db.clone());
            let seen_by_b = rls::with_context(tenant("b"), async move {
                let h = Secret::repo(&db_b).audit_history(id).await?;
                let log =
                    kysera::audit::audit_log(&db_b, kysera::audit::AuditFilter::new(), 1, 50).await?;
                Ok::<_, Error>((h.len(), log.total))
            });
            assert_eq!(
                seen_by_b.await?,
                (0, 0),
                "{d}: b reads none of a's audit entries"
            );
            // Nor through the query builder, by any statement, joined or not.
            let audit_t = "k_rls_audit";
            assert_eq!(db.fetch_all(Select::from(audit_t)).await?.len(), 1, "{d}: a reads its entry");
            let db_b = db.clone();
            let by_b = rls::with_context(tenant("b"), async move {
                let db = db_b;
                let read = db.fetch_all(Select::from(audit_t)).await?.len();
                // Another spelling of the name reaches the same table where names ignore case.
                let upper = match db.dialect() {
                    Dialect::Sqlite => db.count(Select::from(audit_t.to_uppercase())).await?,
                    _ => 0,
                };
                let joined = db
                    .fetch_all(
                        Select::from(Secret::INFO.table)
                            .alias("s")
                            .left_join(audit_t, "l", col("l.entity_id").eq_col(col("s.body")))
                            .column(col("l.id")),
                    )
                    .await?
                    .len();
                let updated = db.execute(Update::table(audit_t).set("operation", "forged")).await?;
                let deleted = db.execute(Delete::from(audit_t)).await?;
                let forged = db
                    .execute(
                        Insert::into(audit_t)
                            .set("table_name", "x")
                            .set("entity_id", "1")
                            .set("operation", "create")
                            .set("tenant_id", "a"),
                    )
                    .await;
                assert!(matches!(forged, Err(Error::AccessDenied { .. })), "{forged:?}");
                Ok::<_, Error>((read, upper, joined, updated, deleted))
            })
            .await?;
            assert_eq!(by_b, (0, 0, 0, 0, 0), "{d}: b reaches none of a's audit entries through the builder");
            // A context without a tenant reaches only the entries without one.
            let no_tenant = rls::with_context(AuthContext::user("nobody"), db.fetch_all(Select::from(audit_t))).await?;
            assert!(no_tenant.is_empty(), "{d}");
            Ok(())
        })
        .await;
        outcome.unwrap_or_else(|e| panic!("{d}: {e:?}"));
        // A tenant of another type than the column is refused, not converted by the database.
        let wrong_type = rls::with_context(
            AuthContext::user("u").with_tenant(1i64),
            Widget::repo(&db).count(None),
        )
        .await;
        assert!(
            matches!(wrong_type, Err(Error::AccessDenied { .. })),
            "{d}: {wrong_type:?}"
        );
        let wrong_type = rls::with_context(
            AuthContext::user("u").with_tenant("1"),
            Note::repo(&db).count(None),
        )
        .await;
        assert!(
            matches!(wrong_type, Err(Error::AccessDenied { .. })),
            "{d}: {wrong_type:?}"
        );
        // No context reads only the entries made without a tenant (issue 11: models without
        // row-level security read their history so), never a tenant's.
        let no_context = kysera::audit::audit_log(&db, kysera::audit::AuditFilter::new(), 1, 50)
            .await
            .unwrap();
        assert!(
            no_context.items.iter().all(|e| e.tenant_id.is_none()),
            "{d}: {:?}",
            no_context.items
        );
        let all = rls::as_system(kysera::audit::audit_log(
            &db,
            kysera::audit::AuditFilter::new(),
            1,
            50,
        ))
        .await
        .unwrap();
        assert_eq!(all.total, 1, "{d}");
        assert_eq!(all.items[0].tenant_id.as_deref(), Some("a"), "{d}");

        // MySQL cannot tell a skipped duplicate from an insert without the conflict columns.
        if d == Dialect::MySql {
            let r = rls::as_system(
                db.execute(
                    Insert::into(Widget::INFO.table)
                        .set("tenant_id", "a")
                        .set("name", "n")
                        .set("budget", 1i64)
                        .on_conflict_do_nothing(Vec::<String>::new()),
                ),
            )
            .await;
            assert!(matches!(r, Err(Error::Unsupported { .. })), "{r:?}");
        }
        common::drop_tables(
            &plain,
            &[tasks, projects, Secret::INFO.table, "k_rls_audit"],
        )
        .await;
    }
}
