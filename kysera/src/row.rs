//! Rows read from any of the three databases, and decoding them into Rust values.

use sqlx::{Column, Row as _, TypeInfo};

use crate::core::error::{Error, Result};

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!("kysera needs at least one database feature: `sqlite`, `postgres` or `mysql`");

pub(crate) mod sealed {
    /// Only Kysera implements [`Decodable`](super::Decodable) (for the built-in types, and
    /// through `kysera::column_type!` for the application's own `kysera::Type`s, which read as
    /// a built-in type) and [`RowIndex`](super::RowIndex): the same set of types whichever
    /// database features are enabled, so enabling one never breaks code that compiled without
    /// it.
    pub trait Sealed {}
    /// The seal of [`RowIndex`](super::RowIndex).
    pub trait SealedIndex {}
}

/// A column index: a column name (`&str`, `String`) or a position (`usize`).
pub trait RowIndex: sealed::SealedIndex + std::fmt::Debug {
    #[doc(hidden)]
    fn __index(&self) -> Index<'_>;
}

/// A column by name or position (not for direct use).
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum Index<'a> {
    Name(&'a str),
    Position(usize),
}

impl sealed::SealedIndex for &str {}
impl RowIndex for &str {
    fn __index(&self) -> Index<'_> {
        Index::Name(self)
    }
}
impl sealed::SealedIndex for String {}
impl RowIndex for String {
    fn __index(&self) -> Index<'_> {
        Index::Name(self)
    }
}
impl sealed::SealedIndex for usize {}
impl RowIndex for usize {
    fn __index(&self) -> Index<'_> {
        Index::Position(*self)
    }
}

/// A Rust type Kysera reads from a column, on every database it supports: `i8`, `i16`, `i32`,
/// `i64`, `u8`, `u16`, `u32`, `f32`, `f64`, `bool`, `String`, `Vec<u8>`, `chrono::{NaiveDate,
/// NaiveTime, NaiveDateTime, DateTime<Utc>}`, `uuid::Uuid`, `serde_json::Value`,
/// `sqlx::types::Json<T>`, `rust_decimal::Decimal` (feature `rust_decimal`), `time::{Date, Time,
/// PrimitiveDateTime, OffsetDateTime}` (feature `time`), the application's
/// own [`Type`](crate::Type)s, and `Option` of each.
///
/// The set is the same whichever database features are enabled (a type one database cannot
/// decode, such as `u64` on PostgreSQL, is not in it), so enabling a feature never breaks code
/// that compiled without it; the type features (`rust_decimal`, `time`) only add to it. For another type, read the driver's row: [`Row`] is an enum of
/// sqlx rows.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a type Kysera reads from a column",
    label = "not readable on every supported database",
    note = "help: use an integer (i8, i16, i32, i64, u8, u16, u32), f32, f64, bool, String, Vec<u8>, a chrono date/time, uuid::Uuid, serde_json::Value or sqlx::types::Json<T>, or an Option of one"
)]
pub trait Decodable: Sized + sealed::Sealed {
    /// The kind of SQL value the type reads (the same for `T` and `Option<T>`).
    const FAMILY: TypeFamily;
    #[doc(hidden)]
    fn __get(row: &Row, index: Index<'_>) -> std::result::Result<Self, sqlx::Error>;
}

/// The kind of SQL value a [`Decodable`] type reads: what a model's field is compared with when
/// a live table is checked against the model
/// ([`check_schema`](crate::dialect::check_schema)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TypeFamily {
    /// `bool`
    Bool,
    /// `i8`, read from any integer column and range-checked.
    I8,
    /// `u8`, read from any integer column and range-checked.
    U8,
    /// `u16`, read from any integer column and range-checked.
    U16,
    /// `u32`, read from any integer column and range-checked.
    U32,
    /// `i16`
    I16,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// `String`
    Text,
    /// `Vec<u8>`
    Bytes,
    /// `chrono::NaiveDate`, `time::Date`
    Date,
    /// `chrono::NaiveTime`, `time::Time`
    Time,
    /// `chrono::NaiveDateTime`, `time::PrimitiveDateTime`
    DateTime,
    /// `chrono::DateTime<Utc>`, `time::OffsetDateTime`
    DateTimeUtc,
    /// `uuid::Uuid`
    Uuid,
    /// `serde_json::Value`, `sqlx::types::Json<T>`
    Json,
    /// `rust_decimal::Decimal` (feature `rust_decimal`).
    Decimal,
}

/// Reads `$t` at `$index` from whichever row `$row` is.
macro_rules! get_from {
    ($row:expr, $index:expr, $t:ty) => {
        match ($row, $index) {
            #[cfg(feature = "sqlite")]
            (Row::Sqlite(r), Index::Name(n)) => r.try_get::<$t, _>(n),
            #[cfg(feature = "sqlite")]
            (Row::Sqlite(r), Index::Position(i)) => r.try_get::<$t, _>(i),
            #[cfg(feature = "postgres")]
            (Row::Postgres(r), Index::Name(n)) => r.try_get::<$t, _>(n),
            #[cfg(feature = "postgres")]
            (Row::Postgres(r), Index::Position(i)) => r.try_get::<$t, _>(i),
            #[cfg(feature = "mysql")]
            (Row::MySql(r), Index::Name(n)) => r.try_get::<$t, _>(n),
            #[cfg(feature = "mysql")]
            (Row::MySql(r), Index::Position(i)) => r.try_get::<$t, _>(i),
        }
    };
}

macro_rules! decodable {
    ($($t:ty => $family:ident),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl Decodable for $t {
            const FAMILY: TypeFamily = TypeFamily::$family;
            fn __get(row: &Row, index: Index<'_>) -> std::result::Result<Self, sqlx::Error> {
                get_from!(row, index, $t)
            }
        }
        impl sealed::Sealed for Option<$t> {}
        impl Decodable for Option<$t> {
            const FAMILY: TypeFamily = TypeFamily::$family;
            fn __get(row: &Row, index: Index<'_>) -> std::result::Result<Self, sqlx::Error> {
                get_from!(row, index, Option<$t>)
            }
        }
    )*};
}
decodable!(
    i16 => I16,
    i32 => I32,
    i64 => I64,
    f32 => F32,
    f64 => F64,
    bool => Bool,
    String => Text,
    Vec<u8> => Bytes,
    chrono::NaiveDate => Date,
    chrono::NaiveTime => Time,
    chrono::NaiveDateTime => DateTime,
    chrono::DateTime<chrono::Utc> => DateTimeUtc,
    uuid::Uuid => Uuid,
    serde_json::Value => Json,
);

/// The narrow and unsigned integers (`i8`, `u8`, `u16`, `u32`), which not every database has:
/// read as the widest integer the column gives (PostgreSQL's `SMALLINT` / `INTEGER` / `BIGINT`,
/// MySQL's signed or `UNSIGNED` types, SQLite's `INTEGER`) and converted, so a stored value the
/// type cannot hold is a decode error naming the column, never a wrapped number.
macro_rules! decodable_narrow {
    ($($t:ty => $family:ident),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl Decodable for $t {
            const FAMILY: TypeFamily = TypeFamily::$family;
            fn __get(row: &Row, index: Index<'_>) -> std::result::Result<Self, sqlx::Error> {
                match narrow::<$t>(row, index)? {
                    Some(v) => Ok(v),
                    None => Err(unexpected_null(index)),
                }
            }
        }
        impl sealed::Sealed for Option<$t> {}
        impl Decodable for Option<$t> {
            const FAMILY: TypeFamily = TypeFamily::$family;
            fn __get(row: &Row, index: Index<'_>) -> std::result::Result<Self, sqlx::Error> {
                narrow::<$t>(row, index)
            }
        }
    )*};
}
decodable_narrow!(i8 => I8, u8 => U8, u16 => U16, u32 => U32);

/// The error of a NULL in a column read as a non-`Option` type that Kysera decodes itself.
fn unexpected_null(index: Index<'_>) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: format!("{index:?}"),
        source: "unexpected NULL; use an Option field for a nullable column".into(),
    }
}

/// Column `index` read as the widest integer its database type allows, converted to `T`.
fn narrow<T>(row: &Row, index: Index<'_>) -> std::result::Result<Option<T>, sqlx::Error>
where
    T: TryFrom<i128>,
{
    /// `$t` at `index` of one driver's row.
    macro_rules! get_in {
        ($r:expr, $t:ty) => {
            match index {
                Index::Name(n) => $r.try_get::<Option<$t>, _>(n),
                Index::Position(i) => $r.try_get::<Option<$t>, _>(i),
            }
            .map(|v| v.map(i128::from))
        };
    }
    let wide: Option<i128> = match row {
        #[cfg(feature = "sqlite")]
        Row::Sqlite(r) => get_in!(r, i64)?,
        #[cfg(feature = "postgres")]
        Row::Postgres(r) => match get_in!(r, i64) {
            Ok(v) => v,
            Err(first) => get_in!(r, i32)
                .or_else(|_| get_in!(r, i16))
                .map_err(|_| first)?,
        },
        #[cfg(feature = "mysql")]
        Row::MySql(r) => match get_in!(r, i64) {
            Ok(v) => v,
            Err(first) => get_in!(r, u64).map_err(|_| first)?,
        },
    };
    wide.map(|v| {
        T::try_from(v).map_err(|_| sqlx::Error::ColumnDecode {
            index: format!("{index:?}"),
            source: format!(
                "the value {v} is out of range for {}",
                std::any::type_name::<T>()
            )
            .into(),
        })
    })
    .transpose()
}

/// `rust_decimal::Decimal`: the driver's own on PostgreSQL (`NUMERIC`) and MySQL (`DECIMAL`);
/// SQLite has no decimal type, so it is stored as text (every digit kept) and read from text,
/// or from the integer or real a `NUMERIC` column turned it into.
#[cfg(feature = "rust_decimal")]
fn decimal(
    row: &Row,
    index: Index<'_>,
) -> std::result::Result<Option<rust_decimal::Decimal>, sqlx::Error> {
    match (row, index) {
        #[cfg(feature = "sqlite")]
        (Row::Sqlite(_), _) => decimal_sqlite(row, index),
        #[cfg(feature = "postgres")]
        (Row::Postgres(r), Index::Name(n)) => r.try_get(n),
        #[cfg(feature = "postgres")]
        (Row::Postgres(r), Index::Position(i)) => r.try_get(i),
        #[cfg(feature = "mysql")]
        (Row::MySql(r), Index::Name(n)) => r.try_get(n),
        #[cfg(feature = "mysql")]
        (Row::MySql(r), Index::Position(i)) => r.try_get(i),
    }
}

/// SQLite: the text Kysera stores, or the integer or real a `NUMERIC` column made of it.
#[cfg(all(feature = "rust_decimal", feature = "sqlite"))]
fn decimal_sqlite(
    row: &Row,
    index: Index<'_>,
) -> std::result::Result<Option<rust_decimal::Decimal>, sqlx::Error> {
    use rust_decimal::Decimal;
    let bad = |what: String| sqlx::Error::ColumnDecode {
        index: format!("{index:?}"),
        source: what.into(),
    };
    if let Ok(text) = get_from!(row, index, Option<String>) {
        return text
            .map(|t| {
                t.trim()
                    .parse::<Decimal>()
                    .map_err(|e| bad(format!("`{t}` is not a decimal: {e}")))
            })
            .transpose();
    }
    if let Ok(int) = get_from!(row, index, Option<i64>) {
        return Ok(int.map(Decimal::from));
    }
    let real = get_from!(row, index, Option<f64>)?;
    real.map(|f| Decimal::try_from(f).map_err(|e| bad(format!("{f} is not a decimal: {e}"))))
        .transpose()
}

#[cfg(feature = "rust_decimal")]
impl sealed::Sealed for rust_decimal::Decimal {}
#[cfg(feature = "rust_decimal")]
impl Decodable for rust_decimal::Decimal {
    const FAMILY: TypeFamily = TypeFamily::Decimal;
    fn __get(row: &Row, index: Index<'_>) -> std::result::Result<Self, sqlx::Error> {
        decimal(row, index)?.ok_or_else(|| unexpected_null(index))
    }
}
#[cfg(feature = "rust_decimal")]
impl sealed::Sealed for Option<rust_decimal::Decimal> {}
#[cfg(feature = "rust_decimal")]
impl Decodable for Option<rust_decimal::Decimal> {
    const FAMILY: TypeFamily = TypeFamily::Decimal;
    fn __get(row: &Row, index: Index<'_>) -> std::result::Result<Self, sqlx::Error> {
        decimal(row, index)
    }
}

#[cfg(feature = "time")]
decodable!(
    time::Date => Date,
    time::Time => Time,
    time::PrimitiveDateTime => DateTime,
    time::OffsetDateTime => DateTimeUtc,
);

impl<T> sealed::Sealed for sqlx::types::Json<T> {}
impl<T> Decodable for sqlx::types::Json<T>
where
    T: serde::de::DeserializeOwned + Send + Sync + 'static,
{
    const FAMILY: TypeFamily = TypeFamily::Json;
    fn __get(row: &Row, index: Index<'_>) -> std::result::Result<Self, sqlx::Error> {
        get_from!(row, index, sqlx::types::Json<T>)
    }
}
impl<T> sealed::Sealed for Option<sqlx::types::Json<T>> {}
impl<T> Decodable for Option<sqlx::types::Json<T>>
where
    T: serde::de::DeserializeOwned + Send + Sync + 'static,
{
    const FAMILY: TypeFamily = TypeFamily::Json;
    fn __get(row: &Row, index: Index<'_>) -> std::result::Result<Self, sqlx::Error> {
        get_from!(row, index, Option<sqlx::types::Json<T>>)
    }
}

/// A struct built from a whole row, on every database Kysera supports.
///
/// `#[derive(kysera::FromRow)]` reads each field from the column of its name
/// (`#[kysera(rename = "column")]` for another; `#[kysera(skip)]` for a field that is not a
/// column, filled with `Default::default()`); each field's type is a [`Decodable`] type.
///
/// ```
/// #[derive(kysera::FromRow)]
/// struct User {
///     id: i64,
///     #[kysera(rename = "email_address")]
///     email: String,
/// }
/// fn assert_from_row<T: kysera::FromRow>() {}
/// assert_from_row::<User>();
/// ```
pub trait FromRow: Sized + Send + Unpin {
    /// Builds the struct from `row`.
    fn from_row(row: &Row) -> Result<Self>;
}

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

/// The error of reading column `index` of `row` as `T`: the column as written (no quotes) or
/// its position, its SQL type as the database reported it, and the Rust type asked for.
fn decode_err<T>(row: &Row, index: Index<'_>, e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. } => Error::Decode {
            column: match index {
                Index::Name(n) => n.to_string(),
                Index::Position(i) => i.to_string(),
            },
            sql_type: row.sql_type(index),
            rust_type: Some(short_type_name(std::any::type_name::<T>())),
            source: e,
        },
        other => Error::from(other),
    }
}

/// A type's name without module paths: `Option<DateTime<Utc>>`, not
/// `core::option::Option<chrono::datetime::DateTime<chrono::offset::utc::Utc>>`.
pub(crate) fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut segment = String::new();
    let mut chars = full.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            segment.clear();
        } else if c.is_alphanumeric() || c == '_' {
            segment.push(c);
        } else {
            out.push_str(&segment);
            segment.clear();
            out.push(c);
        }
    }
    out.push_str(&segment);
    out
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
        T::__get(self, index.__index()).map_err(|e| decode_err::<T>(self, index.__index(), e))
    }

    /// Builds a struct from the whole row.
    pub fn decode<T: FromRow>(&self) -> Result<T> {
        T::from_row(self)
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

    /// The SQL type of a column as the database reports it (`INT4`, `TEXT`, `DATETIME`, …);
    /// `None` for a column the row does not have. On SQLite this is the type of the value.
    fn sql_type(&self, index: Index<'_>) -> Option<String> {
        macro_rules! type_of {
            ($r:expr) => {{
                let i = match index {
                    Index::Name(n) => $r.columns().iter().position(|c| c.name() == n)?,
                    Index::Position(i) => i,
                };
                $r.columns()
                    .get(i)
                    .map(|c| c.type_info().name().to_string())
            }};
        }
        match self {
            #[cfg(feature = "sqlite")]
            Row::Sqlite(r) => type_of!(r),
            #[cfg(feature = "postgres")]
            Row::Postgres(r) => type_of!(r),
            #[cfg(feature = "mysql")]
            Row::MySql(r) => type_of!(r),
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

#[cfg(test)]
mod tests {
    #[test]
    fn type_names_lose_their_paths() {
        use crate::row::short_type_name as short;
        assert_eq!(short(std::any::type_name::<i64>()), "i64");
        assert_eq!(
            short(std::any::type_name::<Option<chrono::DateTime<chrono::Utc>>>()),
            "Option<DateTime<Utc>>"
        );
        assert_eq!(
            short(std::any::type_name::<sqlx::types::Json<Vec<String>>>()),
            "Json<Vec<String>>"
        );
        assert_eq!(short("(a::B, &c::D)"), "(B, &D)");
    }
}
