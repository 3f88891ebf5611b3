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

mod lower;

pub(crate) use lower::{Lowered, lower, lower_count, lower_exists};

pub use crate::behaviour::DeletedRows;
pub use sea_query::Value;

/// A column, optionally qualified by a table name or alias.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ColumnRef {
    /// The table name or alias qualifying the column, if any.
    pub table: Option<String>,
    /// The column name.
    pub column: String,
}

impl ColumnRef {
    /// An unqualified column.
    pub fn new(column: impl Into<String>) -> Self {
        ColumnRef {
            table: None,
            column: column.into(),
        }
    }

    /// A column qualified by a table name or alias (use this when a name contains a dot).
    pub fn qualified(table: impl Into<String>, column: impl Into<String>) -> Self {
        ColumnRef {
            table: Some(table.into()),
            column: column.into(),
        }
    }
}

/// A table in a FROM or JOIN clause, with an optional alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    /// The table name.
    pub name: String,
    /// The alias, if the query gives one.
    pub alias: Option<String>,
}

impl TableRef {
    /// The name other parts of the query use for this table: its alias, or else its name.
    pub fn reference(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AggFn {
    /// `COUNT(x)`
    Count,
    /// `COUNT(DISTINCT x)`
    CountDistinct,
    /// `SUM(x)`
    Sum,
    /// `AVG(x)`
    Avg,
    /// `MIN(x)`
    Min,
    /// `MAX(x)`
    Max,
}

/// A scalar expression: a column, a bound value or an aggregate.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Expr {
    /// A column.
    Column(ColumnRef),
    /// A value, always sent as a bound parameter.
    Value(Value),
    /// `COUNT(*)`
    CountAll,
    /// An aggregate over a column.
    Aggregate(AggFn, ColumnRef),
}

/// A column expression; `"t.c"` is column `c` of table (or alias) `t`.
///
/// ```
/// use kysera::query::{col, ColumnRef, Expr};
/// assert_eq!(col("u.email"), Expr::Column(ColumnRef::qualified("u", "email")));
/// assert_eq!(col("email"), Expr::Column(ColumnRef::new("email")));
/// ```
pub fn col(name: &str) -> Expr {
    Expr::Column(match name.split_once('.') {
        Some((t, c)) => ColumnRef::qualified(t, c),
        None => ColumnRef::new(name),
    })
}

/// A bound value as an expression.
pub fn val(v: impl Into<Value>) -> Expr {
    Expr::Value(v.into())
}

/// `COUNT(*)`
pub fn count_all() -> Expr {
    Expr::CountAll
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
}

/// A boolean condition, used in WHERE, JOIN … ON and HAVING.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Filter {
    /// `left op right`
    Compare {
        /// Left operand.
        left: Expr,
        /// Operator.
        op: CmpOp,
        /// Right operand.
        right: Expr,
    },
    /// `expr [NOT] IN (values…)`; an empty list is always false (always true when negated).
    In {
        /// The tested expression.
        expr: Expr,
        /// The candidate values.
        values: Vec<Value>,
        /// `NOT IN` when true.
        negated: bool,
    },
    /// `expr [NOT] LIKE pattern` (the pattern is a bound value).
    Like {
        /// The tested expression.
        expr: Expr,
        /// The pattern, with `%` and `_` wildcards.
        pattern: String,
        /// `NOT LIKE` when true.
        negated: bool,
    },
    /// `expr IS [NOT] NULL`
    IsNull {
        /// The tested expression.
        expr: Expr,
        /// `IS NOT NULL` when true.
        negated: bool,
    },
    /// All of the conditions (true when empty).
    And(Vec<Filter>),
    /// Any of the conditions (false when empty).
    Or(Vec<Filter>),
    /// The negation of a condition.
    Not(Box<Filter>),
}

impl Expr {
    fn cmp(self, op: CmpOp, right: Expr) -> Filter {
        Filter::Compare {
            left: self,
            op,
            right,
        }
    }
    /// `self = v`
    pub fn eq(self, v: impl Into<Value>) -> Filter {
        self.cmp(CmpOp::Eq, val(v))
    }
    /// `self <> v`
    pub fn ne(self, v: impl Into<Value>) -> Filter {
        self.cmp(CmpOp::Ne, val(v))
    }
    /// `self < v`
    pub fn lt(self, v: impl Into<Value>) -> Filter {
        self.cmp(CmpOp::Lt, val(v))
    }
    /// `self <= v`
    pub fn lte(self, v: impl Into<Value>) -> Filter {
        self.cmp(CmpOp::Lte, val(v))
    }
    /// `self > v`
    pub fn gt(self, v: impl Into<Value>) -> Filter {
        self.cmp(CmpOp::Gt, val(v))
    }
    /// `self >= v`
    pub fn gte(self, v: impl Into<Value>) -> Filter {
        self.cmp(CmpOp::Gte, val(v))
    }
    /// `self op other`, comparing with another expression (a column, typically in a join).
    pub fn compare(self, op: CmpOp, other: Expr) -> Filter {
        self.cmp(op, other)
    }
    /// `self = other` where `other` is another expression (a join condition, typically).
    pub fn eq_col(self, other: Expr) -> Filter {
        self.cmp(CmpOp::Eq, other)
    }
    /// `self IN (values…)`
    pub fn is_in<V: Into<Value>>(self, values: impl IntoIterator<Item = V>) -> Filter {
        Filter::In {
            expr: self,
            values: values.into_iter().map(Into::into).collect(),
            negated: false,
        }
    }
    /// `self NOT IN (values…)`
    pub fn not_in<V: Into<Value>>(self, values: impl IntoIterator<Item = V>) -> Filter {
        Filter::In {
            expr: self,
            values: values.into_iter().map(Into::into).collect(),
            negated: true,
        }
    }
    /// `self LIKE pattern`
    pub fn like(self, pattern: impl Into<String>) -> Filter {
        Filter::Like {
            expr: self,
            pattern: pattern.into(),
            negated: false,
        }
    }
    /// `self NOT LIKE pattern`
    pub fn not_like(self, pattern: impl Into<String>) -> Filter {
        Filter::Like {
            expr: self,
            pattern: pattern.into(),
            negated: true,
        }
    }
    /// `self IS NULL`
    pub fn is_null(self) -> Filter {
        Filter::IsNull {
            expr: self,
            negated: false,
        }
    }
    /// `self IS NOT NULL`
    pub fn is_not_null(self) -> Filter {
        Filter::IsNull {
            expr: self,
            negated: true,
        }
    }
    /// An aggregate of this column (`self` must be a column).
    pub fn aggregate(self, func: AggFn) -> Expr {
        match self {
            Expr::Column(c) => Expr::Aggregate(func, c),
            other => other,
        }
    }
    /// `COUNT(self)`
    pub fn count(self) -> Expr {
        self.aggregate(AggFn::Count)
    }
    /// `SUM(self)`
    pub fn sum(self) -> Expr {
        self.aggregate(AggFn::Sum)
    }
    /// `MAX(self)`
    pub fn max(self) -> Expr {
        self.aggregate(AggFn::Max)
    }
    /// `MIN(self)`
    pub fn min(self) -> Expr {
        self.aggregate(AggFn::Min)
    }
}

impl Filter {
    /// `self AND other` (flattening nested ANDs).
    pub fn and(self, other: Filter) -> Filter {
        match self {
            Filter::And(mut v) => {
                v.push(other);
                Filter::And(v)
            }
            f => Filter::And(vec![f, other]),
        }
    }
    /// `self OR other` (flattening nested ORs).
    pub fn or(self, other: Filter) -> Filter {
        match self {
            Filter::Or(mut v) => {
                v.push(other);
                Filter::Or(v)
            }
            f => Filter::Or(vec![f, other]),
        }
    }
    /// Every column this condition mentions, for plugins that look at what a query touches.
    pub fn columns(&self) -> Vec<&ColumnRef> {
        fn expr<'a>(e: &'a Expr, out: &mut Vec<&'a ColumnRef>) {
            if let Expr::Column(c) | Expr::Aggregate(_, c) = e {
                out.push(c);
            }
        }
        fn walk<'a>(f: &'a Filter, out: &mut Vec<&'a ColumnRef>) {
            match f {
                Filter::Compare { left, right, .. } => {
                    expr(left, out);
                    expr(right, out);
                }
                Filter::In { expr: e, .. }
                | Filter::Like { expr: e, .. }
                | Filter::IsNull { expr: e, .. } => expr(e, out),
                Filter::And(v) | Filter::Or(v) => v.iter().for_each(|f| walk(f, out)),
                Filter::Not(f) => walk(f, out),
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }
}

impl std::ops::Not for Filter {
    type Output = Filter;
    fn not(self) -> Filter {
        Filter::Not(Box::new(self))
    }
}

/// ANDs `extra` into an optional condition.
fn and_into(slot: &mut Option<Filter>, extra: Filter) {
    *slot = Some(match slot.take() {
        Some(f) => f.and(extra),
        None => extra,
    });
}

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
pub struct OrderBy {
    /// What to sort by.
    pub expr: Expr,
    /// Direction.
    pub order: Order,
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
pub struct SelectItem {
    /// The selected expression.
    pub expr: Expr,
    /// `AS alias`, if given.
    pub alias: Option<String>,
}

/// A SELECT query.
#[derive(Debug, Clone, PartialEq)]
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
        on: Filter,
    ) -> Self {
        let alias = alias.into();
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
        on: Filter,
    ) -> Self {
        self.join(JoinKind::Inner, table, alias, on)
    }
    /// `LEFT JOIN table AS alias ON on` (an empty alias means none).
    pub fn left_join(self, table: impl Into<String>, alias: impl Into<String>, on: Filter) -> Self {
        self.join(JoinKind::Left, table, alias, on)
    }
    /// ANDs a condition into WHERE.
    pub fn filter(mut self, f: Filter) -> Self {
        and_into(&mut self.filter, f);
        self
    }
    /// Adds a GROUP BY term.
    pub fn group_by(mut self, expr: Expr) -> Self {
        self.group_by.push(expr);
        self
    }
    /// ANDs a condition into HAVING.
    pub fn having(mut self, f: Filter) -> Self {
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
pub struct OnConflict {
    /// The unique columns that conflict.
    pub columns: Vec<String>,
    /// What to do.
    pub action: ConflictAction,
}

/// An INSERT of one or more rows.
#[derive(Debug, Clone, PartialEq)]
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
    pub fn filter(mut self, f: Filter) -> Self {
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
pub struct Delete {
    /// The table.
    pub table: String,
    /// The WHERE condition; `None` deletes every row.
    pub filter: Option<Filter>,
    /// What to return.
    pub returning: Returning,
}

impl Delete {
    /// `DELETE FROM table`
    pub fn from(table: impl Into<String>) -> Self {
        Delete {
            table: table.into(),
            filter: None,
            returning: Returning::None,
        }
    }
    /// ANDs a condition into WHERE.
    pub fn filter(mut self, f: Filter) -> Self {
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

/// The kind of statement, as plugins see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// SELECT
    Select,
    /// INSERT
    Insert,
    /// UPDATE
    Update,
    /// DELETE
    Delete,
}

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
    /// WHERE clause and is refused with [`Error::InvalidQuery`](crate::Error::InvalidQuery).
    pub fn add_filter(&mut self, f: Filter) -> crate::Result<()> {
        match self {
            Query::Select(s) => s.add_filter(f),
            Query::Update(u) => u.add_filter(f),
            Query::Delete(d) => d.add_filter(f),
            Query::Insert(_) => {
                return Err(crate::Error::InvalidQuery(
                    "an INSERT has no WHERE clause to add a filter to".into(),
                ));
            }
        }
        Ok(())
    }
    /// Sets a column's value in an INSERT (every row) or an UPDATE; other statements are refused
    /// with [`Error::InvalidQuery`](crate::Error::InvalidQuery).
    pub fn set_value(&mut self, column: &str, value: impl Into<Value>) -> crate::Result<()> {
        match self {
            Query::Insert(i) => i.set_value(column, value),
            Query::Update(u) => u.set_value(column, value),
            _ => {
                return Err(crate::Error::InvalidQuery(format!(
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
