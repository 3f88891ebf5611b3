//! Rows read from any of the three databases, and decoding them into Rust values.

use sqlx::mysql::{MySql, MySqlRow};
use sqlx::postgres::{PgRow, Postgres};
use sqlx::sqlite::{Sqlite, SqliteRow};
use sqlx::{Column, ColumnIndex, Row as _};

use crate::{Error, Result};

/// A Rust type that can be read from a column on every supported database.
///
/// Implemented for every type sqlx can decode on PostgreSQL, MySQL and SQLite alike: integers,
/// floats, `bool`, `String`, `Vec<u8>`, chrono date/time types, `uuid::Uuid`,
/// `sqlx::types::Json<T>`, `serde_json::Value`, and `Option` of each.
pub trait Decodable:
    for<'r> sqlx::Decode<'r, Sqlite>
    + sqlx::Type<Sqlite>
    + for<'r> sqlx::Decode<'r, Postgres>
    + sqlx::Type<Postgres>
    + for<'r> sqlx::Decode<'r, MySql>
    + sqlx::Type<MySql>
{
}

impl<T> Decodable for T where
    T: for<'r> sqlx::Decode<'r, Sqlite>
        + sqlx::Type<Sqlite>
        + for<'r> sqlx::Decode<'r, Postgres>
        + sqlx::Type<Postgres>
        + for<'r> sqlx::Decode<'r, MySql>
        + sqlx::Type<MySql>
{
}

/// A struct that can be built from a row of every supported database.
///
/// `#[derive(sqlx::FromRow)]` gives it; that derive names `::sqlx`, so the crate using it needs
/// `sqlx` as a direct dependency (the same version as [`kysera::sqlx`](crate::sqlx)).
///
/// ```
/// #[derive(sqlx::FromRow)]
/// struct User {
///     id: i64,
///     email: String,
/// }
/// fn assert_from_row<T: kysera::FromRow>() {}
/// assert_from_row::<User>();
/// ```
pub trait FromRow:
    Sized
    + Send
    + Unpin
    + for<'r> sqlx::FromRow<'r, SqliteRow>
    + for<'r> sqlx::FromRow<'r, PgRow>
    + for<'r> sqlx::FromRow<'r, MySqlRow>
{
}

impl<T> FromRow for T where
    T: Sized
        + Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, SqliteRow>
        + for<'r> sqlx::FromRow<'r, PgRow>
        + for<'r> sqlx::FromRow<'r, MySqlRow>
{
}

/// A column index usable on every database: a column name (`&str`) or a position (`usize`).
pub trait RowIndex:
    ColumnIndex<SqliteRow> + ColumnIndex<PgRow> + ColumnIndex<MySqlRow> + std::fmt::Debug
{
}

impl<I> RowIndex for I where
    I: ColumnIndex<SqliteRow> + ColumnIndex<PgRow> + ColumnIndex<MySqlRow> + std::fmt::Debug
{
}

/// One row of a result, from whichever database the executor is connected to.
#[derive(Debug)]
#[non_exhaustive]
pub enum Row {
    /// A SQLite row.
    Sqlite(SqliteRow),
    /// A PostgreSQL row.
    Postgres(PgRow),
    /// A MySQL / MariaDB row.
    MySql(MySqlRow),
}

fn decode_err(index: &impl std::fmt::Debug, e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. } => Error::Decode {
            column: format!("{index:?}"),
            source: e,
        },
        other => Error::from(other),
    }
}

impl Row {
    /// Reads one column.
    ///
    /// ```no_run
    /// # async fn f(db: &kysera::Executor) -> kysera::Result<()> {
    /// use kysera::query::Select;
    /// for row in db.fetch_all(Select::from("users")).await? {
    ///     let email: String = row.get("email")?;
    ///     let age: Option<i64> = row.get("age")?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get<T: Decodable>(&self, index: impl RowIndex) -> Result<T> {
        match self {
            Row::Sqlite(r) => r.try_get(&index),
            Row::Postgres(r) => r.try_get(&index),
            Row::MySql(r) => r.try_get(&index),
        }
        .map_err(|e| decode_err(&index, e))
    }

    /// Builds a struct from the whole row.
    pub fn decode<T: FromRow>(&self) -> Result<T> {
        match self {
            Row::Sqlite(r) => T::from_row(r),
            Row::Postgres(r) => T::from_row(r),
            Row::MySql(r) => T::from_row(r),
        }
        .map_err(|e| decode_err(&"row", e))
    }

    /// The column names, in order.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            Row::Sqlite(r) => r.columns().iter().map(|c| c.name()).collect(),
            Row::Postgres(r) => r.columns().iter().map(|c| c.name()).collect(),
            Row::MySql(r) => r.columns().iter().map(|c| c.name()).collect(),
        }
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        match self {
            Row::Sqlite(r) => r.len(),
            Row::Postgres(r) => r.len(),
            Row::MySql(r) => r.len(),
        }
    }

    /// Whether the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
