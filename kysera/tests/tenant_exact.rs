//! Tenant comparison is byte-exact on every database, whatever the tenant column's collation:
//! a context whose tenant differs from a row's only by trailing or leading spaces, by case, or
//! by a look-alike character reads, changes and deletes none of that row.

#[macro_use]
mod common;

use kysera::query::{Delete, Select, Update, col};
use kysera::rls::{self, AuthContext};
use kysera::{Dialect, Executor, Model, Repository};

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_exact_notes")]
#[rls(tenant = "tenant_id")]
struct Note {
    #[kysera(primary_key, generated)]
    id: i64,
    tenant_id: String,
    body: String,
}

/// The tenant column's definitions to try: each database's lenient collations.
fn tenant_columns(d: Dialect) -> Vec<&'static str> {
    match d {
        Dialect::MySql => vec![
            "VARCHAR(20) COLLATE utf8mb4_bin NOT NULL",
            "VARCHAR(20) COLLATE utf8mb4_general_ci NOT NULL",
            "VARCHAR(20) COLLATE utf8mb4_unicode_ci NOT NULL",
        ],
        Dialect::Sqlite => vec![
            "TEXT NOT NULL",
            "TEXT COLLATE NOCASE NOT NULL",
            "TEXT COLLATE RTRIM NOT NULL",
        ],
        // A case-insensitive (nondeterministic ICU) collation; created in `setup`. Both columns
        // are `text`, so the connection's cached statements stay valid across the two tables.
        _ => vec!["TEXT NOT NULL", "TEXT COLLATE kysera_ci NOT NULL"],
    }
}

async fn setup(db: &Executor, tenant_column: &str) {
    let t = Note::INFO.table;
    common::drop_tables(db, &[t]).await;
    if db.dialect() == Dialect::Postgres {
        common::ddl(db, "CREATE COLLATION IF NOT EXISTS kysera_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)").await;
    }
    let id = common::id_column(db.dialect());
    common::ddl(
        db,
        &format!("CREATE TABLE {t} ({id}, tenant_id {tenant_column}, body VARCHAR(20) NOT NULL)"),
    )
    .await;
    common::ddl(db, &format!("CREATE INDEX {t}_tenant ON {t} (tenant_id)")).await;
    rls::as_system(async {
        for (tenant, body) in [("a", "a's note"), ("b", "b's note")] {
            Note::repo(db)
                .create(NewNote {
                    tenant_id: Some(tenant.into()),
                    body: body.into(),
                })
                .await
                .unwrap();
        }
    })
    .await;
}

async fn fresh(db: &Executor) -> Executor {
    match db.dialect() {
        Dialect::Postgres => common::postgres().await.unwrap(),
        Dialect::MySql => common::mysql().await.unwrap(),
        _ => db.clone(),
    }
}

per_database! {
    async fn tenants_that_only_look_alike_never_meet(db) {
        let d = db.dialect();
        for column in tenant_columns(d) {
            // A fresh pool per table definition: PostgreSQL refuses a cached plan whose result
            // column changed collation.
            let db = fresh(&db).await;
            setup(&db, column).await;
            let t = Note::INFO.table;
            let a_row = rls::as_system(Note::repo(&db).find_one(Note::TENANT_ID.eq("a")))
                .await
                .unwrap()
                .unwrap();
            // PostgreSQL text cannot hold NUL at all (the database refuses it).
            let nul = (d != Dialect::Postgres).then_some("a\u{0000}");
            for other in ["a ", " a", "A", "\u{0430}"].into_iter().chain(nul) {
                let ctx = AuthContext::user("mallory").with_tenant(other);
                let what = format!("{d} ({column}): tenant {other:?}");
                rls::with_context(ctx, async {
                    let repo = Note::repo(&db);
                    assert!(repo.find_all().await.unwrap().is_empty(), "{what}: sees rows");
                    assert_eq!(repo.count(None).await.unwrap(), 0, "{what}: counts rows");
                    assert!(repo.find_by_id(a_row.id).await.unwrap().is_none(), "{what}: finds a's row");
                    assert!(
                        db.fetch_all(Select::from(t).filter(col("id").eq(a_row.id))).await.unwrap().is_empty(),
                        "{what}: builder read"
                    );
                    assert_eq!(
                        db.execute(Update::table(t).set("body", "stolen").filter(col("id").eq(a_row.id))).await.unwrap(),
                        0,
                        "{what}: builder update"
                    );
                    assert!(
                        repo.update(a_row.id, NotePatch::default().body("stolen")).await.is_err(),
                        "{what}: repository update"
                    );
                    assert_eq!(
                        db.execute(Delete::from(t).filter(col("id").eq(a_row.id))).await.unwrap(),
                        0,
                        "{what}: builder delete"
                    );
                    assert_eq!(repo.delete_many(Note::ID.gt(0)).await.unwrap(), 0, "{what}: delete_many");
                })
                .await;
            }
            // Tenant "a" itself still reads and owns exactly its row, untouched.
            let mine = rls::with_context(AuthContext::user("ann").with_tenant("a"), Note::repo(&db).find_all())
                .await
                .unwrap();
            assert_eq!(mine, vec![a_row.clone()], "{d} ({column})");
        }
        common::drop_tables(&db, &[Note::INFO.table]).await;
    }
}
