//! The performance issue's workloads, each written by hand with sqlx and through Kysera, timed
//! in interleaved rounds on the same pool (the two sides alternate first and second), and
//! reported as the ratio of medians — the README's performance table comes from one run of it:
//!
//! ```sh
//! KYSERA_BENCH_POSTGRES_URL=postgres://… KYSERA_BENCH_MYSQL_URL=mysql://… \
//!     cargo bench -p kysera --bench ratios            # KYSERA_RATIO_ROUNDS=300 by default
//! ```
//!
//! SQLite runs on a file in the temporary directory; PostgreSQL and MySQL/MariaDB when their
//! variables are set (their `kr_*` tables are dropped and made again).
//!
//! One cohesive file, past the 600 lines of the source rule: the workloads are one list in
//! which each hand-written side sits beside its Kysera side, to be read against each other;
//! the hand-written sides repeat their per-database shape (RETURNING, or MySQL's write then
//! read) on purpose — each is the code a user would write, not a helper of ours.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use kysera::audit::Audit;
use kysera::query::{Insert, Order, Select, col};
use kysera::rls::{self, AuthContext};
use kysera::{Dialect, Executor, FromRow, Pool, Repository};

#[derive(Debug, Repository)]
#[kysera(table = "kr_users")]
struct Member {
    #[kysera(primary_key, generated)]
    id: i64,
    email: String,
    name: String,
    active: bool,
}

#[derive(Debug, sqlx::FromRow)]
#[allow(dead_code)]
struct MemberRow {
    id: i64,
    email: String,
    name: String,
    active: bool,
}

/// A post and its author's name, read through a join.
#[derive(Debug, sqlx::FromRow)]
#[allow(dead_code)]
struct PostAuthor {
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
struct Doc {
    #[kysera(primary_key, generated)]
    id: i64,
    tenant_id: String,
    title: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

/// The same shape and rows with no behaviours.
#[derive(Debug, Repository)]
#[kysera(table = "kr_plain_docs")]
struct PlainDoc {
    #[kysera(primary_key, generated)]
    id: i64,
    tenant_id: String,
    title: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

/// The behaviours of `Doc`, audited.
#[derive(Debug, Repository)]
#[kysera(table = "kr_audited_docs")]
#[soft_delete]
#[timestamps]
#[rls(tenant = "tenant_id")]
#[audit]
struct AuditedDoc {
    #[kysera(primary_key, generated)]
    id: i64,
    tenant_id: String,
    title: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, sqlx::FromRow)]
#[allow(dead_code)]
struct DocRow {
    id: i64,
    tenant_id: String,
    title: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

const USERS: i64 = 1000;
const DOCS: i64 = 400;

type Op<'a> = Box<dyn Fn(i64) -> Pin<Box<dyn Future<Output = ()> + 'a>> + 'a>;

/// One workload: its variants (the first is the reference) and the target of `compare`'s ratio.
struct Workload<'a> {
    name: &'static str,
    variants: Vec<(&'static str, Op<'a>)>,
    /// (numerator, denominator, target) over variant indexes.
    compare: Vec<(usize, usize, f64)>,
}

/// SQL with `?` placeholders, numbered `$n` for PostgreSQL; leaked (a benchmark's few
/// statements) so sqlx takes it as a static string.
fn sql(d: Dialect, text: &str) -> &'static str {
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

async fn setup(db: &Executor) {
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

/// An acme document that is not deleted, by round: acme's rows are the even ones of the
/// insert (ids 1, 3, 5, …), and every fifth of them is deleted.
fn doc_id(i: i64) -> i64 {
    let k = i % (DOCS / 2);
    let k = if k % 5 == 4 { k - 1 } else { k };
    2 * k + 1
}

fn workloads<'a>(
    db: &'a Executor,
    audited: &'a Executor,
    observed: &'a Executor,
) -> Vec<Workload<'a>> {
    let d = db.dialect();
    let my = d == Dialect::MySql;
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
    let returning = if my {
        String::new()
    } else {
        format!(" RETURNING {cols}")
    };
    let insert = sql(
        d,
        &format!("INSERT INTO kr_users (email, name, active) VALUES (?, ?, ?){returning}"),
    );
    let update = sql(
        d,
        &format!("UPDATE kr_users SET name = ? WHERE id = ?{returning}"),
    );
    let mut many_insert = "INSERT INTO kr_users (email, name, active) VALUES ".to_string();
    many_insert.push_str(&vec!["(?, ?, ?)"; 100].join(", "));
    many_insert.push_str(&returning);
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
    let doc_returning = if my {
        String::new()
    } else {
        format!(" RETURNING {doc_cols}")
    };
    let doc_update = sql(
        d,
        &format!(
            "UPDATE kr_docs SET title = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL AND tenant_id = ?{doc_returning}"
        ),
    );
    let doc_by_id = sql(d, &format!("SELECT {doc_cols} FROM kr_docs WHERE id = ?"));

    // Leaked, like the statements: the closures borrow it for the whole run.
    let users: &'a kysera::Repository<Member> = Box::leak(Box::new(Member::repo(db)));
    let observed_users: &'a kysera::Repository<Member> =
        Box::leak(Box::new(Member::repo(observed)));
    let op = |f: Op<'a>| f;
    vec![
        Workload {
            name: "select one by primary key",
            variants: vec![
                (
                    "sqlx",
                    op(Box::new(move |i| {
                        Box::pin(async move {
                            on_pool!(db, |p| {
                                sqlx::query_as::<_, MemberRow>(find)
                                    .bind(i % USERS + 1)
                                    .fetch_one(p)
                                    .await
                                    .unwrap();
                            })
                        })
                    })),
                ),
                (
                    "kysera",
                    op(Box::new(move |i| {
                        Box::pin(async move {
                            users.find_by_id(i % USERS + 1).await.unwrap().unwrap();
                        })
                    })),
                ),
                (
                    "kysera, profiler attached and off",
                    op(Box::new(move |i| {
                        Box::pin(async move {
                            observed_users
                                .find_by_id(i % USERS + 1)
                                .await
                                .unwrap()
                                .unwrap();
                        })
                    })),
                ),
            ],
            // The debug layer off (spans with no subscriber, a disabled profiler) against none.
            compare: vec![(1, 0, 1.05), (2, 1, 1.02)],
        },
        Workload {
            name: "select 100 rows, filter + order",
            variants: vec![
                (
                    "sqlx",
                    op(Box::new(move |i| {
                        Box::pin(async move {
                            on_pool!(db, |p| {
                                sqlx::query_as::<_, MemberRow>(many)
                                    .bind(true)
                                    .bind(i % 500)
                                    .fetch_all(p)
                                    .await
                                    .unwrap();
                            })
                        })
                    })),
                ),
                (
                    "kysera",
                    op(Box::new(move |i| {
                        Box::pin(async move {
                            users
                                .find()
                                .filter(Member::ACTIVE.eq(true).and(Member::ID.gt(i % 500)))
                                .order_by(Member::ID.asc())
                                .limit(100)
                                .all()
                                .await
                                .unwrap();
                        })
                    })),
                ),
            ],
            compare: vec![(1, 0, 1.05)],
        },
        Workload {
            name: "100 posts joined with their author",
            variants: vec![
                (
                    "sqlx",
                    op(Box::new(move |i| {
                        Box::pin(async move {
                            on_pool!(db, |p| {
                                sqlx::query_as::<_, PostAuthor>(join)
                                    .bind(i % 300)
                                    .fetch_all(p)
                                    .await
                                    .unwrap();
                            })
                        })
                    })),
                ),
                (
                    "kysera",
                    op(Box::new(move |i| {
                        Box::pin(async move {
                            let q = Select::from("kr_posts")
                                .alias("p")
                                .columns([col("p.id"), col("p.title")])
                                .expr_as(col("u.name"), "author")
                                .inner_join("kr_users", "u", col("u.id").eq_col(col("p.author_id")))
                                .filter(col("p.id").gt(i % 300))
                                .order_by(col("p.id"), Order::Asc)
                                .limit(100);
                            db.fetch_all_as::<PostAuthor>(q).await.unwrap();
                        })
                    })),
                ),
            ],
            compare: vec![(1, 0, 1.05)],
        },
        Workload {
            name: "insert one, row back",
            variants: vec![
                (
                    "sqlx",
                    op(Box::new(move |i| {
                        Box::pin(async move {
                            let (email, name) = (format!("n{i}@x.io"), format!("New {i}"));
                            match db.pool() {
                                Pool::MySql(p) => {
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
                        })
                    })),
                ),
                (
                    "kysera",
                    op(Box::new(move |i| {
                        Box::pin(async move {
                            users
                                .create(NewMember {
                                    email: format!("n{i}@x.io"),
                                    name: format!("New {i}"),
                                    active: true,
                                })
                                .await
                                .unwrap();
                        })
                    })),
                ),
            ],
            compare: vec![(1, 0, 1.10)],
        },
        Workload {
            name: "update one by primary key, row back",
            variants: vec![
                (
                    "sqlx",
                    op(Box::new(move |i| {
                        Box::pin(async move {
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
                        })
                    })),
                ),
                (
                    "kysera",
                    op(Box::new(move |i| {
                        Box::pin(async move {
                            users
                                .update(
                                    i % USERS + 1,
                                    MemberPatch::default().name(format!("Renamed {i}")),
                                )
                                .await
                                .unwrap();
                        })
                    })),
                ),
            ],
            compare: vec![(1, 0, 1.10)],
        },
        Workload {
            name: "`create_many` of 100 rows",
            variants: vec![
                (
                    "sqlx",
                    op(Box::new(move |i| {
                        Box::pin(async move {
                            match db.pool() {
                                Pool::MySql(p) => {
                                    // One statement's AUTO_INCREMENT keys are consecutive (lock mode
                                    // 0 or 1): read them back by range, in the same transaction.
                                    let mut tx = p.begin().await.unwrap();
                                    let mut q = sqlx::query(many_insert);
                                    for k in 0..100 {
                                        q = q
                                            .bind(format!("m{i}-{k}@x.io"))
                                            .bind(format!("Many {k}"))
                                            .bind(true);
                                    }
                                    let first =
                                        q.execute(&mut *tx).await.unwrap().last_insert_id() as i64;
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
                                    q.fetch_all(p).await.unwrap();
                                }),
                            }
                        })
                    })),
                ),
                (
                    "kysera",
                    op(Box::new(move |i| {
                        Box::pin(async move {
                            let rows = (0..100).map(|k| NewMember {
                                email: format!("m{i}-{k}@x.io"),
                                name: format!("Many {k}"),
                                active: true,
                            });
                            users.create_many(rows.collect()).await.unwrap();
                        })
                    })),
                ),
            ],
            compare: vec![(1, 0, 1.15)],
        },
        Workload {
            name: "select by key, soft delete + timestamps + RLS",
            variants: vec![
                (
                    "sqlx",
                    op(Box::new(move |i| {
                        Box::pin(async move {
                            on_pool!(db, |p| {
                                sqlx::query_as::<_, DocRow>(doc)
                                    .bind(doc_id(i))
                                    .bind("acme")
                                    .fetch_one(p)
                                    .await
                                    .unwrap();
                            })
                        })
                    })),
                ),
                (
                    "kysera",
                    op(Box::new(move |i| {
                        Box::pin(async move {
                            Doc::repo(db).find_by_id(doc_id(i)).await.unwrap().unwrap();
                        })
                    })),
                ),
                (
                    "kysera, no behaviours",
                    op(Box::new(move |i| {
                        Box::pin(async move {
                            PlainDoc::repo(db)
                                .find_by_id(doc_id(i))
                                .await
                                .unwrap()
                                .unwrap();
                        })
                    })),
                ),
            ],
            compare: vec![(1, 0, f64::NAN), (1, 2, 1.10)],
        },
        Workload {
            name: "update by key with those, plus audit",
            variants: vec![
                (
                    "sqlx",
                    op(Box::new(move |i| {
                        Box::pin(async move {
                            let (id, title) = (doc_id(i), format!("Title {i}"));
                            match db.pool() {
                                Pool::MySql(p) => {
                                    sqlx::query(doc_update)
                                        .bind(title)
                                        .bind(Utc::now())
                                        .bind(id)
                                        .bind("acme")
                                        .execute(p)
                                        .await
                                        .unwrap();
                                    sqlx::query_as::<_, DocRow>(doc_by_id)
                                        .bind(id)
                                        .fetch_one(p)
                                        .await
                                        .unwrap();
                                }
                                _ => on_pool!(db, |p| {
                                    sqlx::query_as::<_, DocRow>(doc_update)
                                        .bind(title)
                                        .bind(Utc::now())
                                        .bind(id)
                                        .bind("acme")
                                        .fetch_one(p)
                                        .await
                                        .unwrap();
                                }),
                            }
                        })
                    })),
                ),
                (
                    "kysera, audited",
                    op(Box::new(move |i| {
                        Box::pin(async move {
                            AuditedDoc::repo(audited)
                                .update(
                                    doc_id(i),
                                    AuditedDocPatch::default().title(format!("Title {i}")),
                                )
                                .await
                                .unwrap();
                        })
                    })),
                ),
                (
                    "kysera, not audited",
                    op(Box::new(move |i| {
                        Box::pin(async move {
                            Doc::repo(db)
                                .update(doc_id(i), DocPatch::default().title(format!("Title {i}")))
                                .await
                                .unwrap();
                        })
                    })),
                ),
            ],
            compare: vec![
                (1, 0, f64::NAN),
                (2, 0, 1.10),
                (1, 2, if d == Dialect::Postgres { 2.0 } else { 3.0 }),
            ],
        },
    ]
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

async fn run(db: Executor, rounds: usize) -> Vec<String> {
    setup(&db).await;
    let audited = db
        .with_plugins(vec![Arc::new(Audit::new().table("kr_audit"))])
        .unwrap();
    let acme = AuthContext::user("bench").with_tenant("acme");
    let d = db.dialect();
    rls::with_context(acme, async {
        let profiler = kysera::debug::QueryProfiler::new();
        profiler.set_enabled(false);
        let observed = profiler.attach(&db);
        let list = workloads(&db, &audited, &observed);
        let mut samples: Vec<Vec<Vec<Duration>>> = list
            .iter()
            .map(|w| vec![Vec::with_capacity(rounds); w.variants.len()])
            .collect();
        let warmup = rounds / 10;
        for round in 0..rounds + warmup {
            for (w, work) in list.iter().enumerate() {
                let n = work.variants.len();
                for k in 0..n {
                    // Each variant goes first in turn.
                    let v = (k + round) % n;
                    let t = Instant::now();
                    (work.variants[v].1)((round * n + k) as i64).await;
                    if round >= warmup {
                        samples[w][v].push(t.elapsed());
                    }
                }
            }
        }
        let mut lines = Vec::new();
        for (work, mut s) in list.iter().zip(samples) {
            let medians: Vec<Duration> = s.iter_mut().map(|v| median(v)).collect();
            for &(a, b, target) in &work.compare {
                let ratio = medians[a].as_secs_f64() / medians[b].as_secs_f64();
                let verdict = if target.is_nan() {
                    "—".to_string()
                } else if ratio <= target {
                    format!("≤ {target:.2}: met")
                } else {
                    format!(
                        "≤ {target:.2}: missed by {:.0} %",
                        (ratio / target - 1.0) * 100.0
                    )
                };
                lines.push(format!(
                    "| {} | {d} | {}: {} | {}: {} | **{ratio:.2}** | {verdict} |",
                    work.name,
                    work.variants[a].0,
                    micros(medians[a]),
                    work.variants[b].0,
                    micros(medians[b]),
                ));
            }
        }
        lines
    })
    .await
}

fn main() {
    let rounds: usize = std::env::var("KYSERA_RATIO_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(300);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let file = std::env::temp_dir().join(format!("kysera_ratios_{}.db", std::process::id()));
    let mut urls = vec![format!("sqlite://{}?mode=rwc", file.display())];
    for var in ["KYSERA_BENCH_POSTGRES_URL", "KYSERA_BENCH_MYSQL_URL"] {
        match std::env::var(var) {
            Ok(u) if !u.is_empty() => urls.push(u),
            _ => eprintln!("{var} is not set: skipped"),
        }
    }
    println!("| workload | database | measured | against | ratio | target |");
    println!("|---|---|---|---|---|---|");
    for url in urls {
        let lines = rt.block_on(async {
            let db = kysera::connect(&url).await.unwrap();
            run(db, rounds).await
        });
        for l in lines {
            println!("{l}");
        }
    }
    let _ = std::fs::remove_file(&file);
}
