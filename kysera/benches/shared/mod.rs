//! What the two benchmarks of the performance issue share: `ratios` (hand-written sqlx against
//! Kysera, in CI's build) and `examples/peers` (the same against SeaORM and Diesel, outside it,
//! which includes this file by path). The schema and its rows, the models, and the workloads as
//! hand-written sqlx and as Kysera write them, in the order ([`WORKLOADS`]).
//!
//! The hand-written sides repeat their per-database shape (RETURNING, or MySQL's write then
//! read) on purpose: each is the code a user would write, not a helper of ours.
//!
//! One cohesive file, past the 600 lines of the source rule: the schema, the models and the two
//! sides of each workload are one list that both benchmarks include by path, to be read against
//! each other; split, each workload's two sides would sit in different files.

#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kysera::audit::Audit;
use kysera::query::{Insert, Order, Select, col};
use kysera::{Dialect, Executor, FromRow, Pool, Repository};

#[derive(Debug, Repository)]
#[kysera(table = "kr_users")]
pub struct Member {
    #[kysera(primary_key, generated)]
    pub id: i64,
    pub email: String,
    pub name: String,
    pub active: bool,
}

#[derive(Debug, sqlx::FromRow)]
#[allow(dead_code)]
pub struct MemberRow {
    id: i64,
    email: String,
    name: String,
    active: bool,
}

/// A post and its author's name, read through a join.
#[derive(Debug, sqlx::FromRow)]
#[allow(dead_code)]
pub struct PostAuthor {
    id: i64,
    title: String,
    author: String,
}

impl FromRow for PostAuthor {
    fn from_row(r: &kysera::Row) -> kysera::Result<Self> {
        Ok(PostAuthor {
            id: r.get("id")?,
            title: r.get("title")?,
            author: r.get("author")?,
        })
    }
}

/// Soft delete, timestamps and tenant isolation.
#[derive(Debug, Repository)]
#[kysera(table = "kr_docs")]
#[soft_delete]
#[timestamps]
#[rls(tenant = "tenant_id")]
pub struct Doc {
    #[kysera(primary_key, generated)]
    pub id: i64,
    pub tenant_id: String,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// `Doc`'s shape and rows with no behaviours.
#[derive(Debug, Repository)]
#[kysera(table = "kr_plain_docs")]
pub struct PlainDoc {
    #[kysera(primary_key, generated)]
    pub id: i64,
    pub tenant_id: String,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// `Doc`, audited (its own table, so that the audited and unaudited runs do not share rows).
#[derive(Debug, Repository)]
#[kysera(table = "kr_audited_docs")]
#[soft_delete]
#[timestamps]
#[rls(tenant = "tenant_id")]
#[audit]
pub struct AuditedDoc {
    #[kysera(primary_key, generated)]
    pub id: i64,
    pub tenant_id: String,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, sqlx::FromRow)]
#[allow(dead_code)]
pub struct DocRow {
    id: i64,
    tenant_id: String,
    title: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

pub const USERS: i64 = 1000;
pub const DOCS: i64 = 400;

/// One timed operation of one library, given the round number.
pub type Op<'a> = Box<dyn Fn(i64) -> Pin<Box<dyn Future<Output = ()> + 'a>> + 'a>;

/// Boxes an async closure body as an [`Op`].
pub fn op<'a, F, Fut>(f: F) -> Op<'a>
where
    F: Fn(i64) -> Fut + 'a,
    Fut: Future<Output = ()> + 'a,
{
    Box::new(move |i| Box::pin(f(i)))
}

/// The workloads, in the order; each library gives one [`Op`] per workload.
pub const WORKLOADS: [&str; 8] = [
    "select one by primary key",
    "select 100 rows, filter + order",
    "100 posts joined with their author",
    "insert one, row back",
    "update one by primary key, row back",
    "`create_many` of 100 rows",
    "select by key, soft delete + timestamps + RLS",
    "update by key with those, plus audit",
];

/// An acme document that is not deleted, by round: acme's rows are the odd ids, and every
/// fifth of them is deleted.
pub fn doc_id(i: i64) -> i64 {
    let k = i % (DOCS / 2);
    let k = if k % 5 == 4 { k - 1 } else { k };
    2 * k + 1
}

/// The audit entry the hand-written sides insert: the changed row's title before and after.
pub fn audit_values(title: &str) -> String {
    format!("{{\"title\":{title:?}}}")
}

/// SQL with `?` placeholders, numbered `$n` for PostgreSQL; leaked (a benchmark's few
/// statements) so sqlx takes it as a static string.
pub fn sql(d: Dialect, text: &str) -> &'static str {
    let mut out = String::new();
    let mut n = 0;
    for ch in text.chars() {
        if ch == '?' && d == Dialect::Postgres {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(ch);
        }
    }
    Box::leak(out.into_boxed_str())
}

/// Runs the same sqlx code on whichever pool `db` has.
macro_rules! on_pool {
    ($db:expr, |$p:ident| $body:expr) => {
        match $db.pool() {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
            Pool::MySql($p) => $body,
            _ => unreachable!(),
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_pool;

pub async fn setup(db: &Executor) {
    let d = db.dialect();
    let (id, ts, text) = match d {
        Dialect::Postgres => ("id BIGSERIAL PRIMARY KEY", "TIMESTAMPTZ", "VARCHAR(100)"),
        Dialect::MySql => (
            "id BIGINT AUTO_INCREMENT PRIMARY KEY",
            "DATETIME(6)",
            "VARCHAR(100)",
        ),
        _ => ("id INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT", "TEXT"),
    };
    let raw = db.raw();
    let ddl = |s: String| async move {
        raw.execute_sql(kysera::AssertSqlSafe(s), vec![])
            .await
            .unwrap();
    };
    for t in [
        "kr_posts",
        "kr_users",
        "kr_docs",
        "kr_plain_docs",
        "kr_audited_docs",
        "kr_audit",
        "kr_peer_audit",
    ] {
        ddl(format!("DROP TABLE IF EXISTS {t}")).await;
    }
    ddl(format!("CREATE TABLE kr_users ({id}, email {text} NOT NULL, name {text} NOT NULL, active BOOLEAN NOT NULL)")).await;
    ddl(format!(
        "CREATE TABLE kr_posts ({id}, author_id BIGINT NOT NULL, title {text} NOT NULL)"
    ))
    .await;
    ddl("CREATE INDEX kr_posts_author ON kr_posts (author_id)".into()).await;
    for t in ["kr_docs", "kr_plain_docs", "kr_audited_docs"] {
        ddl(format!("CREATE TABLE {t} ({id}, tenant_id VARCHAR(40) NOT NULL, title {text} NOT NULL, created_at {ts} NOT NULL, updated_at {ts} NOT NULL, deleted_at {ts} NULL)")).await;
    }
    ddl(format!("CREATE TABLE kr_peer_audit ({id}, table_name VARCHAR(64) NOT NULL, entity_id VARCHAR(64) NOT NULL, operation VARCHAR(16) NOT NULL, old_values TEXT NOT NULL, new_values TEXT NOT NULL, changed_by VARCHAR(64) NOT NULL, changed_at {ts} NOT NULL)")).await;
    Audit::new().table("kr_audit").install(db).await.unwrap();
    let mut users = Insert::into("kr_users").columns(["email", "name", "active"]);
    for i in 0..USERS {
        users = users.values([
            format!("u{i}@x.io").into(),
            format!("User {i}").into(),
            kysera::Value::from(i % 7 != 0),
        ]);
    }
    raw.execute(users).await.unwrap();
    let mut posts = Insert::into("kr_posts").columns(["author_id", "title"]);
    for i in 0..500 {
        posts = posts.values([
            (i % USERS + 1).into(),
            kysera::Value::from(format!("Post {i}")),
        ]);
    }
    raw.execute(posts).await.unwrap();
    let now = Utc::now();
    for t in ["kr_docs", "kr_plain_docs", "kr_audited_docs"] {
        let mut docs = Insert::into(t).columns([
            "tenant_id",
            "title",
            "created_at",
            "updated_at",
            "deleted_at",
        ]);
        for i in 0..DOCS {
            let tenant = if i % 2 == 0 { "acme" } else { "globex" };
            let deleted = (i % 10 == 8).then_some(now);
            docs = docs.values([
                tenant.into(),
                kysera::Value::from(format!("Doc {i}")),
                now.into(),
                now.into(),
                deleted.into(),
            ]);
        }
        raw.execute(docs).await.unwrap();
    }
}

/// Hand-written sqlx: the reference every ratio divides by.
/// Whether the server is MariaDB, which has `INSERT … RETURNING` (MySQL does not): the
/// hand-written inserts use it there, as a user of that server would.
pub async fn is_mariadb(db: &Executor) -> bool {
    if db.dialect() != Dialect::MySql {
        return false;
    }
    let Pool::MySql(p) = db.pool() else {
        return false;
    };
    let version: String = sqlx::query_scalar("SELECT VERSION()")
        .fetch_one(p)
        .await
        .unwrap();
    version.to_ascii_lowercase().contains("mariadb")
}

/// The hand-written sqlx side of each workload, in [`WORKLOADS`]' order.
pub fn sqlx_ops(db: &Executor, mariadb: bool) -> Vec<Op<'_>> {
    let d = db.dialect();
    let my = d == Dialect::MySql;
    // Inserts return their rows everywhere but on MySQL; updates everywhere but MySQL and
    // MariaDB.
    let insert_back = !my || mariadb;
    let cols = "id, email, name, active";
    let find = sql(d, &format!("SELECT {cols} FROM kr_users WHERE id = ?"));
    let many = sql(
        d,
        &format!("SELECT {cols} FROM kr_users WHERE active = ? AND id > ? ORDER BY id LIMIT 100"),
    );
    let join = sql(
        d,
        "SELECT p.id, p.title, u.name AS author FROM kr_posts p INNER JOIN kr_users u ON u.id = p.author_id WHERE p.id > ? ORDER BY p.id LIMIT 100",
    );
    let returning = |cols: &str| {
        if my {
            String::new()
        } else {
            format!(" RETURNING {cols}")
        }
    };
    let insert = sql(
        d,
        &format!(
            "INSERT INTO kr_users (email, name, active) VALUES (?, ?, ?){}",
            if insert_back {
                format!(" RETURNING {cols}")
            } else {
                String::new()
            }
        ),
    );
    let update = sql(
        d,
        &format!(
            "UPDATE kr_users SET name = ? WHERE id = ?{}",
            returning(cols)
        ),
    );
    let mut many_insert = "INSERT INTO kr_users (email, name, active) VALUES ".to_string();
    many_insert.push_str(&vec!["(?, ?, ?)"; 100].join(", "));
    if insert_back {
        many_insert.push_str(&format!(" RETURNING {cols}"));
    }
    let many_insert = sql(d, &many_insert);
    let range = sql(
        d,
        &format!("SELECT {cols} FROM kr_users WHERE id >= ? AND id < ? ORDER BY id"),
    );
    let doc_cols = "id, tenant_id, title, created_at, updated_at, deleted_at";
    let doc = sql(
        d,
        &format!(
            "SELECT {doc_cols} FROM kr_docs WHERE id = ? AND deleted_at IS NULL AND tenant_id = ?"
        ),
    );
    let lock = if d == Dialect::Sqlite {
        ""
    } else {
        " FOR UPDATE"
    };
    let doc_lock = sql(
        d,
        &format!(
            "SELECT {doc_cols} FROM kr_audited_docs WHERE id = ? AND deleted_at IS NULL AND tenant_id = ?{lock}"
        ),
    );
    let doc_update = sql(
        d,
        &format!(
            "UPDATE kr_audited_docs SET title = ?, updated_at = ? WHERE id = ?{}",
            returning(doc_cols)
        ),
    );
    let doc_by_id = sql(
        d,
        &format!("SELECT {doc_cols} FROM kr_audited_docs WHERE id = ?"),
    );
    let audit = sql(
        d,
        "INSERT INTO kr_peer_audit (table_name, entity_id, operation, old_values, new_values, changed_by, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    vec![
        op(move |i| async move {
            on_pool!(db, |p| {
                sqlx::query_as::<_, MemberRow>(find)
                    .bind(i % USERS + 1)
                    .fetch_one(p)
                    .await
                    .unwrap();
            })
        }),
        op(move |i| async move {
            on_pool!(db, |p| {
                sqlx::query_as::<_, MemberRow>(many)
                    .bind(true)
                    .bind(i % 500)
                    .fetch_all(p)
                    .await
                    .unwrap();
            })
        }),
        op(move |i| async move {
            on_pool!(db, |p| {
                sqlx::query_as::<_, PostAuthor>(join)
                    .bind(i % 300)
                    .fetch_all(p)
                    .await
                    .unwrap();
            })
        }),
        op(move |i| async move {
            let (email, name) = (format!("n{i}@x.io"), format!("New {i}"));
            match db.pool() {
                Pool::MySql(p) if !insert_back => {
                    let r = sqlx::query(insert)
                        .bind(email)
                        .bind(name)
                        .bind(true)
                        .execute(p)
                        .await
                        .unwrap();
                    sqlx::query_as::<_, MemberRow>(find)
                        .bind(r.last_insert_id() as i64)
                        .fetch_one(p)
                        .await
                        .unwrap();
                }
                _ => on_pool!(db, |p| {
                    sqlx::query_as::<_, MemberRow>(insert)
                        .bind(email)
                        .bind(name)
                        .bind(true)
                        .fetch_one(p)
                        .await
                        .unwrap();
                }),
            }
        }),
        op(move |i| async move {
            let (id, name) = (i % USERS + 1, format!("Renamed {i}"));
            match db.pool() {
                Pool::MySql(p) => {
                    sqlx::query(update)
                        .bind(name)
                        .bind(id)
                        .execute(p)
                        .await
                        .unwrap();
                    sqlx::query_as::<_, MemberRow>(find)
                        .bind(id)
                        .fetch_one(p)
                        .await
                        .unwrap();
                }
                _ => on_pool!(db, |p| {
                    sqlx::query_as::<_, MemberRow>(update)
                        .bind(name)
                        .bind(id)
                        .fetch_one(p)
                        .await
                        .unwrap();
                }),
            }
        }),
        op(move |i| async move {
            match db.pool() {
                Pool::MySql(p) if !insert_back => {
                    // One statement's AUTO_INCREMENT keys are consecutive (lock mode 0 or 1):
                    // read them back by range, in the same transaction.
                    let mut tx = p.begin().await.unwrap();
                    let mut q = sqlx::query(many_insert);
                    for k in 0..100 {
                        q = q
                            .bind(format!("m{i}-{k}@x.io"))
                            .bind(format!("Many {k}"))
                            .bind(true);
                    }
                    let first = q.execute(&mut *tx).await.unwrap().last_insert_id() as i64;
                    let rows = sqlx::query_as::<_, MemberRow>(range)
                        .bind(first)
                        .bind(first + 100)
                        .fetch_all(&mut *tx)
                        .await
                        .unwrap();
                    assert_eq!(rows.len(), 100);
                    tx.commit().await.unwrap();
                }
                _ => on_pool!(db, |p| {
                    let mut q = sqlx::query_as::<_, MemberRow>(many_insert);
                    for k in 0..100 {
                        q = q
                            .bind(format!("m{i}-{k}@x.io"))
                            .bind(format!("Many {k}"))
                            .bind(true);
                    }
                    assert_eq!(q.fetch_all(p).await.unwrap().len(), 100);
                }),
            }
        }),
        op(move |i| async move {
            on_pool!(db, |p| {
                sqlx::query_as::<_, DocRow>(doc)
                    .bind(doc_id(i))
                    .bind("acme")
                    .fetch_one(p)
                    .await
                    .unwrap();
            })
        }),
        op(move |i| async move {
            let (id, title, now) = (doc_id(i), format!("Title {i}"), Utc::now());
            on_pool!(db, |p| {
                let mut tx = p.begin().await.unwrap();
                let old = sqlx::query_as::<_, DocRow>(doc_lock)
                    .bind(id)
                    .bind("acme")
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
                let new = if my {
                    sqlx::query(doc_update)
                        .bind(&title)
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    sqlx::query_as::<_, DocRow>(doc_by_id)
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await
                        .unwrap()
                } else {
                    sqlx::query_as::<_, DocRow>(doc_update)
                        .bind(&title)
                        .bind(now)
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await
                        .unwrap()
                };
                sqlx::query(audit)
                    .bind("kr_audited_docs")
                    .bind(id.to_string())
                    .bind("update")
                    .bind(audit_values(&old.title))
                    .bind(audit_values(&new.title))
                    .bind("bench")
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            })
        }),
    ]
}

/// Kysera's repositories, DAL and query builder, with the behaviours declared on the models.
pub fn kysera_ops<'a>(db: &'a Executor, audited: &'a Executor) -> Vec<Op<'a>> {
    let users: &'a kysera::Repository<Member> = Box::leak(Box::new(Member::repo(db)));
    vec![
        op(move |i| async move {
            users.find_by_id(i % USERS + 1).await.unwrap().unwrap();
        }),
        op(move |i| async move {
            users
                .find()
                .filter(Member::ACTIVE.eq(true).and(Member::ID.gt(i % 500)))
                .order_by(Member::ID.asc())
                .limit(100)
                .all()
                .await
                .unwrap();
        }),
        op(move |i| async move {
            let q = Select::from("kr_posts")
                .alias("p")
                .columns([col("p.id"), col("p.title")])
                .expr_as(col("u.name"), "author")
                .inner_join("kr_users", "u", col("u.id").eq_col(col("p.author_id")))
                .filter(col("p.id").gt(i % 300))
                .order_by(col("p.id"), Order::Asc)
                .limit(100);
            db.fetch_all_as::<PostAuthor>(q).await.unwrap();
        }),
        op(move |i| async move {
            users
                .create(NewMember {
                    email: format!("n{i}@x.io"),
                    name: format!("New {i}"),
                    active: true,
                })
                .await
                .unwrap();
        }),
        op(move |i| async move {
            users
                .update(
                    i % USERS + 1,
                    MemberPatch::default().name(format!("Renamed {i}")),
                )
                .await
                .unwrap();
        }),
        op(move |i| async move {
            let rows = (0..100).map(|k| NewMember {
                email: format!("m{i}-{k}@x.io"),
                name: format!("Many {k}"),
                active: true,
            });
            assert_eq!(users.create_many(rows.collect()).await.unwrap().len(), 100);
        }),
        op(move |i| async move {
            Doc::repo(db).find_by_id(doc_id(i)).await.unwrap().unwrap();
        }),
        op(move |i| async move {
            AuditedDoc::repo(audited)
                .update(
                    doc_id(i),
                    AuditedDocPatch::default().title(format!("Title {i}")),
                )
                .await
                .unwrap();
        }),
    ]
}

/// Fresh planner statistics, as autovacuum (off on the CI machine's PostgreSQL) would keep
/// them: the insert workloads grow `kr_users` about a hundredfold during a run, and without
/// this a prepared statement's generic plan, made while the table was small, stays in use.
pub async fn analyze(db: &Executor) {
    let tables = "kr_users, kr_posts, kr_docs, kr_plain_docs, kr_audited_docs";
    let sql = match db.dialect() {
        Dialect::Postgres => format!("ANALYZE {tables}"),
        Dialect::MySql => format!("ANALYZE TABLE {tables}"),
        _ => "ANALYZE".to_string(),
    };
    db.raw()
        .execute_sql(kysera::AssertSqlSafe(sql), vec![])
        .await
        .unwrap();
}

pub fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs `run` on each database of the benchmark, on a current-thread runtime, and prints the
/// lines it returns under `header`: SQLite on a file in the temporary directory (removed after),
/// PostgreSQL and MySQL/MariaDB when `KYSERA_BENCH_POSTGRES_URL` / `KYSERA_BENCH_MYSQL_URL` are
/// set. The number of rounds is read from `rounds_var` (300 by default).
pub fn run_on_each_database<F>(name: &str, rounds_var: &str, header: &[&str], run: F)
where
    F: AsyncFn(Executor, String, usize) -> Vec<String>,
{
    let rounds: usize = std::env::var(rounds_var)
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(300);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let file = std::env::temp_dir().join(format!("{name}_{}.db", std::process::id()));
    let mut urls = vec![format!("sqlite://{}?mode=rwc", file.display())];
    for var in ["KYSERA_BENCH_POSTGRES_URL", "KYSERA_BENCH_MYSQL_URL"] {
        match std::env::var(var) {
            Ok(u) if !u.is_empty() => urls.push(u),
            _ => eprintln!("{var} is not set: skipped"),
        }
    }
    for line in header {
        println!("{line}");
    }
    for url in urls {
        let lines = rt.block_on(async {
            let db = kysera::connect(&url).await.unwrap();
            run(db, url.clone(), rounds).await
        });
        for l in lines {
            println!("{l}");
        }
    }
    let _ = std::fs::remove_file(&file);
}
