//! Rows read from any of the three databases, and decoding them into Rust values.

use sqlx::{Column, Row as _};

use crate::core::error::{Error, Result};

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!("kysera needs at least one database feature: `sqlite`, `postgres` or `mysql`");

/// Per-backend halves of [`Decodable`], [`FromRow`] and [`RowIndex`]: the real bound when the
/// backend is compiled in, implemented for everything when it is not.
macro_rules! backend_bounds {
    ($feature:literal, $decode:ident, $from_row:ident, $index:ident, $db:ty, $row:ty) => {
        #[doc(hidden)]
        #[cfg(feature = $feature)]
        pub trait $decode: for<'r> sqlx::Decode<'r, $db> + sqlx::Type<$db> {}
        #[cfg(feature = $feature)]
        impl<T: for<'r> sqlx::Decode<'r, $db> + sqlx::Type<$db>> $decode for T {}
        #[doc(hidden)]
        #[cfg(not(feature = $feature))]
        pub trait $decode {}
        #[cfg(not(feature = $feature))]
        impl<T: ?Sized> $decode for T {}

        #[doc(hidden)]
        #[cfg(feature = $feature)]
        pub trait $from_row: for<'r> sqlx::FromRow<'r, $row> {}
        #[cfg(feature = $feature)]
        impl<T: for<'r> sqlx::FromRow<'r, $row>> $from_row for T {}
        #[doc(hidden)]
        #[cfg(not(feature = $feature))]
        pub trait $from_row {}
        #[cfg(not(feature = $feature))]
        impl<T> $from_row for T {}

        #[doc(hidden)]
        #[cfg(feature = $feature)]
        pub trait $index: sqlx::ColumnIndex<$row> {}
        #[cfg(feature = $feature)]
        impl<T: sqlx::ColumnIndex<$row>> $index for T {}
        #[doc(hidden)]
        #[cfg(not(feature = $feature))]
        pub trait $index {}
        #[cfg(not(feature = $feature))]
        impl<T: ?Sized> $index for T {}
    };
}

backend_bounds!(
    "sqlite",
    SqliteDecode,
    SqliteFromRow,
    SqliteIndex,
    sqlx::sqlite::Sqlite,
    sqlx::sqlite::SqliteRow
);
backend_bounds!(
    "postgres",
    PgDecode,
    PgFromRow,
    PgIndex,
    sqlx::postgres::Postgres,
    sqlx::postgres::PgRow
);
backend_bounds!(
    "mysql",
    MySqlDecode,
    MySqlFromRow,
    MySqlIndex,
    sqlx::mysql::MySql,
    sqlx::mysql::MySqlRow
);

/// A Rust type that can be read from a column on every compiled-in database.
///
/// Implemented for every type sqlx can decode on each enabled backend (PostgreSQL, MySQL,
/// SQLite): integers, floats, `bool`, `String`, `Vec<u8>`, chrono date/time types,
/// `uuid::Uuid`, `sqlx::types::Json<T>`, `serde_json::Value`, and `Option` of each.
pub trait Decodable: SqliteDecode + PgDecode + MySqlDecode {}

impl<T: SqliteDecode + PgDecode + MySqlDecode> Decodable for T {}

/// A struct that can be built from a row of every compiled-in database.
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
pub trait FromRow: Sized + Send + Unpin + SqliteFromRow + PgFromRow + MySqlFromRow {}

impl<T> FromRow for T where T: Sized + Send + Unpin + SqliteFromRow + PgFromRow + MySqlFromRow {}

/// A column index usable on every compiled-in database: a column name (`&str`) or a position
/// (`usize`).
pub trait RowIndex: SqliteIndex + PgIndex + MySqlIndex + std::fmt::Debug {}

impl<I> RowIndex for I where I: SqliteIndex + PgIndex + MySqlIndex + std::fmt::Debug {}

/// One row of a result, from whichever database the executor is connected to.
#[derive(Debug)]
#[non_exhaustive]
pub enum Row {
    /// A SQLite row.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::sqlite::SqliteRow),
    /// A PostgreSQL row.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::postgres::PgRow),
    /// A MySQL / MariaDB row.
    #[cfg(feature = "mysql")]
    MySql(sqlx::mysql::MySqlRow),
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
            #[cfg(feature = "sqlite")]
            Row::Sqlite(r) => r.try_get(&index),
            #[cfg(feature = "postgres")]
            Row::Postgres(r) => r.try_get(&index),
            #[cfg(feature = "mysql")]
            Row::MySql(r) => r.try_get(&index),
        }
        .map_err(|e| decode_err(&index, e))
    }

    /// Builds a struct from the whole row.
    pub fn decode<T: FromRow>(&self) -> Result<T> {
        match self {
            #[cfg(feature = "sqlite")]
            Row::Sqlite(r) => T::from_row(r),
            #[cfg(feature = "postgres")]
            Row::Postgres(r) => T::from_row(r),
            #[cfg(feature = "mysql")]
            Row::MySql(r) => T::from_row(r),
        }
        .map_err(|e| decode_err(&"row", e))
    }

    /// The column names, in order.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            #[cfg(feature = "sqlite")]
            Row::Sqlite(r) => r.columns().iter().map(|c| c.name()).collect(),
            #[cfg(feature = "postgres")]
            Row::Postgres(r) => r.columns().iter().map(|c| c.name()).collect(),
            #[cfg(feature = "mysql")]
            Row::MySql(r) => r.columns().iter().map(|c| c.name()).collect(),
        }
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        match self {
            #[cfg(feature = "sqlite")]
            Row::Sqlite(r) => r.len(),
            #[cfg(feature = "postgres")]
            Row::Postgres(r) => r.len(),
            #[cfg(feature = "mysql")]
            Row::MySql(r) => r.len(),
        }
    }

    /// Whether the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
