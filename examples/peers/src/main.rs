//! The performance issue's workloads through hand-written sqlx, Kysera, SeaORM and Diesel, on
//! SQLite (a file), PostgreSQL and MySQL/MariaDB, timed in interleaved rounds in one process
//! and printed as a table of medians and ratios against hand-written sqlx:
//!
//! ```sh
//! cd examples/peers
//! KYSERA_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! KYSERA_BENCH_MYSQL_URL=mysql://root@127.0.0.1:3306/test \
//!     cargo run --release                 # KYSERA_PEER_ROUNDS=300 by default
//! ```
//!
//! Not part of the main workspace, so that CI never compiles SeaORM and Diesel. Diesel's
//! PostgreSQL and MySQL backends link the C client libraries (Debian: `libpq-dev`,
//! `libmariadb-dev-compat`).
//!
//! Every library does the same SQL work on the same schema and rows: Kysera, SeaORM and
//! hand-written sqlx share one sqlx pool; Diesel (synchronous) has its own connection to the
//! same database. Behaviours that only Kysera has are written by hand for the others, as their
//! users would: the soft-delete and tenant filters in the query, and the audit entry as a
//! transaction that locks and reads the row, updates it and inserts the entry.

mod diesel_side;
mod sea_side;

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

use kysera::Executor;
use kysera::audit::Audit;
use kysera::rls::{self, AuthContext};

/// The workloads, the schema and the hand-written sqlx and Kysera sides, shared with
/// `cargo bench -p kysera --bench ratios`.
#[path = "../../../kysera/benches/shared/mod.rs"]
mod shared;

pub use shared::{Op, USERS, audit_values, doc_id, op};
use shared::{
    WORKLOADS, analyze, is_mariadb, kysera_ops, median, run_on_each_database, setup, sqlx_ops,
};

async fn run(db: Executor, url: &str, rounds: usize) -> Vec<String> {
    setup(&db).await;
    let mariadb = is_mariadb(&db).await;
    let audited = db
        .with_plugins(vec![Arc::new(Audit::new().table("kr_audit"))])
        .unwrap();
    let sea = sea_side::connect(db.pool());
    let diesel = RefCell::new(diesel_side::Conn::establish(url));
    let d = db.dialect();
    let acme = AuthContext::user("bench").with_tenant("acme");
    rls::with_context(acme, async {
        let libraries: Vec<(&str, Vec<Op<'_>>)> = vec![
            ("sqlx", sqlx_ops(&db, mariadb)),
            ("Kysera", kysera_ops(&db, &audited)),
            ("SeaORM", sea_side::ops(&sea)),
            ("Diesel", diesel_side::ops(&diesel)),
        ];
        let n = libraries.len();
        let mut samples = vec![vec![Vec::with_capacity(rounds); n]; WORKLOADS.len()];
        let warmup = rounds / 10;
        for round in 0..rounds + warmup {
            if round % 25 == 0 {
                analyze(&db).await;
            }
            for (w, per_library) in samples.iter_mut().enumerate() {
                for k in 0..n {
                    // Each library goes first in turn.
                    let l = (k + round) % n;
                    let t = Instant::now();
                    (libraries[l].1[w])((round * n + k) as i64).await;
                    if round >= warmup {
                        per_library[l].push(t.elapsed());
                    }
                }
            }
        }
        let mut lines = Vec::new();
        for (w, mut per_library) in samples.into_iter().enumerate() {
            let medians: Vec<f64> = per_library
                .iter_mut()
                .map(|s| median(s).as_secs_f64() * 1e6)
                .collect();
            let mut line = format!("| {} | {d} | {:.1} µs |", WORKLOADS[w], medians[0]);
            for m in &medians[1..] {
                line.push_str(&format!(" **{:.2}** ({m:.1} µs) |", m / medians[0]));
            }
            lines.push(line);
        }
        lines
    })
    .await
}

fn main() {
    run_on_each_database(
        "kysera_peers",
        "KYSERA_PEER_ROUNDS",
        &[
            "| workload | database | sqlx | Kysera | SeaORM | Diesel |",
            "|---|---|---|---|---|---|",
        ],
        async |db, url, rounds| run(db, &url, rounds).await,
    );
}
