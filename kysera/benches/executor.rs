//! Kysera against hand-written sqlx, in the same run.
//!
//! `cargo bench -p kysera --bench executor` (set `KYSERA_BENCH_POSTGRES_URL` to add the
//! PostgreSQL pairs, `KYSERA_BENCH_MYSQL_URL` the MySQL batch pair). Each pair runs the same SQL on the same pool: the `sqlx_*` benches bind
//! by hand, the `kysera_*` / `repo_*` ones build the IR, run it through the plugin chain (empty
//! unless the name says otherwise), lower it with sea-query, bind and decode.
//! `overhead::*` measures only Kysera's own work for one query (no I/O). One model here is
//! `#[soft_delete]`, so every query also pays the (hash) lookup of its table's behaviours.

use std::sync::Arc;

use divan::Bencher;
use kysera::query::{Insert, Query, Select, col};
use kysera::{Executor, Plugin, QueryContext, Repository};
use tokio::runtime::Runtime;

fn main() {
    divan::main();
}

const TABLE: &str = "kysera_bench_users";

/// Rows per batch in the `create_many` pairs.
const BATCH: usize = 10_000;

/// A plugin that adds one filter to every select.
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

#[derive(sqlx::FromRow)]
#[allow(dead_code)]
struct User {
    id: i64,
    email: String,
    name: String,
    active: bool,
}

/// The same table as a derived model.
#[derive(Repository)]
#[kysera(table = "kysera_bench_users")]
#[allow(dead_code)]
struct Member {
    #[kysera(primary_key, generated)]
    id: i64,
    email: String,
    name: String,
    active: bool,
}

/// A soft-delete model: every query on its table gets `deleted_at IS NULL`.
#[derive(Repository)]
#[kysera(table = "kysera_bench_posts")]
#[soft_delete]
#[allow(dead_code)]
struct Post {
    #[kysera(primary_key, generated)]
    id: i64,
    title: String,
    deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The same shape as `Member`, audited.
#[derive(Repository)]
#[kysera(table = "kysera_bench_audited")]
#[audit]
#[allow(dead_code)]
struct Audited {
    #[kysera(primary_key, generated)]
    id: i64,
    email: String,
    name: String,
    active: bool,
}

#[derive(sqlx::FromRow)]
#[allow(dead_code)]
struct PostRow {
    id: i64,
    title: String,
    deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn by_id(id: i64) -> Select {
    Select::from(TABLE)
        .columns([col("id"), col("email"), col("name"), col("active")])
        .filter(col("id").eq(id))
}

fn hundred() -> Select {
    Select::from(TABLE)
        .columns([col("id"), col("email"), col("name"), col("active")])
        .filter(col("id").gt(100))
        .order_by(col("id"), kysera::query::Order::Asc)
        .limit(100)
}

fn new_member() -> NewMember {
    NewMember {
        email: "new@x.io".into(),
        name: "New".into(),
        active: true,
    }
}

/// A runtime and an executor over a fresh 1000-row table.
fn fixture(url: &str) -> (Runtime, Executor) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = rt.block_on(async {
        let db = kysera::connect(url).await.unwrap();
        let id = match db.dialect() {
            kysera::Dialect::Postgres => "id BIGSERIAL PRIMARY KEY",
            _ => "id INTEGER PRIMARY KEY",
        };
        let raw = db.raw();
        raw.execute_sql(kysera::AssertSqlSafe(format!("DROP TABLE IF EXISTS {TABLE}")), vec![]).await.unwrap();
        raw.execute_sql(
            kysera::AssertSqlSafe(format!("CREATE TABLE {TABLE} ({id}, email TEXT NOT NULL, name TEXT NOT NULL, active BOOLEAN NOT NULL)")),
            vec![],
        )
        .await
        .unwrap();
        let mut ins = Insert::into(TABLE).columns(["email", "name", "active"]);
        for i in 0..1000 {
            ins = ins.values([kysera::Value::from(format!("u{i}@x.io")), format!("User {i}").into(), true.into()]);
        }
        raw.execute(ins).await.unwrap();
        // 200 posts, every tenth soft-deleted.
        let ts = match db.dialect() {
            kysera::Dialect::Postgres => "TIMESTAMPTZ",
            _ => "TEXT",
        };
        raw.execute_sql("DROP TABLE IF EXISTS kysera_bench_posts", vec![]).await.unwrap();
        raw.execute_sql(
            kysera::AssertSqlSafe(format!("CREATE TABLE kysera_bench_posts ({id}, title TEXT NOT NULL, deleted_at {ts} NULL)")),
            vec![],
        )
        .await
        .unwrap();
        let mut posts = Insert::into("kysera_bench_posts").columns(["title", "deleted_at"]);
        for i in 0..200 {
            let deleted = (i % 10 == 0).then(chrono::Utc::now);
            posts = posts.values([kysera::Value::from(format!("post {i}")), deleted.into()]);
        }
        raw.execute(posts).await.unwrap();
        raw.execute_sql("DROP TABLE IF EXISTS kysera_bench_audited", vec![]).await.unwrap();
        raw.execute_sql("DROP TABLE IF EXISTS kysera_bench_audit_log", vec![]).await.unwrap();
        raw.execute_sql(
            kysera::AssertSqlSafe(format!("CREATE TABLE kysera_bench_audited ({id}, email TEXT NOT NULL, name TEXT NOT NULL, active BOOLEAN NOT NULL)")),
            vec![],
        )
        .await
        .unwrap();
        kysera::audit::Audit::new().table("kysera_bench_audit_log").install(&db).await.unwrap();
        raw.execute(Insert::into("kysera_bench_audited").set("email", "a@x.io").set("name", "A").set("active", true))
            .await
            .unwrap();
        db
    });
    (rt, db)
}

/// Kysera's own work per query, without I/O: build the IR, run the chain, lower to SQL.
mod overhead {
    use super::*;

    #[divan::bench]
    fn build_and_lower_find_by_id(b: Bencher) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let db = rt.block_on(kysera::connect("sqlite::memory:")).unwrap();
        b.bench_local(|| db.to_sql(by_id(500)).unwrap());
    }

    #[divan::bench]
    fn build_and_lower_find_by_id_one_plugin(b: Bencher) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let db = rt.block_on(kysera::connect("sqlite::memory:")).unwrap();
        let db = db.with_plugins(vec![Arc::new(ActiveOnly)]).unwrap();
        b.bench_local(|| db.to_sql(by_id(500)).unwrap());
    }
}

macro_rules! pairs {
    ($module:ident, $url:expr, $pool:path, $ph1:literal, $ph2:literal, $ph3:literal) => {
        mod $module {
            use super::*;

            fn setup() -> Option<(Runtime, Executor)> {
                let url: Option<String> = $url;
                url.map(|u| fixture(&u))
            }

            fn pool(db: &Executor) -> &$pool {
                match db.pool() {
                    kysera::Pool::Sqlite(p) => {
                        let p: &dyn std::any::Any = p;
                        p.downcast_ref().unwrap()
                    }
                    kysera::Pool::Postgres(p) => {
                        let p: &dyn std::any::Any = p;
                        p.downcast_ref().unwrap()
                    }
                    _ => unreachable!(),
                }
            }

            const FIND: &str = concat!(
                r#"SELECT "id", "email", "name", "active" FROM "kysera_bench_users" WHERE "id" = "#,
                $ph1
            );
            const MANY: &str = concat!(
                r#"SELECT "id", "email", "name", "active" FROM "kysera_bench_users" WHERE "id" > "#,
                $ph1,
                r#" ORDER BY "id" ASC LIMIT "#,
                $ph2
            );
            const LIVE_POSTS: &str = r#"SELECT "id", "title", "deleted_at" FROM "kysera_bench_posts" WHERE "kysera_bench_posts"."deleted_at" IS NULL"#;

            #[divan::bench]
            fn sqlx_find_all_not_deleted(b: Bencher) {
                let Some((rt, db)) = setup() else { return };
                let p = pool(&db);
                b.bench_local(|| {
                    rt.block_on(async { sqlx::query_as::<_, PostRow>(LIVE_POSTS).fetch_all(p).await.unwrap() })
                });
            }

            #[divan::bench]
            fn repo_find_all_soft_delete(b: Bencher) {
                let Some((rt, db)) = setup() else { return };
                let repo = Post::repo(&db);
                b.bench_local(|| rt.block_on(async { repo.find_all().await.unwrap() }));
            }

            const CREATE: &str = concat!(
                r#"INSERT INTO "kysera_bench_users" ("email", "name", "active") VALUES ("#,
                $ph1,
                ", ",
                $ph2,
                ", ",
                $ph3,
                r#") RETURNING "id", "email", "name", "active""#
            );

            #[divan::bench]
            fn sqlx_find_by_id(b: Bencher) {
                let Some((rt, db)) = setup() else { return };
                let p = pool(&db);
                b.bench_local(|| {
                    rt.block_on(async {
                        sqlx::query_as::<_, User>(FIND)
                            .bind(500i64)
                            .fetch_one(p)
                            .await
                            .unwrap()
                    })
                });
            }

            #[divan::bench]
            fn kysera_find_by_id(b: Bencher) {
                let Some((rt, db)) = setup() else { return };
                b.bench_local(|| rt.block_on(async { db.fetch_one(by_id(500)).await.unwrap() }));
            }

            #[divan::bench]
            fn kysera_find_by_id_one_plugin(b: Bencher) {
                let Some((rt, db)) = setup() else { return };
                let db = db.with_plugins(vec![Arc::new(ActiveOnly)]).unwrap();
                b.bench_local(|| rt.block_on(async { db.fetch_one(by_id(500)).await.unwrap() }));
            }

            #[divan::bench]
            fn repo_find_by_id(b: Bencher) {
                let Some((rt, db)) = setup() else { return };
                let repo = Member::repo(&db);
                b.bench_local(|| rt.block_on(async { repo.find_by_id(500).await.unwrap() }));
            }

            #[divan::bench]
            fn sqlx_find_many_100(b: Bencher) {
                let Some((rt, db)) = setup() else { return };
                let p = pool(&db);
                b.bench_local(|| {
                    rt.block_on(async {
                        sqlx::query_as::<_, User>(MANY)
                            .bind(100i64)
                            .bind(100i64)
                            .fetch_all(p)
                            .await
                            .unwrap()
                    })
                });
            }

            #[divan::bench]
            fn kysera_find_many_100(b: Bencher) {
                let Some((rt, db)) = setup() else { return };
                b.bench_local(|| rt.block_on(async { db.fetch_all(hundred()).await.unwrap() }));
            }

            #[divan::bench]
            fn repo_find_many_100(b: Bencher) {
                let Some((rt, db)) = setup() else { return };
                let repo = Member::repo(&db);
                b.bench_local(|| {
                    rt.block_on(async {
                        repo.find()
                            .filter(Member::ID.gt(100))
                            .order_by(Member::ID.asc())
                            .limit(100)
                            .all()
                            .await
                            .unwrap()
                    })
                });
            }

            #[divan::bench]
            fn sqlx_create(b: Bencher) {
                let Some((rt, db)) = setup() else { return };
                let p = pool(&db);
                b.bench_local(|| {
                    rt.block_on(async {
                        sqlx::query_as::<_, User>(CREATE)
                            .bind("new@x.io")
                            .bind("New")
                            .bind(true)
                            .fetch_one(p)
                            .await
                            .unwrap()
                    })
                });
            }

            #[divan::bench]
            fn repo_create_audited(b: Bencher) {
                let Some((rt, db)) = setup() else { return };
                let audit = kysera::audit::Audit::new().table("kysera_bench_audit_log");
                let db = db.with_plugins(vec![Arc::new(audit)]).unwrap();
                let repo = Audited::repo(&db);
                b.bench_local(|| {
                    rt.block_on(async {
                        repo.create(NewAudited { email: "new@x.io".into(), name: "New".into(), active: true })
                            .await
                            .unwrap()
                    })
                });
            }

            const UPDATE: &str = concat!(
                r#"UPDATE "kysera_bench_users" SET "name" = "#,
                $ph1,
                r#" WHERE "id" = "#,
                $ph2,
                r#" RETURNING "id", "email", "name", "active""#
            );

            /// Update one row by key, the row back.
            #[divan::bench]
            fn sqlx_update(b: Bencher) {
                let Some((rt, db)) = setup() else { return };
                let p = pool(&db);
                b.bench_local(|| {
                    rt.block_on(async {
                        sqlx::query_as::<_, User>(UPDATE)
                            .bind("Renamed")
                            .bind(500i64)
                            .fetch_one(p)
                            .await
                            .unwrap()
                    })
                });
            }

            #[divan::bench]
            fn repo_update(b: Bencher) {
                let Some((rt, db)) = setup() else { return };
                let repo = Member::repo(&db);
                b.bench_local(|| {
                    rt.block_on(async { repo.update(500, MemberPatch::default().name("Renamed")).await.unwrap() })
                });
            }

            /// The same update of an audited model: the entry written in the same transaction.
            #[divan::bench]
            fn repo_update_audited(b: Bencher) {
                let Some((rt, db)) = setup() else { return };
                let audit = kysera::audit::Audit::new().table("kysera_bench_audit_log");
                let db = db.with_plugins(vec![Arc::new(audit)]).unwrap();
                let repo = Audited::repo(&db);
                b.bench_local(|| {
                    rt.block_on(async { repo.update(1, AuditedPatch::default().name("Renamed")).await.unwrap() })
                });
            }

            #[divan::bench]
            fn repo_create(b: Bencher) {
                let Some((rt, db)) = setup() else { return };
                let repo = Member::repo(&db);
                b.bench_local(|| rt.block_on(async { repo.create(new_member()).await.unwrap() }));
            }

            /// 10,000 rows with RETURNING, by hand: multi-row INSERTs of 2,000 rows (under
            /// every database's parameter limit) in one transaction.
            #[divan::bench(sample_count = 10)]
            fn sqlx_create_many_10k(b: Bencher) {
                let Some((rt, db)) = setup() else { return };
                let p = pool(&db);
                b.bench_local(|| {
                    rt.block_on(async {
                        let mut tx = p.begin().await.unwrap();
                        let mut out: Vec<User> = Vec::with_capacity(BATCH);
                        for chunk in (0..BATCH).collect::<Vec<_>>().chunks(2_000) {
                            let mut q = sqlx::QueryBuilder::new(
                                r#"INSERT INTO "kysera_bench_users" ("email", "name", "active") "#,
                            );
                            q.push_values(chunk, |mut row, i| {
                                row.push_bind(format!("b{i}@x.io"))
                                    .push_bind("Batch")
                                    .push_bind(true);
                            });
                            q.push(r#" RETURNING "id", "email", "name", "active""#);
                            out.extend(q.build_query_as::<User>().fetch_all(&mut *tx).await.unwrap());
                        }
                        tx.commit().await.unwrap();
                        out
                    })
                });
            }

            /// The same 10,000 rows through `create_many` (validated, split by the parameter
            /// limit, one transaction, decoded before the commit).
            #[divan::bench(sample_count = 10)]
            fn repo_create_many_10k(b: Bencher) {
                let Some((rt, db)) = setup() else { return };
                let repo = Member::repo(&db);
                b.bench_local(|| {
                    rt.block_on(async {
                        let news = (0..BATCH)
                            .map(|i| NewMember { email: format!("b{i}@x.io"), name: "Batch".into(), active: true })
                            .collect();
                        repo.create_many(news).await.unwrap()
                    })
                });
            }
        }
    };
}

pairs!(
    sqlite,
    Some("sqlite::memory:".to_string()),
    sqlx::SqlitePool,
    "?",
    "?",
    "?"
);
pairs!(
    postgres,
    std::env::var("KYSERA_BENCH_POSTGRES_URL").ok(),
    sqlx::PgPool,
    "$1",
    "$2",
    "$3"
);

/// `create_many` on MySQL / MariaDB (set `KYSERA_BENCH_MYSQL_URL`): MySQL has no RETURNING, so
/// the hand-written side does what an application would — multi-row INSERTs of 2,000 rows in one
/// transaction, each followed by a read of the rows it inserted by their consecutive
/// AUTO_INCREMENT keys (`LAST_INSERT_ID()` onwards) — and Kysera recovers the keys the same way.
mod mysql {
    use super::*;

    const TABLE: &str = "kysera_bench_batch";

    #[derive(Repository)]
    #[kysera(table = "kysera_bench_batch")]
    #[allow(dead_code)]
    struct Row {
        #[kysera(primary_key, generated)]
        id: i64,
        email: String,
        name: String,
        active: bool,
    }

    fn setup() -> Option<(Runtime, Executor, sqlx::MySqlPool)> {
        let url = std::env::var("KYSERA_BENCH_MYSQL_URL").ok()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (db, pool) = rt.block_on(async {
            let db = kysera::connect(&url).await.unwrap();
            let raw = db.raw();
            raw.execute_sql(kysera::AssertSqlSafe(format!("DROP TABLE IF EXISTS {TABLE}")), vec![]).await.unwrap();
            raw.execute_sql(
                kysera::AssertSqlSafe(format!("CREATE TABLE {TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(40) NOT NULL, name VARCHAR(40) NOT NULL, active BOOLEAN NOT NULL)")),
                vec![],
            )
            .await
            .unwrap();
            let pool = sqlx::MySqlPool::connect(&url).await.unwrap();
            (db, pool)
        });
        Some((rt, db, pool))
    }

    #[derive(sqlx::FromRow)]
    #[allow(dead_code)]
    struct Plain {
        id: i64,
        email: String,
        name: String,
        active: bool,
    }

    #[divan::bench(sample_count = 10)]
    fn sqlx_create_many_10k(b: Bencher) {
        let Some((rt, _db, p)) = setup() else { return };
        b.bench_local(|| {
            rt.block_on(async {
                let mut tx = p.begin().await.unwrap();
                let mut out: Vec<Plain> = Vec::with_capacity(BATCH);
                for chunk in (0..BATCH).collect::<Vec<_>>().chunks(2_000) {
                    let mut q = sqlx::QueryBuilder::new(format!("INSERT INTO {TABLE} (email, name, active) "));
                    q.push_values(chunk, |mut row, i| {
                        row.push_bind(format!("b{i}@x.io")).push_bind("Batch").push_bind(true);
                    });
                    let done = q.build().execute(&mut *tx).await.unwrap();
                    let first = done.last_insert_id() as i64;
                    let rows = sqlx::query_as::<_, Plain>(sqlx::AssertSqlSafe(format!(
                        "SELECT id, email, name, active FROM {TABLE} WHERE id >= ? AND id < ? ORDER BY id"
                    )))
                    .bind(first)
                    .bind(first + chunk.len() as i64)
                    .fetch_all(&mut *tx)
                    .await
                    .unwrap();
                    out.extend(rows);
                }
                tx.commit().await.unwrap();
                out
            })
        });
    }

    #[divan::bench(sample_count = 10)]
    fn repo_create_many_10k(b: Bencher) {
        let Some((rt, db, _p)) = setup() else { return };
        let repo = Row::repo(&db);
        b.bench_local(|| {
            rt.block_on(async {
                let news = (0..BATCH)
                    .map(|i| NewRow {
                        email: format!("b{i}@x.io"),
                        name: "Batch".into(),
                        active: true,
                    })
                    .collect();
                repo.create_many(news).await.unwrap()
            })
        });
    }
}
