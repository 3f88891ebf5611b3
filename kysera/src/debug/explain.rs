//! `db.explain(query)`: the database's plan for a query as the executor would run it (after
//! the plugins), as text.

use sqlx::AssertSqlSafe;

use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;
use crate::executor::Executor;
use crate::query::Query;
use crate::row::Row;

/// How [`Executor::explain_with`] explains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExplainOptions {
    /// PostgreSQL only: run the statement (`EXPLAIN ANALYZE`) for real row counts and times.
    /// The statement runs in a transaction that is then rolled back, so a write explained this
    /// way leaves no row changed (sequences it advanced stay advanced, as sequences do).
    /// Elsewhere: [`Error::Unsupported`].
    pub analyze: bool,
}

impl ExplainOptions {
    /// Sets `analyze`.
    pub fn analyze(mut self, on: bool) -> Self {
        self.analyze = on;
        self
    }
}

/// Why an explained write's transaction ended: with the plan (rolled back on purpose), or
/// with an error.
enum Ended {
    Plan(String),
    Failed(Error),
}

impl From<Error> for Ended {
    fn from(e: Error) -> Self {
        Ended::Failed(e)
    }
}

impl Executor {
    /// The database's plan for `query` as this executor would run it, after its plugins (the
    /// soft-delete filter, the tenant condition, …): the statement [`to_sql`](Self::to_sql)
    /// gives, explained by `EXPLAIN` on PostgreSQL and MySQL and `EXPLAIN QUERY PLAN` on
    /// SQLite (drawn as a tree). Nothing is run. The extra statements some writes take (the
    /// read-back of MySQL's emulated RETURNING, a policy's check) are not in the plan.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> kysera::Result<()> {
    /// use kysera::query::{col, Select};
    /// let db = kysera::connect("sqlite::memory:").await?;
    /// db.raw().execute_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)", vec![]).await?;
    /// let plan = db.explain(Select::from("t").filter(col("id").eq(1))).await?;
    /// assert!(plan.contains("USING INTEGER PRIMARY KEY"), "{plan}");
    /// # Ok(()) }
    /// ```
    pub async fn explain(&self, query: impl Into<Query>) -> Result<String> {
        self.explain_with(query, ExplainOptions::default()).await
    }

    /// [`explain`](Self::explain), with `EXPLAIN ANALYZE` on PostgreSQL when asked.
    pub async fn explain_with(
        &self,
        query: impl Into<Query>,
        options: ExplainOptions,
    ) -> Result<String> {
        let (sql, values) = self.to_sql(query)?;
        let d = self.dialect();
        let prefix = match (d, options.analyze) {
            (Dialect::Postgres, false) => "EXPLAIN ",
            (Dialect::Postgres, true) => "EXPLAIN (ANALYZE) ",
            (Dialect::MySql, false) => "EXPLAIN ",
            (Dialect::Sqlite, false) => "EXPLAIN QUERY PLAN ",
            (dialect, true) => {
                return Err(Error::Unsupported {
                    dialect,
                    what: "EXPLAIN ANALYZE (it is offered on PostgreSQL)".into(),
                });
            }
        };
        let explain = format!("{prefix}{sql}");
        if !options.analyze {
            let rows = self
                .raw()
                .fetch_all_sql(AssertSqlSafe(explain), values)
                .await?;
            return Ok(render(d, &rows));
        }
        // ANALYZE runs the statement: in a transaction rolled back whatever it did.
        let ended = self
            .transaction_with_error(|tx| async move {
                let rows = tx
                    .raw()
                    .fetch_all_sql(AssertSqlSafe(explain), values)
                    .await?;
                Err::<(), _>(Ended::Plan(render(d, &rows)))
            })
            .await;
        match ended {
            Err(Ended::Plan(plan)) => Ok(plan),
            Err(Ended::Failed(e)) => Err(e),
            Ok(()) => Err(Error::InvalidQuery("EXPLAIN returned no plan".into())),
        }
    }
}

/// The plan's rows as text: PostgreSQL's lines as they are, SQLite's rows as a tree, MySQL's
/// as `column: value` blocks.
fn render(d: Dialect, rows: &[Row]) -> String {
    match d {
        Dialect::Postgres => rows
            .iter()
            .map(|r| cell(r, 0))
            .collect::<Vec<_>>()
            .join("\n"),
        Dialect::Sqlite => {
            // id, parent, notused, detail: a child is indented under its parent.
            let mut depth: std::collections::HashMap<i64, usize> = Default::default();
            let mut out = Vec::new();
            for r in rows {
                let id = r.get::<i64>(0).unwrap_or_default();
                let parent = r.get::<i64>(1).unwrap_or_default();
                let level = depth.get(&parent).map_or(0, |d| d + 1);
                depth.insert(id, level);
                out.push(format!("{}{}", "  ".repeat(level), cell(r, 3)));
            }
            out.join("\n")
        }
        Dialect::MySql => rows
            .iter()
            .map(|r| {
                r.columns()
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{c}: {}", cell(r, i)))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect::<Vec<_>>()
            .join("\n\n"),
    }
}

/// Column `i` of a plan row as text, whatever its type.
fn cell(r: &Row, i: usize) -> String {
    if let Ok(v) = r.get::<Option<String>>(i) {
        return v.unwrap_or_else(|| "NULL".into());
    }
    if let Ok(v) = r.get::<Option<i64>>(i) {
        return v.map_or_else(|| "NULL".into(), |v| v.to_string());
    }
    // MySQL's plan has unsigned columns (`id`, `rows`), which no other database has.
    #[cfg(feature = "mysql")]
    if let Row::MySql(my) = r
        && let Ok(v) = sqlx::Row::try_get::<Option<u64>, _>(my, i)
    {
        return v.map_or_else(|| "NULL".into(), |v| v.to_string());
    }
    if let Ok(v) = r.get::<Option<f64>>(i) {
        return v.map_or_else(|| "NULL".into(), |v| v.to_string());
    }
    if let Ok(v) = r.get::<Option<Vec<u8>>>(i) {
        return v.map_or_else(
            || "NULL".into(),
            |b| String::from_utf8_lossy(&b).into_owned(),
        );
    }
    "?".into()
}
