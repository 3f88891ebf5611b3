//! The databases' differences and their live schema (`@kysera/dialects` in the TypeScript
//! Kysera): each database's [`Adapter`], connection URLs ([`ConnectionConfig`]), introspection
//! of tables, columns, indexes and foreign keys, emptying tables and measuring the database, and
//! error tests that are views over [`kysera::Error`](crate::Error)'s classification.
//!
//! ```no_run
//! use kysera::dialect::{self, ConnectionConfig};
//! # async fn f() -> kysera::Result<()> {
//! let config = ConnectionConfig::parse("postgresql://app:secret@localhost:5432/app")?;
//! println!("{config}"); // postgres://app:***@localhost:5432/app
//! let db = kysera::connect(&config.to_url()).await?;
//! let users = db.dialect().adapter().escape_identifier("users")?; // "users"
//! if dialect::table_exists(&db, "users").await? {
//!     for c in dialect::columns(&db, "users").await? {
//!         println!("{} {} {}", c.name, c.sql_type, if c.nullable { "NULL" } else { "NOT NULL" });
//!     }
//! }
//! # Ok(()) }
//! ```

mod check;
mod config;
mod generate;
mod introspect;
mod maintenance;

pub use crate::core::adapter::Adapter;
use crate::core::error::Error;
use crate::core::sql::Dialect;
pub use check::{Drift, SchemaReport, check_all_models, check_info, check_schema, holds};
pub use config::ConnectionConfig;
pub use generate::{generate_models, rust_type_for};
pub use introspect::{
    Column, ForeignKey, Index, Table, TableSchema, columns, foreign_keys, indexes, table_exists,
    table_schema, tables,
};
#[cfg(feature = "testing")]
pub(crate) use maintenance::empty_tables;
pub use maintenance::{database_size, truncate_all_tables};

/// The [`Adapter`] of `dialect` (the same as [`Dialect::adapter`]).
pub fn adapter(dialect: Dialect) -> &'static dyn Adapter {
    dialect.adapter()
}

/// Whether `err` is a unique-constraint violation ([`Error::UniqueViolation`]).
///
/// ```
/// let e = kysera::Error::UniqueViolation(Default::default());
/// assert!(kysera::dialect::is_unique_violation(&e));
/// assert!(!kysera::dialect::is_foreign_key_violation(&e));
/// ```
pub fn is_unique_violation(err: &Error) -> bool {
    matches!(err, Error::UniqueViolation(_))
}

/// Whether `err` is a foreign-key violation ([`Error::ForeignKeyViolation`]).
pub fn is_foreign_key_violation(err: &Error) -> bool {
    matches!(err, Error::ForeignKeyViolation(_))
}

/// Whether `err` is a NOT NULL violation ([`Error::NotNullViolation`]).
pub fn is_not_null_violation(err: &Error) -> bool {
    matches!(err, Error::NotNullViolation(_))
}

/// Whether `err` is a CHECK-constraint violation ([`Error::CheckViolation`]).
pub fn is_check_violation(err: &Error) -> bool {
    matches!(err, Error::CheckViolation(_))
}

/// Whether `err` is any constraint violation (one of the four above).
pub fn is_constraint_violation(err: &Error) -> bool {
    err.constraint_violation().is_some()
}

/// Whether `err` says the work may succeed if run again, and running it again is safe
/// ([`Error::is_retryable`]: a deadlock, a serialization failure, a lock timeout, no
/// connection).
pub fn is_retryable(err: &Error) -> bool {
    err.is_retryable()
}
