//! Reads on in-memory SQLite, for profiling Kysera's own cost per query against hand-written
//! sqlx with stable instruction counts (this machine's timings are noisy):
//!
//! ```sh
//! cargo build --release -p kysera --example profile_reads
//! for m in none sqlx_typed repo byid_sqlx_typed byid_repo; do
//!   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$m \
//!     target/release/examples/profile_reads $m 300 2>&1 | grep Collected
//! done
//! ```
//!
//! Subtract `none` (the setup) and divide by the rounds: instructions per query.
//! `callgrind_annotate --inclusive=yes /tmp/cg.byid_repo` shows where they go.

use kysera::query::{Order, Select, col};

#[derive(kysera::Repository)]
#[kysera(table = "u")]
#[allow(dead_code)]
struct U {
    #[kysera(primary_key, generated)]
    id: i64,
    email: String,
    name: String,
    active: bool,
}

#[derive(sqlx::FromRow)]
#[allow(dead_code)]
struct Plain {
    id: i64,
    email: String,
    name: String,
    active: bool,
}

const MANY: &str =
    r#"SELECT "id", "email", "name", "active" FROM "u" WHERE "id" > ? ORDER BY "id" ASC LIMIT 100"#;
const ONE: &str = r#"SELECT "id", "email", "name", "active" FROM "u" WHERE "id" = ?"#;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let rounds: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let db = kysera::connect("sqlite::memory:").await.expect("sqlite");
        let kysera::Pool::Sqlite(pool) = db.pool().clone() else {
            unreachable!("an SQLite pool")
        };
        sqlx::query("CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL, active BOOLEAN NOT NULL)")
            .execute(&pool)
            .await
            .expect("table");
        for i in 0..1000 {
            sqlx::query("INSERT INTO u (email, name, active) VALUES (?, ?, 1)")
                .bind(format!("u{i}"))
                .bind("n")
                .execute(&pool)
                .await
                .expect("row");
        }
        let mut n = 0usize;
        for _ in 0..rounds {
            n += match mode.as_str() {
                "sqlx_typed" => sqlx::query_as::<_, Plain>(MANY)
                    .bind(100i64)
                    .fetch_all(&pool)
                    .await
                    .expect("rows")
                    .len(),
                "kysera" => db
                    .fetch_all(
                        Select::from("u")
                            .columns([col("id"), col("email"), col("name"), col("active")])
                            .filter(col("id").gt(100i64))
                            .order_by(col("id"), Order::Asc)
                            .limit(100),
                    )
                    .await
                    .expect("rows")
                    .len(),
                "repo" => U::repo(&db)
                    .find()
                    .filter(U::ID.gt(100))
                    .order_by(U::ID.asc())
                    .limit(100)
                    .all()
                    .await
                    .expect("rows")
                    .len(),
                "byid_sqlx_typed" => {
                    let row = sqlx::query_as::<_, Plain>(ONE)
                        .bind(500i64)
                        .fetch_one(&pool)
                        .await
                        .expect("row");
                    row.id as usize
                }
                "byid_repo" => {
                    let row = U::repo(&db).find_by_id(500).await.expect("query");
                    row.map_or(0, |u| u.id as usize)
                }
                _ => 0,
            };
        }
        println!("{n}");
    });
}
