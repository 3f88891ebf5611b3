//! Constraint violations are classified on every database, each triggered for real.

#[macro_use]
mod common;

use kysera::query::{Delete, Insert, Select, col};
use kysera::{ConstraintViolation, Dialect, Error, Executor};

async fn schema(db: &Executor) -> (String, String) {
    let d = db.dialect();
    let parent = common::table("parent");
    let child = common::table("child");
    common::ddl(
        db,
        &format!(
            "CREATE TABLE {parent} ({}, code VARCHAR(50) NOT NULL, qty BIGINT NOT NULL, \
             tag VARCHAR(10) NULL, CONSTRAINT {parent}_code_key UNIQUE (code), \
             CONSTRAINT {parent}_qty_tag_key UNIQUE (qty, tag), \
             CONSTRAINT {parent}_qty_check CHECK (qty >= 0))",
            common::id_column(d)
        ),
    )
    .await;
    common::ddl(
        db,
        &format!(
            "CREATE TABLE {child} ({}, parent_id BIGINT NOT NULL, \
             CONSTRAINT {child}_fk FOREIGN KEY (parent_id) REFERENCES {parent} (id))",
            common::id_column(d)
        ),
    )
    .await;
    (parent, child)
}

fn expect<'a>(
    res: &'a kysera::Result<u64>,
    d: Dialect,
    which: &str,
    pick: fn(&Error) -> Option<&ConstraintViolation>,
) -> &'a ConstraintViolation {
    let err = res.as_ref().expect_err(which);
    pick(err).unwrap_or_else(|| panic!("{d}: expected {which}, got {err:?}"))
}

per_database! {
    async fn constraint_violations_are_classified(db) {
        let d = db.dialect();
        let (parent, child) = schema(&db).await;
        let ok = db
            .execute(Insert::into(&parent).set("code", "A").set("qty", 1i64))
            .await;
        assert_eq!(ok.unwrap(), 1, "{d}");
        let pid: i64 = db
            .fetch_one(Select::from(&parent))
            .await
            .unwrap()
            .get("id")
            .unwrap();

        // Unique, with the column and table on every database (MySQL names only the key: the
        // catalogue gives its columns).
        let res = db
            .execute(Insert::into(&parent).set("code", "A").set("qty", 2i64))
            .await;
        let v = expect(&res, d, "unique", |e| match e {
            Error::UniqueViolation(v) => Some(v),
            _ => None,
        });
        assert_eq!(v.columns, ["code"], "{d}: {v:?}");
        assert_eq!(v.table.as_deref(), Some(parent.as_str()), "{d}: {v:?}");
        if d != Dialect::Sqlite {
            assert_eq!(
                v.constraint.as_deref(),
                Some(format!("{parent}_code_key").as_str()),
                "{d}: {v:?}"
            );
        }
        // A composite key, the primary key, raw SQL and a transaction name them the same way.
        let res = db
            .execute(Insert::into(&parent).set("code", "B").set("qty", 1i64))
            .await;
        assert_eq!(res.unwrap(), 1, "{d}");
        let res = db
            .execute(Insert::into(&parent).set("code", "C").set("qty", 1i64).set("tag", "t"))
            .await;
        assert_eq!(res.unwrap(), 1, "{d}");
        let res = db
            .execute(Insert::into(&parent).set("code", "D").set("qty", 1i64).set("tag", "t"))
            .await;
        let v = expect(&res, d, "composite unique", |e| match e {
            Error::UniqueViolation(v) => Some(v),
            _ => None,
        });
        assert_eq!(v.columns, ["qty", "tag"], "{d}: {v:?}");
        let res = db
            .execute(Insert::into(&parent).set("id", pid).set("code", "E").set("qty", 1i64))
            .await;
        let v = expect(&res, d, "primary key", |e| match e {
            Error::UniqueViolation(v) => Some(v),
            _ => None,
        });
        assert_eq!(v.columns, ["id"], "{d}: {v:?}");
        assert_eq!(v.table.as_deref(), Some(parent.as_str()), "{d}: {v:?}");
        let placeholder = if d == Dialect::Postgres { "$1" } else { "?" };
        let raw = db
            .raw()
            .execute_sql(
                kysera::AssertSqlSafe(format!(
                    "INSERT INTO {parent} (code, qty) VALUES ({placeholder}, 3)"
                )),
                vec!["A".into()],
            )
            .await;
        match &raw {
            Err(Error::UniqueViolation(v)) => {
                assert_eq!(v.columns, ["code"], "{d}: raw: {v:?}");
            }
            other => panic!("{d}: raw: expected a unique violation, got {other:?}"),
        }
        let parent2 = parent.clone();
        let in_tx = db
            .transaction(async move |tx| {
                tx.execute(Insert::into(&parent2).set("code", "A").set("qty", 5i64))
                    .await
            })
            .await;
        match &in_tx {
            Err(Error::UniqueViolation(v)) => {
                assert_eq!(v.columns, ["code"], "{d}: in a transaction: {v:?}");
            }
            other => panic!("{d}: in a transaction: expected a unique violation, got {other:?}"),
        }

        // Foreign key: a child with no parent, and deleting a parent with children.
        let res = db
            .execute(Insert::into(&child).set("parent_id", 424242i64))
            .await;
        let v = expect(&res, d, "foreign key", |e| match e {
            Error::ForeignKeyViolation(v) => Some(v),
            _ => None,
        });
        if d != Dialect::Sqlite {
            assert_eq!(
                v.constraint.as_deref(),
                Some(format!("{child}_fk").as_str()),
                "{d}: {v:?}"
            );
            assert_eq!(v.table.as_deref(), Some(child.as_str()), "{d}: {v:?}");
        }
        if d == Dialect::MySql {
            assert_eq!(v.columns, ["parent_id"], "{v:?}");
        }
        db.execute(Insert::into(&child).set("parent_id", pid))
            .await
            .unwrap();
        let res = db
            .execute(Delete::from(&parent).filter(col("id").eq(pid)))
            .await;
        expect(&res, d, "foreign key on delete", |e| match e {
            Error::ForeignKeyViolation(v) => Some(v),
            _ => None,
        });

        // Not null, with the column.
        let res = db
            .execute(
                Insert::into(&parent)
                    .set("code", None::<String>)
                    .set("qty", 1i64),
            )
            .await;
        let v = expect(&res, d, "not null", |e| match e {
            Error::NotNullViolation(v) => Some(v),
            _ => None,
        });
        assert_eq!(v.columns, ["code"], "{d}: {v:?}");

        // Check, with the constraint name (SQLite reports it too since 3.x).
        let res = db
            .execute(Insert::into(&parent).set("code", "B").set("qty", -1i64))
            .await;
        let v = expect(&res, d, "check", |e| match e {
            Error::CheckViolation(v) => Some(v),
            _ => None,
        });
        assert_eq!(
            v.constraint.as_deref(),
            Some(format!("{parent}_qty_check").as_str()),
            "{d}: {v:?}"
        );
        assert!(!v.message.is_empty());

        // Anything else stays a plain database error.
        let res = db
            .raw()
            .execute_sql("SELECT * FROM no_such_table_kysera", vec![])
            .await;
        assert!(matches!(res, Err(Error::Database(_))), "{d}: {res:?}");
        common::drop_tables(&db, &[&child, &parent]).await;
    }
}
