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

/// Evaluates a condition against the values a statement writes, in three-valued logic:
/// `None` when it cannot tell (a column not written; an operator other than `=`, `<>`, IN,
/// IS NULL, AND, OR, NOT). Callers refuse unless the answer is the one they need.
pub(super) fn eval(f: &Filter, row: &[(&str, &Value)]) -> Option<bool> {
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
                return Some(false);
            }
            match op {
                CmpOp::Eq => Some(same_value(&a, &b)),
                CmpOp::Ne => Some(!same_value(&a, &b)),
                _ => None,
            }
        }
        Filter::In {
            expr,
            values,
            negated,
        } => {
            let v = value(expr)?;
            if is_null(&v) {
                return Some(false);
            }
            Some(values.iter().any(|c| same_value(&v, c)) != *negated)
        }
        Filter::IsNull { expr, negated } => Some(is_null(&value(expr)?) != *negated),
        Filter::And(v) => {
            let mut unknown = false;
            for f in v {
                match eval(f, row) {
                    Some(false) => return Some(false),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            (!unknown).then_some(true)
        }
        Filter::Or(v) => {
            let mut unknown = false;
            for f in v {
                match eval(f, row) {
                    Some(true) => return Some(true),
                    None => unknown = true,
                    Some(false) => {}
                }
            }
            (!unknown).then_some(false)
        }
        Filter::Not(f) => eval(f, row).map(|b| !b),
        Filter::Identical { left, right } => {
            let (a, b) = (value(left)?, value(right)?);
            if is_null(&a) || is_null(&b) {
                return Some(false);
            }
            Some(same_value(&a, &b))
        }
        Filter::Like { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::col;

    #[test]
    fn conditions_are_evaluated_on_the_values_in_three_valued_logic() {
        let a = Value::from("a");
        let b = Value::from("b");
        let null = Value::String(None);
        let f = col("tenant").eq("a").and(col("x").is_null());
        assert_eq!(eval(&f, &[("tenant", &a), ("x", &null)]), Some(true));
        assert_eq!(eval(&f, &[("TENANT", &b)]), Some(false));
        assert_eq!(eval(&f, &[("tenant", &a)]), None, "x not written: unknown");
        assert_eq!(
            eval(&col("n").eq(1i64), &[("n", &Value::Int(Some(2)))]),
            Some(false)
        );
        assert_eq!(
            eval(&col("n").eq(2i64), &[("n", &Value::Int(Some(2)))]),
            Some(true)
        );
        // A deny condition is stored negated: unknown stays unknown, never "allowed".
        assert_eq!(eval(&!col("t").like("a%"), &[("t", &a)]), None);
        assert_eq!(
            eval(&!col("n").gt(1000i64), &[("n", &Value::Int(Some(5)))]),
            None
        );
        assert_eq!(
            eval(&col("n").eq(1i64).or(col("t").eq("a")), &[("t", &a)]),
            Some(true)
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
