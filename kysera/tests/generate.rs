//! `kysera generate models` on every database: the same portable schema, created in each
//! database's own types, gives the same model source — the one in `tests/generated/posts.rs`,
//! which this test compiles — and that model round-trips rows through its repository, its
//! guessed behaviours working (timestamps set, soft delete hiding, the tenant filled in).
#![cfg(feature = "testing")]

use kysera::dialect;
use kysera::rls::{self, AuthContext};
use kysera::{Dialect, Executor};

mod generated {
    include!("generated/posts.rs");
}
use generated::{KGenPost, NewKGenPost};

const GOLDEN: &str = include_str!("generated/posts.rs");

#[allow(dead_code)]
mod awkward {
    include!("generated/awkward.rs");
}
const AWKWARD: &str = include_str!("generated/awkward.rs");

async fn schema(db: &Executor) {
    let (id, ts, text, boolean) = match db.dialect() {
        Dialect::Postgres => (
            "id BIGSERIAL PRIMARY KEY",
            "TIMESTAMPTZ",
            "VARCHAR(200)",
            "BOOLEAN",
        ),
        Dialect::MySql => (
            "id BIGINT AUTO_INCREMENT PRIMARY KEY",
            "DATETIME(6)",
            "VARCHAR(200)",
            "BOOLEAN",
        ),
        _ => (
            "id INTEGER PRIMARY KEY AUTOINCREMENT",
            "DATETIME",
            "VARCHAR(200)",
            "BOOLEAN",
        ),
    };
    let sql = format!(
        "CREATE TABLE k_gen_posts ({id}, tenant_id VARCHAR(40) NOT NULL, title {text} NOT NULL, body TEXT NULL, \
         views BIGINT NOT NULL DEFAULT 0, published {boolean} NOT NULL DEFAULT FALSE, \
         created_at {ts} NOT NULL, updated_at {ts} NOT NULL, deleted_at {ts} NULL)"
    );
    db.raw()
        .execute_sql(kysera::AssertSqlSafe(sql), vec![])
        .await
        .unwrap();
}

#[kysera::test(databases = "all")]
async fn generated_models_compile_and_round_trip(db: Executor) {
    let d = db.dialect();
    schema(&db).await;
    let source = dialect::generate_models(&db, &["k_gen_posts"])
        .await
        .unwrap();
    if std::env::var_os("KYSERA_BLESS").is_some() && d == Dialect::Sqlite {
        std::fs::write(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/generated/posts.rs"),
            &source,
        )
        .unwrap();
    }
    assert_eq!(
        source, GOLDEN,
        "{d}: the generated source differs (KYSERA_BLESS=1 rewrites it)"
    );

    // The model the generator wrote, over the live table.
    let report = dialect::check_schema::<KGenPost>(&db).await.unwrap();
    assert!(report.is_ok(), "{d}: {report}");
    rls::within(AuthContext::user("u1").with_tenant("acme"), async {
        let posts = KGenPost::repo(&db);
        let made = posts
            .create(NewKGenPost {
                tenant_id: None,
                title: "Hello".into(),
                body: Some("first".into()),
                views: None,
                published: Some(true),
            })
            .await?;
        assert_eq!(
            (made.tenant_id.as_str(), made.views, made.published),
            ("acme", 0, true),
            "{d}"
        );
        assert_eq!(posts.find_by_id(made.id).await?, Some(made.clone()), "{d}");
        posts.soft_delete(made.id).await?;
        assert_eq!(posts.find_by_id(made.id).await?, None, "{d}: soft-deleted");
        Ok(())
    })
    .await
    .unwrap_or_else(|e: kysera::Error| panic!("{d}: {e}"));
}

#[test]
fn rust_types_of_sql_types() {
    use kysera::dialect::rust_type_for as t;
    assert_eq!(
        t(Dialect::Postgres, "timestamp with time zone"),
        Some("DateTime<Utc>")
    );
    assert_eq!(
        t(Dialect::Postgres, "character varying(20)"),
        Some("String")
    );
    assert_eq!(t(Dialect::Postgres, "numeric(10,2)"), None);
    assert_eq!(t(Dialect::MySql, "tinyint(1)"), Some("bool"));
    assert_eq!(t(Dialect::MySql, "int(10) unsigned"), Some("u32"));
    assert_eq!(t(Dialect::MySql, "smallint(5) unsigned"), Some("u16"));
    assert_eq!(t(Dialect::Postgres, "character varying(10)[]"), None);
    assert_eq!(t(Dialect::MySql, "bigint(20) unsigned"), None);
    assert_eq!(t(Dialect::Sqlite, "VARCHAR(10)"), Some("String"));
    assert_eq!(t(Dialect::Sqlite, ""), Some("Vec<u8>"));
}

/// Names that are not Rust identifiers, that collide once made into fields, or that the derive
/// keeps for itself; tables that cannot have a working model.
#[kysera::test]
async fn awkward_schemas_give_compilable_source(db: Executor) {
    for sql in [
        "CREATE TABLE \"odd things\" (\"user-id\" INTEGER PRIMARY KEY, user_id TEXT, type TEXT NOT NULL, info TEXT, \"ä\" TEXT)",
        "CREATE TABLE k_no_key (x TEXT)",
        "CREATE TABLE k_money (id INTEGER PRIMARY KEY, amount NUMERIC NOT NULL)",
        "CREATE TABLE new_posts (id INTEGER PRIMARY KEY, price NUMERIC NULL)",
    ] {
        db.raw()
            .execute_sql(kysera::AssertSqlSafe(sql.to_string()), vec![])
            .await
            .unwrap();
    }
    let source = dialect::generate_models(&db, &["odd things", "k_no_key", "k_money", "new_posts"])
        .await
        .unwrap();
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/generated/awkward.rs");
    if std::env::var_os("KYSERA_BLESS").is_some() {
        std::fs::write(golden, &source).unwrap();
    }
    // The checked-in copy compiles (module `awkward` above).
    assert_eq!(
        source, AWKWARD,
        "the generated source differs (KYSERA_BLESS=1 rewrites it)"
    );
    for want in [
        "pub struct OddThing {",
        "#[kysera(primary_key, generated, rename = \"user-id\")]\n    pub user_id: i64,",
        "#[kysera(rename = \"user_id\")]\n    pub user_id_2: Option<String>,",
        "pub r#type: String,",
        "#[kysera(rename = \"info\")]\n    pub info_: Option<String>,",
        "#[kysera(rename = \"ä\")]\n    pub column_5: Option<String>,",
        "// No model for `k_no_key`: it has no primary key",
        "// No model for `k_money`: its NOT NULL column `amount` is NUMERIC",
        "pub struct NewPostRow {",
        "// `price` (NUMERIC) is left out",
    ] {
        assert!(source.contains(want), "missing {want:?} in:\n{source}");
    }
}
