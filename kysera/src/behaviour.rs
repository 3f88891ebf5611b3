//! The behaviours models declare with `#[soft_delete]`, `#[timestamps]` and
//! `#[rls(tenant = "…")]`, enforced by the executor on every query that names their tables — from a repository, a DAL function or the
//! query builder, joined or not, inside transactions or not.
//!
//! The derive registers each model's [`ModelInfo`] at link time; the executor reads the
//! registrations once, and when no linked model declares a behaviour it does no per-query work
//! for them.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};

use crate::model::{ModelInfo, TimestampColumn, TimestampKind, ValueKind};
use crate::query::{ColumnRef, ConflictAction, Expr, Filter, JoinKind, Operation, Query, Value};
use crate::{Error, Result, rls};

/// A model's registration, submitted by the derive (not for direct use).
#[doc(hidden)]
pub struct ModelRegistration(pub &'static ModelInfo);

inventory::collect!(ModelRegistration);

/// Which rows of a soft-delete table a query sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum DeletedRows {
    /// Only rows that are not soft-deleted (the default).
    #[default]
    Exclude,
    /// Every row.
    Include,
    /// Only soft-deleted rows.
    Only,
}

/// What the executor enforces for one table.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TableBehaviour {
    pub soft_delete: Option<TimestampColumn>,
    pub created_at: Option<TimestampColumn>,
    pub updated_at: Option<TimestampColumn>,
    /// `#[rls(tenant = "…")]`: the tenant column.
    pub tenant: Option<&'static str>,
    /// What the tenant column holds.
    pub tenant_kind: Option<ValueKind>,
}

/// Tables with at least one behaviour.
/// Keyed by lowercased table name: SQLite and MySQL match names without regard to case, so
/// `POSTS` must not escape the policies of `posts`.
pub(crate) struct Registry(HashMap<String, TableBehaviour>);

/// The registry, or `None` when no linked model declares a behaviour.
pub(crate) fn registry() -> Option<&'static Registry> {
    static REGISTRY: OnceLock<Option<Registry>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            let mut map: HashMap<String, TableBehaviour> = HashMap::new();
            for ModelRegistration(info) in inventory::iter::<ModelRegistration> {
                if info.soft_delete.is_none()
                    && info.created_at.is_none()
                    && info.updated_at.is_none()
                    && info.tenant.is_none()
                {
                    continue;
                }
                // Several models may share a table: each behaviour any of them declares applies
                // (to every query on the table); where they name different columns, the first
                // registered wins and the disagreement is logged.
                let b = map.entry(info.table.to_ascii_lowercase()).or_default();
                let differs = |a: Option<TimestampColumn>, c: Option<TimestampColumn>| {
                    matches!((a, c), (Some(x), Some(y)) if x != y)
                };
                if differs(b.soft_delete, info.soft_delete)
                    || differs(b.created_at, info.created_at)
                    || differs(b.updated_at, info.updated_at)
                    || matches!((b.tenant, info.tenant), (Some(x), Some(y)) if x != y)
                {
                    tracing::warn!(target: "kysera::behaviour", table = info.table, model = info.name, "models of one table declare different behaviour columns; the first registered applies");
                }
                b.soft_delete = b.soft_delete.or(info.soft_delete);
                b.created_at = b.created_at.or(info.created_at);
                b.updated_at = b.updated_at.or(info.updated_at);
                if b.tenant.is_none() && info.tenant.is_some() {
                    b.tenant = info.tenant;
                    b.tenant_kind = Some(info.tenant_kind);
                }
            }
            (!map.is_empty()).then_some(Registry(map))
        })
        .as_ref()
}

/// The value a timestamp column stores for `now`.
pub(crate) fn timestamp_value(kind: TimestampKind, now: DateTime<Utc>) -> Value {
    match kind {
        TimestampKind::Utc => Value::ChronoDateTimeUtc(Some(now)),
        TimestampKind::Naive => Value::ChronoDateTime(Some(now.naive_utc())),
    }
}

fn deleted_filter(table: Option<&str>, column: &str, rows: DeletedRows) -> Option<Filter> {
    let col = Expr::Column(ColumnRef {
        table: table.map(str::to_string),
        column: column.to_string(),
    });
    match rows {
        DeletedRows::Exclude => Some(col.is_null()),
        DeletedRows::Only => Some(col.is_not_null()),
        DeletedRows::Include => None,
    }
}

/// The entry of a table in a map keyed by lowercased table name (SQLite and MySQL match names
/// without regard to case); allocates only for a name that has upper-case letters.
pub(crate) fn get_ignoring_case<'a, V>(map: &'a HashMap<String, V>, table: &str) -> Option<&'a V> {
    if table.bytes().any(|b| b.is_ascii_uppercase()) {
        map.get(&table.to_ascii_lowercase())
    } else {
        map.get(table)
    }
}

/// Whether any linked model is tenant-isolated (`#[rls(tenant)]`).
pub(crate) fn has_tenants() -> bool {
    registry().is_some_and(|r| r.0.values().any(|b| b.tenant.is_some()))
}

impl Registry {
    fn get(&self, table: &str) -> Option<&TableBehaviour> {
        get_ignoring_case(&self.0, table)
    }

    /// The tenant a query on `table` (with tenant column `column`) is limited to: `None` for the
    /// system context; an error without a context or without a tenant in it.
    fn tenant_of(&self, table: &str, op: Operation) -> Result<Option<Value>> {
        let Some(ctx) = rls::context_for(table)? else {
            return Ok(None);
        };
        let column = self
            .get(table)
            .and_then(|b| b.tenant_kind)
            .unwrap_or(ValueKind::Other);
        match &ctx.tenant_id {
            // A tenant of another kind than the column would be compared by the database's
            // conversion rules (MySQL: '1abc' = 1): refused.
            Some(t) if column != ValueKind::Other && ValueKind::of(t) != column => {
                Err(Error::AccessDenied {
                    table: table.to_string(),
                    operation: op,
                    reason: format!(
                        "the context's tenant is {:?} but the tenant column holds {column:?}",
                        ValueKind::of(t)
                    ),
                })
            }
            Some(t) if !crate::executor::is_null_value(t) => Ok(Some(t.clone())),
            _ => Err(Error::AccessDenied {
                table: table.to_string(),
                operation: op,
                reason: "the auth context names no tenant".into(),
            }),
        }
    }

    /// Whether the table hides rows (soft delete or tenant isolation).
    fn hides_rows(&self, table: &str) -> bool {
        self.get(table)
            .is_some_and(|b| b.soft_delete.is_some() || b.tenant.is_some())
    }

    /// Applies soft-delete filters, timestamps and tenant isolation to `query`.
    pub(crate) fn apply(&self, query: &mut Query, now: impl Fn() -> DateTime<Utc>) -> Result<()> {
        let op = query.operation();
        match query {
            Query::Select(s) => {
                // Under RIGHT or FULL JOIN a table's hidden rows would come back NULL-extended
                // or unfiltered (another tenant's rows, deleted rows): refuse rather than leak.
                let outer = s
                    .joins
                    .iter()
                    .any(|j| matches!(j.kind, JoinKind::Right | JoinKind::Full));
                if outer
                    && (self.hides_rows(&s.table.name)
                        || s.joins.iter().any(|j| self.hides_rows(&j.table.name)))
                {
                    return Err(Error::InvalidQuery(format!(
                        "RIGHT or FULL JOIN with a soft-delete or row-level-security table in a query on `{}`; write it as a LEFT JOIN from the other table",
                        s.table.name
                    )));
                }
                let main = self.get(&s.table.name).copied().unwrap_or_default();
                let reference = s.table.reference().to_string();
                if let Some(sd) = main.soft_delete
                    && let Some(f) = deleted_filter(Some(&reference), sd.name, s.deleted)
                {
                    s.add_filter(f);
                }
                if let Some(column) = main.tenant
                    && let Some(t) = self.tenant_of(&s.table.name, op)?
                {
                    s.add_filter(Expr::Column(ColumnRef::qualified(&reference, column)).eq(t));
                }
                // A joined table's conditions go into its ON clause (so a LEFT JOIN still keeps
                // the main row): not its deleted rows, only its tenant's rows.
                for j in &mut s.joins {
                    let Some(b) = self.get(&j.table.name) else {
                        continue;
                    };
                    let mut extra = Vec::new();
                    // `only_deleted` concerns the main table; joined tables still hide theirs.
                    if let Some(sd) = b.soft_delete
                        && s.deleted != DeletedRows::Include
                    {
                        extra.push(
                            Expr::Column(ColumnRef::qualified(j.table.reference(), sd.name))
                                .is_null(),
                        );
                    }
                    if let Some(column) = b.tenant
                        && let Some(t) = self.tenant_of(&j.table.name, op)?
                    {
                        extra.push(
                            Expr::Column(ColumnRef::qualified(j.table.reference(), column)).eq(t),
                        );
                    }
                    for f in extra {
                        j.on = std::mem::replace(&mut j.on, Filter::And(vec![])).and(f);
                    }
                }
            }
            Query::Update(u) => {
                let Some(b) = self.get(&u.table).copied() else {
                    return Ok(());
                };
                if let Some(column) = b.tenant
                    && let Some(t) = self.tenant_of(&u.table, op)?
                {
                    // Every spelling of the column (SQLite and MySQL ignore case).
                    if u.values.iter().any(|(c, v)| {
                        c.eq_ignore_ascii_case(column) && (c != column || !rls::same_value(v, &t))
                    }) {
                        return Err(Error::AccessDenied {
                            table: u.table.clone(),
                            operation: op,
                            reason: format!("changing `{column}` (a row's tenant) is not allowed"),
                        });
                    }
                    u.add_filter(Expr::Column(ColumnRef::new(column)).eq(t));
                }
                if let Some(sd) = b.soft_delete
                    && let Some(f) = deleted_filter(None, sd.name, u.deleted)
                {
                    u.add_filter(f);
                }
                if let Some(ts) = b.updated_at
                    && !u.preserve_timestamps
                {
                    u.set_value(ts.name, timestamp_value(ts.kind, now()));
                }
            }
            Query::Insert(i) => {
                let Some(b) = self.get(&i.table).copied() else {
                    return Ok(());
                };
                let tenant = match b.tenant {
                    Some(column) => self.tenant_of(&i.table, op)?.map(|t| (column, t)),
                    None => None,
                };
                if let Some((column, t)) = tenant.clone() {
                    if i.columns
                        .iter()
                        .any(|c| c.eq_ignore_ascii_case(column) && c != column)
                    {
                        return Err(Error::AccessDenied {
                            table: i.table.clone(),
                            operation: op,
                            reason: format!("write the tenant column as `{column}`"),
                        });
                    }
                    for n in 0..i.rows.len() {
                        if let Some(v) = i.value(n, column)
                            && !rls::same_value(v, &t)
                        {
                            return Err(Error::AccessDenied {
                                table: i.table.clone(),
                                operation: op,
                                reason: format!("row {n} names another tenant in `{column}`"),
                            });
                        }
                    }
                    i.set_value(column, t);
                }
                if let Some(oc) = &mut i.on_conflict
                    && let ConflictAction::Update(cols) = &mut oc.action
                {
                    // An upsert that updates could overwrite another tenant's row.
                    if tenant.is_some() {
                        return Err(Error::AccessDenied {
                            table: i.table.clone(),
                            operation: op,
                            reason: "ON CONFLICT DO UPDATE is not allowed on a row-level-security table; insert or update explicitly".into(),
                        });
                    }
                    // Hitting a soft-deleted row revives it (the inserted row has no deletion
                    // time); the update bumps updated_at and never rewrites created_at.
                    let mut add = |c: &str| {
                        if !cols.iter().any(|x| x == c) {
                            cols.push(c.to_string());
                        }
                    };
                    if let Some(sd) = b.soft_delete {
                        add(sd.name);
                    }
                    if !i.preserve_timestamps {
                        if let Some(ts) = b.updated_at {
                            add(ts.name);
                        }
                        if let Some(ts) = b.created_at {
                            cols.retain(|c| c != ts.name);
                        }
                    }
                }
                if !i.preserve_timestamps {
                    let mut at = None;
                    for ts in [b.created_at, b.updated_at].into_iter().flatten() {
                        let t = *at.get_or_insert_with(&now);
                        i.set_value(ts.name, timestamp_value(ts.kind, t));
                    }
                }
            }
            Query::Delete(d) => {
                if let Some(column) = self.get(&d.table).and_then(|b| b.tenant)
                    && let Some(t) = self.tenant_of(&d.table, op)?
                {
                    d.add_filter(Expr::Column(ColumnRef::new(column)).eq(t));
                }
            }
        }
        Ok(())
    }
}
