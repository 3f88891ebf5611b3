//! The statements that change data: INSERT (with ON CONFLICT), UPDATE and DELETE, and what
//! they return.

use super::expr::{Filter, and_into};
use super::{DeletedRows, Value};

/// What a data-changing statement returns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Returning {
    /// Nothing: run it for its row count.
    #[default]
    None,
    /// Every column of the affected rows.
    All,
    /// The named columns of the affected rows.
    Columns(Vec<String>),
}

/// What to do when an insert hits a unique constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConflictAction {
    /// Skip the row.
    DoNothing,
    /// Overwrite the named columns of the existing row with the inserted values.
    Update(Vec<String>),
}

/// `ON CONFLICT (columns) DO …` (on MySQL: `ON DUPLICATE KEY UPDATE`, where the target columns
/// are still used to find the row for emulated RETURNING).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OnConflict {
    /// The unique columns that conflict.
    pub columns: Vec<String>,
    /// What to do.
    pub action: ConflictAction,
}

/// An INSERT of one or more rows.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Insert {
    /// The table.
    pub table: String,
    /// The columns given, in order.
    pub columns: Vec<String>,
    /// The rows; each has one value per column.
    pub rows: Vec<Vec<Value>>,
    /// Conflict handling.
    pub on_conflict: Option<OnConflict>,
    /// What to return.
    pub returning: Returning,
    /// The table's primary key columns, needed for RETURNING on MySQL (which has none and is
    /// emulated by reading the rows back by key).
    pub primary_key: Vec<String>,
    /// Keep the `created_at` / `updated_at` values given here instead of the clock's (on
    /// tables of `#[timestamps]` models).
    pub preserve_timestamps: bool,
    /// A condition every row this statement writes must meet (a row-level policy's WITH
    /// CHECK). With the primary key declared on the statement, the executor reads the written
    /// rows back by key in the statement's own transaction and checks them as stored; a row that
    /// fails undoes the statement and refuses it
    /// ([`Error::AccessDenied`](crate::Error::AccessDenied)). Without a key, the values are
    /// checked by the database before anything is written.
    pub check: Option<Filter>,
}

impl Insert {
    /// `INSERT INTO table`
    pub fn into(table: impl Into<String>) -> Self {
        Insert {
            table: table.into(),
            columns: Vec::new(),
            rows: Vec::new(),
            on_conflict: None,
            returning: Returning::None,
            primary_key: Vec::new(),
            preserve_timestamps: false,
            check: None,
        }
    }
    /// Keeps the timestamp values this insert gives (by default the clock's overwrite them).
    pub fn preserve_timestamps(mut self) -> Self {
        self.preserve_timestamps = true;
        self
    }
    /// Sets the column list.
    pub fn columns<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.columns = columns.into_iter().map(Into::into).collect();
        self
    }
    /// Adds a row of values, in column order.
    pub fn values<V: Into<Value>>(mut self, row: impl IntoIterator<Item = V>) -> Self {
        self.rows.push(row.into_iter().map(Into::into).collect());
        self
    }
    /// Sets `column` to `value` in every row (adding the column if it is missing; with no rows
    /// yet, starts one).
    pub fn set(mut self, column: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set_value(column, value);
        self
    }
    /// In-place [`set`](Self::set), for plugins.
    pub fn set_value(&mut self, column: impl Into<String>, value: impl Into<Value>) {
        let column = column.into();
        let value = value.into();
        if self.rows.is_empty() {
            self.rows.push(Vec::new());
        }
        match self.columns.iter().position(|c| *c == column) {
            Some(i) => {
                for row in &mut self.rows {
                    if let Some(slot) = row.get_mut(i) {
                        *slot = value.clone();
                    }
                }
            }
            None => {
                self.columns.push(column);
                for row in &mut self.rows {
                    row.push(value.clone());
                }
            }
        }
    }
    /// The value of `column` in row `row`, if given.
    pub fn value(&self, row: usize, column: &str) -> Option<&Value> {
        let i = self.columns.iter().position(|c| c == column)?;
        self.rows.get(row)?.get(i)
    }
    /// `ON CONFLICT (columns) DO NOTHING`
    pub fn on_conflict_do_nothing<S: Into<String>>(
        mut self,
        columns: impl IntoIterator<Item = S>,
    ) -> Self {
        self.on_conflict = Some(OnConflict {
            columns: columns.into_iter().map(Into::into).collect(),
            action: ConflictAction::DoNothing,
        });
        self
    }
    /// `ON CONFLICT (columns) DO UPDATE SET c = excluded.c` for each of `update`.
    pub fn on_conflict_update<S: Into<String>, U: Into<String>>(
        mut self,
        columns: impl IntoIterator<Item = S>,
        update: impl IntoIterator<Item = U>,
    ) -> Self {
        self.on_conflict = Some(OnConflict {
            columns: columns.into_iter().map(Into::into).collect(),
            action: ConflictAction::Update(update.into_iter().map(Into::into).collect()),
        });
        self
    }
    /// What to return.
    pub fn returning(mut self, r: Returning) -> Self {
        self.returning = r;
        self
    }
    /// `RETURNING *`
    pub fn returning_all(self) -> Self {
        self.returning(Returning::All)
    }
    /// Declares the primary key (used to emulate RETURNING on MySQL).
    pub fn primary_key<S: Into<String>>(mut self, cols: impl IntoIterator<Item = S>) -> Self {
        self.primary_key = cols.into_iter().map(Into::into).collect();
        self
    }
}

/// An UPDATE.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Update {
    /// The table.
    pub table: String,
    /// `SET column = value` pairs, in order.
    pub values: Vec<(String, Value)>,
    /// The WHERE condition; `None` updates every row.
    pub filter: Option<Filter>,
    /// What to return.
    pub returning: Returning,
    /// The table's primary key columns, needed for RETURNING on MySQL.
    pub primary_key: Vec<String>,
    /// Which rows of a soft-delete table it may change (by default, not the deleted ones).
    pub deleted: DeletedRows,
    /// Keep the `updated_at` value given here instead of the clock's.
    pub preserve_timestamps: bool,
    /// A condition every row this statement writes must meet (a row-level policy's WITH
    /// CHECK). With the primary key declared on the statement, the executor reads the written
    /// rows back by key in the statement's own transaction and checks them as stored; a row that
    /// fails undoes the statement and refuses it
    /// ([`Error::AccessDenied`](crate::Error::AccessDenied)). Without a key, the values are
    /// checked by the database before anything is written.
    pub check: Option<Filter>,
}

impl Update {
    /// `UPDATE table`
    pub fn table(table: impl Into<String>) -> Self {
        Update {
            table: table.into(),
            values: Vec::new(),
            filter: None,
            returning: Returning::None,
            primary_key: Vec::new(),
            deleted: DeletedRows::Exclude,
            preserve_timestamps: false,
            check: None,
        }
    }
    /// May change soft-deleted rows too.
    pub fn with_deleted(mut self) -> Self {
        self.deleted = DeletedRows::Include;
        self
    }
    /// Changes only soft-deleted rows.
    pub fn only_deleted(mut self) -> Self {
        self.deleted = DeletedRows::Only;
        self
    }
    /// Keeps the `updated_at` value this update gives (by default the clock's overwrites it).
    pub fn preserve_timestamps(mut self) -> Self {
        self.preserve_timestamps = true;
        self
    }
    /// `SET column = value` (replacing an earlier value for the same column).
    pub fn set(mut self, column: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set_value(column, value);
        self
    }
    /// In-place [`set`](Self::set), for plugins.
    pub fn set_value(&mut self, column: impl Into<String>, value: impl Into<Value>) {
        let column = column.into();
        let value = value.into();
        match self.values.iter_mut().find(|(c, _)| *c == column) {
            Some(slot) => slot.1 = value,
            None => self.values.push((column, value)),
        }
    }
    /// ANDs a condition into WHERE.
    pub fn filter(mut self, f: impl Into<Filter>) -> Self {
        let f = f.into();
        and_into(&mut self.filter, f);
        self
    }
    /// ANDs a condition into WHERE, in place (for plugins).
    pub fn add_filter(&mut self, f: Filter) {
        and_into(&mut self.filter, f);
    }
    /// What to return.
    pub fn returning(mut self, r: Returning) -> Self {
        self.returning = r;
        self
    }
    /// `RETURNING *`
    pub fn returning_all(self) -> Self {
        self.returning(Returning::All)
    }
    /// Declares the primary key (used to emulate RETURNING on MySQL).
    pub fn primary_key<S: Into<String>>(mut self, cols: impl IntoIterator<Item = S>) -> Self {
        self.primary_key = cols.into_iter().map(Into::into).collect();
        self
    }
}

/// A DELETE.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Delete {
    /// The table.
    pub table: String,
    /// The WHERE condition; `None` deletes every row.
    pub filter: Option<Filter>,
    /// What to return.
    pub returning: Returning,
    /// The table's primary key columns: on MySQL, RETURNING reads the rows first and then
    /// deletes exactly those rows by key (without it, by the same condition).
    pub primary_key: Vec<String>,
}

impl Delete {
    /// `DELETE FROM table`
    pub fn from(table: impl Into<String>) -> Self {
        Delete {
            table: table.into(),
            filter: None,
            returning: Returning::None,
            primary_key: Vec::new(),
        }
    }
    /// Declares the primary key (used to emulate RETURNING on MySQL), as on
    /// [`Insert`] and [`Update`].
    pub fn primary_key<S: Into<String>>(mut self, cols: impl IntoIterator<Item = S>) -> Self {
        self.primary_key = cols.into_iter().map(Into::into).collect();
        self
    }
    /// ANDs a condition into WHERE.
    pub fn filter(mut self, f: impl Into<Filter>) -> Self {
        let f = f.into();
        and_into(&mut self.filter, f);
        self
    }
    /// ANDs a condition into WHERE, in place (for plugins).
    pub fn add_filter(&mut self, f: Filter) {
        and_into(&mut self.filter, f);
    }
    /// What to return.
    pub fn returning(mut self, r: Returning) -> Self {
        self.returning = r;
        self
    }
    /// `RETURNING *`
    pub fn returning_all(self) -> Self {
        self.returning(Returning::All)
    }
}
