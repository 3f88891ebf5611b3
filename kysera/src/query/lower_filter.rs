//! Lowering of expressions and conditions to sea-query, including the byte-exact comparison
//! ([`Filter::Identical`]) each dialect spells its own way.

use sea_query::{Alias, Asterisk, Condition, ExprTrait, Func, IntoCondition};

use super::{AggFn, CmpOp, ColumnRef, Expr, Filter, Value};
use crate::core::sql::Dialect;

pub(super) fn iden(s: &str) -> Alias {
    Alias::new(s)
}

fn column(c: &ColumnRef) -> sea_query::Expr {
    match &c.table {
        Some(t) => sea_query::Expr::col((iden(t), iden(&c.column))),
        None => sea_query::Expr::col(iden(&c.column)),
    }
}

pub(super) fn expr(e: &Expr) -> sea_query::Expr {
    match e {
        Expr::Column(c) => column(c),
        Expr::Value(v) => sea_query::Expr::val(v.clone().into_sea()),
        Expr::CountAll => Func::count(sea_query::Expr::col(Asterisk)).into(),
        Expr::Aggregate(f, c) => {
            let c = column(c);
            match f {
                AggFn::Count => c.count(),
                AggFn::CountDistinct => c.count_distinct(),
                AggFn::Sum => c.sum(),
                AggFn::Avg => c.avg(),
                AggFn::Min => c.min(),
                AggFn::Max => c.max(),
            }
        }
    }
}

fn constant(truth: bool) -> Condition {
    Condition::all().add(sea_query::Expr::cust(if truth { "1 = 1" } else { "1 = 0" }))
}

/// `a AND b AND …` (or OR) as a tree of at most eight terms per parenthesised group: sea-query
/// renders a flat chain as a left-deep tree (a thousand terms exhausted the stack) and SQLite's
/// parser limits expression depth to 1,000, while groups keep the depth logarithmic.
fn balanced(mut level: Vec<Condition>, all: bool) -> Condition {
    const FAN: usize = 8;
    let group = |terms: Vec<Condition>| {
        let base = if all {
            Condition::all()
        } else {
            Condition::any()
        };
        terms.into_iter().fold(base, |c, t| c.add(t))
    };
    while level.len() > FAN {
        let mut next = Vec::with_capacity(level.len().div_ceil(FAN));
        let mut terms = level.into_iter().peekable();
        while terms.peek().is_some() {
            next.push(group(terms.by_ref().take(FAN).collect()));
        }
        level = next;
    }
    group(level)
}

/// IN lists longer than this, of integers and text only, are written as literals.
const INLINE_PAST: usize = 1_000;

/// A value as an SQL literal that means exactly what the bound value would, with nothing in it
/// that could end the literal: integers as digits; text on SQLite as `'…'` with quotes doubled
/// (SQLite has no backslash escapes; text with a NUL as `CAST(X'…' AS TEXT)`), on MySQL as
/// `_utf8mb4 X'…'` (hexadecimal UTF-8: a string compared under the column's collation, as a
/// bound string is, whatever `NO_BACKSLASH_ESCAPES` says), on PostgreSQL as a dollar-quoted
/// string whose tag the text does not contain (no escapes exist inside it, whatever
/// `standard_conforming_strings` says), cast to `text` as a bound string is typed. `None` for
/// anything else, NULL included, and for text with a NUL character on PostgreSQL (which refuses
/// NUL in text).
fn literal(v: &Value, dialect: Dialect) -> Option<String> {
    Some(match v {
        Value::TinyInt(Some(i)) => i.to_string(),
        Value::SmallInt(Some(i)) => i.to_string(),
        Value::Int(Some(i)) => i.to_string(),
        Value::BigInt(Some(i)) => i.to_string(),
        Value::TinyUnsigned(Some(i)) => i.to_string(),
        Value::SmallUnsigned(Some(i)) => i.to_string(),
        Value::Unsigned(Some(i)) => i.to_string(),
        Value::BigUnsigned(Some(i)) => i.to_string(),
        Value::String(Some(s)) => match dialect {
            Dialect::Sqlite if s.contains('\0') => format!("CAST(X'{}' AS TEXT)", hex(s)),
            Dialect::Sqlite => format!("'{}'", s.replace('\'', "''")),
            Dialect::MySql => format!("_utf8mb4 X'{}'", hex(s)),
            Dialect::Postgres if s.contains('\0') => return None,
            Dialect::Postgres => {
                let tag = dollar_tag(s);
                format!("{tag}{s}{tag}::text")
            }
        },
        _ => return None,
    })
}

/// A dollar-quote tag `$kN$` that cannot end early inside `s`: `s` neither contains it nor ends
/// with `$kN` (which the closing tag's `$` would complete). Every `$k` followed by digits in `s`
/// is read once, and the smallest `N` none of them spells is taken: linear in `s`, whatever it
/// holds.
fn dollar_tag(s: &str) -> String {
    let mut used = std::collections::HashSet::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while let Some(at) = s[i..].find("$k") {
        let start = i + at + 2;
        let digits = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        used.insert(&s[start..start + digits]);
        i = start;
    }
    let n = (0u64..)
        .find(|n| !used.contains(n.to_string().as_str()))
        .unwrap_or(0);
    format!("$k{n}$")
}

fn hex(s: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        let _ = write!(out, "{b:02X}");
    }
    out
}

/// The pattern a LIKE binds: backslash escapes `%`, `_` and itself on every database (SQLite has
/// no default escape character); a lone trailing backslash is a literal one (PostgreSQL refuses
/// a pattern that ends with the escape character), so it is doubled.
pub(super) fn like_pattern(pattern: &str) -> String {
    let mut pattern = pattern.to_string();
    let trailing = pattern.chars().rev().take_while(|c| *c == '\\').count();
    if trailing % 2 == 1 {
        pattern.push('\\');
    }
    pattern
}

pub(super) fn condition(f: &Filter, dialect: Dialect) -> Condition {
    match f {
        Filter::Compare { left, op, right } => {
            let (l, r) = (expr(left), expr(right));
            let e = match op {
                CmpOp::Eq => l.eq(r),
                CmpOp::Ne => l.ne(r),
                CmpOp::Lt => l.lt(r),
                CmpOp::Lte => l.lte(r),
                CmpOp::Gt => l.gt(r),
                CmpOp::Gte => l.gte(r),
            };
            e.into_condition()
        }
        Filter::In {
            values, negated, ..
        } if values.is_empty() => constant(*negated),
        // A long list of integers or text goes as literals (which cannot carry SQL): a bound
        // list would pass the databases' parameter limits (32,766 / 65,535).
        Filter::In {
            expr: e,
            values,
            negated,
        } if values.len() > INLINE_PAST
            && let Some(list) = values
                .iter()
                .map(|v| literal(v, dialect))
                .collect::<Option<Vec<String>>>() =>
        {
            let list = list.into_iter().map(sea_query::Expr::cust);
            if *negated {
                expr(e).is_not_in(list).into_condition()
            } else {
                expr(e).is_in(list).into_condition()
            }
        }
        Filter::In {
            expr: e,
            values,
            negated,
        } => {
            let vals = values.iter().cloned().map(Value::into_sea);
            if *negated {
                expr(e).is_not_in(vals).into_condition()
            } else {
                expr(e).is_in(vals).into_condition()
            }
        }
        Filter::Like {
            expr: e,
            pattern,
            negated,
        } => {
            let pattern = like_pattern(pattern);
            // Spelt so no server setting changes it: PostgreSQL's E'' string whatever
            // standard_conforming_strings says, MySQL's CHAR(92) whatever NO_BACKSLASH_ESCAPES
            // says.
            let template = match dialect {
                Dialect::Postgres => "$1 LIKE $2 ESCAPE E'\\\\'",
                Dialect::MySql => "? LIKE ? ESCAPE CHAR(92)",
                Dialect::Sqlite => "? LIKE ? ESCAPE '\\'",
            };
            let like = sea_query::Expr::cust_with_exprs(
                template,
                [expr(e), sea_query::Expr::val(pattern)],
            );
            let c = Condition::all().add(like);
            if *negated { c.not() } else { c }
        }
        Filter::IsNull { expr: e, negated } => {
            if *negated {
                expr(e).is_not_null().into_condition()
            } else {
                expr(e).is_null().into_condition()
            }
        }
        Filter::And(v) if v.is_empty() => constant(true),
        Filter::Or(v) if v.is_empty() => constant(false),
        Filter::And(v) => balanced(v.iter().map(|f| condition(f, dialect)).collect(), true),
        Filter::Or(v) => balanced(v.iter().map(|f| condition(f, dialect)).collect(), false),
        Filter::Not(f) => Condition::all().add(condition(f, dialect)).not(),
        // CASE treats an unknown condition as not true, on every database.
        Filter::NotTrue(f) => {
            // The constants are SQL, not bound values: nothing of a statement's values but the
            // query's own (the cache of shapes relies on it).
            let case: sea_query::Expr =
                sea_query::Expr::case(condition(f, dialect), sea_query::Expr::cust("FALSE"))
                    .finally(sea_query::Expr::cust("TRUE"))
                    .into();
            case.into_condition()
        }
        Filter::Identical { left, right } => {
            let (l, r) = (expr(left), expr(right));
            // The byte-exact comparison, then the plain one an index on `left` serves.
            let exact = match dialect {
                // Templates take `?` in order, or `$n` on PostgreSQL.
                Dialect::MySql => "CAST(? AS BINARY) = CAST(? AS BINARY)",
                Dialect::Postgres => "CAST($1 AS TEXT) = CAST($2 AS TEXT) COLLATE \"C\"",
                Dialect::Sqlite => "? = ? COLLATE BINARY",
            };
            Condition::all()
                .add(l.clone().eq(r.clone()))
                .add(sea_query::Expr::cust_with_exprs(exact, [l, r]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_tags_never_close_early() {
        for (s, tag) in [
            ("plain", "$k0$"),
            ("$k0$", "$k1$"),
            ("ends $k0", "$k1$"),
            ("$k0$k1$k2", "$k3$"),
            ("$k01$ $k1", "$k0$"),
            ("$k", "$k0$"),
            ("$k1$k0", "$k2$"),
        ] {
            let t = dollar_tag(s);
            assert_eq!(t, tag, "{s:?}");
            // The closing tag is found only at the end.
            let quoted = format!("{s}{t}");
            assert_eq!(quoted.find(&t), Some(s.len()), "{s:?}");
        }
        // Linear: a value made of many tags is read once.
        let many: String = (0..100_000).map(|n| format!("$k{n}")).collect();
        assert_eq!(dollar_tag(&many), "$k100000$");
    }
}
