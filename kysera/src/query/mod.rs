//! Kysera's query IR: the form every query takes between the code that builds it (the builders
//! here, repositories, DAL functions) and the database.
//!
//! Plugins see and rewrite queries in this form (see [`Plugin`](crate::Plugin)); the executor
//! lowers it to [sea-query](https://docs.rs/sea-query) for the connected dialect only when it runs
//! it, so values are always bound parameters and identifiers always quoted.
//!
//! ```
//! use kysera::query::{col, Order, Select};
//!
//! let q = Select::from("users")
//!     .alias("u")
//!     .columns([col("u.id"), col("u.email")])
//!     .inner_join("orgs", "o", col("o.id").eq_col(col("u.org_id")))
//!     .filter(col("u.age").gte(18).and(col("o.name").like("acme%")))
//!     .order_by(col("u.id"), Order::Asc)
//!     .limit(10);
//! assert_eq!(q.table.name, "users");
//! assert_eq!(q.joins[0].table.name, "orgs");
//! ```

mod bind;
mod expr;
mod locked_change;
mod lower;
mod lower_filter;
mod select;
mod shape;
mod value;
mod write;

use crate::core::error::{Error, Result};
use expr::and_into;

pub use crate::core::sql::Operation;
pub(crate) use bind::bind_value;
pub use expr::{
    AggFn, CmpOp, ColumnRef, Expr, Filter, MAX_FILTER_DEPTH, TableRef, col, count_all, escape_like,
    val,
};
pub(crate) use locked_change::{
    AFTER as CHANGE_AFTER, CHECKED as CHANGE_CHECKED, lower_locked, lower_locked_change,
};
pub(crate) use lower::{Lowered, lower_count, lower_exists, lower_truths, lower_uncached};
pub use select::{Join, JoinKind, Order, OrderBy, Select, SelectItem};
pub(crate) use shape::{hits as shape_hits, lower};
pub(crate) use value::is_null;
pub use value::{DeletedRows, Nullable, Value};
pub use write::{ConflictAction, Delete, Insert, OnConflict, Returning, Update};

/// Any query the executor runs through its plugins.
// A query is built once per call and moved through the chain; boxing the SELECT would cost an
// allocation per query to save stack space that is never held for long.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Query {
    /// A SELECT.
    Select(Select),
    /// An INSERT.
    Insert(Insert),
    /// An UPDATE.
    Update(Update),
    /// A DELETE.
    Delete(Delete),
}

impl Query {
    /// The kind of statement.
    pub fn operation(&self) -> Operation {
        match self {
            Query::Select(_) => Operation::Select,
            Query::Insert(_) => Operation::Insert,
            Query::Update(_) => Operation::Update,
            Query::Delete(_) => Operation::Delete,
        }
    }
    /// The main table's name.
    pub fn table(&self) -> &str {
        match self {
            Query::Select(s) => &s.table.name,
            Query::Insert(i) => &i.table,
            Query::Update(u) => &u.table,
            Query::Delete(d) => &d.table,
        }
    }
    /// The tables joined to the main table (only SELECTs have joins).
    pub fn joined_tables(&self) -> impl Iterator<Item = &TableRef> {
        let joins: &[Join] = match self {
            Query::Select(s) => &s.joins,
            _ => &[],
        };
        joins.iter().map(|j| &j.table)
    }
    /// The WHERE condition, for statements that have one.
    pub fn filter(&self) -> Option<&Filter> {
        match self {
            Query::Select(s) => s.filter.as_ref(),
            Query::Update(u) => u.filter.as_ref(),
            Query::Delete(d) => d.filter.as_ref(),
            Query::Insert(_) => None,
        }
    }
    /// ANDs a condition into the WHERE clause of a SELECT, UPDATE or DELETE; an INSERT has no
    /// WHERE clause and is refused with [`Error::InvalidQuery`].
    pub fn add_filter(&mut self, f: Filter) -> Result<()> {
        match self {
            Query::Select(s) => s.add_filter(f),
            Query::Update(u) => u.add_filter(f),
            Query::Delete(d) => d.add_filter(f),
            Query::Insert(_) => {
                return Err(Error::InvalidQuery(
                    "an INSERT has no WHERE clause to add a filter to".into(),
                ));
            }
        }
        Ok(())
    }
    /// Sets a column's value in an INSERT (every row) or an UPDATE; other statements are refused
    /// with [`Error::InvalidQuery`].
    pub fn set_value(&mut self, column: &str, value: impl Into<Value>) -> Result<()> {
        match self {
            Query::Insert(i) => i.set_value(column, value),
            Query::Update(u) => u.set_value(column, value),
            _ => {
                return Err(Error::InvalidQuery(format!(
                    "cannot set `{column}` in a {:?}",
                    self.operation()
                )));
            }
        }
        Ok(())
    }
    /// The values written, as `(column, value)` pairs: every row of an INSERT, the SET list of an
    /// UPDATE, nothing for other statements.
    pub fn written_values(&self) -> Vec<(&str, &Value)> {
        match self {
            Query::Insert(i) => i
                .rows
                .iter()
                .flat_map(|row| i.columns.iter().map(String::as_str).zip(row.iter()))
                .collect(),
            Query::Update(u) => u.values.iter().map(|(c, v)| (c.as_str(), v)).collect(),
            _ => Vec::new(),
        }
    }
    /// Every condition of the statement normalized ([`Filter::normalized`]): chains flattened,
    /// double negations removed, and [`Error::InvalidQuery`] when one nests deeper than
    /// [`MAX_FILTER_DEPTH`]. The executor does this before the plugins see a query.
    pub fn normalize_filters(&mut self) -> Result<()> {
        fn slot(f: &mut Option<Filter>) -> Result<()> {
            if let Some(x) = f.take() {
                *f = Some(x.normalized()?);
            }
            Ok(())
        }
        fn inline(f: &mut Filter) -> Result<()> {
            let x = std::mem::replace(f, Filter::And(Vec::new()));
            *f = x.normalized()?;
            Ok(())
        }
        match self {
            Query::Select(s) => {
                slot(&mut s.filter)?;
                slot(&mut s.having)?;
                for j in &mut s.joins {
                    inline(&mut j.on)?;
                }
            }
            Query::Insert(i) => slot(&mut i.check)?,
            Query::Update(u) => {
                slot(&mut u.filter)?;
                slot(&mut u.check)?;
            }
            Query::Delete(d) => slot(&mut d.filter)?,
        }
        Ok(())
    }

    /// [`normalize_filters`](Self::normalize_filters) of a SELECT, for code that clones it
    /// before the executor sees it (cloning a deeply nested condition recurses per level).
    pub(crate) fn normalize_select(select: Select) -> Result<Select> {
        let mut q = Query::Select(select);
        q.normalize_filters()?;
        match q {
            Query::Select(s) => Ok(s),
            _ => Err(Error::InvalidQuery("a SELECT stopped being one".into())),
        }
    }

    /// The refusal of a condition comparing a column with NULL, if the statement has one.
    pub(crate) fn null_comparison(&self) -> Result<()> {
        match self {
            Query::Select(s) => select_null_comparison(s),
            Query::Update(u) => refuse_null_comparison(u.filter.iter()),
            Query::Delete(d) => refuse_null_comparison(d.filter.iter()),
            Query::Insert(_) => Ok(()),
        }
    }

    /// Whether any condition of the statement nests deeper than [`MAX_FILTER_DEPTH`].
    pub(crate) fn too_deep(&self) -> bool {
        let deep = |f: &Option<Filter>| f.as_ref().is_some_and(Filter::too_deep);
        match self {
            Query::Select(s) => select_too_deep(s),
            Query::Insert(i) => deep(&i.check),
            Query::Update(u) => deep(&u.filter) || deep(&u.check),
            Query::Delete(d) => deep(&d.filter),
        }
    }
    /// The condition the rows it writes must meet once written (see [`Insert::check`]).
    pub fn check(&self) -> Option<&Filter> {
        match self {
            Query::Insert(i) => i.check.as_ref(),
            Query::Update(u) => u.check.as_ref(),
            _ => None,
        }
    }
    /// ANDs a condition into the rows-written check of an INSERT or UPDATE; other statements
    /// write no rows and are refused with [`Error::InvalidQuery`].
    pub fn add_check(&mut self, f: Filter) -> Result<()> {
        let slot = match self {
            Query::Insert(i) => &mut i.check,
            Query::Update(u) => &mut u.check,
            _ => {
                return Err(Error::InvalidQuery(format!(
                    "a {:?} writes no rows to check",
                    self.operation()
                )));
            }
        };
        and_into(slot, f);
        Ok(())
    }
    /// What the statement returns (a SELECT always returns rows: [`Returning::All`]).
    pub fn returning(&self) -> &Returning {
        match self {
            Query::Select(_) => &Returning::All,
            Query::Insert(i) => &i.returning,
            Query::Update(u) => &u.returning,
            Query::Delete(d) => &d.returning,
        }
    }
}

macro_rules! into_query {
    ($($t:ident),*) => {$(
        impl From<$t> for Query {
            fn from(q: $t) -> Query {
                Query::$t(q)
            }
        }
    )*};
}
into_query!(Select, Insert, Update, Delete);

/// Every condition of a SELECT: WHERE, HAVING and the joins' ON clauses.
fn select_filters(s: &Select) -> impl Iterator<Item = &Filter> {
    s.filter
        .iter()
        .chain(s.having.iter())
        .chain(s.joins.iter().map(|j| &j.on))
}

/// Whether a SELECT's condition nests deeper than [`MAX_FILTER_DEPTH`].
pub(crate) fn select_too_deep(s: &Select) -> bool {
    select_filters(s).any(Filter::too_deep)
}

/// The refusal of a SELECT's condition that compares a column with NULL.
pub(crate) fn select_null_comparison(s: &Select) -> Result<()> {
    refuse_null_comparison(select_filters(s))
}

fn refuse_null_comparison<'a>(filters: impl Iterator<Item = &'a Filter>) -> Result<()> {
    for f in filters {
        if let Some(c) = f.null_comparison() {
            return Err(Error::InvalidQuery(format!(
                "`{}` is compared with NULL, which is never true: use is_null() / is_not_null()",
                c.column
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_set_value_adds_or_overwrites_in_every_row() {
        let mut q = Insert::into("t").columns(["a"]).values([1]).values([2]);
        q.set_value("b", 9);
        q.set_value("a", 5);
        assert_eq!(q.columns, vec!["a", "b"]);
        assert_eq!(
            q.rows,
            vec![vec![5.into(), 9.into()], vec![5.into(), 9.into()]]
        );
        assert_eq!(q.value(1, "b"), Some(&Value::from(9)));
    }

    #[test]
    fn filters_flatten_and_list_columns() {
        let f = col("a")
            .eq(1)
            .and(col("t.b").gt(2))
            .and(!col("c").is_null());
        let Filter::And(parts) = &f else {
            panic!("not an AND")
        };
        assert_eq!(parts.len(), 3);
        let cols: Vec<_> = f.columns().into_iter().map(|c| c.column.as_str()).collect();
        assert_eq!(cols, ["a", "b", "c"]);
    }

    #[test]
    fn query_accessors() {
        let mut q: Query = Select::from("users")
            .alias("u")
            .left_join("posts", "p", col("p.user_id").eq_col(col("u.id")))
            .into();
        assert_eq!(q.operation(), Operation::Select);
        assert_eq!(q.table(), "users");
        assert_eq!(
            q.joined_tables()
                .map(TableRef::reference)
                .collect::<Vec<_>>(),
            ["p"]
        );
        q.add_filter(col("u.id").eq(1)).unwrap();
        assert!(q.filter().is_some());
        assert!(q.set_value("x", 1).is_err());
        let mut ins: Query = Insert::into("t").set("a", 1).into();
        assert!(ins.add_filter(col("a").eq(1)).is_err());
        ins.set_value("b", "x").unwrap();
        assert_eq!(ins.written_values().len(), 2);
    }
}
