//! `check_schema` on every database: a model over the table it describes reports nothing; a
//! table that drifted reports each difference — missing and extra columns, nullability, a type
//! that does not hold the field, the key, database-filled and defaulted columns, a soft-delete
//! column that cannot hold a live row — and a missing table says so. Each run has a fresh
//! database (`#[kysera::test]`).
#![cfg(feature = "testing")]

use chrono::{DateTime, Utc};
use kysera::dialect::{self, Drift};
use kysera::{Dialect, Executor, Repository};

#[derive(Debug, Repository)]
#[kysera(table = "k_cs_accounts")]
#[soft_delete]
#[timestamps]
#[rls(tenant = "tenant_id")]
struct Account {
    #[kysera(primary_key, generated)]
    id: i64,
    tenant_id: String,
    email: String,
    nickname: Option<String>,
    score: i64,
    #[kysera(default)]
    active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

/// The same fields over a table that drifted.
#[derive(Debug, Repository)]
#[kysera(table = "k_cs_drifted")]
#[soft_delete]
#[timestamps]
#[rls(tenant = "tenant_id")]
struct Drifted {
    #[kysera(primary_key, generated)]
    id: i64,
    tenant_id: String,
    email: String,
    nickname: Option<String>,
    score: i64,
    #[kysera(default)]
    active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

/// A model whose table was never made.
#[derive(Debug, Repository)]
#[kysera(table = "k_cs_never_made")]
struct Ghost {
    #[kysera(primary_key, generated)]
    id: i64,
}

async fn ddl(db: &Executor, sql: String) {
    db.raw()
        .execute_sql(kysera::AssertSqlSafe(sql.clone()), vec![])
        .await
        .unwrap_or_else(|e| panic!("{}: {e}\n{sql}", db.dialect()));
}

#[kysera::test(databases = "all")]
async fn drift_between_models_and_tables_is_reported(db: Executor) {
    let d = db.dialect();
    let (id, ts, text, boolean) = match d {
        Dialect::Postgres => (
            "id BIGSERIAL PRIMARY KEY",
            "TIMESTAMPTZ",
            "VARCHAR(100)",
            "BOOLEAN",
        ),
        Dialect::MySql => (
            "id BIGINT AUTO_INCREMENT PRIMARY KEY",
            "DATETIME(6)",
            "VARCHAR(100)",
            "BOOLEAN",
        ),
        _ => (
            "id INTEGER PRIMARY KEY AUTOINCREMENT",
            "TEXT",
            "TEXT",
            "BOOLEAN",
        ),
    };
    ddl(&db, format!("CREATE TABLE k_cs_accounts ({id}, tenant_id {text} NOT NULL, email {text} NOT NULL, nickname {text} NULL, score BIGINT NOT NULL, active {boolean} NOT NULL DEFAULT TRUE, created_at {ts} NOT NULL, updated_at {ts} NOT NULL, deleted_at {ts} NULL)")).await;
    let report = Account::repo(&db).check_schema().await.unwrap();
    assert!(report.drifts.is_empty() && report.is_ok(), "{d}: {report}");
    assert_eq!(report.to_string(), "Account matches table `k_cs_accounts`");

    // No auto-increment on id, a key of two columns, no nickname, email nullable, score as
    // text, active without its default, deleted_at NOT NULL, and a required column the
    // model does not know.
    ddl(&db, format!("CREATE TABLE k_cs_drifted (id BIGINT NOT NULL, tenant_id {text} NOT NULL, email {text} NULL, score {text} NOT NULL, active {boolean} NOT NULL, created_at {ts} NOT NULL, updated_at {ts} NOT NULL, deleted_at {ts} NOT NULL, legacy {text} NOT NULL, PRIMARY KEY (id, tenant_id))")).await;
    let report = dialect::check_schema::<Drifted>(&db).await.unwrap();
    assert!(!report.is_ok(), "{d}");
    let has = |f: &dyn Fn(&Drift) -> bool| report.drifts.iter().any(f);
    let col = |c: &str, want: &str| {
        report.drifts.iter().any(|x| {
            let text = x.to_string();
            text.contains(&format!("`{c}`")) && text.contains(want)
        })
    };
    assert!(
        has(&|x| matches!(x, Drift::MissingColumn { column } if column == "nickname")),
        "{d}: {report}"
    );
    assert!(
        has(&|x| matches!(x, Drift::NullableColumn { column } if column == "email")),
        "{d}: {report}"
    );
    assert!(
        has(
            &|x| matches!(x, Drift::IncompatibleType { column, rust_type, .. } if column == "score" && rust_type == "i64")
        ),
        "{d}: {report}"
    );
    assert!(
        has(&|x| matches!(x, Drift::NoDefault { column } if column == "active")),
        "{d}: {report}"
    );
    assert!(
        has(&|x| matches!(x, Drift::NotFilledByTheDatabase { column } if column == "id")),
        "{d}: {report}"
    );
    assert!(
        has(&|x| matches!(x, Drift::PrimaryKey { actual, .. } if actual.len() == 2)),
        "{d}: {report}"
    );
    assert!(
        has(&|x| matches!(x, Drift::UnmappedRequiredColumn { column } if column == "legacy")),
        "{d}: {report}"
    );
    assert!(col("deleted_at", "live row"), "{d}: {report}");
    assert!(
        has(
            &|x| matches!(x, Drift::OptionalField { column } if column == "deleted_at")
                && !x.is_error()
        ),
        "{d}: {report}"
    );
    // Nothing else: the matching columns are not reported.
    for fine in ["tenant_id", "created_at", "updated_at"] {
        assert!(
            !report
                .drifts
                .iter()
                .any(|x| x.to_string().contains(&format!("`{fine}`"))),
            "{d}: {fine}: {report}"
        );
    }
    assert!(
        report
            .to_string()
            .starts_with("Drifted differs from table `k_cs_drifted` in "),
        "{report}"
    );
    assert!(report.clone().into_result().is_err());

    let ghost = dialect::check_schema::<Ghost>(&db).await.unwrap();
    assert_eq!(ghost.drifts, [Drift::MissingTable], "{d}");

    // Every model the program derives, by table.
    let all = dialect::check_all_models(&db).await.unwrap();
    let ours: Vec<(&str, bool)> = all
        .iter()
        .filter(|r| r.table.starts_with("k_cs_"))
        .map(|r| (r.model, r.is_ok()))
        .collect();
    assert_eq!(
        ours,
        [("Account", true), ("Drifted", false), ("Ghost", false)],
        "{d}"
    );
}

#[test]
fn sql_types_that_hold_rust_types() {
    use kysera::TypeFamily as F;
    // Spot checks of the table `check_schema` uses, through a model-free door: a report on a
    // live table is the real test above; these pin the per-database rules down.
    let cases = [
        (F::I64, "bigint", "bigint(20)", "INTEGER", true),
        (F::I32, "bigint", "bigint unsigned", "TEXT", false),
        (
            F::Text,
            "character varying(100)",
            "varchar(100)",
            "VARCHAR(100)",
            true,
        ),
        (
            F::DateTimeUtc,
            "timestamp with time zone",
            "datetime(6)",
            "TIMESTAMP",
            true,
        ),
        (
            F::DateTime,
            "timestamp with time zone",
            "json",
            "BLOB",
            false,
        ),
        (F::Json, "jsonb", "longtext", "TEXT", true),
    ];
    for (family, pg, my, lite, want) in cases {
        assert_eq!(
            dialect::holds(Dialect::Postgres, family, pg),
            want,
            "{family:?} {pg}"
        );
        assert_eq!(
            dialect::holds(Dialect::MySql, family, my),
            want,
            "{family:?} {my}"
        );
        assert_eq!(
            dialect::holds(Dialect::Sqlite, family, lite),
            want,
            "{family:?} {lite}"
        );
    }
}
