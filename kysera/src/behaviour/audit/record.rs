//! Recording changes: which writes of a model get entries, and the entries themselves (the
//! row's key, its values before and after, who acted, its tenant), written in the change's
//! transaction.

use super::Audit;
use crate::behaviour::rls;
use crate::core::error::{Error, Result};
use crate::executor::Executor;
use crate::model::Model;
use crate::query::{Insert, Value, is_null};

/// The executor's audit plugin, if it has one.
pub(super) fn plugin(ctx: &Executor) -> Option<&Audit> {
    ctx.plugins()
        .iter()
        .find_map(|p| p.as_any().and_then(|a| a.downcast_ref::<Audit>()))
}

/// Which writes of a model get entries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Create,
    Update,
    Delete,
}

/// The audit plugin to record a `change` of `M` with, `None` when `M` does not audit it; an
/// audited write on an executor without the plugin is an error.
pub(crate) fn for_change<M: Model>(ctx: &Executor, change: Change) -> Result<Option<Audit>> {
    let Some(spec) = M::INFO.audit else {
        return Ok(None);
    };
    let wanted = match change {
        Change::Create => spec.create,
        Change::Update => spec.update,
        Change::Delete => spec.delete,
    };
    if !wanted {
        return Ok(None);
    }
    match plugin(ctx) {
        Some(a) => Ok(Some(a.clone())),
        None => Err(Error::MissingPlugin {
            plugin: "audit".into(),
            model: M::INFO.name.into(),
            help: "add kysera::audit::Audit to the executor's plugins so its changes are recorded"
                .into(),
        }),
    }
}

/// The entity id text of a primary key.
pub(crate) fn entity_id<M: Model>(id: &M::Id) -> String {
    let parts: Vec<serde_json::Value> = M::id_values(id).iter().map(value_json).collect();
    match parts.as_slice() {
        [serde_json::Value::String(s)] => s.clone(),
        [single] => single.to_string(),
        _ => serde_json::Value::Array(parts).to_string(),
    }
}

fn value_json(v: &Value) -> serde_json::Value {
    use serde_json::json;
    match v {
        Value::Bool(Some(b)) => json!(b),
        Value::TinyInt(Some(i)) => json!(i),
        Value::SmallInt(Some(i)) => json!(i),
        Value::Int(Some(i)) => json!(i),
        Value::BigInt(Some(i)) => json!(i),
        Value::TinyUnsigned(Some(i)) => json!(i),
        Value::SmallUnsigned(Some(i)) => json!(i),
        Value::Unsigned(Some(i)) => json!(i),
        Value::BigUnsigned(Some(i)) => json!(i),
        // As text, every digit kept (what `Decimal`'s serde form is too).
        #[cfg(feature = "rust_decimal")]
        Value::Decimal(Some(d)) => json!(d.to_string()),
        #[cfg(feature = "time")]
        Value::TimeDate(Some(t)) => serde_json::to_value(t).unwrap_or_default(),
        #[cfg(feature = "time")]
        Value::TimeTime(Some(t)) => serde_json::to_value(t).unwrap_or_default(),
        #[cfg(feature = "time")]
        Value::TimeDateTime(Some(t)) => serde_json::to_value(t).unwrap_or_default(),
        #[cfg(feature = "time")]
        Value::TimeDateTimeWithTimeZone(Some(t)) => serde_json::to_value(t).unwrap_or_default(),
        Value::String(Some(s)) => json!(s),
        Value::Uuid(Some(u)) => json!(u.to_string()),
        Value::ChronoDateTimeUtc(Some(t)) => json!(t),
        Value::ChronoDateTime(Some(t)) => json!(t),
        Value::ChronoDate(Some(t)) => json!(t),
        Value::ChronoTime(Some(t)) => json!(t),
        Value::Double(Some(f)) => json!(f),
        Value::Float(Some(f)) => json!(f),
        Value::Bytes(Some(b)) => json!(b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
        other => json!(format!("{other:?}")),
    }
}

fn snapshot<M: Model>(row: Option<&M>, keep: bool) -> Option<serde_json::Value> {
    let spec = M::INFO.audit?;
    let row = row.filter(|_| keep)?;
    let mut map = row.__audit_json();
    for c in spec.exclude {
        map.remove(*c);
    }
    Some(serde_json::Value::Object(map))
}

/// The tenant an entry belongs to: the row's own tenant for a tenant-isolated model (so the
/// tenant reads it even when the system context made the change), else the acting tenant.
fn entry_tenant<M: Model>(row: Option<&M>) -> Option<String> {
    let from_row = M::INFO
        .tenant
        .and_then(|c| row.and_then(|r| r.column_value(c)))
        .filter(|v| !is_null(v));
    let acting = || {
        rls::current()
            .filter(|c| !c.system)
            .and_then(|c| c.tenant_id.clone())
    };
    from_row
        .or_else(acting)
        .map(|t| rls::setting_text(&Some(t)))
}

/// Writes one entry per (old, new) pair, in `ctx` (which is the write's atomic section), in
/// statements of at most 500 entries.
pub(crate) async fn record<M: Model>(
    ctx: &Executor,
    audit: &Audit,
    operation: &str,
    rows: &[(Option<&M>, Option<&M>)],
) -> Result<()> {
    const BATCH: usize = 500;
    let Some(spec) = M::INFO.audit else {
        return Ok(());
    };
    let by = audit.acting_user();
    let at = ctx.now();
    for batch in rows.chunks(BATCH) {
        let mut ins = Insert::into(audit.table.clone()).columns([
            "table_name",
            "entity_id",
            "operation",
            "old_values",
            "new_values",
            "changed_by",
            "tenant_id",
            "changed_at",
        ]);
        for (old, new) in batch {
            let Some(row) = new.or(*old) else { continue };
            let json = |v: Option<serde_json::Value>| Value::Json(v.map(Box::new));
            ins = ins.values([
                Value::from(M::INFO.table),
                Value::from(entity_id::<M>(&row.id())),
                Value::from(operation),
                json(snapshot(*old, spec.old_values)),
                json(snapshot(*new, spec.new_values)),
                Value::String(by.clone()),
                Value::String(entry_tenant::<M>(Some(row))),
                Value::from(at),
            ]);
        }
        if !ins.rows.is_empty() {
            // Straight to the table: plugins must not hide or refuse the log's own writes.
            ctx.raw().execute(ins).await?;
        }
    }
    Ok(())
}
