//! The values queries bind (Kysera's own [`Value`], so the public API does not change with the
//! SQL builder underneath), and which rows of soft-delete tables a query sees.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

/// A value bound to a query parameter, always sent separately from the SQL text.
///
/// Every variant holds an `Option`: `None` is a NULL of that type. Values come from Rust values
/// with `From`/`Into` (`Value::from(42)`, `"text".into()`, `Option::<i64>::None.into()`).
///
/// ```
/// use kysera::Value;
/// assert_eq!(Value::from(42i64), Value::BigInt(Some(42)));
/// assert_eq!(Value::from("a"), Value::String(Some("a".into())));
/// assert_eq!(Value::from(None::<i32>), Value::Int(None));
/// assert!(Value::from(None::<String>).is_null());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// `BOOLEAN`
    Bool(Option<bool>),
    /// An 8-bit integer.
    TinyInt(Option<i8>),
    /// `SMALLINT`
    SmallInt(Option<i16>),
    /// `INTEGER`
    Int(Option<i32>),
    /// `BIGINT`
    BigInt(Option<i64>),
    /// An unsigned 8-bit integer.
    TinyUnsigned(Option<u8>),
    /// An unsigned 16-bit integer.
    SmallUnsigned(Option<u16>),
    /// An unsigned 32-bit integer.
    Unsigned(Option<u32>),
    /// An unsigned 64-bit integer (refused above `i64::MAX` on PostgreSQL and SQLite).
    BigUnsigned(Option<u64>),
    /// `REAL` / `FLOAT`
    Float(Option<f32>),
    /// `DOUBLE PRECISION`
    Double(Option<f64>),
    /// Text.
    String(Option<String>),
    /// One character, sent as text.
    Char(Option<char>),
    /// Bytes (`BYTEA`, `BLOB`, `VARBINARY`).
    Bytes(Option<Vec<u8>>),
    /// JSON.
    Json(Option<Box<serde_json::Value>>),
    /// A date.
    ChronoDate(Option<NaiveDate>),
    /// A time of day.
    ChronoTime(Option<NaiveTime>),
    /// A date and time without a time zone.
    ChronoDateTime(Option<NaiveDateTime>),
    /// A UTC date and time.
    ChronoDateTimeUtc(Option<DateTime<Utc>>),
    /// A UUID.
    Uuid(Option<uuid::Uuid>),
    /// An exact decimal (feature `rust_decimal`): `NUMERIC` / `DECIMAL`; text on SQLite.
    #[cfg(feature = "rust_decimal")]
    Decimal(Option<rust_decimal::Decimal>),
    /// A date (feature `time`).
    #[cfg(feature = "time")]
    TimeDate(Option<time::Date>),
    /// A time of day (feature `time`).
    #[cfg(feature = "time")]
    TimeTime(Option<time::Time>),
    /// A date and time without an offset (feature `time`).
    #[cfg(feature = "time")]
    TimeDateTime(Option<time::PrimitiveDateTime>),
    /// A date and time with an offset (feature `time`): an instant, stored in UTC.
    #[cfg(feature = "time")]
    TimeDateTimeWithTimeZone(Option<time::OffsetDateTime>),
}

impl std::fmt::Display for Value {
    /// The value as a SQL literal would show it, for logs: `NULL`, `42`, `'it''s'`,
    /// `x'00ff'` (bytes, the first 64), `'2026-01-02T03:04:05Z'`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn quoted(f: &mut std::fmt::Formatter<'_>, s: &str) -> std::fmt::Result {
            write!(f, "'{}'", s.replace('\'', "''"))
        }
        fn or_null<T>(
            f: &mut std::fmt::Formatter<'_>,
            v: &Option<T>,
            show: impl FnOnce(&mut std::fmt::Formatter<'_>, &T) -> std::fmt::Result,
        ) -> std::fmt::Result {
            match v {
                None => f.write_str("NULL"),
                Some(v) => show(f, v),
            }
        }
        match self {
            Value::Bool(v) => or_null(f, v, |f, v| {
                write!(f, "{}", if *v { "TRUE" } else { "FALSE" })
            }),
            Value::TinyInt(v) => or_null(f, v, |f, v| write!(f, "{v}")),
            Value::SmallInt(v) => or_null(f, v, |f, v| write!(f, "{v}")),
            Value::Int(v) => or_null(f, v, |f, v| write!(f, "{v}")),
            Value::BigInt(v) => or_null(f, v, |f, v| write!(f, "{v}")),
            Value::TinyUnsigned(v) => or_null(f, v, |f, v| write!(f, "{v}")),
            Value::SmallUnsigned(v) => or_null(f, v, |f, v| write!(f, "{v}")),
            Value::Unsigned(v) => or_null(f, v, |f, v| write!(f, "{v}")),
            Value::BigUnsigned(v) => or_null(f, v, |f, v| write!(f, "{v}")),
            Value::Float(v) => or_null(f, v, |f, v| write!(f, "{v}")),
            Value::Double(v) => or_null(f, v, |f, v| write!(f, "{v}")),
            Value::String(v) => or_null(f, v, |f, v| quoted(f, v)),
            Value::Char(v) => or_null(f, v, |f, v| quoted(f, &v.to_string())),
            Value::Bytes(v) => or_null(f, v, |f, v| {
                f.write_str("x'")?;
                for b in v.iter().take(64) {
                    write!(f, "{b:02x}")?;
                }
                f.write_str(if v.len() > 64 { "…'" } else { "'" })
            }),
            Value::Json(v) => or_null(f, v, |f, v| quoted(f, &v.to_string())),
            Value::ChronoDate(v) => or_null(f, v, |f, v| quoted(f, &v.to_string())),
            Value::ChronoTime(v) => or_null(f, v, |f, v| quoted(f, &v.to_string())),
            Value::ChronoDateTime(v) => or_null(f, v, |f, v| quoted(f, &v.to_string())),
            Value::ChronoDateTimeUtc(v) => or_null(f, v, |f, v| quoted(f, &v.to_rfc3339())),
            Value::Uuid(v) => or_null(f, v, |f, v| quoted(f, &v.to_string())),
            #[cfg(feature = "rust_decimal")]
            Value::Decimal(v) => or_null(f, v, |f, v| write!(f, "{v}")),
            #[cfg(feature = "time")]
            Value::TimeDate(v) => or_null(f, v, |f, v| quoted(f, &v.to_string())),
            #[cfg(feature = "time")]
            Value::TimeTime(v) => or_null(f, v, |f, v| quoted(f, &v.to_string())),
            #[cfg(feature = "time")]
            Value::TimeDateTime(v) => or_null(f, v, |f, v| quoted(f, &v.to_string())),
            #[cfg(feature = "time")]
            Value::TimeDateTimeWithTimeZone(v) => or_null(f, v, |f, v| quoted(f, &v.to_string())),
        }
    }
}

impl Value {
    /// Whether this is a NULL (of any type).
    pub fn is_null(&self) -> bool {
        is_null(self)
    }

    /// The value the SQL builder binds.
    pub(crate) fn into_sea(self) -> sea_query::Value {
        use sea_query::Value as S;
        match self {
            Value::Bool(v) => S::Bool(v),
            Value::TinyInt(v) => S::TinyInt(v),
            Value::SmallInt(v) => S::SmallInt(v),
            Value::Int(v) => S::Int(v),
            Value::BigInt(v) => S::BigInt(v),
            Value::TinyUnsigned(v) => S::TinyUnsigned(v),
            Value::SmallUnsigned(v) => S::SmallUnsigned(v),
            Value::Unsigned(v) => S::Unsigned(v),
            Value::BigUnsigned(v) => S::BigUnsigned(v),
            Value::Float(v) => S::Float(v),
            Value::Double(v) => S::Double(v),
            Value::String(v) => S::String(v),
            Value::Char(v) => S::Char(v),
            Value::Bytes(v) => S::Bytes(v),
            Value::Json(v) => S::Json(v),
            Value::ChronoDate(v) => S::ChronoDate(v),
            Value::ChronoTime(v) => S::ChronoTime(v),
            Value::ChronoDateTime(v) => S::ChronoDateTime(v),
            Value::ChronoDateTimeUtc(v) => S::ChronoDateTimeUtc(v),
            Value::Uuid(v) => S::Uuid(v),
            #[cfg(feature = "rust_decimal")]
            Value::Decimal(v) => S::Decimal(v),
            #[cfg(feature = "time")]
            Value::TimeDate(v) => S::TimeDate(v),
            #[cfg(feature = "time")]
            Value::TimeTime(v) => S::TimeTime(v),
            #[cfg(feature = "time")]
            Value::TimeDateTime(v) => S::TimeDateTime(v),
            #[cfg(feature = "time")]
            Value::TimeDateTimeWithTimeZone(v) => S::TimeDateTimeWithTimeZone(v),
        }
    }

    /// A value the SQL builder bound, back in Kysera's form (for [`to_sql`]); `None` for a
    /// kind Kysera never binds.
    ///
    /// [`to_sql`]: crate::Executor::to_sql
    pub(crate) fn from_sea(v: sea_query::Value) -> Option<Value> {
        use sea_query::Value as S;
        Some(match v {
            S::Bool(v) => Value::Bool(v),
            S::TinyInt(v) => Value::TinyInt(v),
            S::SmallInt(v) => Value::SmallInt(v),
            S::Int(v) => Value::Int(v),
            S::BigInt(v) => Value::BigInt(v),
            S::TinyUnsigned(v) => Value::TinyUnsigned(v),
            S::SmallUnsigned(v) => Value::SmallUnsigned(v),
            S::Unsigned(v) => Value::Unsigned(v),
            S::BigUnsigned(v) => Value::BigUnsigned(v),
            S::Float(v) => Value::Float(v),
            S::Double(v) => Value::Double(v),
            S::String(v) => Value::String(v),
            S::Char(v) => Value::Char(v),
            S::Bytes(v) => Value::Bytes(v),
            S::Json(v) => Value::Json(v),
            S::ChronoDate(v) => Value::ChronoDate(v),
            S::ChronoTime(v) => Value::ChronoTime(v),
            S::ChronoDateTime(v) => Value::ChronoDateTime(v),
            S::ChronoDateTimeUtc(v) => Value::ChronoDateTimeUtc(v),
            S::Uuid(v) => Value::Uuid(v),
            #[cfg(feature = "rust_decimal")]
            S::Decimal(v) => Value::Decimal(v),
            #[cfg(feature = "time")]
            S::TimeDate(v) => Value::TimeDate(v),
            #[cfg(feature = "time")]
            S::TimeTime(v) => Value::TimeTime(v),
            #[cfg(feature = "time")]
            S::TimeDateTime(v) => Value::TimeDateTime(v),
            #[cfg(feature = "time")]
            S::TimeDateTimeWithTimeZone(v) => Value::TimeDateTimeWithTimeZone(v),
            _ => return None,
        })
    }
}

/// A type whose values can be NULL in a [`Value`]: gives the typed NULL for `None`.
pub trait Nullable {
    /// The NULL of this type.
    fn null() -> Value;
}

macro_rules! values {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::$variant(Some(v))
            }
        }
        impl Nullable for $t {
            fn null() -> Value {
                Value::$variant(None)
            }
        }
    )*};
}
values!(
    bool => Bool,
    i8 => TinyInt,
    i16 => SmallInt,
    i32 => Int,
    i64 => BigInt,
    u8 => TinyUnsigned,
    u16 => SmallUnsigned,
    u32 => Unsigned,
    u64 => BigUnsigned,
    f32 => Float,
    f64 => Double,
    String => String,
    char => Char,
    Vec<u8> => Bytes,
    NaiveDate => ChronoDate,
    NaiveTime => ChronoTime,
    NaiveDateTime => ChronoDateTime,
    DateTime<Utc> => ChronoDateTimeUtc,
    uuid::Uuid => Uuid,
);

macro_rules! copied_values {
    ($($t:ty),* $(,)?) => {$(
        impl From<&$t> for Value {
            fn from(v: &$t) -> Value {
                Value::from(*v)
            }
        }
    )*};
}
copied_values!(bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, char);

/// Typed JSON: the document `T` serialises to. A `T` whose `Serialize` fails (a map with keys
/// that are not strings) has no JSON document: it binds as JSON `null`.
impl<T: serde::Serialize> From<&sqlx::types::Json<T>> for Value {
    fn from(v: &sqlx::types::Json<T>) -> Self {
        Value::Json(Some(Box::new(
            serde_json::to_value(&v.0).unwrap_or(serde_json::Value::Null),
        )))
    }
}

impl<T: serde::Serialize> From<sqlx::types::Json<T>> for Value {
    fn from(v: sqlx::types::Json<T>) -> Self {
        Value::from(&v)
    }
}

impl<T> Nullable for sqlx::types::Json<T> {
    fn null() -> Value {
        Value::Json(None)
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Value {
        Value::Json(Some(Box::new(v)))
    }
}

impl Nullable for serde_json::Value {
    fn null() -> Value {
        Value::Json(None)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::String(Some(v.to_owned()))
    }
}

impl Nullable for &str {
    fn null() -> Value {
        Value::String(None)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::String(Some(v.clone()))
    }
}

impl From<Cow<'_, str>> for Value {
    fn from(v: Cow<'_, str>) -> Value {
        Value::String(Some(v.into_owned()))
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Value {
        Value::Bytes(Some(v.to_vec()))
    }
}

impl<T: Into<Value> + Nullable> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        match v {
            Some(v) => v.into(),
            None => T::null(),
        }
    }
}

/// Whether a value is a (typed) NULL: every variant holds an `Option`.
pub(crate) fn is_null(v: &Value) -> bool {
    matches!(
        v,
        Value::Bool(None)
            | Value::TinyInt(None)
            | Value::SmallInt(None)
            | Value::Int(None)
            | Value::BigInt(None)
            | Value::TinyUnsigned(None)
            | Value::SmallUnsigned(None)
            | Value::Unsigned(None)
            | Value::BigUnsigned(None)
            | Value::Float(None)
            | Value::Double(None)
            | Value::String(None)
            | Value::Char(None)
            | Value::Bytes(None)
            | Value::Json(None)
            | Value::ChronoDate(None)
            | Value::ChronoTime(None)
            | Value::ChronoDateTime(None)
            | Value::ChronoDateTimeUtc(None)
            | Value::Uuid(None)
    ) || is_null_decimal(v)
        || is_null_time(v)
}

#[cfg(feature = "rust_decimal")]
fn is_null_decimal(v: &Value) -> bool {
    matches!(v, Value::Decimal(None))
}

#[cfg(not(feature = "rust_decimal"))]
fn is_null_decimal(_: &Value) -> bool {
    false
}

#[cfg(feature = "time")]
fn is_null_time(v: &Value) -> bool {
    matches!(
        v,
        Value::TimeDate(None)
            | Value::TimeTime(None)
            | Value::TimeDateTime(None)
            | Value::TimeDateTimeWithTimeZone(None)
    )
}

#[cfg(not(feature = "time"))]
fn is_null_time(_: &Value) -> bool {
    false
}

/// The `time` crate's types as values (feature `time`).
#[cfg(feature = "time")]
macro_rules! time_values {
    ($($t:ty => $variant:ident),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(Some(v))
            }
        }
        impl From<&$t> for Value {
            fn from(v: &$t) -> Self {
                Value::$variant(Some(*v))
            }
        }
        impl Nullable for $t {
            fn null() -> Value {
                Value::$variant(None)
            }
        }
    )*};
}
#[cfg(feature = "time")]
time_values!(
    time::Date => TimeDate,
    time::Time => TimeTime,
    time::PrimitiveDateTime => TimeDateTime,
    time::OffsetDateTime => TimeDateTimeWithTimeZone
);

#[cfg(feature = "rust_decimal")]
impl From<rust_decimal::Decimal> for Value {
    fn from(v: rust_decimal::Decimal) -> Self {
        Value::Decimal(Some(v))
    }
}

#[cfg(feature = "rust_decimal")]
impl From<&rust_decimal::Decimal> for Value {
    fn from(v: &rust_decimal::Decimal) -> Self {
        Value::Decimal(Some(*v))
    }
}

#[cfg(feature = "rust_decimal")]
impl Nullable for rust_decimal::Decimal {
    fn null() -> Value {
        Value::Decimal(None)
    }
}

/// Which rows of a soft-delete table a query sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum DeletedRows {
    /// Only rows that are not soft-deleted (the default).
    #[default]
    Exclude,
    /// Every row.
    Include,
    /// Only soft-deleted rows.
    Only,
}
