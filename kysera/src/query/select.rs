//! SELECT: the main table, joins, columns, conditions, grouping, order and limits.

use super::DeletedRows;
use super::expr::{Expr, Filter, TableRef, and_into};

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// One ORDER BY term.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OrderBy {
    /// What to sort by.
    pub expr: Expr,
    /// Direction.
    pub order: Order,
}

impl OrderBy {
    /// Sorts by `expr` in `order`.
    pub fn new(expr: Expr, order: Order) -> Self {
        OrderBy { expr, order }
    }
    /// `expr ASC`
    pub fn asc(expr: Expr) -> Self {
        OrderBy::new(expr, Order::Asc)
    }
    /// `expr DESC`
    pub fn desc(expr: Expr) -> Self {
        OrderBy::new(expr, Order::Desc)
    }
}

/// Join kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinKind {
    /// `INNER JOIN`
    Inner,
    /// `LEFT JOIN`
    Left,
    /// `RIGHT JOIN`
    Right,
    /// `FULL OUTER JOIN` (not on MySQL, where it is an [`Error::Unsupported`](crate::Error)).
    Full,
}

/// A join of another table.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Join {
    /// The kind of join.
    pub kind: JoinKind,
    /// The joined table.
    pub table: TableRef,
    /// The join condition.
    pub on: Filter,
}

/// One item of a select list.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SelectItem {
    /// The selected expression.
    pub expr: Expr,
    /// `AS alias`, if given.
    pub alias: Option<String>,
}

/// A SELECT query.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Select {
    /// The main table.
    pub table: TableRef,
    /// `SELECT DISTINCT` when true.
    pub distinct: bool,
    /// The select list; empty means `*`.
    pub columns: Vec<SelectItem>,
    /// Joined tables, in order.
    pub joins: Vec<Join>,
    /// The WHERE condition.
    pub filter: Option<Filter>,
    /// GROUP BY terms.
    pub group_by: Vec<Expr>,
    /// The HAVING condition.
    pub having: Option<Filter>,
    /// ORDER BY terms.
    pub order_by: Vec<OrderBy>,
    /// LIMIT.
    pub limit: Option<u64>,
    /// OFFSET.
    pub offset: Option<u64>,
    /// Which rows of soft-delete tables this query sees (see [`crate::behaviour`]).
    pub deleted: DeletedRows,
}

impl Select {
    /// `SELECT * FROM table`
    pub fn from(table: impl Into<String>) -> Self {
        Select {
            table: TableRef {
                name: table.into(),
                alias: None,
            },
            distinct: false,
            columns: Vec::new(),
            joins: Vec::new(),
            filter: None,
            group_by: Vec::new(),
            having: None,
            order_by: Vec::new(),
            limit: None,
            offset: None,
            deleted: DeletedRows::Exclude,
        }
    }
    /// Sees soft-deleted rows too (on tables of `#[soft_delete]` models).
    pub fn with_deleted(mut self) -> Self {
        self.deleted = DeletedRows::Include;
        self
    }
    /// Sees only soft-deleted rows of the main table (joined tables still hide theirs).
    pub fn only_deleted(mut self) -> Self {
        self.deleted = DeletedRows::Only;
        self
    }
    /// Gives the main table an alias.
    pub fn alias(mut self, alias: impl Into<String>) -> Self {
        self.table.alias = Some(alias.into());
        self
    }
    /// Adds an expression to the select list.
    pub fn column(mut self, expr: Expr) -> Self {
        self.columns.push(SelectItem { expr, alias: None });
        self
    }
    /// Adds expressions to the select list.
    pub fn columns(mut self, exprs: impl IntoIterator<Item = Expr>) -> Self {
        self.columns.extend(
            exprs
                .into_iter()
                .map(|expr| SelectItem { expr, alias: None }),
        );
        self
    }
    /// Adds `expr AS alias` to the select list.
    pub fn expr_as(mut self, expr: Expr, alias: impl Into<String>) -> Self {
        self.columns.push(SelectItem {
            expr,
            alias: Some(alias.into()),
        });
        self
    }
    /// `SELECT DISTINCT`
    pub fn distinct(mut self) -> Self {
        self.distinct = true;
        self
    }
    /// Adds a join; `alias` may be empty for none.
    pub fn join(
        mut self,
        kind: JoinKind,
        table: impl Into<String>,
        alias: impl Into<String>,
        on: impl Into<Filter>,
    ) -> Self {
        let (alias, on) = (alias.into(), on.into());
        self.joins.push(Join {
            kind,
            table: TableRef {
                name: table.into(),
                alias: (!alias.is_empty()).then_some(alias),
            },
            on,
        });
        self
    }
    /// `INNER JOIN table AS alias ON on` (an empty alias means none).
    pub fn inner_join(
        self,
        table: impl Into<String>,
        alias: impl Into<String>,
        on: impl Into<Filter>,
    ) -> Self {
        self.join(JoinKind::Inner, table, alias, on)
    }
    /// `LEFT JOIN table AS alias ON on` (an empty alias means none).
    pub fn left_join(
        self,
        table: impl Into<String>,
        alias: impl Into<String>,
        on: impl Into<Filter>,
    ) -> Self {
        self.join(JoinKind::Left, table, alias, on)
    }
    /// ANDs a condition into WHERE.
    pub fn filter(mut self, f: impl Into<Filter>) -> Self {
        let f = f.into();
        and_into(&mut self.filter, f);
        self
    }
    /// Adds a GROUP BY term.
    pub fn group_by(mut self, expr: Expr) -> Self {
        self.group_by.push(expr);
        self
    }
    /// ANDs a condition into HAVING.
    pub fn having(mut self, f: impl Into<Filter>) -> Self {
        let f = f.into();
        and_into(&mut self.having, f);
        self
    }
    /// Adds an ORDER BY term.
    pub fn order_by(mut self, expr: Expr, order: Order) -> Self {
        self.order_by.push(OrderBy { expr, order });
        self
    }
    /// LIMIT
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }
    /// OFFSET
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = Some(n);
        self
    }
    /// ANDs a condition into WHERE, in place (for plugins).
    pub fn add_filter(&mut self, f: Filter) {
        and_into(&mut self.filter, f);
    }
}
