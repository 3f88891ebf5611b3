//! [`Raw`]: the explicit way around every plugin, for DDL, maintenance and SQL text.

use sqlx::SqlSafeStr;

use super::{Executor, Target, sqlx_query};
use crate::core::error::{Error, Result};
use crate::query::{Lowered, Query, Value};
use crate::row::Row;

/// Direct access that bypasses every plugin; see [`Executor::raw`].
#[derive(Debug, Clone, Copy)]
pub struct Raw<'a> {
    pub(super) exec: &'a Executor,
}

impl Raw<'_> {
    /// Runs an IR query without plugins and returns its rows.
    pub async fn fetch_all(&self, query: impl Into<Query>) -> Result<Vec<Row>> {
        self.exec.fetch_all_unchecked(query.into()).await
    }

    /// Runs an IR query without plugins and returns the rows affected.
    pub async fn execute(&self, query: impl Into<Query>) -> Result<u64> {
        self.exec.execute_unchecked(query.into()).await
    }

    /// Runs SQL text with bound `values` and returns the rows affected. Placeholders are the
    /// database's own: `$1, $2` on PostgreSQL, `?` on MySQL and SQLite. With no values the text
    /// may hold several statements.
    ///
    /// The text is what sqlx accepts as safe: a `&'static str`, or a string the caller asserts
    /// is safe with [`AssertSqlSafe`](sqlx::AssertSqlSafe) — so SQL built at run time (perhaps
    /// from user input) is visible as such in the caller's code. Values always go as bound
    /// parameters.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> kysera::Result<()> {
    /// use kysera::AssertSqlSafe;
    /// let db = kysera::connect("sqlite::memory:").await?;
    /// db.raw().execute_sql("CREATE TABLE t (x INTEGER)", vec![]).await?;
    /// let table = "t"; // built at run time: the caller vouches for it
    /// let n = db
    ///     .raw()
    ///     .execute_sql(AssertSqlSafe(format!("INSERT INTO {table} (x) VALUES (?)")), vec![7.into()])
    ///     .await?;
    /// assert_eq!(n, 1);
    /// # Ok(()) }
    /// ```
    pub async fn execute_sql(&self, sql: impl SqlSafeStr, values: Vec<Value>) -> Result<u64> {
        let sql = sql.into_sql_str();
        if values.is_empty() {
            let q = sqlx::raw_sql(sql);
            return on_target!(self.exec.target().await?, |c, _wrap| q
                .execute(c)
                .await
                .map(|r| r.rows_affected())
                .map_err(Error::from));
        }
        let l = Lowered {
            sql: sql.as_str().to_string(),
            values: sea_query::Values(values.into_iter().map(Value::into_sea).collect()),
        };
        on_target!(self.exec.target().await?, |c, _wrap| sqlx_query(l)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
            .map_err(Error::from))
    }

    /// Runs SQL text with bound `values` and returns its rows (placeholders as in
    /// [`execute_sql`](Self::execute_sql)).
    pub async fn fetch_all_sql(
        &self,
        sql: impl SqlSafeStr,
        values: Vec<Value>,
    ) -> Result<Vec<Row>> {
        let l = Lowered {
            sql: sql.into_sql_str().as_str().to_string(),
            values: sea_query::Values(values.into_iter().map(Value::into_sea).collect()),
        };
        on_target!(self.exec.target().await?, |c, wrap| sqlx_query(l)
            .fetch_all(c)
            .await
            .map(|rows| rows.into_iter().map(wrap).collect())
            .map_err(Error::from))
    }
}
