//! # Kysera
//!
//! A compile-time, macro-driven data access toolkit over [sqlx]: typed repositories, a query IR
//! that plugins (query interceptors) can inspect and rewrite, and transactions that carry the
//! plugins, on PostgreSQL, MySQL/MariaDB and SQLite, with the database chosen at run time.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> kysera::Result<()> {
//! use kysera::query::{col, Insert, Order, Select};
//!
//! let db = kysera::connect("sqlite::memory:").await?;
//! db.raw()
//!     .execute_sql("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)", vec![])
//!     .await?;
//! db.execute(Insert::into("users").columns(["name"]).values(["ada"]).values(["grace"])).await?;
//!
//! let names: Vec<String> = db
//!     .fetch_all(Select::from("users").column(col("name")).order_by(col("name"), Order::Asc))
//!     .await?
//!     .iter()
//!     .map(|row| row.get("name"))
//!     .collect::<kysera::Result<_>>()?;
//! assert_eq!(names, ["ada", "grace"]);
//! # Ok(()) }
//! ```
//!
//! What is where:
//! - [`Repository`](struct@Repository) (and its derive): a model's typed functions — find, create, update,
//!   delete, pages, and the behaviour methods its attributes unlock (`soft_delete`, `touch`,
//!   `audit_history`, …). [`dal`] has the same functions over any context, and composes them.
//! - [`Executor`]: a pool (or a transaction) plus an ordered chain of [`Plugin`]s whose
//!   interceptors see every query; [`Executor::raw`] is the explicit way around them.
//! - [`query`]: the form every query takes (select, insert, update, delete), lowered to SQL by
//!   sea-query for the connected database, with values always bound and identifiers quoted.
//! - [`rls`] and [`audit`]: row-level security (tenant isolation, policies) and the audit log;
//!   soft delete and timestamps are declared on the model and enforced on every query.
//! - [`Error`]: one error type; constraint violations, deadlocks, serialization failures, lock
//!   timeouts and lost connections are classified on all three databases.
//! - [`infra`]: health checks, retries, a circuit breaker, graceful shutdown; [`debug`]: the
//!   span every statement runs in, a query log, a profiler with N+1 detection, `EXPLAIN`.
//!
//! Cargo features `sqlite`, `postgres` and `mysql` (all on by default) choose the database
//! drivers compiled in. The repository's `ARCHITECTURE.md` maps the modules and their layers.
#![warn(missing_docs)]

// Lets generated `::kysera::…` paths resolve inside this crate too.
extern crate self as kysera;

// The layers, lowest first (ARCHITECTURE.md at the repository root is the map; a test keeps
// every module importing only layers below its own).
pub mod behaviour;
pub mod clock;
mod core;
pub mod dal;
pub mod debug;
pub mod dialect;
mod executor;
pub mod infra;
pub mod migrate;
mod model;
pub mod pagination;
mod plugin;
pub mod query;
mod repository;
mod row;
#[cfg(feature = "testing")]
pub mod testing;
pub mod validation;

pub use self::core::error;
pub use self::core::error::{ConstraintViolation, Error, Result};
pub use self::core::sql::Dialect;
pub use behaviour::{audit, register, rls};
pub use clock::{Clock, FixedClock, SystemClock};
pub use executor::{Executor, IsolationLevel, Pool, QueryObserver, Raw, StatementEvent, connect};
#[cfg(feature = "testing")]
pub use kysera_derive::test;
pub use kysera_derive::{FromRow, Repository, Type, migrations};
pub use model::{
    AuditedModel, Column, ColumnInfo, ColumnType, Columns, FilterOn, HasCreatedAt, HasUpdatedAt,
    MaybeFilterOn, Model, ModelInfo, NonNullColumnType, SoftDeleteModel, TextColumn,
    TimestampColumn, TimestampKind, Type, ValueKind, Where,
};
pub use pagination::{CursorPage, Page, PageRequest};
pub use plugin::{Plugin, QueryContext};
pub use query::Value;
pub use repository::{Find, Repository};
pub use row::{Decodable, FromRow, Row, RowIndex, TypeFamily};

/// Runtime helpers for generated code. Not public API: no stability promise.
#[doc(hidden)]
pub mod __private {
    /// The interface `kysera-derive` 0.1 generates code against. A derive of another version
    /// names another module, so a mismatched pair fails to compile instead of misbehaving.
    pub mod v0_1 {
        pub use crate::behaviour::ModelRegistration;
        pub use crate::model::decode_type;
        pub use crate::model::generated::*;
        pub use crate::row::Index;
        pub use crate::row::sealed::Sealed as DecodableSeal;
        pub use crate::validation::{check_custom, check_email, check_length, check_range};
        pub use inventory;
        /// A JSON object.
        pub type JsonMap = serde_json::Map<String, serde_json::Value>;
    }
}

/// Entry points for the fuzz targets in `fuzz/` (not public API: no stability promise). Each
/// takes arbitrary input and must return, never panic; the unit tests below run them on random
/// input so they cannot rot between fuzzing sessions.
#[doc(hidden)]
pub mod __fuzz {
    use crate::core::sql::Dialect;
    use crate::query::{CmpOp, Expr, Filter, Order, OrderBy, Query, Select, Value, col};

    /// Decodes `cursor` as made for `ORDER BY a ASC, b DESC`.
    pub fn cursor(cursor: &str) -> crate::Result<usize> {
        let order = [
            OrderBy {
                expr: col("a"),
                order: Order::Asc,
            },
            OrderBy {
                expr: col("b"),
                order: Order::Desc,
            },
        ];
        crate::pagination::decode_cursor(&order, cursor, None).map(|v| v.len())
    }

    /// A condition read from `bytes` (a small stack machine: leaves, AND, OR, NOT, IS NOT
    /// TRUE), normalized and lowered for every dialect; also returns the condition.
    pub fn lowering(bytes: &[u8]) -> (Filter, Vec<crate::Result<String>>) {
        let mut stack: Vec<Filter> = Vec::new();
        let names = ["a", "b", "c\0", "t.d", ""];
        for pair in bytes.chunks(2) {
            let (op, arg) = (pair[0], *pair.get(1).unwrap_or(&0));
            let name = names[usize::from(arg) % names.len()];
            let f = match op % 8 {
                0 => col(name).compare(
                    [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Gte][usize::from(arg) % 4],
                    Expr::Value(Value::BigInt(Some(i64::from(arg) - 128))),
                ),
                1 => col(name).like(String::from_utf8_lossy(&[arg]).into_owned()),
                2 => col(name).is_in((0..arg % 5).map(|i| Value::Int(Some(i32::from(i))))),
                3 => col(name).is_null(),
                4 => Filter::And(
                    stack
                        .drain(stack.len().saturating_sub(usize::from(arg % 4))..)
                        .collect(),
                ),
                5 => Filter::Or(
                    stack
                        .drain(stack.len().saturating_sub(usize::from(arg % 4))..)
                        .collect(),
                ),
                6 => !stack.pop().unwrap_or(Filter::And(Vec::new())),
                _ => stack.pop().unwrap_or(Filter::Or(Vec::new())).is_not_true(),
            };
            stack.push(f);
        }
        // Normalized first: cloning or dropping a deeply nested condition recurses per level.
        let f = match Filter::And(stack).normalized() {
            Ok(f) => f,
            Err(e) => return (Filter::And(Vec::new()), vec![Err(e)]),
        };
        let results = [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql]
            .into_iter()
            .map(|d| {
                let q: Query = Select::from("t").filter(f.clone()).into();
                crate::query::lower(&q, d).map(|l| l.sql)
            })
            .collect();
        (f, results)
    }

    /// `query` lowered through the cache of shapes and directly: each as SQL and its values
    /// (for the test that compares them), and how many queries the cache has served so far.
    pub fn lower_cached_and_direct(
        query: &Query,
        dialect: Dialect,
    ) -> (crate::Result<String>, crate::Result<String>, usize) {
        let show = |l: crate::query::Lowered| format!("{} {:?}", l.sql, l.values.0);
        let cached = crate::query::lower(query, dialect).map(show);
        let direct = crate::query::lower_uncached(query, dialect).map(show);
        (cached, direct, crate::query::shape_hits())
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn fuzz_entry_points_return_on_random_input() {
            let mut x: u64 = 0x2545_F491_4F6C_DD1D;
            for len in 0..400 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                let _ = super::lowering(&bytes);
                let _ = super::cursor(&String::from_utf8_lossy(&bytes));
            }
            // 50,000 NOTs flatten; 50,000 alternating NOT / IS NOT TRUE are refused, not a crash.
            let nots: Vec<u8> = std::iter::repeat_n([6u8, 0], 50_000).flatten().collect();
            let (_, results) = super::lowering(&[vec![0, 1], nots].concat());
            assert!(results.iter().all(|r| r.is_ok()), "NOT chains flatten");
            let mixed: Vec<u8> = std::iter::repeat_n([6u8, 0, 7, 0], 25_000)
                .flatten()
                .collect();
            let (_, results) = super::lowering(&[vec![0, 1], mixed].concat());
            assert!(matches!(
                results.as_slice(),
                [Err(crate::Error::InvalidQuery(_))]
            ));
        }
    }
}

/// The sqlx version Kysera runs on, for pool types and driver-level access to rows.
pub use sqlx;
/// What [`Raw::execute_sql`] accepts: a `&'static str`, or text wrapped in [`AssertSqlSafe`]
/// by a caller who vouches that it is safe (sqlx's own guard).
pub use sqlx::{AssertSqlSafe, SqlSafeStr};

/// The crates and types model fields use, at the versions Kysera decodes, so a program needs
/// no direct dependency on them (nor a matching version):
/// `use kysera::types::{chrono::{DateTime, Utc}, uuid::Uuid, Json};`.
///
/// `#[derive(sqlx::Type)]` and sqlx's other derives still need `sqlx` as a direct dependency:
/// the code they generate names the crate `::sqlx`, which no re-export can provide.
pub mod types {
    pub use chrono;
    /// Exact decimals (feature `rust_decimal`).
    #[cfg(feature = "rust_decimal")]
    pub use rust_decimal;
    pub use serde_json;
    /// A column holding JSON, decoded into any `serde` type (`Json<Settings>`).
    pub use sqlx::types::Json;
    /// Dates and times (feature `time`).
    #[cfg(feature = "time")]
    pub use time;
    pub use uuid;
}

/// The traits most programs need.
pub mod prelude {
    pub use crate::{FromRow, Model, Plugin, Repository};
}

/// The README's examples, each run as a program of its own against in-memory SQLite, so the
/// README cannot drift from the code. (With the `testing` and `rust_decimal` features, which its
/// examples use: the test command enables every feature.)
#[cfg(all(doctest, feature = "testing", feature = "rust_decimal"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
