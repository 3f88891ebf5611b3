//! Cleaning a database between tests (`cleanDatabase` in the TypeScript Kysera).

use crate::core::error::Result;
use crate::executor::Executor;

/// How [`clean_database`] empties tables.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Clean {
    /// `TRUNCATE` (identity and auto-increment counters restart) instead of `DELETE`.
    pub truncate: bool,
    /// Tables left as they are (the migration history, by default).
    pub keep: Vec<String>,
    /// Only these tables (all of the database's own when empty).
    pub only: Vec<String>,
}

impl Default for Clean {
    fn default() -> Self {
        Clean {
            truncate: false,
            keep: vec!["kysera_migrations".into()],
            only: Vec::new(),
        }
    }
}

impl Clean {
    /// `DELETE` every table but the migration history.
    pub fn delete() -> Self {
        Clean::default()
    }
    /// `TRUNCATE` every table but the migration history (counters restart).
    pub fn truncate() -> Self {
        Clean {
            truncate: true,
            ..Clean::default()
        }
    }
    /// Leaves these tables too.
    pub fn keep<S: Into<String>>(mut self, tables: impl IntoIterator<Item = S>) -> Self {
        self.keep.extend(tables.into_iter().map(Into::into));
        self
    }
    /// Cleans only these tables.
    pub fn only<S: Into<String>>(mut self, tables: impl IntoIterator<Item = S>) -> Self {
        self.only = tables.into_iter().map(Into::into).collect();
        self
    }
}

/// Empties the database's tables (or `how.only`), all but `how.keep`, in an order the foreign
/// keys allow: a table whose rows others still reference is emptied after them. Returns the
/// tables emptied. Writes go around the plugins (`raw`): cleaning is not an application write.
pub async fn clean_database(db: &Executor, how: &Clean) -> Result<Vec<String>> {
    let mut left: Vec<String> = if how.only.is_empty() {
        crate::dialect::tables(db, None)
            .await?
            .into_iter()
            .map(|t| t.name)
            .collect()
    } else {
        how.only.clone()
    };
    left.retain(|t| !how.keep.iter().any(|k| k.eq_ignore_ascii_case(t)));
    crate::dialect::empty_tables(db, left, how.truncate).await
}
