//! The query IR end to end: every statement kind, filters, joins, grouping, RETURNING (native
//! and emulated on MySQL), on-conflict handling, NULL comparisons and LIKE escaping, on every
//! configured database. (Over 600 lines: one tour of the builder's statements, each scenario a
//! few lines of SQL semantics that read best side by side.)

#[macro_use]
mod common;

use kysera::query::{Insert, Order, Returning, Select, Update, Value, col, count_all};
use kysera::{Dialect, Executor};

#[derive(Debug, PartialEq, kysera::FromRow)]
struct User {
    id: i64,
    email: String,
    name: String,
    age: Option<i64>,
    active: bool,
    org: String,
}

async fn seed(db: &Executor, t: &str) {
    let rows: [(&str, &str, Option<i64>, bool, &str); 5] = [
        ("ada@x.io", "Ada", Some(36), true, "a"),
        ("bob@x.io", "Bob", Some(17), true, "a"),
        ("cy@y.io", "Cy", None, false, "b"),
        ("di@y.io", "Di", Some(52), true, "b"),
        ("ed@x.io", "Ed", Some(29), false, "a"),
    ];
    let mut ins = Insert::into(t).columns(["email", "name", "age", "active", "org"]);
    for (e, n, a, act, o) in rows {
        ins = ins.values([Value::from(e), n.into(), a.into(), act.into(), o.into()]);
    }
    assert_eq!(db.execute(ins).await.unwrap(), 5, "{}", db.dialect());
}

/// The same rows read under other names, with a field that is not a column.
#[derive(Debug, kysera::FromRow)]
struct Contact {
    #[kysera(rename = "email")]
    address: String,
    age: Option<i64>,
    #[kysera(skip)]
    notes: Vec<String>,
}

fn names(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.name.as_str()).collect()
}

per_database! {
    async fn select_filters_order_limit(db) {
        let t = common::users_table(&db).await;
        seed(&db, &t).await;
        let d = db.dialect();
        let by_name = |s: Select| s.order_by(col("name"), Order::Asc);

        let adults: Vec<User> = db
            .fetch_all_as(by_name(Select::from(&t).filter(col("age").gte(18))))
            .await
            .unwrap();
        assert_eq!(names(&adults), ["Ada", "Di", "Ed"], "{d}");

        let f = col("org")
            .eq("a")
            .and(col("active").eq(true))
            .or(col("age").is_null());
        let got: Vec<User> = db
            .fetch_all_as(by_name(Select::from(&t).filter(f)))
            .await
            .unwrap();
        assert_eq!(names(&got), ["Ada", "Bob", "Cy"], "{d}");

        let got: Vec<User> = db
            .fetch_all_as(by_name(
                Select::from(&t).filter(!col("email").like("%@x.io")),
            ))
            .await
            .unwrap();
        assert_eq!(names(&got), ["Cy", "Di"], "{d}");

        let got: Vec<User> = db
            .fetch_all_as(by_name(
                Select::from(&t).filter(col("name").is_in(["Bob", "Di", "Zed"])),
            ))
            .await
            .unwrap();
        assert_eq!(names(&got), ["Bob", "Di"], "{d}");

        let got: Vec<User> = db
            .fetch_all_as(by_name(
                Select::from(&t).filter(col("name").not_in(["Bob"]).and(col("age").is_not_null())),
            ))
            .await
            .unwrap();
        assert_eq!(names(&got), ["Ada", "Di", "Ed"], "{d}");

        let none: Vec<User> = db
            .fetch_all_as(Select::from(&t).filter(col("name").is_in(Vec::<String>::new())))
            .await
            .unwrap();
        assert!(none.is_empty(), "{d}");

        let page: Vec<User> = db
            .fetch_all_as(
                Select::from(&t)
                    .order_by(col("age"), Order::Desc)
                    .filter(col("age").is_not_null())
                    .limit(2)
                    .offset(1),
            )
            .await
            .unwrap();
        assert_eq!(names(&page), ["Ada", "Ed"], "{d}");

        let tail: Vec<User> = db
            .fetch_all_as(by_name(Select::from(&t)).offset(3))
            .await
            .unwrap();
        assert_eq!(names(&tail), ["Di", "Ed"], "{d}");

        assert_eq!(db.count(Select::from(&t)).await.unwrap(), 5, "{d}");
        assert_eq!(
            db.count(Select::from(&t).filter(col("org").eq("b")))
                .await
                .unwrap(),
            2,
            "{d}"
        );
        assert_eq!(db.count(Select::from(&t).limit(2)).await.unwrap(), 2, "{d}");
        assert!(
            db.exists(Select::from(&t).filter(col("name").eq("Cy")))
                .await
                .unwrap(),
            "{d}"
        );
        assert!(
            !db.exists(Select::from(&t).filter(col("name").eq("Zed")))
                .await
                .unwrap(),
            "{d}"
        );

        let one: User = db
            .fetch_one_as(Select::from(&t).filter(col("email").eq("di@y.io")))
            .await
            .unwrap();
        assert_eq!(
            (one.name.as_str(), one.age, one.active),
            ("Di", Some(52), true),
            "{d}"
        );
        let missing = db
            .fetch_one(Select::from(&t).filter(col("id").eq(-1)))
            .await;
        assert!(matches!(missing, Err(kysera::Error::NotFound(_))), "{d}");
        assert!(
            db.fetch_optional(Select::from(&t).filter(col("id").eq(-1)))
                .await
                .unwrap()
                .is_none()
        );

        // A value that looks like SQL stays a value.
        let evil = "x' OR '1'='1";
        assert_eq!(
            db.count(Select::from(&t).filter(col("name").eq(evil)))
                .await
                .unwrap(),
            0,
            "{d}"
        );
        common::drop_tables(&db, &[&t]).await;
    }
}

per_database! {
    async fn joins_aliases_grouping(db) {
        let d = db.dialect();
        let users = common::users_table(&db).await;
        seed(&db, &users).await;
        let posts = common::table("posts");
        common::ddl(
            &db,
            &format!(
                "CREATE TABLE {posts} ({}, user_id BIGINT NOT NULL, title VARCHAR(255) NOT NULL, score BIGINT NOT NULL)",
                common::id_column(d)
            ),
        )
        .await;
        let ada: i64 = db
            .fetch_one(
                Select::from(&users)
                    .column(col("id"))
                    .filter(col("name").eq("Ada")),
            )
            .await
            .unwrap()
            .get("id")
            .unwrap();
        let di: i64 = db
            .fetch_one(
                Select::from(&users)
                    .column(col("id"))
                    .filter(col("name").eq("Di")),
            )
            .await
            .unwrap()
            .get(0usize)
            .unwrap();
        db.execute(
            Insert::into(&posts)
                .columns(["user_id", "title", "score"])
                .values([Value::from(ada), "a1".into(), 5i64.into()])
                .values([Value::from(ada), "a2".into(), 7i64.into()])
                .values([Value::from(di), "d1".into(), 1i64.into()]),
        )
        .await
        .unwrap();

        let q = Select::from(&users)
            .alias("u")
            .column(col("u.name"))
            .expr_as(col("p.title"), "title")
            .inner_join(&posts, "p", col("p.user_id").eq_col(col("u.id")))
            .filter(col("p.score").gt(1))
            .order_by(col("p.title"), Order::Asc);
        let rows = db.fetch_all(q).await.unwrap();
        let got: Vec<(String, String)> = rows
            .iter()
            .map(|r| (r.get("name").unwrap(), r.get("title").unwrap()))
            .collect();
        assert_eq!(
            got,
            [("Ada".into(), "a1".into()), ("Ada".into(), "a2".into())],
            "{d}"
        );

        // LEFT JOIN keeps users without posts; GROUP BY / HAVING over the join.
        let q = Select::from(&users)
            .alias("u")
            .column(col("u.name"))
            .expr_as(col("p.id").count(), "n")
            .left_join(&posts, "p", col("p.user_id").eq_col(col("u.id")))
            .group_by(col("u.name"))
            .having(col("p.id").count().gte(1))
            .order_by(col("u.name"), Order::Asc);
        let rows = db.fetch_all(q.clone()).await.unwrap();
        let got: Vec<(String, i64)> = rows
            .iter()
            .map(|r| (r.get("name").unwrap(), r.get("n").unwrap()))
            .collect();
        assert_eq!(got, [("Ada".into(), 2), ("Di".into(), 1)], "{d}");
        assert_eq!(db.count(q).await.unwrap(), 2, "{d}");

        let total = db
            .fetch_one(Select::from(&users).expr_as(count_all(), "c"))
            .await
            .unwrap()
            .get::<i64>("c")
            .unwrap();
        assert_eq!(total, 5, "{d}");
        common::drop_tables(&db, &[&posts, &users]).await;
    }
}

per_database! {
    async fn writes_and_returning(db) {
        let d = db.dialect();
        let t = common::users_table(&db).await;
        let pk = ["id"];

        // One row, RETURNING * (emulated by key on MySQL).
        let ada: User = db
            .fetch_one_as(
                Insert::into(&t)
                    .set("email", "ada@x.io")
                    .set("name", "Ada")
                    .primary_key(pk)
                    .returning_all(),
            )
            .await
            .unwrap();
        assert_eq!(
            (ada.name.as_str(), ada.age, ada.active, ada.org.as_str()),
            ("Ada", None, true, "a"),
            "{d}"
        );

        // Many rows, RETURNING named columns.
        let rows = db
            .fetch_all(
                Insert::into(&t)
                    .columns(["email", "name", "age"])
                    .values([Value::from("b@x.io"), "Bob".into(), 20i64.into()])
                    .values([Value::from("c@x.io"), "Cy".into(), 30i64.into()])
                    .primary_key(pk)
                    .returning(Returning::Columns(vec!["id".into(), "name".into()])),
            )
            .await
            .unwrap();
        let got: Vec<String> = rows.iter().map(|r| r.get("name").unwrap()).collect();
        assert_eq!(got, ["Bob", "Cy"], "{d}");
        assert_eq!(rows[0].columns(), ["id", "name"], "{d}");
        let ids: Vec<i64> = rows.iter().map(|r| r.get("id").unwrap()).collect();
        assert!(ids[0] != ids[1] && ids[0] != ada.id, "{d}");

        // UPDATE … RETURNING, including a row whose filter column changes.
        let updated: Vec<User> = db
            .fetch_all_as(
                Update::table(&t)
                    .set("age", 99i64)
                    .set("org", "z")
                    .filter(col("org").eq("a").and(col("age").is_not_null()))
                    .primary_key(pk)
                    .returning_all(),
            )
            .await
            .unwrap();
        let mut got: Vec<_> = updated
            .iter()
            .map(|u| (u.name.as_str(), u.age, u.org.as_str()))
            .collect();
        got.sort();
        assert_eq!(got, [("Bob", Some(99), "z"), ("Cy", Some(99), "z")], "{d}");
        assert_eq!(
            db.execute(
                Update::table(&t)
                    .set("active", false)
                    .filter(col("org").eq("z"))
            )
            .await
            .unwrap(),
            2
        );

        // ON CONFLICT DO NOTHING skips (and returns nothing for) the duplicate.
        let dup = db
            .fetch_all(
                Insert::into(&t)
                    .set("email", "ada@x.io")
                    .set("name", "Other")
                    .on_conflict_do_nothing(["email"])
                    .primary_key(pk)
                    .returning_all(),
            )
            .await
            .unwrap();
        assert!(dup.is_empty(), "{d}");
        assert_eq!(
            db.execute(
                Insert::into(&t)
                    .set("email", "ada@x.io")
                    .set("name", "Other")
                    .on_conflict_do_nothing(["email"])
            )
            .await
            .unwrap(),
            0,
            "{d}"
        );

        // ON CONFLICT DO UPDATE returns the updated row.
        let upserted: User = db
            .fetch_one_as(
                Insert::into(&t)
                    .set("email", "ada@x.io")
                    .set("name", "Ada Lovelace")
                    .on_conflict_update(["email"], ["name"])
                    .primary_key(pk)
                    .returning_all(),
            )
            .await
            .unwrap();
        assert_eq!(
            (upserted.id, upserted.name.as_str()),
            (ada.id, "Ada Lovelace"),
            "{d}"
        );
        assert_eq!(db.count(Select::from(&t)).await.unwrap(), 3, "{d}");

        // DELETE … RETURNING gives the rows as they were.
        let gone: Vec<User> = db
            .fetch_all_as(
                kysera::query::Delete::from(&t)
                    .filter(col("org").eq("z"))
                    .returning_all(),
            )
            .await
            .unwrap();
        assert_eq!(gone.len(), 2, "{d}");
        assert!(gone.iter().all(|u| u.age == Some(99) && !u.active), "{d}");
        assert_eq!(
            db.execute(kysera::query::Delete::from(&t)).await.unwrap(),
            1,
            "{d}"
        );
        assert_eq!(db.count(Select::from(&t)).await.unwrap(), 0, "{d}");

        // Wrong shapes are errors, not panics.
        let ragged = db
            .execute(
                Insert::into(&t)
                    .columns(["email", "name"])
                    .values(["only-one"]),
            )
            .await;
        assert!(matches!(ragged, Err(kysera::Error::InvalidQuery(_))), "{d}");
        if d == Dialect::MySql {
            // Emulated (an executor over a pool of one's own; Oracle MySQL): it needs the key.
            // (With MariaDB's own RETURNING it does not: `mariadb_returns_rows_itself`.)
            let insert = |email: &str| {
                Insert::into(&t)
                    .set("email", email)
                    .set("name", "Q")
                    .returning_all()
            };
            let emulating = kysera::Executor::new(db.pool().clone());
            let no_pk = emulating.fetch_all(insert("r@x")).await;
            assert!(
                matches!(no_pk, Err(kysera::Error::Unsupported { .. })),
                "{no_pk:?}"
            );
        }
        common::drop_tables(&db, &[&t]).await;
    }
}

per_database! {
    async fn column_types_round_trip(db) {
        let d = db.dialect();
        let t = common::table("types");
        common::ddl(
            &db,
            &format!(
                "CREATE TABLE {t} ({}, i BIGINT NOT NULL, f DOUBLE PRECISION NOT NULL, b BOOLEAN NOT NULL, s VARCHAR(100) NOT NULL, ts {} NOT NULL, maybe BIGINT NULL)",
                common::id_column(d),
                common::timestamp_type(d)
            ),
        )
        .await;
        let ts = chrono::NaiveDate::from_ymd_opt(2026, 11, 25)
            .unwrap()
            .and_hms_micro_opt(18, 55, 42, 123_456)
            .unwrap();
        db.execute(
            Insert::into(&t)
                .set("i", i64::MIN + 1)
                .set("f", 2.5f64)
                .set("b", true)
                .set("s", "héllo ✓ 'quoted'")
                .set("ts", ts)
                .set("maybe", None::<i64>),
        )
        .await
        .unwrap();
        let row = db.fetch_one(Select::from(&t)).await.unwrap();
        assert_eq!(row.get::<i64>("i").unwrap(), i64::MIN + 1, "{d}");
        assert_eq!(row.get::<f64>("f").unwrap(), 2.5, "{d}");
        assert!(row.get::<bool>("b").unwrap(), "{d}");
        assert_eq!(row.get::<String>("s").unwrap(), "héllo ✓ 'quoted'", "{d}");
        assert_eq!(row.get::<chrono::NaiveDateTime>("ts").unwrap(), ts, "{d}");
        assert_eq!(row.get::<Option<i64>>("maybe").unwrap(), None, "{d}");
        // The error names the column as written, without quotes.
        let bad = row.get::<i64>("s");
        assert!(
            matches!(&bad, Err(kysera::Error::Decode { column, .. }) if column == "s"),
            "{d}: {bad:?}"
        );
        let absent = row.get::<i64>("nope");
        assert!(
            matches!(&absent, Err(kysera::Error::Decode { column, .. }) if column == "nope"),
            "{d}: {absent:?}"
        );
        let past_end = row.get::<i64>(99usize);
        assert!(
            matches!(&past_end, Err(kysera::Error::Decode { column, .. }) if column == "99"),
            "{d}: {past_end:?}"
        );
        common::drop_tables(&db, &[&t]).await;
    }
}

per_database! {
    async fn count_exists_and_conflicts_edge_cases(db) {
        let d = db.dialect();
        let t = common::users_table(&db).await;
        seed(&db, &t).await;
        // An aggregate returns one row, whatever it aggregates over.
        let max = Select::from(&t).expr_as(col("age").max(), "m");
        assert_eq!(db.count(max.clone()).await.unwrap(), 1, "{d}");
        assert!(
            db.exists(max.filter(col("id").eq(-1))).await.unwrap(),
            "{d}"
        );
        assert!(!db.exists(Select::from(&t).limit(0)).await.unwrap(), "{d}");
        // COUNT over a limited join (MySQL refuses repeated column names in a derived table).
        let joined = Select::from(&t)
            .alias("a")
            .inner_join(&t, "b", col("b.org").eq_col(col("a.org")))
            .limit(4);
        assert_eq!(db.count(joined).await.unwrap(), 4, "{d}");
        // HAVING without GROUP BY counts the one group.
        let having = Select::from(&t)
            .expr_as(count_all(), "n")
            .having(count_all().gt(3));
        assert_eq!(db.count(having).await.unwrap(), 1, "{d}");

        // DO NOTHING on one key does not hide a clash on another unique key.
        let other_key = db
            .execute(
                Insert::into(&t)
                    .set("id", 999_999i64)
                    .set("email", "ada@x.io")
                    .set("name", "Dup")
                    .on_conflict_do_nothing(["id"]),
            )
            .await;
        assert!(
            matches!(other_key, Err(kysera::Error::UniqueViolation(_))),
            "{d}: {other_key:?}"
        );
        // …and skips the row whose named key exists.
        let ada_id: i64 = db
            .fetch_one(Select::from(&t).filter(col("email").eq("ada@x.io")))
            .await
            .unwrap()
            .get("id")
            .unwrap();
        let skipped = db
            .execute(
                Insert::into(&t)
                    .set("id", ada_id)
                    .set("email", "fresh@x.io")
                    .set("name", "Fresh")
                    .on_conflict_do_nothing(["id"]),
            )
            .await
            .unwrap();
        assert_eq!(skipped, 0, "{d}");
        assert_eq!(db.count(Select::from(&t)).await.unwrap(), 5, "{d}");
        common::drop_tables(&db, &[&t]).await;
    }
}

per_database! {
    async fn from_row_renames_skips_and_reports_missing_columns(db) {
        let d = db.dialect();
        let t = common::users_table(&db).await;
        seed(&db, &t).await;
        let contacts: Vec<Contact> = db
            .fetch_all_as(Select::from(&t).order_by(col("email"), Order::Asc))
            .await
            .unwrap();
        assert_eq!(contacts.len(), 5, "{d}");
        assert_eq!(contacts[0].address, "ada@x.io", "{d}");
        assert_eq!(contacts[0].age, Some(36), "{d}");
        assert!(contacts.iter().all(|c| c.notes.is_empty()), "{d}");
        // A struct naming a column the row does not have: a decode error naming it.
        let missing = db
            .fetch_all_as::<Contact>(Select::from(&t).column(col("age")))
            .await;
        assert!(
            matches!(&missing, Err(kysera::Error::Decode { column, .. }) if column.contains("email")),
            "{d}: {missing:?}"
        );
        common::drop_tables(&db, &[&t]).await;
    }
}

per_database! {
    async fn comparing_a_column_with_none_is_refused(db) {
        let d = db.dialect();
        let t = common::table("eqnone");
        common::ddl(&db, &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, v VARCHAR(10) NULL)")).await;
        for (id, v) in [(1i64, Some("a")), (2, None), (3, None)] {
            db.execute(Insert::into(&t).set("id", id).set("v", v.map(str::to_string)))
                .await
                .unwrap();
        }
        // `= NULL` is never true: a query saying it is refused on every path, never silently
        // empty (nor widened to IS NULL, which would open a policy built from a missing value).
        let refused = |r: kysera::Result<i64>| matches!(r, Err(kysera::Error::InvalidQuery(m)) if m.contains("is_null"));
        assert!(refused(db.count(Select::from(&t).filter(col("v").eq(None::<String>))).await), "{d}: eq");
        assert!(refused(db.count(Select::from(&t).filter(col("v").ne(None::<String>))).await), "{d}: ne");
        let upd = db
            .execute(Update::table(&t).set("v", "b").filter(col("v").eq(None::<String>)))
            .await;
        assert!(matches!(upd, Err(kysera::Error::InvalidQuery(_))), "{d}: update");
        assert!(
            db.fetch_all(Select::from(&t).filter(col("v").eq(None::<String>))).await.is_err(),
            "{d}: fetch"
        );
        // The way to say it.
        assert_eq!(db.count(Select::from(&t).filter(col("v").is_null())).await.unwrap(), 2, "{d}");
        common::drop_tables(&db, &[&t]).await;
    }
}

per_database! {
    async fn delete_returning_names_its_key_like_insert_and_update(db) {
        let d = db.dialect();
        let t = common::table("delret");
        common::ddl(&db, &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)")).await;
        for id in 1..=5i64 {
            db.execute(Insert::into(&t).set("id", id).set("v", id * 10)).await.unwrap();
        }
        let gone = db
            .fetch_all(
                kysera::query::Delete::from(&t)
                    .primary_key(["id"])
                    .filter(col("v").gte(30i64))
                    .returning_all(),
            )
            .await
            .unwrap();
        let mut ids: Vec<i64> = gone.iter().map(|r| r.get("id").unwrap()).collect();
        ids.sort();
        assert_eq!(ids, [3, 4, 5], "{d}");
        assert_eq!(db.count(Select::from(&t)).await.unwrap(), 2, "{d}");
        // Without a declared key it still returns what it deleted.
        let gone = db
            .fetch_all(kysera::query::Delete::from(&t).filter(col("id").eq(1i64)).returning_all())
            .await
            .unwrap();
        assert_eq!(gone.len(), 1, "{d}");
        assert_eq!(db.count(Select::from(&t)).await.unwrap(), 1, "{d}");
        common::drop_tables(&db, &[&t]).await;
    }
}

per_database! {
    async fn like_escapes_the_same_on_every_database(db) {
        let d = db.dialect();
        let t = common::table("like");
        common::ddl(&db, &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, s VARCHAR(40) NOT NULL)")).await;
        let texts = [r"50% off", "50 percent", r"a_b", "axb", r"back\slash", r"ends\", "naïve ☃", "plain"];
        for (i, s) in texts.iter().enumerate() {
            db.execute(Insert::into(&t).set("id", i as i64).set("s", *s)).await.unwrap();
        }
        let ids = |f| {
            let db = db.clone();
            let t = t.clone();
            async move {
                let rows = db
                    .fetch_all(Select::from(&t).filter(f))
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                let mut ids: Vec<i64> = rows.iter().map(|r| r.get("id").unwrap()).collect();
                ids.sort();
                ids
            }
        };
        // User text is matched literally.
        assert_eq!(ids(col("s").contains("%")).await, [0], "{d}: contains %");
        assert_eq!(ids(col("s").contains("_")).await, [2], "{d}: contains _");
        assert_eq!(ids(col("s").contains(r"\")).await, [4, 5], "{d}: contains backslash");
        assert_eq!(ids(col("s").starts_with("50%")).await, [0], "{d}: starts_with");
        assert_eq!(ids(col("s").ends_with(r"\")).await, [5], "{d}: ends_with backslash");
        assert_eq!(ids(col("s").contains("☃")).await, [6], "{d}: unicode");
        // Patterns: `_` is one character, a backslash escapes, a lone trailing one is literal.
        assert_eq!(ids(col("s").like("a_b")).await, [2, 3], "{d}: _ wildcard");
        assert_eq!(ids(col("s").like(r"a\_b")).await, [2], "{d}: escaped _");
        assert_eq!(ids(col("s").like(r"ends\")).await, [5], "{d}: trailing backslash");
        assert_eq!(ids(col("s").not_like("%a%")).await, [0, 1, 5], "{d}: not like");
        common::drop_tables(&db, &[&t]).await;
    }
}

/// Hides rows whose `visible` is false from every SELECT.
struct VisibleOnly;

impl kysera::Plugin for VisibleOnly {
    fn name(&self) -> &str {
        "visible-only"
    }
    fn intercept(
        &self,
        q: &mut kysera::query::Query,
        _: &kysera::QueryContext,
    ) -> kysera::Result<()> {
        if let kysera::query::Query::Select(s) = q {
            s.add_filter(col("visible").eq(true));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, kysera::Repository)]
#[kysera(table = "k_q_flags")]
struct Flag {
    #[kysera(primary_key, generated)]
    id: i64,
    label: String,
    visible: bool,
}

per_database! {
    async fn returning_gives_the_rows_written_whatever_the_read_filters(plain) {
        use kysera::Model;
        let d = plain.dialect();
        common::drop_tables(&plain, &[Flag::INFO.table]).await;
        common::ddl(&plain, &format!("CREATE TABLE {} ({}, label VARCHAR(10) NOT NULL, visible BOOLEAN NOT NULL)", Flag::INFO.table, common::id_column(d))).await;
        let db = plain.with_plugins(vec![std::sync::Arc::new(VisibleOnly)]).unwrap();
        let flags = Flag::repo(&db);
        let hidden = flags
            .create(NewFlag { label: "h".into(), visible: false })
            .await
            .unwrap_or_else(|e| panic!("{d}: {e}"));
        assert_eq!((hidden.label.as_str(), hidden.visible), ("h", false), "{d}");
        let shown = flags.create(NewFlag { label: "s".into(), visible: true }).await.unwrap();
        // Reads still go through the plugin.
        assert_eq!(flags.find_all().await.unwrap(), [shown], "{d}");
        assert_eq!(plain.raw().fetch_all(Select::from(Flag::INFO.table)).await.unwrap().len(), 2, "{d}");
        common::drop_tables(&plain, &[Flag::INFO.table]).await;
    }
}

per_database! {
    async fn like_escapes_whatever_the_server_settings(db) {
        let d = db.dialect();
        let t = common::table("likemode");
        common::ddl(&db, &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, s VARCHAR(20) NOT NULL)")).await;
        db.execute(Insert::into(&t).set("id", 1i64).set("s", r"a_b\c")).await.unwrap();
        db.execute(Insert::into(&t).set("id", 2i64).set("s", "axb")).await.unwrap();
        let setting = match d {
            Dialect::MySql => Some("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')"),
            Dialect::Postgres => Some("SET LOCAL standard_conforming_strings = off"),
            _ => None,
        };
        let t2 = t.clone();
        let n = db
            .transaction(async move |tx| {
                if let Some(sql) = setting {
                    tx.raw().execute_sql(kysera::AssertSqlSafe(sql.to_string()), vec![]).await?;
                }
                let a = tx.count(Select::from(&t2).filter(col("s").contains("_b\\"))).await?;
                let b = tx.count(Select::from(&t2).filter(col("s").like("a_b%"))).await?;
                Ok((a, b))
            })
            .await
            .unwrap_or_else(|e| panic!("{d}: {e}"));
        assert_eq!(n, (1, 2), "{d}: contains is literal, `_` in a pattern is a wildcard");
        common::drop_tables(&db, &[&t]).await;
    }
}

/// Connected by URL to MariaDB 10.5 or later, INSERT and DELETE return their rows themselves:
/// no declared key, no read-back.
#[tokio::test]
async fn mariadb_returns_rows_itself() {
    let Some(db) = common::mysql().await else {
        return;
    };
    let t = common::table("native");
    common::ddl(
        &db,
        &format!("CREATE TABLE {t} (id BIGINT AUTO_INCREMENT PRIMARY KEY, s VARCHAR(10) NOT NULL)"),
    )
    .await;
    let rows = db
        .fetch_all(
            Insert::into(&t)
                .columns(["s"])
                .values(["a"])
                .values(["b"])
                .returning_all(),
        )
        .await
        .unwrap();
    let got: Vec<String> = rows.iter().map(|r| r.get::<String>("s").unwrap()).collect();
    assert_eq!(got, ["a", "b"]);
    let gone = db
        .fetch_all(
            kysera::query::Delete::from(&t)
                .filter(col("s").eq("a"))
                .returning_all(),
        )
        .await
        .unwrap();
    assert_eq!(gone.len(), 1);
    assert_eq!(db.count(Select::from(&t)).await.unwrap(), 1);
    common::drop_tables(&db, &[&t]).await;
}
