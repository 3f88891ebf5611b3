//! Tenant isolation (`#[rls(tenant = "…")]`): reads see the context's tenant only (the main
//! table in WHERE, joined tables in their ON clause), inserts get the tenant set or are refused
//! when they name another, updates and deletes are limited to the tenant, and neither a row's
//! tenant nor another tenant's row (through an upsert) can be changed.

use super::condition::same_value;
use super::context::{context_for, current};
use super::postgres::setting_text;
use crate::behaviour::registry::Registry;
use crate::core::error::{Error, Result};
use crate::model::ValueKind;
use crate::query::{
    ColumnRef, ConflictAction, Delete, Expr, Filter, Insert, Operation, Select, Update, Value,
    is_null,
};

/// The tenant a query on `table` is limited to: `None` for the system context; an error without
/// a context, without a tenant in it, or with a tenant of another kind than the column.
///
/// An audit log keeps entries of changes made without a tenant too: there, a context without a
/// tenant — or no context at all — is limited to those (a typed NULL tenant), and with no model
/// tenant-isolated the log is not limited. Its tenant column holds the tenant's text.
fn tenant_of(reg: &Registry, table: &str, op: Operation) -> Result<Option<Value>> {
    let audit_log = reg.declared(table).is_some_and(|b| b.audit_log);
    if audit_log && current().is_none() {
        // No context: like a context without a tenant — the entries of changes made without
        // one (models without row-level security), never another tenant's. With no model
        // tenant-isolated, there is nothing to isolate.
        return Ok(reg.has_tenants().then_some(Value::String(None)));
    }
    let Some(ctx) = context_for(table)? else {
        return Ok(None);
    };
    if audit_log {
        return Ok(Some(match &ctx.tenant_id {
            Some(t) if !is_null(t) => Value::from(setting_text(&Some(t.clone()))),
            _ => Value::String(None),
        }));
    }
    let column = reg
        .declared(table)
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
        Some(t) if !is_null(t) => Ok(Some(t.clone())),
        _ => Err(Error::AccessDenied {
            table: table.to_string(),
            operation: op,
            reason: "the auth context names no tenant".into(),
        }),
    }
}

/// The tenant column of `table` and the tenant its query is limited to, if both apply.
fn limit(reg: &Registry, table: &str, op: Operation) -> Result<Option<(&'static str, Value)>> {
    match reg.declared(table).and_then(|b| b.tenant) {
        Some(column) => Ok(tenant_of(reg, table, op)?.map(|t| (column, t))),
        None => Ok(None),
    }
}

/// `column = tenant`: byte for byte for a text tenant, whatever the column's collation (MySQL
/// pads trailing spaces and may fold case; a tenant `"a "` must not see tenant `"a"`).
fn same_tenant(reg: &Registry, table: &str, column: Expr, tenant: Value) -> Filter {
    if is_null(&tenant) {
        // An audit log's entries without a tenant.
        return column.is_null();
    }
    match reg.declared(table).and_then(|b| b.tenant_kind) {
        Some(ValueKind::Text) => column.identical(tenant),
        _ => column.eq(tenant),
    }
}

/// A SELECT sees its tenant's rows of the main table and of every joined table.
pub(crate) fn select(reg: &Registry, s: &mut Select) -> Result<()> {
    let op = Operation::Select;
    if let Some((column, t)) = limit(reg, &s.table.name, op)? {
        let reference = s.table.reference().to_string();
        let own = Expr::Column(ColumnRef::qualified(&reference, column));
        s.add_filter(same_tenant(reg, &s.table.name, own, t));
    }
    // In the ON clause, so a LEFT JOIN still keeps the main row.
    for j in &mut s.joins {
        if let Some((column, t)) = limit(reg, &j.table.name, op)? {
            let own = Expr::Column(ColumnRef::qualified(j.table.reference(), column));
            let own = same_tenant(reg, &j.table.name, own, t);
            j.on = std::mem::replace(&mut j.on, Filter::And(vec![])).and(own);
        }
    }
    Ok(())
}

/// An UPDATE changes its tenant's rows only, and never a row's tenant.
pub(crate) fn update(reg: &Registry, u: &mut Update) -> Result<()> {
    let op = Operation::Update;
    let Some((column, t)) = limit(reg, &u.table, op)? else {
        return Ok(());
    };
    // Every spelling of the column (SQLite and MySQL ignore case).
    if u.values
        .iter()
        .any(|(c, v)| c.eq_ignore_ascii_case(column) && (c != column || !same_value(v, &t)))
    {
        return Err(Error::AccessDenied {
            table: u.table.clone(),
            operation: op,
            reason: format!("changing `{column}` (a row's tenant) is not allowed"),
        });
    }
    u.add_filter(same_tenant(
        reg,
        &u.table,
        Expr::Column(ColumnRef::new(column)),
        t,
    ));
    Ok(())
}

/// An INSERT writes its tenant's rows only (the column is set when not given), and may not
/// update on conflict (that could overwrite another tenant's row).
pub(crate) fn insert(reg: &Registry, i: &mut Insert) -> Result<()> {
    let op = Operation::Insert;
    let Some((column, t)) = limit(reg, &i.table, op)? else {
        return Ok(());
    };
    let denied = |reason: String| Error::AccessDenied {
        table: i.table.clone(),
        operation: op,
        reason,
    };
    if i.columns
        .iter()
        .any(|c| c.eq_ignore_ascii_case(column) && c != column)
    {
        return Err(denied(format!("write the tenant column as `{column}`")));
    }
    for n in 0..i.rows.len() {
        if let Some(v) = i.value(n, column)
            && !same_value(v, &t)
        {
            return Err(denied(format!(
                "row {n} names another tenant in `{column}`"
            )));
        }
    }
    if matches!(&i.on_conflict, Some(oc) if matches!(oc.action, ConflictAction::Update(_))) {
        return Err(denied(
            "ON CONFLICT DO UPDATE is not allowed on a row-level-security table; insert or update explicitly".into(),
        ));
    }
    i.set_value(column, t);
    Ok(())
}

/// A DELETE removes its tenant's rows only.
pub(crate) fn delete(reg: &Registry, d: &mut Delete) -> Result<()> {
    if let Some((column, t)) = limit(reg, &d.table, Operation::Delete)? {
        d.add_filter(same_tenant(
            reg,
            &d.table,
            Expr::Column(ColumnRef::new(column)),
            t,
        ));
    }
    Ok(())
}
