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
//! The schema, the models and the hand-written and Kysera sides of each workload are in
//! `shared/`, which `examples/peers` (the same workloads against SeaORM and Diesel) includes too.

mod shared;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use kysera::audit::Audit;
use kysera::rls::{self, AuthContext};
use kysera::{Dialect, Executor, Pool};
use shared::*;

/// One workload: its variants (the first is the reference) and the target of `compare`'s ratio.
struct Workload<'a> {
    name: &'static str,
    variants: Vec<(&'static str, Op<'a>)>,
    /// (numerator, denominator, target) over variant indexes.
    compare: Vec<(usize, usize, f64)>,
}

fn workloads<'a>(
    db: &'a Executor,
    mariadb: bool,
    audited: &'a Executor,
    observed: &'a Executor,
) -> Vec<Workload<'a>> {
    let d = db.dialect();
    let doc_cols = "id, tenant_id, title, created_at, updated_at, deleted_at";
    let returning = if d == Dialect::MySql {
        String::new()
    } else {
        format!(" RETURNING {doc_cols}")
    };
    // The unaudited update by hand (the shared list's last hand-written side writes an audit
    // entry by hand, for the peer benchmark).
    let doc_update = sql(
        d,
        &format!(
            "UPDATE kr_docs SET title = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL AND tenant_id = ?{returning}"
        ),
    );
    let doc_by_id = sql(d, &format!("SELECT {doc_cols} FROM kr_docs WHERE id = ?"));
    // Leaked, like the statements: the closures borrow it for the whole run.
    let observed_users: &'a kysera::Repository<Member> =
        Box::leak(Box::new(Member::repo(observed)));
    let mut sqlx = sqlx_ops(db, mariadb).into_iter();
    let mut kysera = kysera_ops(db, audited).into_iter();
    let mut next = |extra: Vec<(&'static str, Op<'a>)>, compare: Vec<(usize, usize, f64)>| {
        let mut variants = vec![
            ("sqlx", sqlx.next().unwrap()),
            ("kysera", kysera.next().unwrap()),
        ];
        variants.extend(extra);
        (variants, compare)
    };
    let mut list: Vec<Workload<'a>> = Vec::new();
    let mut push = |(variants, compare)| {
        let name = WORKLOADS[list.len()];
        list.push(Workload {
            name,
            variants,
            compare,
        });
    };
    push(next(
        vec![(
            "kysera, profiler attached and off",
            op(move |i| async move {
                observed_users
                    .find_by_id(i % USERS + 1)
                    .await
                    .unwrap()
                    .unwrap();
            }),
        )],
        // The debug layer off (spans with no subscriber, a disabled profiler) against none.
        vec![(1, 0, 1.05), (2, 1, 1.02)],
    ));
    push(next(vec![], vec![(1, 0, 1.05)])); // select 100 rows
    push(next(vec![], vec![(1, 0, 1.05)])); // the join
    push(next(vec![], vec![(1, 0, 1.10)])); // insert one
    push(next(vec![], vec![(1, 0, 1.10)])); // update one
    push(next(vec![], vec![(1, 0, 1.15)])); // create_many
    push(next(
        vec![(
            "kysera, no behaviours",
            op(move |i| async move {
                PlainDoc::repo(db)
                    .find_by_id(doc_id(i))
                    .await
                    .unwrap()
                    .unwrap();
            }),
        )],
        vec![(1, 0, f64::NAN), (1, 2, 1.10)],
    ));
    let (mut variants, _) = next(vec![], vec![]);
    variants[0] = (
        "sqlx",
        op(move |i| async move {
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
        }),
    );
    variants[1].0 = "kysera, audited";
    variants.push((
        "kysera, not audited",
        op(move |i| async move {
            Doc::repo(db)
                .update(doc_id(i), DocPatch::default().title(format!("Title {i}")))
                .await
                .unwrap();
        }),
    ));
    push((
        variants,
        vec![
            (1, 0, f64::NAN),
            (2, 0, 1.10),
            (1, 2, if d == Dialect::Postgres { 2.0 } else { 3.0 }),
        ],
    ));
    list
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

async fn run(db: Executor, rounds: usize) -> Vec<String> {
    setup(&db).await;
    let mariadb = is_mariadb(&db).await;
    let audited = db
        .with_plugins(vec![Arc::new(Audit::new().table("kr_audit"))])
        .unwrap();
    let acme = AuthContext::user("bench").with_tenant("acme");
    let d = db.dialect();
    rls::with_context(acme, async {
        let profiler = kysera::debug::QueryProfiler::new();
        profiler.set_enabled(false);
        let observed = profiler.attach(&db);
        let list = workloads(&db, mariadb, &audited, &observed);
        let mut samples: Vec<Vec<Vec<Duration>>> = list
            .iter()
            .map(|w| vec![Vec::with_capacity(rounds); w.variants.len()])
            .collect();
        let warmup = rounds / 10;
        for round in 0..rounds + warmup {
            if round % 25 == 0 {
                analyze(&db).await;
            }
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
    run_on_each_database(
        "kysera_ratios",
        "KYSERA_RATIO_ROUNDS",
        &[
            "| workload | database | measured | against | ratio | target |",
            "|---|---|---|---|---|---|",
        ],
        async |db, _url, rounds| run(db, rounds).await,
    );
}
