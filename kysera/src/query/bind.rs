//! Values as each database binds them: PostgreSQL's one parameter type per integer and float
//! kind, MySQL's date-times, and the refusal of values a database would store as something else.

use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;

/// A value as it is bound on `dialect`, or the refusal of one the database would store as
/// something else:
///
/// - PostgreSQL: every integer goes as `BIGINT` and every float as `DOUBLE PRECISION`, so one SQL
///   text always has one parameter type list (sqlx caches a statement's parameter types by its
///   text: the same query with an `i32` and then an `i16` failed), and an `i8` compares as a
///   number rather than PostgreSQL's one-byte `"char"`. The server converts them to the
///   column's type (out of range is its error). An unsigned value past `i64::MAX` is refused.
/// - SQLite stores NaN as NULL: refused; an unsigned value past `i64::MAX` is refused; a
///   decimal goes as its normalised text, a `time` value as the chrono value it equals.
/// - MySQL / MariaDB store neither NaN nor the infinities: refused; see [`for_mysql`] for dates.
pub(crate) fn bind_value(v: sea_query::Value, dialect: Dialect) -> Result<sea_query::Value> {
    use sea_query::Value as V;
    let non_finite = match &v {
        V::Float(Some(f)) => (!f.is_finite()).then(|| f.to_string()),
        V::Double(Some(f)) => (!f.is_finite()).then(|| f.to_string()),
        _ => None,
    };
    if let Some(f) = non_finite
        && (dialect == Dialect::MySql || f == "NaN")
        && dialect != Dialect::Postgres
    {
        return Err(Error::Unsupported {
            dialect,
            what: format!(
                "the float value {f} (MySQL stores no NaN or infinity, SQLite stores NaN as NULL)"
            ),
        });
    }
    if let V::BigUnsigned(Some(n)) = &v
        && dialect != Dialect::MySql
        && i64::try_from(*n).is_err()
    {
        // The PostgreSQL and SQLite binders convert u64 to i64 and would panic past i64::MAX.
        return Err(Error::InvalidQuery(format!(
            "the value {n} does not fit a signed 64-bit parameter on {dialect}"
        )));
    }
    Ok(match (dialect, v) {
        (Dialect::MySql, v) => for_mysql(v),
        (Dialect::Postgres, V::TinyInt(i)) => V::BigInt(i.map(i64::from)),
        (Dialect::Postgres, V::SmallInt(i)) => V::BigInt(i.map(i64::from)),
        (Dialect::Postgres, V::Int(i)) => V::BigInt(i.map(i64::from)),
        (Dialect::Postgres, V::TinyUnsigned(i)) => V::BigInt(i.map(i64::from)),
        (Dialect::Postgres, V::SmallUnsigned(i)) => V::BigInt(i.map(i64::from)),
        (Dialect::Postgres, V::Unsigned(i)) => V::BigInt(i.map(i64::from)),
        (Dialect::Postgres, V::BigUnsigned(i)) => {
            V::BigInt(i.map(|n| i64::try_from(n).unwrap_or(i64::MAX)))
        }
        (Dialect::Postgres, V::Float(f)) => V::Double(f.map(f64::from)),
        // SQLite has no decimal type: text, normalised (`0.10` as `0.1`), so that values equal
        // as decimals are equal as stored text too.
        #[cfg(feature = "rust_decimal")]
        (Dialect::Sqlite, V::Decimal(d)) => V::String(d.map(|d| d.normalize().to_string())),
        // SQLite keeps dates and times as text: the `time` crate's values go as the chrono
        // values they equal, so that they are written as chrono's are (an instant in UTC with
        // `+00:00` and 0/3/6/9 fraction digits): one text per value, text order is time order,
        // and rows written through either crate compare equal.
        #[cfg(feature = "time")]
        (Dialect::Sqlite, v @ (V::TimeDate(_) | V::TimeTime(_) | V::TimeDateTime(_))) => {
            time_as_chrono(v)
        }
        #[cfg(feature = "time")]
        (Dialect::Sqlite, v @ V::TimeDateTimeWithTimeZone(_)) => time_as_chrono(v),
        (_, v) => v,
    })
}

/// A `time` value as the chrono value it equals (every `time` value in its default range,
/// years -9999 to 9999, has one).
#[cfg(feature = "time")]
fn time_as_chrono(v: sea_query::Value) -> sea_query::Value {
    use sea_query::Value as V;
    let date = |d: time::Date| {
        chrono::NaiveDate::from_ymd_opt(
            d.year(),
            u32::from(u8::from(d.month())),
            u32::from(d.day()),
        )
    };
    let clock = |t: time::Time| {
        chrono::NaiveTime::from_hms_nano_opt(
            u32::from(t.hour()),
            u32::from(t.minute()),
            u32::from(t.second()),
            t.nanosecond(),
        )
    };
    let naive = |dt: time::PrimitiveDateTime| Some(date(dt.date())?.and_time(clock(dt.time())?));
    match v {
        V::TimeDate(d) => V::ChronoDate(d.and_then(date)),
        V::TimeTime(t) => V::ChronoTime(t.and_then(clock)),
        V::TimeDateTime(dt) => V::ChronoDateTime(dt.and_then(naive)),
        V::TimeDateTimeWithTimeZone(t) => V::ChronoDateTimeUtc(t.and_then(|t| {
            let utc = t.to_offset(time::UtcOffset::UTC);
            Some(naive(time::PrimitiveDateTime::new(utc.date(), utc.time()))?.and_utc())
        })),
        other => other,
    }
}

/// MySQL and MariaDB receive a UTC date-time as a `TIMESTAMP` parameter, which they store as
/// NULL (in a nullable `DATETIME` column) outside 1970–2038; it goes as the `DATETIME` it is
/// stored as instead, its UTC wall time, which covers years 1 to 9999.
pub(crate) fn for_mysql(v: sea_query::Value) -> sea_query::Value {
    match v {
        sea_query::Value::ChronoDateTimeUtc(t) => {
            sea_query::Value::ChronoDateTime(t.map(|t| t.naive_utc()))
        }
        #[cfg(feature = "time")]
        sea_query::Value::TimeDateTimeWithTimeZone(t) => {
            sea_query::Value::TimeDateTime(t.map(|t| {
                let utc = t.to_offset(time::UtcOffset::UTC);
                time::PrimitiveDateTime::new(utc.date(), utc.time())
            }))
        }
        other => other,
    }
}
