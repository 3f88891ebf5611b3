//! Lowering of the IR to sea-query statements for one dialect.
//!
//! Everything that sea-query would panic on (a FULL OUTER JOIN on MySQL, an unsigned value too
//! large for PostgreSQL/SQLite parameters, a ragged insert) is refused here with an error.

use sea_query::{
    Asterisk, Func, JoinType, MysqlQueryBuilder, OnConflict as SqOnConflict, PostgresQueryBuilder,
    Query as Sq, QueryStatementWriter, SqliteQueryBuilder, Values,
};

use super::bind::bind_value;
use super::expr::too_deep;
use super::lower_filter::{condition, expr, iden};
use super::{
    ConflictAction, Delete, Expr, Filter, Insert, JoinKind, Order, Query, Returning, Select,
    Update, Value,
};
use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;

/// SQL text and its bound values, ready for the driver.
#[derive(Debug, Clone)]
pub(crate) struct Lowered {
    pub sql: String,
    pub values: Values,
}

pub(super) fn build(stmt: &impl QueryStatementWriter, dialect: Dialect) -> Result<Lowered> {
    let (sql, mut values) = match dialect {
        Dialect::Postgres => stmt.build_any(&PostgresQueryBuilder),
        Dialect::MySql => stmt.build_any(&MysqlQueryBuilder),
        Dialect::Sqlite => stmt.build_any(&SqliteQueryBuilder),
    };
    // Values are bound, so a NUL here is in a table, column or alias name: SQLite would cut
    // the statement there and PostgreSQL's protocol breaks on it.
    if sql.contains('\0') {
        return Err(Error::InvalidQuery(
            "a table, column or alias name contains a NUL character".into(),
        ));
    }
    let limit = dialect.adapter().max_bind_parameters();
    if values.0.len() > limit {
        return Err(Error::InvalidQuery(format!(
            "the statement binds {} values and {dialect} accepts at most {limit}: split it (long IN lists of integers and text are written inline; others are not)",
            values.0.len()
        )));
    }
    for v in &mut values.0 {
        *v = bind_value(std::mem::replace(v, sea_query::Value::Bool(None)), dialect)?;
    }
    Ok(Lowered { sql, values })
}

/// Lowers the select into a sea-query statement.
pub(super) fn select_statement(s: &Select, dialect: Dialect) -> Result<sea_query::SelectStatement> {
    select_statement_with(s, dialect, true)
}

/// The SELECT; with `limits` false its LIMIT and OFFSET are left for [`top_select`] to write.
fn select_statement_with(
    s: &Select,
    dialect: Dialect,
    limits: bool,
) -> Result<sea_query::SelectStatement> {
    let mut q = Sq::select();
    match &s.table.alias {
        Some(a) => q.from_as(iden(&s.table.name), iden(a)),
        None => q.from(iden(&s.table.name)),
    };
    if s.distinct {
        q.distinct();
    }
    if s.columns.is_empty() {
        q.column(Asterisk);
    }
    for item in &s.columns {
        match &item.alias {
            Some(a) => q.expr_as(expr(&item.expr), iden(a)),
            None => q.expr(expr(&item.expr)),
        };
    }
    for j in &s.joins {
        let kind = match j.kind {
            JoinKind::Inner => JoinType::InnerJoin,
            JoinKind::Left => JoinType::LeftJoin,
            JoinKind::Right => JoinType::RightJoin,
            JoinKind::Full if dialect == Dialect::MySql => {
                return Err(Error::Unsupported {
                    dialect,
                    what: "FULL OUTER JOIN".into(),
                });
            }
            JoinKind::Full => JoinType::FullOuterJoin,
        };
        let on = condition(&j.on, dialect);
        match &j.table.alias {
            Some(a) => q.join_as(kind, iden(&j.table.name), iden(a), on),
            None => q.join(kind, iden(&j.table.name), on),
        };
    }
    if let Some(f) = &s.filter {
        q.cond_where(condition(f, dialect));
    }
    if !s.group_by.is_empty() {
        q.add_group_by(s.group_by.iter().map(expr));
    }
    if let Some(h) = &s.having {
        q.cond_having(condition(h, dialect));
    }
    for o in &s.order_by {
        let order = match o.order {
            Order::Asc => sea_query::Order::Asc,
            Order::Desc => sea_query::Order::Desc,
        };
        q.order_by_expr(expr(&o.expr), order);
    }
    let max = i64::MAX as u64;
    for (name, n) in [("LIMIT", s.limit), ("OFFSET", s.offset)] {
        if n.is_some_and(|n| n > max) {
            return Err(Error::InvalidQuery(format!("{name} larger than {max}")));
        }
    }
    if !limits {
        return Ok(q);
    }
    match (s.limit, s.offset) {
        (Some(l), _) => {
            q.limit(l);
        }
        // MySQL and SQLite accept OFFSET only after a LIMIT.
        (None, Some(_)) if dialect != Dialect::Postgres => {
            q.limit(max);
        }
        _ => {}
    }
    if let Some(o) = s.offset {
        q.offset(o);
    }
    Ok(q)
}

fn returning(r: &Returning, dialect: Dialect) -> Option<sea_query::ReturningClause> {
    // MySQL has no RETURNING: the executor emulates it.
    if dialect == Dialect::MySql {
        return None;
    }
    match r {
        Returning::None => None,
        Returning::All => Some(Sq::returning().all()),
        Returning::Columns(cols) => Some(Sq::returning().columns(cols.iter().map(|c| iden(c)))),
    }
}

/// A column named twice (in any case: SQLite and MySQL do not tell them apart) would let one
/// value hide behind another.
fn refuse_duplicates<'a>(table: &str, names: impl Iterator<Item = &'a String>) -> Result<()> {
    let mut seen: Vec<&str> = Vec::new();
    for n in names {
        if seen.iter().any(|s| s.eq_ignore_ascii_case(n)) {
            return Err(Error::InvalidQuery(format!(
                "column `{n}` is written twice in one statement on `{table}`"
            )));
        }
        seen.push(n);
    }
    Ok(())
}

fn insert(i: &Insert, dialect: Dialect) -> Result<Lowered> {
    refuse_duplicates(&i.table, i.columns.iter())?;
    if i.rows.is_empty() {
        return Err(Error::InvalidQuery(format!(
            "INSERT INTO `{}` has no rows",
            i.table
        )));
    }
    let mut q = Sq::insert();
    q.into_table(iden(&i.table));
    if i.columns.is_empty() {
        if i.rows.iter().any(|r| !r.is_empty()) {
            return Err(Error::InvalidQuery(format!(
                "INSERT INTO `{}` has values but no columns",
                i.table
            )));
        }
        let n = u32::try_from(i.rows.len())
            .map_err(|_| Error::InvalidQuery("too many rows in one INSERT".into()))?;
        q.or_default_values_many(n);
    } else {
        q.columns(i.columns.iter().map(|c| iden(c)));
        for (n, row) in i.rows.iter().enumerate() {
            if row.len() != i.columns.len() {
                return Err(Error::InvalidQuery(format!(
                    "INSERT INTO `{}`: row {n} has {} values for {} columns",
                    i.table,
                    row.len(),
                    i.columns.len()
                )));
            }
            q.values(
                row.iter()
                    .map(|v| sea_query::Expr::val(v.clone().into_sea())),
            )
            .map_err(|e| Error::InvalidQuery(e.to_string()))?;
        }
    }
    if let Some(c) = &i.on_conflict {
        let mut oc = if c.columns.is_empty() {
            SqOnConflict::new()
        } else {
            SqOnConflict::columns(c.columns.iter().map(|c| iden(c)))
        };
        match &c.action {
            ConflictAction::DoNothing if dialect == Dialect::MySql && c.columns.is_empty() => {
                // MySQL reports a skipped duplicate as an affected row (CLIENT_FOUND_ROWS), so
                // DO NOTHING is a check of the named key; without one it cannot be told apart.
                return Err(Error::Unsupported {
                    dialect,
                    what: "ON CONFLICT DO NOTHING without conflict columns (name them)".into(),
                });
            }
            ConflictAction::DoNothing if dialect == Dialect::MySql => {
                // `ON DUPLICATE KEY UPDATE c = c` (never INSERT IGNORE, which also hides other errors)
                oc.do_nothing_on(c.columns.iter().map(|c| iden(c)));
            }
            ConflictAction::DoNothing => {
                oc.do_nothing();
            }
            ConflictAction::Update(cols) if cols.is_empty() => {
                return Err(Error::InvalidQuery(
                    "ON CONFLICT DO UPDATE needs at least one column to update".into(),
                ));
            }
            ConflictAction::Update(cols) => {
                if dialect != Dialect::MySql && c.columns.is_empty() {
                    return Err(Error::InvalidQuery(
                        "ON CONFLICT DO UPDATE needs the conflicting columns".into(),
                    ));
                }
                oc.update_columns(cols.iter().map(|c| iden(c)));
            }
        }
        q.on_conflict(oc);
    }
    if let Some(r) = returning(&i.returning, dialect) {
        q.returning(r);
    }
    build(&q, dialect)
}

fn update(u: &Update, dialect: Dialect) -> Result<Lowered> {
    build(&update_statement(u, dialect)?, dialect)
}

/// The UPDATE as a sea-query statement (checked: it sets columns, each once).
pub(super) fn update_statement(u: &Update, dialect: Dialect) -> Result<sea_query::UpdateStatement> {
    if u.values.is_empty() {
        return Err(Error::InvalidQuery(format!(
            "UPDATE `{}` sets no columns",
            u.table
        )));
    }
    refuse_duplicates(&u.table, u.values.iter().map(|(c, _)| c))?;
    let mut q = Sq::update();
    q.table(iden(&u.table));
    q.values(
        u.values
            .iter()
            .map(|(c, v)| (iden(c), sea_query::Expr::val(v.clone().into_sea()))),
    );
    if let Some(f) = &u.filter {
        q.cond_where(condition(f, dialect));
    }
    if let Some(r) = returning(&u.returning, dialect) {
        q.returning(r);
    }
    Ok(q)
}

fn delete(d: &Delete, dialect: Dialect) -> Result<Lowered> {
    build(&delete_statement(d, dialect), dialect)
}

/// The DELETE as a sea-query statement.
pub(super) fn delete_statement(d: &Delete, dialect: Dialect) -> sea_query::DeleteStatement {
    let mut q = Sq::delete();
    q.from_table(iden(&d.table));
    if let Some(f) = &d.filter {
        q.cond_where(condition(f, dialect));
    }
    if let Some(r) = returning(&d.returning, dialect) {
        q.returning(r);
    }
    q
}

/// Lowers any query for `dialect` (RETURNING is left out on MySQL, where the executor emulates
/// it), without the cache of shapes (`query::shape::lower` is the one to call).
pub(crate) fn lower_uncached(q: &Query, dialect: Dialect) -> Result<Lowered> {
    if q.too_deep() {
        return Err(too_deep());
    }
    q.null_comparison()?;
    match q {
        Query::Select(s) => top_select(s, dialect),
        Query::Insert(i) => insert(i, dialect),
        Query::Update(u) => update(u, dialect),
        Query::Delete(d) => delete(d, dialect),
    }
}

/// A SELECT that is the whole statement: its LIMIT written as a literal (a bound LIMIT cost
/// SQLite a quarter more instructions on a 100-row read, by callgrind; an integer carries no
/// SQL), its OFFSET still bound (a literal would make each page a statement of its own to
/// prepare).
fn top_select(s: &Select, dialect: Dialect) -> Result<Lowered> {
    let mut l = build(&select_statement_with(s, dialect, false)?, dialect)?;
    match (s.limit, s.offset) {
        (Some(n), _) => l.sql.push_str(&format!(" LIMIT {n}")),
        // MySQL and SQLite accept OFFSET only after a LIMIT.
        (None, Some(_)) if dialect != Dialect::Postgres => {
            l.sql.push_str(&format!(" LIMIT {}", i64::MAX))
        }
        _ => {}
    }
    if let Some(o) = s.offset {
        let n = l.values.0.len() + 1;
        match dialect {
            Dialect::Postgres => l.sql.push_str(&format!(" OFFSET ${n}")),
            _ => l.sql.push_str(" OFFSET ?"),
        }
        let v = bind_value(sea_query::Value::BigUnsigned(Some(o)), dialect)?;
        l.values.0.push(v);
    }
    Ok(l)
}

fn has_aggregate(s: &Select) -> bool {
    s.columns
        .iter()
        .any(|c| matches!(c.expr, Expr::CountAll | Expr::Aggregate(..)))
}

/// `SELECT COUNT(*)` of the rows `s` would return (its ORDER BY dropped).
pub(crate) fn lower_count(s: &Select, dialect: Dialect) -> Result<Lowered> {
    if super::select_too_deep(s) {
        return Err(too_deep());
    }
    super::select_null_comparison(s)?;
    let mut inner = s.clone();
    inner.order_by.clear();
    let needs_subquery = inner.distinct
        || !inner.group_by.is_empty()
        || inner.having.is_some()
        || has_aggregate(&inner)
        || inner.limit.is_some()
        || inner.offset.is_some();
    if !needs_subquery {
        inner.columns = vec![super::SelectItem {
            expr: Expr::CountAll,
            alias: Some("count".into()),
        }];
        return build(&select_statement(&inner, dialect)?, dialect);
    }
    if !inner.group_by.is_empty() && inner.columns.is_empty() {
        inner.columns = inner
            .group_by
            .iter()
            .map(|e| super::SelectItem {
                expr: e.clone(),
                alias: None,
            })
            .collect();
    } else if !inner.distinct
        && inner.group_by.is_empty()
        && !has_aggregate(&inner)
        && inner.having.is_none()
    {
        // Only the number of rows matters; `*` over a join would also repeat column names,
        // which MySQL refuses in a derived table.
        inner.columns = vec![super::SelectItem {
            expr: Expr::Value(Value::Int(Some(1))),
            alias: Some("one".into()),
        }];
    }
    let mut outer = Sq::select();
    outer
        .expr_as(
            sea_query::Expr::from(Func::count(sea_query::Expr::col(Asterisk))),
            iden("count"),
        )
        .from_subquery(select_statement(&inner, dialect)?, iden("kysera_count"));
    build(&outer, dialect)
}

/// `SELECT … LIMIT 1`: whether `s` returns any row; `None` when it cannot return one
/// (`LIMIT 0`).
pub(crate) fn lower_exists(s: &Select, dialect: Dialect) -> Result<Option<Lowered>> {
    if super::select_too_deep(s) {
        return Err(too_deep());
    }
    super::select_null_comparison(s)?;
    if s.limit == Some(0) {
        return Ok(None);
    }
    let mut inner = s.clone();
    inner.order_by.clear();
    // The select list matters when it aggregates (one row even over no rows) or when HAVING
    // may name its aliases; otherwise select a constant.
    if inner.group_by.is_empty()
        && !inner.distinct
        && !has_aggregate(&inner)
        && inner.having.is_none()
    {
        inner.columns = vec![super::SelectItem {
            expr: Expr::Value(Value::Int(Some(1))),
            alias: Some("one".into()),
        }];
    }
    inner.limit = Some(1);
    top_select(&inner, dialect).map(Some)
}

/// `SELECT CASE WHEN c THEN 1 ELSE 0 END, …` with no table: the database's own verdict on
/// conditions over values only (a policy's WITH CHECK with the written values in place of the
/// columns), in its own collation and three-valued logic — an unknown condition is 0.
pub(crate) fn lower_truths(conds: &[Filter], dialect: Dialect) -> Result<Lowered> {
    let mut stmt = sea_query::Query::select();
    for (n, c) in conds.iter().enumerate() {
        let case: sea_query::Expr = sea_query::Expr::case(condition(c, dialect), 1)
            .finally(0)
            .into();
        stmt.expr_as(case, iden(&format!("t{n}")));
    }
    build(&stmt, dialect)
}

#[cfg(test)]
mod tests {
    use super::lower_uncached as lower;
    use super::*;
    use crate::query::{Insert, Select, col};

    fn sql(q: impl Into<Query>, d: Dialect) -> String {
        lower(&q.into(), d).unwrap().sql
    }

    #[test]
    fn selects_quote_identifiers_and_bind_values() {
        let q = Select::from("users")
            .alias("u")
            .columns([col("u.id")])
            .inner_join("orgs", "o", col("o.id").eq_col(col("u.org_id")))
            .filter(col("u.name").eq("x'; DROP TABLE users; --"))
            .order_by(col("u.id"), Order::Desc)
            .limit(5)
            .offset(10);
        let l = lower(&q.clone().into(), Dialect::Postgres).unwrap();
        assert_eq!(
            l.sql,
            r#"SELECT "u"."id" FROM "users" AS "u" INNER JOIN "orgs" AS "o" ON "o"."id" = "u"."org_id" WHERE "u"."name" = $1 ORDER BY "u"."id" DESC LIMIT 5 OFFSET $2"#
        );
        assert_eq!(l.values.0.len(), 2);
        assert!(sql(q, Dialect::MySql).starts_with("SELECT `u`.`id` FROM `users` AS `u`"));
    }

    #[test]
    fn identifiers_with_quotes_are_escaped() {
        let s = sql(Select::from("we\"ird"), Dialect::Postgres);
        assert_eq!(s, r#"SELECT * FROM "we""ird""#);
    }

    #[test]
    fn offset_without_limit_gets_a_limit_where_required() {
        let q = Select::from("t").offset(3);
        assert!(!sql(q.clone(), Dialect::Postgres).contains("LIMIT"));
        assert!(sql(q.clone(), Dialect::Sqlite).contains("LIMIT"));
        assert!(sql(q, Dialect::MySql).contains("LIMIT"));
    }

    #[test]
    fn empty_in_lists_are_constants() {
        let s = sql(
            Select::from("t").filter(col("a").is_in(Vec::<i32>::new())),
            Dialect::Sqlite,
        );
        assert!(s.ends_with("WHERE 1 = 0"), "{s}");
        let s = sql(
            Select::from("t").filter(col("a").not_in(Vec::<i32>::new())),
            Dialect::Sqlite,
        );
        assert!(s.ends_with("WHERE 1 = 1"), "{s}");
    }

    #[test]
    fn refusals_instead_of_panics() {
        let full = Select::from("a").join(JoinKind::Full, "b", "", col("a.id").eq_col(col("b.id")));
        assert!(matches!(
            lower(&full.clone().into(), Dialect::MySql),
            Err(Error::Unsupported { .. })
        ));
        assert!(lower(&full.into(), Dialect::Postgres).is_ok());
        let ragged = Insert::into("t").columns(["a", "b"]).values([1]);
        assert!(matches!(
            lower(&ragged.into(), Dialect::Sqlite),
            Err(Error::InvalidQuery(_))
        ));
        let huge = Select::from("t").filter(col("a").eq(u64::MAX));
        assert!(matches!(
            lower(&huge.clone().into(), Dialect::Postgres),
            Err(Error::InvalidQuery(_))
        ));
        assert!(lower(&huge.into(), Dialect::MySql).is_ok());
        assert!(lower(&Select::from("t").limit(u64::MAX).into(), Dialect::Sqlite).is_err());
        assert!(lower(&Update::table("t").into(), Dialect::Sqlite).is_err());
        let mut twice = Update::table("t").set("a", 1);
        twice.values.push(("A".into(), 2.into()));
        assert!(matches!(
            lower(&twice.into(), Dialect::Sqlite),
            Err(Error::InvalidQuery(_))
        ));
        let twice = Insert::into("t").columns(["a", "A"]).values([1, 2]);
        assert!(matches!(
            lower(&twice.into(), Dialect::Sqlite),
            Err(Error::InvalidQuery(_))
        ));
    }

    #[test]
    fn mysql_conflicts_and_returning() {
        let q = Insert::into("t")
            .columns(["id", "a"])
            .values([Value::from(1), Value::from(2)])
            .on_conflict_do_nothing(["id"])
            .returning_all();
        let my = sql(q.clone(), Dialect::MySql);
        assert!(my.ends_with("ON DUPLICATE KEY UPDATE `id` = `id`"), "{my}");
        let pg = sql(q, Dialect::Postgres);
        assert!(
            pg.ends_with(r#"ON CONFLICT ("id") DO NOTHING RETURNING *"#),
            "{pg}"
        );
    }

    #[test]
    fn count_and_exists_keep_aggregates() {
        let agg = Select::from("t").column(col("x").max());
        let c = lower_count(&agg, Dialect::Sqlite).unwrap();
        assert!(c.sql.contains("FROM (SELECT MAX"), "{}", c.sql);
        let e = lower_exists(&agg, Dialect::Sqlite).unwrap().unwrap();
        assert!(e.sql.contains("MAX"), "{}", e.sql);
        assert!(
            lower_exists(&Select::from("t").limit(0), Dialect::Sqlite)
                .unwrap()
                .is_none()
        );
        let limited = lower_count(&Select::from("t").limit(3), Dialect::MySql).unwrap();
        assert!(
            limited.sql.contains("SELECT ? AS `one`") || limited.sql.contains("SELECT 1"),
            "{}",
            limited.sql
        );
    }

    #[test]
    fn count_wraps_grouped_queries() {
        let plain = lower_count(
            &Select::from("t").order_by(col("a"), Order::Asc),
            Dialect::Sqlite,
        )
        .unwrap();
        assert_eq!(plain.sql, r#"SELECT COUNT(*) AS "count" FROM "t""#);
        let grouped = lower_count(&Select::from("t").group_by(col("a")), Dialect::Sqlite).unwrap();
        assert!(grouped.sql.contains("FROM (SELECT"), "{}", grouped.sql);
    }
}

#[cfg(test)]
mod depth_tests {
    use super::lower_uncached as lower;
    use super::*;
    use crate::query::col;

    #[test]
    fn long_flat_chains_lower_without_exhausting_the_stack() {
        let v: Vec<Filter> = (0..20_000).map(|_| col("id").lt(100i64)).collect();
        let q: Query = Select::from("t").filter(Filter::And(v)).into();
        for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql] {
            let l = lower(&q, dialect).unwrap();
            assert_eq!(l.values.0.len(), 20_000);
        }
    }
}
