//! Reading the audit log: pages of entries, one row's history, one entry; limited to what the
//! current auth context may read.

use super::record::{entity_id, plugin};
use super::{AuditFilter, AuditRecord};
use crate::behaviour::registry::has_tenants;
use crate::behaviour::rls;
use crate::core::error::{Error, Result};
use crate::executor::Executor;
use crate::model::Model;
use crate::pagination::{Page, PageRequest, total_pages};
use crate::query::{Order, Select, col};

/// The audit table, limited to what the current auth context may read: a tenant's own entries,
/// entries with no tenant for a context without one (or no context), everything for the system
/// context.
fn readable(ctx: &Executor) -> Result<Select> {
    let table = plugin(ctx)
        .map(|a| a.table.clone())
        .unwrap_or_else(|| "audit_logs".into());
    let select = Select::from(table.clone());
    Ok(match rls::current() {
        Some(c) if c.system => select,
        Some(c) => match &c.tenant_id {
            Some(t) => select.filter(col("tenant_id").eq(rls::setting_text(&Some(t.clone())))),
            None => select.filter(col("tenant_id").is_null()),
        },
        // No context: the entries of changes made without a tenant (models without row-level
        // security read their history so), never a tenant's.
        None if has_tenants() => select.filter(col("tenant_id").is_null()),
        None => select,
    })
}

/// One page of the audit log, newest first.
pub async fn audit_log(
    ctx: &Executor,
    filter: AuditFilter,
    page: u64,
    limit: u64,
) -> Result<Page<AuditRecord>> {
    let mut s = readable(ctx)?;
    let eq = |s: Select, c: &str, v: &Option<String>| match v {
        Some(v) => s.filter(col(c).eq(v.clone())),
        None => s,
    };
    s = eq(s, "table_name", &filter.table);
    s = eq(s, "entity_id", &filter.entity_id);
    s = eq(s, "changed_by", &filter.user);
    s = eq(s, "operation", &filter.operation);
    if let Some(t) = filter.from {
        s = s.filter(col("changed_at").gte(t));
    }
    if let Some(t) = filter.to {
        s = s.filter(col("changed_at").lt(t));
    }
    let request = PageRequest::new(page, limit);
    let offset = request.check()?;
    let total = ctx.count_unchecked(s.clone()).await?;
    let rows = ctx
        .raw()
        .fetch_all(
            s.order_by(col("changed_at"), Order::Desc)
                .order_by(col("id"), Order::Desc)
                .limit(limit)
                .offset(offset),
        )
        .await?;
    Ok(Page {
        items: rows
            .iter()
            .map(AuditRecord::from_row)
            .collect::<Result<_>>()?,
        total,
        page,
        limit,
        total_pages: total_pages(total, limit),
    })
}

/// Every entry of one row of `M`, oldest first.
pub async fn history<M: Model>(ctx: &Executor, id: &M::Id) -> Result<Vec<AuditRecord>> {
    let s = readable(ctx)?
        .filter(col("table_name").eq(M::INFO.table))
        .filter(col("entity_id").eq(entity_id::<M>(id)))
        .order_by(col("changed_at"), Order::Asc)
        .order_by(col("id"), Order::Asc);
    ctx.raw()
        .fetch_all(s)
        .await?
        .iter()
        .map(AuditRecord::from_row)
        .collect()
}

/// One entry by id.
pub(crate) async fn entry(ctx: &Executor, id: i64) -> Result<AuditRecord> {
    let rows = ctx
        .raw()
        .fetch_all(readable(ctx)?.filter(col("id").eq(id)))
        .await?;
    match rows.first() {
        Some(r) => AuditRecord::from_row(r),
        None => Err(Error::NotFound(Some(format!("audit record {id}")))),
    }
}
