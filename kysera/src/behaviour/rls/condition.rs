//! Policy conditions: comparing tenant values across integer widths, pointing a condition at the
//! name a query uses for its table, and evaluating a condition on the values a statement writes.

use crate::query::{CmpOp, ColumnRef, Expr, Filter, Value, is_null};

/// Whether two values are the same, across integer widths (a tenant given as `i32` matches an
/// `i64` column value) and string forms.
pub(crate) fn same_value(a: &Value, b: &Value) -> bool {
    fn int(v: &Value) -> Option<i128> {
        Some(match v {
            Value::TinyInt(Some(i)) => *i as i128,
            Value::SmallInt(Some(i)) => *i as i128,
            Value::Int(Some(i)) => *i as i128,
            Value::BigInt(Some(i)) => *i as i128,
            Value::TinyUnsigned(Some(i)) => *i as i128,
            Value::SmallUnsigned(Some(i)) => *i as i128,
            Value::Unsigned(Some(i)) => *i as i128,
            Value::BigUnsigned(Some(i)) => *i as i128,
            _ => return None,
        })
    }
    match (int(a), int(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Points the columns of a policy's condition (written for the table alone, unqualified or
/// qualified by the table's own name) at `reference`, the name the query uses for the table.
pub(crate) fn qualify_for(f: Filter, name: &str, reference: &str) -> Filter {
    let col = |c: ColumnRef| -> ColumnRef {
        let own = c
            .table
            .as_deref()
            .is_none_or(|t| t.eq_ignore_ascii_case(name));
        ColumnRef {
            // A qualifier naming another table is kept: it names no column of this table and
            // the database refuses it, rather than the condition landing on another table.
            table: if own {
                Some(reference.to_string())
            } else {
                c.table
            },
            column: c.column,
        }
    };
    let expr = |e: Expr| match e {
        Expr::Column(c) => Expr::Column(col(c)),
        Expr::Aggregate(a, c) => Expr::Aggregate(a, col(c)),
        other => other,
    };
    let q = |f: Filter| qualify_for(f, name, reference);
    match f {
        Filter::Compare { left, op, right } => Filter::Compare {
            left: expr(left),
            op,
            right: expr(right),
        },
        Filter::In {
            expr: e,
            values,
            negated,
        } => Filter::In {
            expr: expr(e),
            values,
            negated,
        },
        Filter::Like {
            expr: e,
            pattern,
            negated,
        } => Filter::Like {
            expr: expr(e),
            pattern,
            negated,
        },
        Filter::IsNull { expr: e, negated } => Filter::IsNull {
            expr: expr(e),
            negated,
        },
        Filter::Identical { left, right } => Filter::Identical {
            left: expr(left),
            right: expr(right),
        },
        Filter::And(v) => Filter::And(v.into_iter().map(q).collect()),
        Filter::Or(v) => Filter::Or(v.into_iter().map(q).collect()),
        Filter::Not(f) => Filter::Not(Box::new(q(*f))),
        Filter::NotTrue(f) => Filter::NotTrue(Box::new(q(*f))),
    }
}

/// The value a statement writes to `column` (names compared without regard to case), for
/// `validate` policies.
pub fn written<'a>(values: &[(&str, &'a Value)], column: &str) -> Option<&'a Value> {
    values
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(column))
        .map(|(_, v)| *v)
}

/// A condition's value in SQL's three-valued logic: `Some(true)`, `Some(false)`, or `None` for
/// unknown (a NULL in it).
pub(super) type Truth = Option<bool>;

/// Evaluates a condition against the values a statement writes, in SQL's three-valued logic.
///
/// `Some(truth)` when Rust can decide it the way every database would: comparisons of numbers
/// and booleans, IN lists of them, NULL tests, exact (`Identical`) text comparisons, and/or/not
/// and IS NOT TRUE over those. `None` when it cannot: a column the statement does not write, or
/// text compared by `=`, `<`, LIKE … (whose result depends on the column's collation) — the
/// caller then has the database check the rows written.
pub(super) fn eval(f: &Filter, row: &[(&str, &Value)]) -> Option<Truth> {
    let value = |e: &Expr| -> Option<Value> {
        match e {
            Expr::Value(v) => Some(v.clone()),
            Expr::Column(c) => written(row, &c.column).cloned(),
            _ => None,
        }
    };
    match f {
        Filter::Compare { left, op, right } => {
            let (a, b) = (value(left)?, value(right)?);
            if is_null(&a) || is_null(&b) {
                return Some(None);
            }
            let order = compare(&a, &b)?;
            Some(Some(match op {
                CmpOp::Eq => order.is_eq(),
                CmpOp::Ne => order.is_ne(),
                CmpOp::Lt => order.is_lt(),
                CmpOp::Lte => order.is_le(),
                CmpOp::Gt => order.is_gt(),
                CmpOp::Gte => order.is_ge(),
            }))
        }
        Filter::In {
            expr,
            values,
            negated,
        } => {
            let v = value(expr)?;
            if values.is_empty() {
                return Some(Some(*negated));
            }
            if is_null(&v) {
                return Some(None);
            }
            let mut unknown = false;
            for c in values {
                if is_null(c) {
                    unknown = true;
                } else if compare(&v, c)?.is_eq() {
                    return Some(Some(!*negated));
                }
            }
            Some((!unknown).then_some(*negated))
        }
        Filter::IsNull { expr, negated } => Some(Some(is_null(&value(expr)?) != *negated)),
        Filter::Like { expr, .. } => match value(expr)? {
            v if is_null(&v) => Some(None),
            _ => None,
        },
        Filter::Identical { left, right } => {
            let (a, b) = (value(left)?, value(right)?);
            if is_null(&a) || is_null(&b) {
                return Some(None);
            }
            Some(Some(same_value(&a, &b)))
        }
        Filter::And(v) => junction(v, row, false),
        Filter::Or(v) => junction(v, row, true),
        Filter::Not(f) => eval(f, row).map(|t| t.map(|b| !b)),
        Filter::NotTrue(f) => eval(f, row).map(|t| Some(t != Some(true))),
    }
}

/// AND (`decisive` false) or OR (`decisive` true) of `v` in three-valued logic: one term with
/// the decisive value settles it; otherwise an undecidable term makes it undecidable, an
/// unknown one unknown, and all terms agreeing give the other value.
fn junction(v: &[Filter], row: &[(&str, &Value)], decisive: bool) -> Option<Truth> {
    let (mut undecided, mut unknown) = (false, false);
    for f in v {
        match eval(f, row) {
            Some(Some(b)) if b == decisive => return Some(Some(decisive)),
            Some(None) => unknown = true,
            None => undecided = true,
            Some(Some(_)) => {}
        }
    }
    match (undecided, unknown) {
        (true, _) => None,
        (false, true) => Some(None),
        (false, false) => Some(Some(!decisive)),
    }
}

/// How two non-NULL values order, where every database orders them alike: numbers (any width,
/// floats), booleans (as 0 and 1, as MySQL and SQLite store them), UUIDs for equality. `None`
/// for text, times and anything else (left to the database).
fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    fn number(v: &Value) -> Option<f64> {
        Some(match v {
            Value::Bool(Some(b)) => f64::from(u8::from(*b)),
            Value::TinyInt(Some(i)) => f64::from(*i),
            Value::SmallInt(Some(i)) => f64::from(*i),
            Value::Int(Some(i)) => f64::from(*i),
            Value::BigInt(Some(i)) => *i as f64,
            Value::TinyUnsigned(Some(i)) => f64::from(*i),
            Value::SmallUnsigned(Some(i)) => f64::from(*i),
            Value::Unsigned(Some(i)) => f64::from(*i),
            Value::BigUnsigned(Some(i)) => *i as f64,
            Value::Float(Some(f)) => f64::from(*f),
            Value::Double(Some(f)) => *f,
            _ => return None,
        })
    }
    if let (Value::Uuid(Some(x)), Value::Uuid(Some(y))) = (a, b) {
        return Some(x.cmp(y));
    }
    // Exact integers first: f64 loses precision past 2^53.
    let int = |v: &Value| -> Option<i128> {
        Some(match v {
            Value::TinyInt(Some(i)) => *i as i128,
            Value::SmallInt(Some(i)) => *i as i128,
            Value::Int(Some(i)) => *i as i128,
            Value::BigInt(Some(i)) => *i as i128,
            Value::TinyUnsigned(Some(i)) => *i as i128,
            Value::SmallUnsigned(Some(i)) => *i as i128,
            Value::Unsigned(Some(i)) => *i as i128,
            Value::BigUnsigned(Some(i)) => *i as i128,
            Value::Bool(Some(b)) => i128::from(*b),
            _ => return None,
        })
    };
    if let (Some(x), Some(y)) = (int(a), int(b)) {
        return Some(x.cmp(&y));
    }
    number(a)?.partial_cmp(&number(b)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::col;

    #[test]
    fn conditions_are_evaluated_on_the_values_in_three_valued_logic() {
        let n = |i: i64| Value::BigInt(Some(i));
        let null = Value::BigInt(None);
        let text = Value::from("a");
        let (five, big, two) = (n(5), n(5000), n(2));
        // Every comparison, on numbers, across widths.
        let lt = col("amount").lt(100i32);
        assert_eq!(eval(&lt, &[("amount", &five)]), Some(Some(true)));
        assert_eq!(eval(&lt, &[("AMOUNT", &big)]), Some(Some(false)));
        assert_eq!(eval(&col("n").gte(2i64), &[("n", &two)]), Some(Some(true)));
        assert_eq!(
            eval(&col("n").ne(2i64), &[("n", &Value::Int(Some(2)))]),
            Some(Some(false))
        );
        // NULL makes a comparison unknown; NOT of unknown is unknown; IS NOT TRUE is true.
        assert_eq!(eval(&lt, &[("amount", &null)]), Some(None));
        assert_eq!(eval(&!lt.clone(), &[("amount", &null)]), Some(None));
        assert_eq!(
            eval(&lt.clone().is_not_true(), &[("amount", &null)]),
            Some(Some(true))
        );
        assert_eq!(eval(&col("n").is_null(), &[("n", &null)]), Some(Some(true)));
        // IN with a NULL candidate: true if found, else unknown.
        let within = col("n").is_in([Value::BigInt(None), n(2)]);
        assert_eq!(eval(&within, &[("n", &two)]), Some(Some(true)));
        assert_eq!(eval(&within, &[("n", &five)]), Some(None));
        // and/or in three-valued logic.
        let both = lt.clone().and(col("k").eq(1i64));
        assert_eq!(
            eval(&both, &[("amount", &big)]),
            Some(Some(false)),
            "false AND ?"
        );
        assert_eq!(eval(&both, &[("amount", &five)]), None, "k not written");
        let either = lt.clone().or(col("k").eq(1i64));
        assert_eq!(
            eval(&either, &[("amount", &five)]),
            Some(Some(true)),
            "true OR ?"
        );
        assert_eq!(
            eval(&either, &[("amount", &null), ("k", &n(0))]),
            Some(None),
            "unknown OR false"
        );
        // Text compares by the column's collation, and LIKE: left to the database.
        assert_eq!(eval(&col("t").eq("a"), &[("t", &text)]), None);
        assert_eq!(eval(&col("t").like("a%"), &[("t", &text)]), None);
        assert_eq!(
            eval(&col("t").like("a%"), &[("t", &Value::String(None))]),
            Some(None)
        );
    }

    #[test]
    fn qualify_points_columns_at_the_reference() {
        let f = qualify_for(col("a").eq(1).and(col("x.b").is_null()), "p", "p");
        assert_eq!(f, col("p.a").eq(1).and(col("x.b").is_null()));
        // A condition qualified by the table's own name follows the alias.
        let f = qualify_for(col("documents.org").eq("x"), "documents", "d");
        assert_eq!(f, col("d.org").eq("x"));
    }
}
