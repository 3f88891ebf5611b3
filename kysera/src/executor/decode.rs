//! Typed fetches: rows decoded into Rust types, and a write's returned rows decoded before the
//! write commits, so a row that cannot be read undoes the write; and a MySQL column read back
//! as a `Value` (the keys of emulated RETURNING and of checked writes).

use super::Executor;
use crate::core::error::{Error, Result};
use crate::query::Query;
#[cfg(feature = "mysql")]
use crate::query::Value;
use crate::row::{FromRow, Row};

impl Executor {
    /// Like [`fetch_all`](Self::fetch_all), decoding each row into `T`.
    ///
    /// For a write (INSERT / UPDATE / DELETE with RETURNING) the rows are decoded before the
    /// write commits: a row that cannot be decoded undoes the write (see
    /// [`fetch_decoded`](Self::fetch_decoded)).
    pub async fn fetch_all_as<T: FromRow>(&self, query: impl Into<Query>) -> Result<Vec<T>> {
        self.fetch_decoded(query, Row::decode).await
    }

    /// Runs a query through the plugins and decodes each row it returns with `decode`.
    ///
    /// A write's rows are decoded **before it commits**: outside a transaction the statement
    /// and its decoding run in a transaction of their own, inside one in a savepoint, so a row
    /// that cannot be decoded (an `i64` field over an `INTEGER` column, a text column holding
    /// something that is not a timestamp) undoes the write and the caller sees the
    /// [`Error::Decode`] — never an error for a write that stayed, which a retry would
    /// duplicate. A SELECT is decoded as it comes.
    pub async fn fetch_decoded<T, D>(&self, query: impl Into<Query>, decode: D) -> Result<Vec<T>>
    where
        D: Fn(&Row) -> Result<T>,
    {
        self.decoded_unchecked(self.intercept(query)?, decode).await
    }

    /// [`fetch_decoded`](Self::fetch_decoded) of a query the plugins have already seen.
    async fn decoded_unchecked<T, D>(&self, query: Query, decode: D) -> Result<Vec<T>>
    where
        D: Fn(&Row) -> Result<T>,
    {
        if matches!(query, Query::Select(_)) {
            let rows = self.fetch_all_unchecked(query).await?;
            return rows.iter().map(decode).collect();
        }
        self.atomic(async move |tx| {
            let rows = tx.fetch_all_unchecked(query).await?;
            rows.iter().map(decode).collect()
        })
        .await
    }

    /// Like [`fetch_optional`](Self::fetch_optional), decoding the row into `T` (a write's
    /// row before it commits, as [`fetch_decoded`](Self::fetch_decoded) does).
    pub async fn fetch_optional_as<T: FromRow>(
        &self,
        query: impl Into<Query>,
    ) -> Result<Option<T>> {
        let query = self.intercept(query)?;
        if !matches!(query, Query::Select(_)) {
            return Ok(self
                .decoded_unchecked(query, Row::decode)
                .await?
                .into_iter()
                .next());
        }
        self.fetch_optional_unchecked(query)
            .await?
            .as_ref()
            .map(Row::decode)
            .transpose()
    }

    /// Like [`fetch_one`](Self::fetch_one), decoding the row into `T` (a write's row before it
    /// commits, as [`fetch_decoded`](Self::fetch_decoded) does).
    pub async fn fetch_one_as<T: FromRow>(&self, query: impl Into<Query>) -> Result<T> {
        let query = self.intercept(query)?;
        let table = query.table().to_string();
        let row = if matches!(query, Query::Select(_)) {
            self.fetch_optional_unchecked(query)
                .await?
                .map(|r| r.decode())
                .transpose()?
        } else {
            self.decoded_unchecked(query, Row::decode)
                .await?
                .into_iter()
                .next()
        };
        row.ok_or_else(|| Error::NotFound(Some(format!("no matching row in `{table}`"))))
    }
}

#[cfg(feature = "mysql")]
/// Reads a MySQL column back as a [`Value`], for the key columns of emulated RETURNING.
pub(super) fn mysql_value(row: &sqlx::mysql::MySqlRow, i: usize) -> Result<Value> {
    use sqlx::{Column as _, Row as _, TypeInfo as _};
    let ty = row.column(i).type_info().name().to_ascii_uppercase();
    let err = |e: sqlx::Error| Error::Decode {
        column: row.column(i).name().to_string(),
        sql_type: Some(row.column(i).type_info().name().to_string()),
        rust_type: None,
        source: e,
    };
    Ok(if ty.contains("UNSIGNED") {
        Value::BigUnsigned(row.try_get::<Option<u64>, _>(i).map_err(err)?)
    } else if ty.contains("INT") || ty == "YEAR" {
        Value::BigInt(row.try_get::<Option<i64>, _>(i).map_err(err)?)
    } else if ty.contains("BINARY") || ty.contains("BLOB") {
        Value::Bytes(row.try_get::<Option<Vec<u8>>, _>(i).map_err(err)?)
    } else if ty == "DATETIME" || ty == "TIMESTAMP" {
        Value::ChronoDateTime(
            row.try_get::<Option<chrono::NaiveDateTime>, _>(i)
                .map_err(err)?,
        )
    } else if ty == "DATE" {
        Value::ChronoDate(
            row.try_get::<Option<chrono::NaiveDate>, _>(i)
                .map_err(err)?,
        )
    } else if cfg!(feature = "rust_decimal") && (ty == "DECIMAL" || ty == "NEWDECIMAL") {
        decimal_value(row, i).map_err(err)?
    } else {
        Value::String(row.try_get::<Option<String>, _>(i).map_err(err)?)
    })
}

/// A `DECIMAL` column's value (feature `rust_decimal`).
#[cfg(all(feature = "mysql", feature = "rust_decimal"))]
fn decimal_value(row: &sqlx::mysql::MySqlRow, i: usize) -> std::result::Result<Value, sqlx::Error> {
    use sqlx::Row as _;
    Ok(Value::Decimal(
        row.try_get::<Option<rust_decimal::Decimal>, _>(i)?,
    ))
}

#[cfg(all(feature = "mysql", not(feature = "rust_decimal")))]
fn decimal_value(row: &sqlx::mysql::MySqlRow, i: usize) -> std::result::Result<Value, sqlx::Error> {
    use sqlx::Row as _;
    Ok(Value::String(row.try_get::<Option<String>, _>(i)?))
}
