//! Executor overhead against hand-written sqlx, in the same run, on in-memory SQLite (where the
//! database itself is fastest, so Kysera's own cost shows most).
//!
//! `cargo bench -p kysera --bench executor`. Each pair runs the same SQL on the same pool: the
//! `sqlx_*` benches bind by hand, the `kysera_*` ones build the IR, run it through the (empty or
//! one-plugin) chain, lower it with sea-query and bind.

use std::sync::Arc;

use divan::Bencher;
use kysera::query::{Insert, Query, Select, col};
use kysera::{Executor, Plugin, QueryContext};
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use tokio::runtime::Runtime;

fn main() {
    divan::main();
}

struct Fixture {
    rt: Runtime,
    pool: SqlitePool,
    db: Executor,
    with_plugin: Executor,
}

/// A plugin that adds one filter to every select on `users`.
struct ActiveOnly;

impl Plugin for ActiveOnly {
    fn name(&self) -> &str {
        "active-only"
    }
    fn intercept(&self, q: &mut Query, _cx: &QueryContext) -> kysera::Result<()> {
        if let Query::Select(s) = q {
            s.add_filter(col("active").eq(true));
        }
        Ok(())
    }
}

fn fixture() -> Fixture {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pool = rt.block_on(async {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL, active BOOLEAN NOT NULL)",
        )
        .execute(&pool)
        .await
        .unwrap();
        for i in 0..1000 {
            sqlx::query("INSERT INTO users (email, name, active) VALUES (?, ?, ?)")
                .bind(format!("u{i}@x.io"))
                .bind(format!("User {i}"))
                .bind(true)
                .execute(&pool)
                .await
                .unwrap();
        }
        pool
    });
    let db = Executor::new(pool.clone());
    let with_plugin = db.with_plugins(vec![Arc::new(ActiveOnly)]).unwrap();
    Fixture {
        rt,
        pool,
        db,
        with_plugin,
    }
}

#[derive(sqlx::FromRow)]
#[allow(dead_code)]
struct User {
    id: i64,
    email: String,
    name: String,
    active: bool,
}

const FIND: &str = r#"SELECT "id", "email", "name", "active" FROM "users" WHERE "id" = ?"#;
const MANY: &str = r#"SELECT "id", "email", "name", "active" FROM "users" WHERE "id" > ? ORDER BY "id" ASC LIMIT ?"#;

fn by_id(id: i64) -> Select {
    Select::from("users")
        .columns([col("id"), col("email"), col("name"), col("active")])
        .filter(col("id").eq(id))
}

fn hundred() -> Select {
    Select::from("users")
        .columns([col("id"), col("email"), col("name"), col("active")])
        .filter(col("id").gt(100))
        .order_by(col("id"), kysera::query::Order::Asc)
        .limit(100)
}

#[divan::bench]
fn sqlx_find_by_id(b: Bencher) {
    let f = fixture();
    b.bench_local(|| {
        f.rt.block_on(async {
            let u: User = sqlx::query_as(FIND)
                .bind(500i64)
                .fetch_one(&f.pool)
                .await
                .unwrap();
            u
        })
    });
}

#[divan::bench]
fn kysera_find_by_id(b: Bencher) {
    let f = fixture();
    b.bench_local(|| {
        f.rt.block_on(async { f.db.fetch_one_as::<User>(by_id(500)).await.unwrap() })
    });
}

#[divan::bench]
fn kysera_find_by_id_one_plugin(b: Bencher) {
    let f = fixture();
    b.bench_local(|| {
        f.rt.block_on(async {
            f.with_plugin
                .fetch_one_as::<User>(by_id(500))
                .await
                .unwrap()
        })
    });
}

#[divan::bench]
fn sqlx_fetch_100(b: Bencher) {
    let f = fixture();
    b.bench_local(|| {
        f.rt.block_on(async {
            let v: Vec<User> = sqlx::query_as(MANY)
                .bind(100i64)
                .bind(100i64)
                .fetch_all(&f.pool)
                .await
                .unwrap();
            v
        })
    });
}

#[divan::bench]
fn kysera_fetch_100(b: Bencher) {
    let f = fixture();
    b.bench_local(|| {
        f.rt.block_on(async { f.db.fetch_all_as::<User>(hundred()).await.unwrap() })
    });
}

#[divan::bench]
fn sqlx_insert(b: Bencher) {
    let f = fixture();
    b.bench_local(|| {
        f.rt.block_on(async {
            sqlx::query(r#"INSERT INTO "users" ("email", "name", "active") VALUES (?, ?, ?)"#)
                .bind("new@x.io")
                .bind("New")
                .bind(true)
                .execute(&f.pool)
                .await
                .unwrap()
                .rows_affected()
        })
    });
}

#[divan::bench]
fn kysera_insert(b: Bencher) {
    let f = fixture();
    b.bench_local(|| {
        f.rt.block_on(async {
            f.db.execute(
                Insert::into("users")
                    .columns(["email", "name", "active"])
                    .values([kysera::Value::from("new@x.io"), "New".into(), true.into()]),
            )
            .await
            .unwrap()
        })
    });
}
