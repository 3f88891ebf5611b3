//! An oracle for conditions: SQL's three-valued logic over rows of `n` (nullable integer), `s`
//! (nullable text) and `k` (integer), written independently of the library, for tests that
//! compare what the databases return with what the condition means.

use kysera::Value;
use kysera::query::{CmpOp, Expr, Filter};

/// A row: `n` (nullable integer), `s` (nullable text), `k` (integer).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub n: Option<i64>,
    pub s: Option<String>,
    pub k: i64,
}

pub fn n_value(n: Option<i64>) -> Value {
    Value::BigInt(n)
}

pub fn s_value(s: &Option<String>) -> Value {
    Value::String(s.clone())
}

fn value_of(e: &Expr, row: &Row) -> Value {
    match e {
        Expr::Column(c) if c.column == "n" => n_value(row.n),
        Expr::Column(c) if c.column == "k" => n_value(Some(row.k)),
        Expr::Column(c) if c.column == "s" => s_value(&row.s),
        Expr::Value(v) => v.clone(),
        other => panic!("unexpected expression {other:?}"),
    }
}

#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Scalar {
    Null,
    Int(i64),
    Text(String),
}

fn scalar(v: &Value) -> Scalar {
    match v {
        Value::BigInt(Some(i)) => Scalar::Int(*i),
        Value::Int(Some(i)) => Scalar::Int(i64::from(*i)),
        Value::String(Some(s)) => Scalar::Text(s.clone()),
        Value::BigInt(None) | Value::Int(None) | Value::String(None) => Scalar::Null,
        other => panic!("unexpected value {other:?}"),
    }
}

pub fn like(text: &str, pattern: &str) -> bool {
    fn go(t: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|i| go(&t[i..], rest)),
            Some(('_', rest)) => !t.is_empty() && go(&t[1..], rest),
            Some((c, rest)) => t.first() == Some(c) && go(&t[1..], rest),
        }
    }
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    go(&t, &p)
}

pub fn truth(f: &Filter, row: &Row) -> Option<bool> {
    match f {
        Filter::Compare { left, op, right } => {
            let (a, b) = (scalar(&value_of(left, row)), scalar(&value_of(right, row)));
            if a == Scalar::Null || b == Scalar::Null {
                return None;
            }
            Some(match op {
                CmpOp::Eq => a == b,
                CmpOp::Ne => a != b,
                CmpOp::Lt => a < b,
                CmpOp::Lte => a <= b,
                CmpOp::Gt => a > b,
                CmpOp::Gte => a >= b,
                other => panic!("unexpected operator {other:?}"),
            })
        }
        Filter::In {
            expr,
            values,
            negated,
        } => {
            let v = scalar(&value_of(expr, row));
            if values.is_empty() {
                return Some(*negated);
            }
            if v == Scalar::Null {
                return None;
            }
            let mut unknown = false;
            for c in values {
                match scalar(c) {
                    Scalar::Null => unknown = true,
                    c if c == v => return Some(!*negated),
                    _ => {}
                }
            }
            if unknown { None } else { Some(*negated) }
        }
        Filter::Like {
            expr,
            pattern,
            negated,
        } => match scalar(&value_of(expr, row)) {
            Scalar::Null => None,
            Scalar::Text(t) => Some(like(&t, pattern) != *negated),
            other => panic!("LIKE on {other:?}"),
        },
        Filter::IsNull { expr, negated } => {
            Some((scalar(&value_of(expr, row)) == Scalar::Null) != *negated)
        }
        Filter::And(v) => {
            let mut out = Some(true);
            for f in v {
                match truth(f, row) {
                    Some(false) => return Some(false),
                    None => out = None,
                    Some(true) => {}
                }
            }
            out
        }
        Filter::Or(v) => {
            let mut out = Some(false);
            for f in v {
                match truth(f, row) {
                    Some(true) => return Some(true),
                    None => out = None,
                    Some(false) => {}
                }
            }
            out
        }
        Filter::Not(f) => truth(f, row).map(|b| !b),
        other => panic!("unexpected condition {other:?}"),
    }
}
