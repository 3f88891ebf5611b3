//! The values queries bind, and which rows of soft-delete tables a query sees.

pub use sea_query::Value;

/// Whether a value is a (typed) NULL: every sea-query variant holds an `Option`.
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
            | Value::ChronoDateTimeLocal(None)
            | Value::ChronoDateTimeWithTimeZone(None)
            | Value::Uuid(None)
    )
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
