//! The SQL of a query depends on its shape — tables, columns, operators, the kinds of its values,
//! list lengths — and not on the values themselves, which are bound. Lowering a shape once and
//! keeping its SQL saves sea-query's work on every later query of that shape (most of Kysera's
//! own cost per query, by callgrind: about 12,000 of the 22,000 instructions a repository read by
//! key added to hand-written sqlx on SQLite).
//!
//! [`shape`] writes a query's shape as bytes and collects its values in its own order. On a miss
//! the query is lowered as usual and kept only when each value it binds is, unambiguously, one of
//! the collected ones (all collected values distinct): that gives, for the shape, which collected
//! value each parameter takes, so a later query of the shape binds its own values in the same
//! places. A query whose lowering depends on its values' contents (a long IN list written inline)
//! is never kept; a value lowering rewrites (a LIKE pattern's trailing backslash) is collected
//! as rewritten. Every field of every IR type is read by exhaustive destructuring, so a field
//! added to the IR does not compile until the shape says how it counts.
//!
//! `kysera/tests/shape_cache.rs` lowers random queries of every kind through the cache and
//! directly, and compares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::bind::bind_value;
use super::lower::{Lowered, lower_uncached};
use super::lower_filter::like_pattern;
use super::{
    AggFn, CmpOp, ColumnRef, ConflictAction, Delete, DeletedRows, Expr, Filter, Insert, Join,
    JoinKind, OnConflict, Order, OrderBy, Query, Returning, Select, SelectItem, TableRef, Update,
    Value,
};
use crate::core::error::Result;
use crate::core::sql::Dialect;

/// Queries binding more values than this are not kept (their lowering is small beside their
/// execution, and their shapes rarely repeat).
const MAX_VALUES: usize = 64;
/// Shapes kept at most; the cache starts afresh when full.
const MAX_SHAPES: usize = 2_048;
/// Keys and SQL longer than this are not kept (a query of thousands of conditions without
/// values would otherwise hold megabytes per entry).
const MAX_BYTES: usize = 8_192;
/// IN lists longer than this are written inline (see `lower_filter`): never kept.
const INLINE_PAST: usize = 1_000;

/// The SQL of one shape and, for each parameter, the index of the collected value it binds.
struct Entry {
    sql: Arc<str>,
    params: Vec<u16>,
}

fn cache() -> &'static Mutex<HashMap<Vec<u8>, Arc<Entry>>> {
    static CACHE: std::sync::OnceLock<Mutex<HashMap<Vec<u8>, Arc<Entry>>>> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Lowers any query for `dialect` (RETURNING is left out on MySQL, where the executor emulates
/// it): the SQL of its shape if seen before, with this query's values in its places; otherwise
/// lowered, and the shape kept.
pub(crate) fn lower(q: &Query, dialect: Dialect) -> Result<Lowered> {
    if q.too_deep() {
        // Refused by lowering, before anything walks it recursively.
        return lower_uncached(q, dialect);
    }
    let key = key(q, dialect);
    if let Some((key, values)) = &key
        && let Some(hit) = lookup(key, values, dialect)
    {
        // A query of a kept shape passed the checks lowering makes (they depend on its shape):
        // only its values are checked again, as they are bound.
        return hit.map(|(sql, values)| Lowered {
            sql,
            values: sea_query::Values(values),
        });
    }
    let lowered = lower_uncached(q, dialect)?;
    if let Some((key, values)) = key {
        remember(key, &values, &lowered.sql, &lowered.values.0, dialect);
    }
    Ok(lowered)
}

/// A query's shape key (with the dialect) and its values, or `None` when it is not to be kept.
pub(super) fn key(q: &Query, dialect: Dialect) -> Option<(Vec<u8>, Vec<Value>)> {
    let mut w = Writer {
        out: Vec::with_capacity(256),
        values: Vec::new(),
        uses: 0,
        twice: false,
        keep: true,
    };
    w.tag(match dialect {
        Dialect::Postgres => 1,
        Dialect::MySql => 2,
        Dialect::Sqlite => 3,
    });
    w.query(q);
    // The parameter count lowering must produce, as the last byte group of the key: a lowering
    // that binds anything else (a constant of its own) is then never kept.
    w.number(w.uses as u64);
    (w.keep && w.values.len() <= MAX_VALUES && w.out.len() <= MAX_BYTES)
        .then_some((w.out, w.values))
}

/// The parameter count a shape's key ends with.
fn expected_uses(key: &[u8]) -> Option<usize> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    usize::try_from(u64::from_le_bytes(tail)).ok()
}

/// The kept SQL of this shape, with these values bound in its places.
pub(super) fn lookup(
    key: &[u8],
    values: &[Value],
    dialect: Dialect,
) -> Option<Result<(String, Vec<sea_query::Value>)>> {
    let entry = cache().lock().ok()?.get(key).cloned()?;
    let mut bound = Vec::with_capacity(entry.params.len());
    for &i in &entry.params {
        let v = values.get(usize::from(i))?.clone().into_sea();
        match bind_value(v, dialect) {
            Ok(v) => bound.push(v),
            Err(e) => return Some(Err(e)),
        }
    }
    HITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Some(Ok((entry.sql.to_string(), bound)))
}

/// How many queries have been served from the cache (for tests).
pub(crate) fn hits() -> usize {
    HITS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Keeps the lowering `sql` / `params` for the shape when each parameter is exactly one of
/// `values`.
pub(super) fn remember(
    key: Vec<u8>,
    values: &[Value],
    sql: &str,
    params: &[sea_query::Value],
    dialect: Dialect,
) {
    // Exactly the parameters the query's values make, and nothing too large to keep.
    if expected_uses(&key) != Some(params.len()) || sql.len() > MAX_BYTES {
        return;
    }
    let Ok(bound) = values
        .iter()
        .map(|v| bind_value(v.clone().into_sea(), dialect))
        .collect::<Result<Vec<_>>>()
    else {
        return;
    };
    // Equal values would make the places ambiguous: not kept (a later query may be). NULLs
    // are the exception: a NULL's kind is in the shape, so every query of the shape binds the
    // same NULL there, whichever of them it is taken from.
    for (n, a) in bound.iter().enumerate() {
        if !values[n].is_null() && bound[..n].contains(a) {
            return;
        }
    }
    let mut places = Vec::with_capacity(params.len());
    for p in params {
        let mut found = bound.iter().enumerate().filter(|(_, b)| *b == p);
        match (found.next(), found.next()) {
            (Some((i, _)), None) => places.push(i as u16),
            (Some((i, _)), Some(_)) if values[i].is_null() => places.push(i as u16),
            _ => return,
        }
    }
    let Ok(mut map) = cache().lock() else { return };
    if map.len() >= MAX_SHAPES {
        map.clear();
    }
    map.insert(
        key,
        Arc::new(Entry {
            sql: Arc::from(sql),
            params: places,
        }),
    );
}

static HITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

struct Writer {
    out: Vec<u8>,
    values: Vec<Value>,
    /// How many parameters the values make (a value of `Identical` is bound twice).
    uses: usize,
    twice: bool,
    keep: bool,
}

impl Writer {
    fn tag(&mut self, t: u8) {
        self.out.push(t);
    }
    fn flag(&mut self, b: bool) {
        self.out.push(u8::from(b));
    }
    fn number(&mut self, n: u64) {
        self.out.extend_from_slice(&n.to_le_bytes());
    }
    fn text(&mut self, s: &str) {
        self.number(s.len() as u64);
        self.out.extend_from_slice(s.as_bytes());
    }
    fn opt_text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.tag(1);
                self.text(s);
            }
            None => self.tag(0),
        }
    }
    fn texts(&mut self, list: &[String]) {
        self.number(list.len() as u64);
        for s in list {
            self.text(s);
        }
    }

    /// A value: its kind and whether it is NULL go in the shape, the value in the list.
    fn value(&mut self, v: &Value) {
        let kind = match v {
            Value::Bool(_) => 1,
            Value::TinyInt(_) => 2,
            Value::SmallInt(_) => 3,
            Value::Int(_) => 4,
            Value::BigInt(_) => 5,
            Value::TinyUnsigned(_) => 6,
            Value::SmallUnsigned(_) => 7,
            Value::Unsigned(_) => 8,
            Value::BigUnsigned(_) => 9,
            Value::Float(_) => 10,
            Value::Double(_) => 11,
            Value::String(_) => 12,
            Value::Char(_) => 13,
            Value::Bytes(_) => 14,
            Value::Json(_) => 15,
            Value::ChronoDate(_) => 16,
            Value::ChronoTime(_) => 17,
            Value::ChronoDateTime(_) => 18,
            Value::ChronoDateTimeUtc(_) => 19,
            Value::Uuid(_) => 20,
            #[cfg(feature = "rust_decimal")]
            Value::Decimal(_) => 21,
            #[cfg(feature = "time")]
            Value::TimeDate(_) => 22,
            #[cfg(feature = "time")]
            Value::TimeTime(_) => 23,
            #[cfg(feature = "time")]
            Value::TimeDateTime(_) => 24,
            #[cfg(feature = "time")]
            Value::TimeDateTimeWithTimeZone(_) => 25,
        };
        self.tag(b'v');
        self.tag(kind);
        self.flag(v.is_null());
        self.values.push(v.clone());
        self.uses += if self.twice { 2 } else { 1 };
    }

    fn query(&mut self, q: &Query) {
        match q {
            Query::Select(s) => {
                self.tag(b'S');
                self.select(s);
            }
            Query::Insert(i) => {
                self.tag(b'I');
                self.insert(i);
            }
            Query::Update(u) => {
                self.tag(b'U');
                self.update(u);
            }
            Query::Delete(d) => {
                self.tag(b'D');
                self.delete(d);
            }
        }
    }

    fn table(&mut self, t: &TableRef) {
        let TableRef { name, alias } = t;
        self.text(name);
        self.opt_text(alias.as_deref());
    }

    fn column(&mut self, c: &ColumnRef) {
        let ColumnRef { table, column } = c;
        self.opt_text(table.as_deref());
        self.text(column);
    }

    fn select(&mut self, s: &Select) {
        let Select {
            table,
            distinct,
            columns,
            joins,
            filter,
            group_by,
            having,
            order_by,
            limit,
            offset,
            deleted,
        } = s;
        self.table(table);
        self.flag(*distinct);
        self.number(columns.len() as u64);
        for SelectItem { expr, alias } in columns {
            self.expr(expr);
            self.opt_text(alias.as_deref());
        }
        self.number(joins.len() as u64);
        for Join { kind, table, on } in joins {
            self.tag(match kind {
                JoinKind::Inner => 1,
                JoinKind::Left => 2,
                JoinKind::Right => 3,
                JoinKind::Full => 4,
            });
            self.table(table);
            self.filter(on);
        }
        self.opt_filter(filter.as_ref());
        self.number(group_by.len() as u64);
        for e in group_by {
            self.expr(e);
        }
        self.opt_filter(having.as_ref());
        self.number(order_by.len() as u64);
        for OrderBy { expr, order } in order_by {
            self.expr(expr);
            self.tag(match order {
                Order::Asc => 1,
                Order::Desc => 2,
            });
        }
        // LIMIT is written inline: its number is part of the shape. OFFSET is bound.
        match limit {
            Some(n) => {
                self.tag(1);
                self.number(*n);
            }
            None => self.tag(0),
        }
        match offset {
            // Past i64::MAX lowering refuses it: left to the uncached path.
            Some(o) if *o > i64::MAX as u64 => self.keep = false,
            Some(o) => {
                self.tag(1);
                self.value(&Value::BigUnsigned(Some(*o)));
            }
            None => self.tag(0),
        }
        self.tag(match deleted {
            DeletedRows::Exclude => 1,
            DeletedRows::Include => 2,
            DeletedRows::Only => 3,
        });
    }

    fn returning(&mut self, r: &Returning) {
        match r {
            Returning::None => self.tag(0),
            Returning::All => self.tag(1),
            Returning::Columns(cols) => {
                self.tag(2);
                self.texts(cols);
            }
        }
    }

    fn insert(&mut self, i: &Insert) {
        let Insert {
            table,
            columns,
            rows,
            on_conflict,
            returning,
            primary_key,
            preserve_timestamps,
            // Decided by the executor, not written in the statement.
            check: _,
        } = i;
        self.text(table);
        self.texts(columns);
        self.number(rows.len() as u64);
        for row in rows {
            self.number(row.len() as u64);
            for v in row {
                self.value(v);
            }
        }
        match on_conflict {
            None => self.tag(0),
            Some(OnConflict { columns, action }) => {
                self.tag(1);
                self.texts(columns);
                match action {
                    ConflictAction::DoNothing => self.tag(1),
                    ConflictAction::Update(cols) => {
                        self.tag(2);
                        self.texts(cols);
                    }
                }
            }
        }
        self.returning(returning);
        self.texts(primary_key);
        self.flag(*preserve_timestamps);
    }

    fn update(&mut self, u: &Update) {
        let Update {
            table,
            values,
            filter,
            returning,
            primary_key,
            deleted,
            preserve_timestamps,
            check: _,
        } = u;
        self.text(table);
        self.number(values.len() as u64);
        for (c, v) in values {
            self.text(c);
            self.value(v);
        }
        self.opt_filter(filter.as_ref());
        self.returning(returning);
        self.texts(primary_key);
        self.tag(match deleted {
            DeletedRows::Exclude => 1,
            DeletedRows::Include => 2,
            DeletedRows::Only => 3,
        });
        self.flag(*preserve_timestamps);
    }

    fn delete(&mut self, d: &Delete) {
        let Delete {
            table,
            filter,
            returning,
            primary_key,
        } = d;
        self.text(table);
        self.opt_filter(filter.as_ref());
        self.returning(returning);
        self.texts(primary_key);
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Column(c) => {
                self.tag(b'c');
                self.column(c);
            }
            Expr::Value(v) => self.value(v),
            Expr::CountAll => self.tag(b'*'),
            Expr::Aggregate(f, c) => {
                self.tag(b'a');
                self.tag(match f {
                    AggFn::Count => 1,
                    AggFn::CountDistinct => 2,
                    AggFn::Sum => 3,
                    AggFn::Avg => 4,
                    AggFn::Min => 5,
                    AggFn::Max => 6,
                });
                self.column(c);
            }
        }
    }

    fn opt_filter(&mut self, f: Option<&Filter>) {
        match f {
            Some(f) => {
                self.tag(1);
                self.filter(f);
            }
            None => self.tag(0),
        }
    }

    fn filter(&mut self, f: &Filter) {
        match f {
            Filter::Compare { left, op, right } => {
                self.tag(b'=');
                self.expr(left);
                self.tag(match op {
                    CmpOp::Eq => 1,
                    CmpOp::Ne => 2,
                    CmpOp::Lt => 3,
                    CmpOp::Lte => 4,
                    CmpOp::Gt => 5,
                    CmpOp::Gte => 6,
                });
                self.expr(right);
            }
            Filter::In {
                expr,
                values,
                negated,
            } => {
                if values.len() > INLINE_PAST {
                    // Written inline, depending on the values: not kept.
                    self.keep = false;
                }
                self.tag(b'i');
                self.expr(expr);
                self.flag(*negated);
                self.number(values.len() as u64);
                for v in values {
                    self.value(v);
                }
            }
            Filter::Like {
                expr,
                pattern,
                negated,
            } => {
                self.tag(b'l');
                self.expr(expr);
                self.flag(*negated);
                // The pattern as lowering binds it (a lone trailing backslash doubled).
                self.value(&Value::String(Some(like_pattern(pattern))));
            }
            Filter::IsNull { expr, negated } => {
                self.tag(b'n');
                self.expr(expr);
                self.flag(*negated);
            }
            Filter::Identical { left, right } => {
                // Lowered as `left = right AND <exact comparison of left and right>`.
                self.tag(b'e');
                let outer = std::mem::replace(&mut self.twice, true);
                self.expr(left);
                self.expr(right);
                self.twice = outer;
            }
            Filter::And(list) | Filter::Or(list) => {
                self.tag(if matches!(f, Filter::And(_)) {
                    b'&'
                } else {
                    b'|'
                });
                self.number(list.len() as u64);
                for f in list {
                    self.filter(f);
                }
            }
            Filter::Not(f) => {
                self.tag(b'!');
                self.filter(f);
            }
            Filter::NotTrue(f) => {
                self.tag(b'?');
                self.filter(f);
            }
        }
    }
}
