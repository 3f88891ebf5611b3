//! `kysera::dialect` on every database: the adapter escapes names as the query lowering does
//! (a table with quotes, backticks and unicode in its name is created, written and read), dates
//! round-trip through their text, the live schema is read back as declared, tables are emptied
//! in foreign-key order with their counters restarted, and the error tests see real
//! violations. Each run has a fresh database (`#[kysera::test]`).
#![cfg(feature = "testing")]

use chrono::{DateTime, Utc};
use kysera::dialect::{self, ConnectionConfig};
use kysera::query::{Insert, Select, col};
use kysera::{Dialect, Executor};

async fn ddl(db: &Executor, sql: String) {
    db.raw()
        .execute_sql(kysera::AssertSqlSafe(sql.clone()), vec![])
        .await
        .unwrap_or_else(|e| panic!("{}: {e}\n{sql}", db.dialect()));
}

fn auto_id(d: Dialect) -> &'static str {
    match d {
        Dialect::Postgres => "id BIGSERIAL PRIMARY KEY",
        Dialect::Sqlite => "id INTEGER PRIMARY KEY AUTOINCREMENT",
        _ => "id BIGINT AUTO_INCREMENT PRIMARY KEY",
    }
}

#[kysera::test(databases = "all")]
async fn names_are_escaped_as_the_lowering_writes_them(db: Executor) {
    let d = db.dialect();
    let a = d.adapter();
    for name in [
        "plain",
        "with \"quote\"",
        "with `tick`",
        "naïve ünïcødé",
        "semi;colon -- x",
    ] {
        let q = a.escape_identifier(name).unwrap();
        let (sql, _) = db.to_sql(Select::from(name).column(col("x"))).unwrap();
        assert!(sql.contains(&q), "{d}: {sql} does not contain {q}");
        ddl(&db, format!("CREATE TABLE {q} (x BIGINT NOT NULL)")).await;
        db.execute(Insert::into(name).set("x", 7i64)).await.unwrap();
        let rows = db
            .raw()
            .fetch_all_sql(kysera::AssertSqlSafe(format!("SELECT x FROM {q}")), vec![])
            .await
            .unwrap();
        assert_eq!(rows[0].get::<i64>("x").unwrap(), 7, "{d}: {name}");
        assert!(
            dialect::table_exists(&db, name).await.unwrap(),
            "{d}: {name}"
        );
    }
    for bad in ["nul\0byte", ""] {
        assert!(a.escape_identifier(bad).is_err(), "{d}");
    }
    assert!(db.to_sql(Select::from("nul\0byte")).is_err(), "{d}");
    assert!(
        !dialect::table_exists(&db, "no_such_table").await.unwrap(),
        "{d}"
    );
}

#[kysera::test(databases = "all")]
async fn dates_and_the_current_time(db: Executor) {
    let d = db.dialect();
    let a = d.adapter();
    let ts = match d {
        Dialect::Postgres => "TIMESTAMPTZ",
        Dialect::MySql => "DATETIME(6)",
        _ => "TEXT",
    };
    ddl(
        &db,
        format!("CREATE TABLE k_dates (id BIGINT PRIMARY KEY, at {ts} NOT NULL)"),
    )
    .await;
    for (id, text) in [
        (1i64, "2026-11-28T05:33:03.123456Z"),
        (2, "1999-12-31T23:59:59Z"),
        (3, "2038-01-19T03:14:08.5Z"),
    ] {
        let t: DateTime<Utc> = text.parse().unwrap();
        db.execute(Insert::into("k_dates").set("id", id).set("at", t))
            .await
            .unwrap();
        // What the database stores, as text, where it is text (SQLite) or a plain wall time
        // (MySQL); on PostgreSQL the text read back as a time stamp.
        let formatted = a.format_datetime(&t);
        let check = match d {
            Dialect::Postgres => {
                "SELECT CAST(at = CAST($1 AS TIMESTAMPTZ) AS INT) AS same FROM k_dates WHERE id = $2"
            }
            Dialect::MySql => {
                "SELECT CAST(CAST(at AS CHAR) = ? AS SIGNED) AS same FROM k_dates WHERE id = ?"
            }
            _ => "SELECT at = ? AS same FROM k_dates WHERE id = ?",
        };
        let rows = db
            .raw()
            .fetch_all_sql(check, vec![formatted.clone().into(), id.into()])
            .await
            .unwrap();
        let same: i64 = rows[0]
            .get::<i64>("same")
            .or_else(|_| rows[0].get::<i32>("same").map(i64::from))
            .unwrap();
        assert_eq!(same, 1, "{d}: {formatted} for {t}");
    }
    let now = db
        .raw()
        .fetch_all_sql(
            kysera::AssertSqlSafe(format!("SELECT {} AS now", a.current_timestamp())),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(now.len(), 1, "{d}");
}

#[kysera::test(databases = "all")]
async fn the_live_schema_is_read_back(db: Executor) {
    let d = db.dialect();
    let id = auto_id(d);
    let text = if d == Dialect::Sqlite {
        "TEXT"
    } else {
        "VARCHAR(50)"
    };
    ddl(&db, format!("CREATE TABLE k_parents ({id}, name {text} NOT NULL, note {text} NULL DEFAULT 'x', CONSTRAINT k_parents_name UNIQUE (name))")).await;
    let made = match d {
        Dialect::Postgres => "TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP",
        Dialect::MySql => "DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)",
        _ => "TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP",
    };
    ddl(&db, format!("CREATE TABLE k_children ({id}, parent_id BIGINT NOT NULL, label {text} NOT NULL, rank BIGINT NULL, made {made}, CONSTRAINT k_children_parent FOREIGN KEY (parent_id) REFERENCES k_parents (id) ON DELETE CASCADE)")).await;
    // A default is not a generated column (MySQL 8 marks it DEFAULT_GENERATED).
    let child_cols = dialect::columns(&db, "k_children").await.unwrap();
    let made_col = child_cols.iter().find(|c| c.name == "made").unwrap();
    assert!(
        !made_col.generated && made_col.default.is_some(),
        "{d}: {made_col:?}"
    );
    ddl(
        &db,
        "CREATE INDEX k_children_label_rank ON k_children (label, rank)".into(),
    )
    .await;

    let names: Vec<String> = dialect::tables(&db, None)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["k_children", "k_parents"], "{d}");

    let cols = dialect::columns(&db, "k_parents").await.unwrap();
    let summary: Vec<(&str, bool, bool, bool)> = cols
        .iter()
        .map(|c| (c.name.as_str(), c.nullable, c.primary_key, c.generated))
        .collect();
    assert_eq!(
        summary,
        [
            ("id", false, true, true),
            ("name", false, false, false),
            ("note", true, false, false)
        ],
        "{d}: {cols:?}"
    );
    assert!(
        cols[2].default.as_deref().is_some_and(|v| v.contains('x')),
        "{d}: {:?}",
        cols[2].default
    );
    assert_eq!(cols[1].default, None, "{d}");
    assert!(
        cols[1].sql_type.to_lowercase().contains("char") || cols[1].sql_type == "TEXT",
        "{d}: {}",
        cols[1].sql_type
    );
    assert!(dialect::columns(&db, "k_nothing").await.is_err(), "{d}");

    let idx = dialect::indexes(&db, "k_children").await.unwrap();
    let composite = idx
        .iter()
        .find(|i| i.name == "k_children_label_rank")
        .unwrap_or_else(|| panic!("{d}: {idx:?}"));
    assert_eq!(
        (composite.columns.clone(), composite.unique),
        (vec!["label".to_string(), "rank".to_string()], false),
        "{d}"
    );
    let parents_idx = dialect::indexes(&db, "k_parents").await.unwrap();
    assert!(
        parents_idx
            .iter()
            .any(|i| i.unique && !i.primary && i.columns == ["name"]),
        "{d}: {parents_idx:?}"
    );

    let fks = dialect::foreign_keys(&db, "k_children").await.unwrap();
    assert_eq!(fks.len(), 1, "{d}: {fks:?}");
    let fk = &fks[0];
    assert_eq!(
        (
            fk.columns.as_slice(),
            fk.references_table.as_str(),
            fk.references_columns.as_slice(),
            fk.on_delete.as_str()
        ),
        (
            &["parent_id".to_string()][..],
            "k_parents",
            &["id".to_string()][..],
            "CASCADE"
        ),
        "{d}: {fk:?}"
    );
    if d != Dialect::Sqlite {
        assert_eq!(fk.name.as_deref(), Some("k_children_parent"), "{d}");
    }
    let whole = dialect::table_schema(&db, "k_children").await.unwrap();
    assert_eq!(
        (whole.columns.len(), whole.foreign_keys.len()),
        (5, 1),
        "{d}"
    );
    assert!(!whole.table.schema.is_empty(), "{d}");

    // Emptied in the order the key allows, counters restarted, one table kept.
    for n in ["a", "b"] {
        db.execute(Insert::into("k_parents").set("name", n))
            .await
            .unwrap();
    }
    db.execute(
        Insert::into("k_children")
            .set("parent_id", 1i64)
            .set("label", "c"),
    )
    .await
    .unwrap();
    ddl(&db, "CREATE TABLE k_kept (id BIGINT PRIMARY KEY)".into()).await;
    db.execute(Insert::into("k_kept").set("id", 1i64))
        .await
        .unwrap();
    let emptied = dialect::truncate_all_tables(&db, &["K_KEPT"])
        .await
        .unwrap_or_else(|e| panic!("{d}: {e}"));
    assert!(
        !emptied.contains(&"k_kept".to_string()) && emptied.len() >= 2,
        "{d}: {emptied:?}"
    );
    let count = |t: &'static str| {
        let db = db.clone();
        async move { db.count(Select::from(t)).await.unwrap() }
    };
    assert_eq!(
        (
            count("k_parents").await,
            count("k_children").await,
            count("k_kept").await
        ),
        (0, 0, 1),
        "{d}"
    );
    db.execute(Insert::into("k_parents").set("name", "fresh"))
        .await
        .unwrap();
    let first: i64 = db.raw().fetch_all(Select::from("k_parents")).await.unwrap()[0]
        .get("id")
        .unwrap();
    assert_eq!(first, 1, "{d}: the counter restarted");
    assert!(dialect::database_size(&db).await.unwrap() > 0, "{d}");

    // The error tests on real violations.
    let dup = db
        .execute(Insert::into("k_parents").set("name", "fresh"))
        .await
        .unwrap_err();
    assert!(
        dialect::is_unique_violation(&dup) && dialect::is_constraint_violation(&dup),
        "{d}: {dup:?}"
    );
    let orphan = db
        .execute(
            Insert::into("k_children")
                .set("parent_id", 999i64)
                .set("label", "x"),
        )
        .await
        .unwrap_err();
    assert!(
        dialect::is_foreign_key_violation(&orphan) && !dialect::is_unique_violation(&orphan),
        "{d}: {orphan:?}"
    );
    let missing = db
        .execute(Insert::into("k_children").set("parent_id", 1i64))
        .await
        .unwrap_err();
    assert!(
        dialect::is_not_null_violation(&missing) || d == Dialect::MySql,
        "{d}: {missing:?}"
    );
    assert!(!dialect::is_retryable(&missing), "{d}");
}

#[test]
fn connection_urls_round_trip_and_hide_the_password() {
    for url in [
        "postgres://ada:s%40cr%3At%2F@db.example.com:6432/app?sslmode=require&application_name=k",
        "postgres://localhost/app",
        "postgres://u@[::1]:5432/app",
        "mysql://root@127.0.0.1:3306/test",
        "mysql://r%C3%B6%C3%B6t:p%20w@h/d%20b",
        "sqlite::memory:",
        "sqlite://data/app.db?mode=rwc",
        "sqlite:///abs/path%3Fodd.db",
        "sqlite://:memory:?cache=private",
    ] {
        let c = ConnectionConfig::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        let again = ConnectionConfig::parse(&c.to_url()).unwrap();
        assert_eq!(again, c, "{url} -> {}", c.to_url());
        if let Some(p) = &c.password {
            assert!(
                !format!("{c}").contains(p.as_str()) && !format!("{c:?}").contains(p.as_str()),
                "{url}"
            );
            assert!(format!("{c}").contains("***"), "{url}");
        }
    }
    let c =
        ConnectionConfig::parse("postgresql://ada:s%40cr%3At%2F@db.example.com:6432/app").unwrap();
    assert_eq!(c.password.as_deref(), Some("s@cr:t/"));
    assert_eq!(c.dialect, Dialect::Postgres);
    let m = ConnectionConfig::parse("mariadb://r%C3%B6%C3%B6t@h/d%20b").unwrap();
    assert_eq!(
        (m.dialect, m.user.as_deref(), m.database.as_deref(), m.port),
        (Dialect::MySql, Some("rööt"), Some("d b"), None)
    );
    assert_eq!(m.default_port(), Some(3306));
    let built = ConnectionConfig::new(Dialect::Postgres)
        .host("db")
        .port(5433)
        .user("a b")
        .password("p@ss/word?")
        .database("app")
        .option("sslmode", "disable");
    assert_eq!(ConnectionConfig::parse(&built.to_url()).unwrap(), built);
    assert_eq!(
        built.to_string(),
        "postgres://a%20b:***@db:5433/app?sslmode=disable"
    );
    assert!(
        ConnectionConfig::parse("sqlite::memory:")
            .unwrap()
            .is_memory()
    );
    assert!(
        !ConnectionConfig::parse("sqlite://x.db")
            .unwrap()
            .is_memory()
    );
    // A password given as an option is hidden too; an IPv6 host goes in brackets; no host
    // leaves the driver's default; the scheme's case does not matter.
    let opt =
        ConnectionConfig::parse("postgres://db/app?password=hunter2&sslmode=disable").unwrap();
    assert!(
        !opt.to_string().contains("hunter2") && !format!("{opt:?}").contains("hunter2"),
        "{opt}"
    );
    assert!(opt.to_url().contains("hunter2"));
    let v6 = ConnectionConfig::new(Dialect::MySql)
        .host("::1")
        .port(3306)
        .database("d");
    assert_eq!(v6.to_url(), "mysql://[::1]:3306/d");
    assert_eq!(
        ConnectionConfig::parse(&v6.to_url())
            .unwrap()
            .host
            .as_deref(),
        Some("[::1]")
    );
    let local = ConnectionConfig::new(Dialect::Postgres).database("app");
    assert_eq!(local.to_url(), "postgres:///app");
    assert_eq!(ConnectionConfig::parse(&local.to_url()).unwrap(), local);
    let upper = ConnectionConfig::parse("SQLite://data/a.db").unwrap();
    assert_eq!(upper.database.as_deref(), Some("data/a.db"));
    assert!(ConnectionConfig::parse("oracle://x").is_err());
    assert!(ConnectionConfig::parse("postgres://[bad").is_err());
}

/// The adapter's facts hold on the live database: DDL in a rolled-back transaction is undone
/// exactly where it says DDL is transactional, `RETURNING` works where it says so, and the
/// bind limit is the lowering's.
#[kysera::test(databases = "all")]
async fn the_adapters_facts_hold(db: Executor) {
    let d = db.dialect();
    let a = d.adapter();
    let undone = db
        .transaction(async |tx| {
            tx.raw()
                .execute_sql("CREATE TABLE k_ddl_probe (x BIGINT)", vec![])
                .await?;
            Err::<(), _>(kysera::Error::InvalidQuery("undo".into()))
        })
        .await;
    assert!(undone.is_err(), "{d}");
    assert_eq!(
        dialect::table_exists(&db, "k_ddl_probe").await.unwrap(),
        !a.transactional_ddl(),
        "{d}: transactional DDL is {}",
        a.transactional_ddl()
    );
    if a.supports_returning() {
        ddl(&db, "CREATE TABLE k_ret_probe (x BIGINT NOT NULL)".into()).await;
        let rows = db
            .raw()
            .fetch_all_sql("INSERT INTO k_ret_probe (x) VALUES (5) RETURNING x", vec![])
            .await
            .unwrap();
        assert_eq!(rows[0].get::<i64>("x").unwrap(), 5, "{d}");
    }
    let limit = a.max_bind_parameters();
    let mut fits = Insert::into("k_ret_probe").columns(["x"]);
    for v in 0..limit as i64 {
        fits = fits.values([kysera::Value::from(v)]);
    }
    assert!(db.to_sql(fits.clone()).is_ok(), "{d}");
    let over = db
        .to_sql(fits.values([kysera::Value::from(-1i64)]))
        .unwrap_err()
        .to_string();
    assert!(over.contains(&limit.to_string()), "{d}: {over}");
}
