//! Expressions and conditions: columns, bound values, aggregates, comparisons and the
//! [`Filter`] tree that WHERE, HAVING and ON clauses are made of.

use super::Value;

/// A column, optionally qualified by a table name or alias.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
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
#[non_exhaustive]
pub struct TableRef {
    /// The table name.
    pub name: String,
    /// The alias, if the query gives one.
    pub alias: Option<String>,
}

impl TableRef {
    /// A table without an alias.
    pub fn new(name: impl Into<String>) -> Self {
        TableRef {
            name: name.into(),
            alias: None,
        }
    }

    /// A table with an alias (`users AS u`).
    pub fn aliased(name: impl Into<String>, alias: impl Into<String>) -> Self {
        TableRef {
            name: name.into(),
            alias: Some(alias.into()),
        }
    }

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
    /// `left = right`, compared byte for byte whatever the column's collation (no case folding,
    /// no padding of trailing spaces, no look-alike characters): what tenant isolation compares
    /// text with. The plain `=` is kept beside the exact one, so an index on `left` is used.
    Identical {
        /// Left operand.
        left: Expr,
        /// Right operand.
        right: Expr,
    },
    /// All of the conditions (true when empty).
    And(Vec<Filter>),
    /// Any of the conditions (false when empty).
    Or(Vec<Filter>),
    /// The negation of a condition.
    Not(Box<Filter>),
    /// `(condition) IS NOT TRUE`: true where the condition is false **or unknown** (a NULL in
    /// it), where `NOT condition` is unknown too. A deny policy removes exactly the rows whose
    /// condition is true with it, so a NULL never hides a row.
    NotTrue(Box<Filter>),
}

impl Expr {
    fn cmp(self, op: CmpOp, right: Expr) -> Filter {
        Filter::Compare {
            left: self,
            op,
            right,
        }
    }
    /// `self = v`. Comparing a column with NULL (`eq(None)`) is refused when the query is run
    /// ([`Error::InvalidQuery`](crate::Error::InvalidQuery)): `= NULL` is never true, so it
    /// would silently match nothing; say [`is_null`](Self::is_null) instead.
    pub fn eq(self, v: impl Into<Value>) -> Filter {
        self.cmp(CmpOp::Eq, val(v))
    }
    /// `self = v` byte for byte, whatever the collation (see [`Filter::Identical`]).
    pub fn identical(self, v: impl Into<Value>) -> Filter {
        Filter::Identical {
            left: self,
            right: val(v),
        }
    }
    /// `self <> v`; comparing a column with NULL is refused (see [`eq`](Self::eq)).
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
    /// `self LIKE pattern`: `%` matches any run of characters, `_` any one, and a backslash
    /// makes the next character literal — the same on every database (lowered with an
    /// explicit `ESCAPE '\'`; a lone trailing backslash is a literal one). For text from
    /// users, use [`contains`](Self::contains), [`starts_with`](Self::starts_with),
    /// [`ends_with`](Self::ends_with) or [`escape_like`].
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
    /// `self LIKE '%text%'` with `text` matched literally (its `%`, `_` and `\` escaped).
    pub fn contains(self, text: &str) -> Filter {
        self.like(format!("%{}%", escape_like(text)))
    }
    /// `self LIKE 'text%'` with `text` matched literally.
    pub fn starts_with(self, text: &str) -> Filter {
        self.like(format!("{}%", escape_like(text)))
    }
    /// `self LIKE '%text'` with `text` matched literally.
    pub fn ends_with(self, text: &str) -> Filter {
        self.like(format!("%{}", escape_like(text)))
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
    pub fn and(self, other: impl Into<Filter>) -> Filter {
        let other = other.into();
        match self {
            Filter::And(mut v) => {
                v.push(other);
                Filter::And(v)
            }
            f => Filter::And(vec![f, other]),
        }
    }
    /// `self OR other` (flattening nested ORs).
    pub fn or(self, other: impl Into<Filter>) -> Filter {
        let other = other.into();
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
                Filter::Compare { left, right, .. } | Filter::Identical { left, right } => {
                    expr(left, out);
                    expr(right, out);
                }
                Filter::In { expr: e, .. }
                | Filter::Like { expr: e, .. }
                | Filter::IsNull { expr: e, .. } => expr(e, out),
                Filter::And(v) | Filter::Or(v) => v.iter().for_each(|f| walk(f, out)),
                Filter::Not(f) | Filter::NotTrue(f) => walk(f, out),
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }
}

/// `text` as a LIKE pattern that matches it literally: `%`, `_` and `\` escaped with a
/// backslash (the escape character Kysera's LIKE uses on every database).
///
/// ```
/// assert_eq!(kysera::query::escape_like(r"50%_off\"), r"50\%\_off\\");
/// ```
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// How deeply conditions may nest (an AND inside an OR inside a NOT …, after chains of the same
/// operator are flattened and double negations removed). Deeper conditions are refused with
/// [`Error::InvalidQuery`](crate::Error::InvalidQuery) before anything recurses over them: a
/// condition built from user input cannot exhaust the stack.
pub const MAX_FILTER_DEPTH: usize = 64;

/// The refusal of a condition nested deeper than [`MAX_FILTER_DEPTH`].
pub(super) fn too_deep() -> crate::core::error::Error {
    crate::core::error::Error::InvalidQuery(format!(
        "a condition nests and/or/not more than {MAX_FILTER_DEPTH} levels deep; refused"
    ))
}

impl Filter {
    /// The same condition with chains of one operator flattened (`a AND (b AND c)` is
    /// `a AND b AND c`) and double negations removed — without recursion along those chains —
    /// or [`Error::InvalidQuery`](crate::Error::InvalidQuery) when it still nests more than
    /// [`MAX_FILTER_DEPTH`] levels.
    pub fn normalized(self) -> crate::core::error::Result<Filter> {
        normalize(self, 0)
    }

    /// Whether the condition nests more than [`MAX_FILTER_DEPTH`] levels, counting every level
    /// (measured without recursion).
    pub(crate) fn too_deep(&self) -> bool {
        let mut stack = vec![(self, 0usize)];
        while let Some((f, depth)) = stack.pop() {
            if depth > MAX_FILTER_DEPTH {
                return true;
            }
            match f {
                Filter::And(v) | Filter::Or(v) => stack.extend(v.iter().map(|c| (c, depth + 1))),
                Filter::Not(c) | Filter::NotTrue(c) => stack.push((c, depth + 1)),
                _ => {}
            }
        }
        false
    }

    /// The first column compared with NULL by `=`, `<>`, `<`, … (`col = NULL` is never true: a
    /// query saying it is a mistake), found without recursion.
    pub(crate) fn null_comparison(&self) -> Option<&ColumnRef> {
        let mut stack = vec![self];
        while let Some(f) = stack.pop() {
            match f {
                Filter::Compare {
                    left: Expr::Column(c),
                    right: Expr::Value(v),
                    ..
                }
                | Filter::Compare {
                    left: Expr::Value(v),
                    right: Expr::Column(c),
                    ..
                } if super::value::is_null(v) => return Some(c),
                Filter::And(v) | Filter::Or(v) => stack.extend(v),
                Filter::Not(c) | Filter::NotTrue(c) => stack.push(c),
                _ => {}
            }
        }
        None
    }

    /// `(self) IS NOT TRUE`: see [`Filter::NotTrue`].
    pub fn is_not_true(self) -> Filter {
        Filter::NotTrue(Box::new(self))
    }
}

impl std::ops::Not for Filter {
    type Output = Filter;
    fn not(self) -> Filter {
        Filter::Not(Box::new(self))
    }
}

/// Takes a condition apart without recursion: dropping a refused, deeply nested condition
/// the ordinary way would recurse once per level.
fn dismantle(f: Filter) {
    let mut stack = vec![f];
    while let Some(f) = stack.pop() {
        match f {
            Filter::And(v) | Filter::Or(v) => stack.extend(v),
            Filter::Not(inner) | Filter::NotTrue(inner) => stack.push(*inner),
            _ => {}
        }
    }
}

fn normalize(f: Filter, depth: usize) -> crate::core::error::Result<Filter> {
    if depth > MAX_FILTER_DEPTH {
        dismantle(f);
        return Err(too_deep());
    }
    let chain = |v: Vec<Filter>, and: bool| -> crate::core::error::Result<Vec<Filter>> {
        let mut out = Vec::with_capacity(v.len());
        let mut stack: Vec<Filter> = v.into_iter().rev().collect();
        while let Some(x) = stack.pop() {
            match x {
                Filter::And(inner) if and => stack.extend(inner.into_iter().rev()),
                Filter::Or(inner) if !and => stack.extend(inner.into_iter().rev()),
                other => match normalize(other, depth + 1) {
                    Ok(x) => out.push(x),
                    Err(e) => {
                        stack.into_iter().for_each(dismantle);
                        return Err(e);
                    }
                },
            }
        }
        Ok(out)
    };
    Ok(match f {
        Filter::And(v) => Filter::And(chain(v, true)?),
        Filter::Or(v) => Filter::Or(chain(v, false)?),
        Filter::Not(inner) => {
            // NOT NOT x is x, in three-valued logic too.
            let (mut negated, mut cur) = (true, *inner);
            while let Filter::Not(next) = cur {
                negated = !negated;
                cur = *next;
            }
            let cur = normalize(cur, depth + 1)?;
            if negated {
                Filter::Not(Box::new(cur))
            } else {
                cur
            }
        }
        Filter::NotTrue(inner) => Filter::NotTrue(Box::new(normalize(*inner, depth + 1)?)),
        leaf => leaf,
    })
}

/// ANDs `extra` into an optional condition.
pub(super) fn and_into(slot: &mut Option<Filter>, extra: Filter) {
    *slot = Some(match slot.take() {
        Some(f) => f.and(extra),
        None => extra,
    });
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    #[test]
    fn long_chains_flatten_without_recursion() {
        let mut and_chain = col("id").gt(0i64);
        for _ in 0..10_000 {
            and_chain = Filter::And(vec![and_chain, col("id").lt(100i64)]);
        }
        let flat = and_chain.normalized().unwrap();
        assert!(matches!(&flat, Filter::And(v) if v.len() == 10_001));
    }
}
