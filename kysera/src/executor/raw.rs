//! [`Raw`]: the explicit way around every plugin, for DDL, maintenance and SQL text.

use sqlx::SqlSafeStr;

use super::{Executor, sqlx_query};
use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;
use crate::query::{Lowered, Query, Value, bind_value};
use crate::row::Row;

/// Direct access that bypasses every plugin; see [`Executor::raw`].
#[derive(Debug, Clone, Copy)]
pub struct Raw<'a> {
    pub(super) exec: &'a Executor,
}

impl Raw<'_> {
    /// Runs an IR query without plugins and returns its rows.
    pub async fn fetch_all(&self, query: impl Into<Query>) -> Result<Vec<Row>> {
        let mut query = query.into();
        query.normalize_filters()?;
        self.exec.fetch_all_unchecked(query).await
    }

    /// Runs an IR query without plugins and returns the rows affected.
    pub async fn execute(&self, query: impl Into<Query>) -> Result<u64> {
        let mut query = query.into();
        query.normalize_filters()?;
        self.exec.execute_unchecked(query).await
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
        refuse_nul(sql.as_str())?;
        self.check_placeholders(sql.as_str(), values.len())?;
        let result = if values.is_empty() {
            let probe = self.exec.probe(sql.as_str(), 0, None, None);
            let q = sqlx::raw_sql(sql);
            on_target!(probe, self.exec.target().await, |c, _wrap| q
                .execute(c)
                .await
                .map(|r| r.rows_affected())
                .map_err(Error::from))
        } else {
            let l = Lowered {
                sql: sql.as_str().to_string(),
                values: self.bind(values)?,
            };
            on_target!(
                self.exec.probe_lowered(&l, None),
                self.exec.target().await,
                |c, _wrap| sqlx_query(l)
                    .execute(c)
                    .await
                    .map(|r| r.rows_affected())
                    .map_err(Error::from)
            )
        };
        self.exec.explained(None, result).await
    }

    /// Runs SQL text with bound `values` and returns its rows (placeholders as in
    /// [`execute_sql`](Self::execute_sql)).
    pub async fn fetch_all_sql(
        &self,
        sql: impl SqlSafeStr,
        values: Vec<Value>,
    ) -> Result<Vec<Row>> {
        let sql = sql.into_sql_str();
        refuse_nul(sql.as_str())?;
        self.check_placeholders(sql.as_str(), values.len())?;
        let l = Lowered {
            sql: sql.as_str().to_string(),
            values: self.bind(values)?,
        };
        let result = on_target!(
            self.exec.probe_lowered(&l, None),
            self.exec.target().await,
            |c, wrap| sqlx_query(l)
                .fetch_all(c)
                .await
                .map(|rows| rows.into_iter().map(wrap).collect())
                .map_err(Error::from)
        );
        self.exec.explained(None, result).await
    }
}

/// SQL text with a NUL character: SQLite would run only the part before it.
fn refuse_nul(sql: &str) -> Result<()> {
    if sql.contains('\0') {
        return Err(Error::InvalidQuery(
            "the SQL text contains a NUL character".into(),
        ));
    }
    Ok(())
}

impl Raw<'_> {
    /// The values as bound on this database (see `query::bind_value`).
    fn bind(&self, values: Vec<Value>) -> Result<sea_query::Values> {
        let dialect = self.exec.dialect();
        values
            .into_iter()
            .map(|v| bind_value(v.into_sea(), dialect))
            .collect::<Result<_>>()
            .map(sea_query::Values)
    }

    /// SQLite binds NULL to a placeholder given no value; refuse the mismatch instead, as
    /// PostgreSQL and MySQL do.
    fn check_placeholders(&self, sql: &str, values: usize) -> Result<()> {
        let wanted = match self.exec.dialect() {
            Dialect::Sqlite => sqlite_placeholders(sql),
            // Without values the text runs as it is (no parameters at all: `$1` in a function
            // body is the function's). With values, PostgreSQL refuses a mismatch itself unless
            // the statement is prepared with the values' types, which gives it one parameter
            // per value: checked here, the same every time.
            Dialect::Postgres if values == 0 => return Ok(()),
            Dialect::Postgres => postgres_placeholders(sql),
            // MySQL refuses a mismatch itself.
            Dialect::MySql => return Ok(()),
        };
        if wanted != values {
            return Err(Error::InvalidQuery(format!(
                "the SQL has {wanted} placeholder(s) but {values} value(s) were given"
            )));
        }
        Ok(())
    }
}

/// The index just past the quoted text opening at `i` with `q`: a doubled quote is one quote,
/// and with `backslash` a backslash escapes the byte after it.
fn after_quoted(b: &[u8], mut i: usize, q: u8, backslash: bool) -> usize {
    i += 1;
    while i < b.len() {
        if backslash && b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            break;
        }
        i += 1;
    }
    i + 1
}

/// The index just past a `-- …` line or `/* … */` comment starting at `i`, if one does.
fn after_comment(b: &[u8], mut i: usize) -> Option<usize> {
    match (b.get(i), b.get(i + 1)) {
        (Some(b'-'), Some(b'-')) => {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            Some(i)
        }
        (Some(b'/'), Some(b'*')) => {
            i += 2;
            while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                i += 1;
            }
            Some(i + 2)
        }
        _ => None,
    }
}

/// The number of parameters SQLite sees in `sql` (the largest parameter index): `?` takes the
/// next index, `?NNN` index NNN, and each distinct `:name`, `@name` or `$name` the next index.
/// String literals, quoted identifiers and comments are skipped.
fn sqlite_placeholders(sql: &str) -> usize {
    let b = sql.as_bytes();
    let (mut i, mut max, mut next) = (0, 0usize, 0usize);
    let mut names: Vec<&str> = Vec::new();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    while i < b.len() {
        if let Some(end) = after_comment(b, i) {
            i = end;
            continue;
        }
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => i = after_quoted(b, i, q, false),
            b'[' => {
                while i < b.len() && b[i] != b']' {
                    i += 1;
                }
                i += 1;
            }
            b':' if b.get(i + 1) == Some(&b':') => i += 2,
            b'?' => {
                let start = i + 1;
                i = start;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                next = match sql[start..i].parse::<usize>() {
                    Ok(n) => n,
                    Err(_) => next + 1,
                };
                max = max.max(next);
            }
            b':' | b'@' | b'$' if b.get(i + 1).is_some_and(|c| ident(*c)) => {
                let start = i;
                i += 1;
                while i < b.len() && (ident(b[i]) || b[i] == b':') {
                    i += 1;
                }
                let name = &sql[start..i];
                if !names.contains(&name) {
                    names.push(name);
                    next = max + 1;
                    max = next;
                }
            }
            _ => i += 1,
        }
    }
    max
}

/// The number of parameters PostgreSQL sees in `sql`: the largest `$n`, outside string
/// literals (`'…'`, `E'…'` with its backslash escapes), quoted identifiers, dollar-quoted strings
/// (`$tag$…$tag$`) and comments.
fn postgres_placeholders(sql: &str) -> usize {
    let b = sql.as_bytes();
    let (mut i, mut max) = (0, 0usize);
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    while i < b.len() {
        if let Some(end) = after_comment(b, i) {
            i = end;
            continue;
        }
        match b[i] {
            q @ (b'\'' | b'"') => {
                // E'…' strings take backslash escapes.
                let escapes = q == b'\''
                    && i > 0
                    && matches!(b[i - 1], b'e' | b'E')
                    && (i < 2 || !ident(b[i - 2]));
                i = after_quoted(b, i, q, escapes);
            }
            b'$' if b.get(i + 1).is_some_and(u8::is_ascii_digit)
                && (i == 0 || !ident(b[i - 1])) =>
            {
                let start = i + 1;
                i = start;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                max = max.max(sql[start..i].parse().unwrap_or(usize::MAX));
            }
            b'$' if i == 0 || !ident(b[i - 1]) => {
                // A dollar quote: `$tag$`, the tag an identifier not starting with a digit.
                let start = i;
                let mut j = i + 1;
                while j < b.len() && ident(b[j]) && b[j] != b'$' {
                    j += 1;
                }
                if j < b.len() && b[j] == b'$' {
                    let tag = &sql[start..=j];
                    i = match sql[j + 1..].find(tag) {
                        Some(end) => j + 1 + end + tag.len(),
                        None => b.len(),
                    };
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::postgres_placeholders;
    use super::sqlite_placeholders as count;

    #[test]
    fn postgres_placeholders_are_counted_outside_literals_and_comments() {
        let count = postgres_placeholders;
        assert_eq!(count("SELECT 1"), 0);
        assert_eq!(count("INSERT INTO t (a, b) VALUES ($1, $2)"), 2);
        assert_eq!(count("SELECT $2, $2"), 2);
        assert_eq!(
            count("SELECT '$1', \"$2\", $$ $3 $$, $q$ $4 $q$ -- $5\n /* $6 */ , $1"),
            1
        );
        assert_eq!(count("SELECT E'it\\'s $1', $1"), 1);
        assert_eq!(count("SELECT 'it''s $2', $1"), 1);
        assert_eq!(count("SELECT a$1 FROM t"), 0);
    }

    #[test]
    fn sqlite_placeholders_are_counted_outside_literals_and_comments() {
        assert_eq!(count("SELECT 1"), 0);
        assert_eq!(count("SELECT ? , ?"), 2);
        assert_eq!(count("SELECT ?1, ?1, ?3"), 3);
        assert_eq!(
            count("SELECT '?', \"a?\", `b?`, [c?] -- ?\n /* ? */ , ?"),
            1
        );
        assert_eq!(count("SELECT 'it''s ?', ?"), 1);
        assert_eq!(count("SELECT :a, @b, $c, :a"), 3);
        assert_eq!(count("SELECT ?, :a, ?"), 3);
        assert_eq!(count("SELECT 1::text"), 0);
    }
}
