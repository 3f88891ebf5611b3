//! The model functions that behaviours unlock: soft delete and restore, touch, reads by
//! timestamp, and restoring a row from its audit log.

use super::write::{insert_for, insert_row, one, write};
use super::{Context, fetch, not_found, update_returning};
use crate::behaviour::audit::{self, Change};
use crate::behaviour::timestamps::timestamp_value;
use crate::core::error::{Error, Result};
use crate::model::{
    AuditedModel, FilterOn, HasUpdatedAt, Model, SoftDeleteModel, TimestampColumn, TimestampKind,
};
use crate::query::{CmpOp, DeletedRows, Filter, Order, Update, Value, col, val};

fn soft_delete_column<M: Model>() -> Result<TimestampColumn> {
    M::INFO
        .soft_delete
        .ok_or_else(|| Error::InvalidQuery(format!("{} has no soft-delete column", M::INFO.name)))
}

fn null_timestamp(kind: TimestampKind) -> Value {
    match kind {
        TimestampKind::Utc => Value::ChronoDateTimeUtc(None),
        TimestampKind::Naive => Value::ChronoDateTime(None),
    }
}

/// Sets `column` to `value` and the model's update timestamp to `now` (one statement, one
/// instant), taking the timestamp over from the executor.
fn stamp<M: Model>(
    upd: Update,
    column: Option<(TimestampColumn, Value)>,
    now: chrono::DateTime<chrono::Utc>,
) -> Update {
    let mut upd = match column {
        Some((c, value)) => upd.set(c.name, value),
        None => upd,
    };
    if let Some(ts) = M::INFO.updated_at {
        upd = upd
            .set(ts.name, timestamp_value(ts.kind, now))
            .preserve_timestamps();
    }
    upd
}

/// Marks one row deleted (its deletion column set to the executor's clock) and returns it; a
/// missing or already deleted row is [`Error::NotFound`].
pub async fn soft_delete<M: SoftDeleteModel>(ctx: &Context, id: &M::Id) -> Result<M> {
    super::model::<M>()?;
    let sd = soft_delete_column::<M>()?;
    let now = ctx.now();
    let value = timestamp_value(sd.kind, now);
    let upd = stamp::<M>(
        update_returning::<M>(M::id_filter(id)),
        Some((sd, value)),
        now,
    );
    one(write::<M>(ctx, Change::Update, "soft_delete", upd.into()).await?).ok_or_else(|| {
        Error::NotFound(Some(format!(
            "{} with id {:?} (missing or already deleted)",
            M::INFO.name,
            id
        )))
    })
}

/// Marks every matching row that is not yet deleted as deleted; returns how many.
pub async fn soft_delete_many<M: SoftDeleteModel>(
    ctx: &Context,
    filter: impl FilterOn<M>,
) -> Result<u64> {
    let filter = filter.into_filter();
    super::model::<M>()?;
    let sd = soft_delete_column::<M>()?;
    let now = ctx.now();
    let value = timestamp_value(sd.kind, now);
    let upd = stamp::<M>(
        Update::table(M::INFO.table).filter(filter),
        Some((sd, value)),
        now,
    );
    Ok(write::<M>(ctx, Change::Update, "soft_delete", upd.into())
        .await?
        .0)
}

/// Brings a soft-deleted row back and returns it; a missing row, or one that is not deleted,
/// is [`Error::NotFound`].
pub async fn restore<M: SoftDeleteModel>(ctx: &Context, id: &M::Id) -> Result<M> {
    super::model::<M>()?;
    let sd = soft_delete_column::<M>()?;
    let restored = Some((sd, null_timestamp(sd.kind)));
    let upd =
        stamp::<M>(update_returning::<M>(M::id_filter(id)), restored, ctx.now()).only_deleted();
    one(write::<M>(ctx, Change::Update, "restore", upd.into()).await?).ok_or_else(|| {
        Error::NotFound(Some(format!(
            "{} with id {:?} (missing or not deleted)",
            M::INFO.name,
            id
        )))
    })
}

/// Brings back the soft-deleted rows among `ids` and returns them (`restoreMany` in the
/// TypeScript Kysera): ids that are missing or not deleted are left alone. One statement,
/// audited and checked by the policies like [`restore`].
pub async fn restore_many<M: SoftDeleteModel>(ctx: &Context, ids: &[M::Id]) -> Result<Vec<M>> {
    super::model::<M>()?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sd = soft_delete_column::<M>()?;
    let restored = Some((sd, null_timestamp(sd.kind)));
    // One IN list for a single-column key (a long list of integers goes inline).
    let keys = match M::INFO.primary_key {
        [pk] => col(pk).is_in(ids.iter().flat_map(M::id_values)),
        _ => Filter::Or(ids.iter().map(M::id_filter).collect()),
    };
    let upd = stamp::<M>(update_returning::<M>(keys), restored, ctx.now()).only_deleted();
    Ok(write::<M>(ctx, Change::Update, "restore", upd.into())
        .await?
        .1)
}

/// Sets the update timestamp of one row to the executor's clock and returns the row; a missing
/// row (or, on a soft-delete model, a deleted one) is [`Error::NotFound`].
pub async fn touch<M: HasUpdatedAt>(ctx: &Context, id: &M::Id) -> Result<M> {
    super::model::<M>()?;
    if M::INFO.updated_at.is_none() {
        return Err(Error::InvalidQuery(format!(
            "{} has no update timestamp",
            M::INFO.name
        )));
    }
    let upd = stamp::<M>(update_returning::<M>(M::id_filter(id)), None, ctx.now());
    one(write::<M>(ctx, Change::Update, "update", upd.into()).await?)
        .ok_or_else(|| not_found::<M>(id))
}

/// Rows whose timestamp column `ts` is after (`after = true`) or before `t`, oldest first.
pub(crate) async fn find_by_time<M: Model>(
    ctx: &Context,
    ts: Option<TimestampColumn>,
    t: chrono::DateTime<chrono::Utc>,
    after: bool,
) -> Result<Vec<M>> {
    let ts =
        ts.ok_or_else(|| Error::InvalidQuery(format!("{} has no such timestamp", M::INFO.name)))?;
    let column = col(ts.name);
    let value = val(timestamp_value(ts.kind, t));
    let op = if after { CmpOp::Gt } else { CmpOp::Lt };
    let select = M::select()
        .filter(column.clone().compare(op, value))
        .order_by(column, Order::Asc);
    fetch(ctx, select).await
}

/// Re-applies the old values an audit entry recorded for a row of `M`: updates the row when it
/// exists (soft-deleted or not; its update timestamp then says when), re-creates it with its key
/// and its old timestamps when it was deleted. The write is audited and checked by the policies
/// like any other. Generated columns are left to the database, and columns the audit excludes
/// keep their value. A row re-created from an entry has no value for its excluded columns: when
/// one of them is required (not an `Option`, no `default`), nothing is written and the error is
/// [`Error::RestoreIncomplete`], naming them — supply them with
/// [`restore_from_audit_with`]. A PostgreSQL `GENERATED ALWAYS AS IDENTITY` key cannot be
/// re-created (use `BIGSERIAL` or `BY DEFAULT`).
pub async fn restore_from_audit<M: AuditedModel>(ctx: &Context, entry_id: i64) -> Result<M> {
    restore_from_audit_with(ctx, entry_id, M::Patch::default()).await
}

/// [`restore_from_audit`] with values of its own: the columns `fill` sets are written over the
/// entry's old values — the way to give a re-created row the columns its audit excludes
/// (`UserPatch::default().password_hash(…)`). `fill` is validated like any patch.
pub async fn restore_from_audit_with<M: AuditedModel>(
    ctx: &Context,
    entry_id: i64,
    fill: M::Patch,
) -> Result<M> {
    super::model::<M>()?;
    M::validate_patch(&fill).map_err(Error::Validation)?;
    let entry = audit::entry(ctx, entry_id).await?;
    if entry.table_name != M::INFO.table {
        return Err(Error::InvalidQuery(format!(
            "audit entry {entry_id} is for `{}`, not `{}`",
            entry.table_name,
            M::INFO.table
        )));
    }
    let Some(serde_json::Value::Object(old)) = &entry.old_values else {
        return Err(Error::InvalidQuery(format!(
            "audit entry {entry_id} ({}) has no old values to restore",
            entry.operation
        )));
    };
    let mut values = M::__audit_values(old)?;
    for (c, v) in M::patch_values(&fill) {
        match values.iter_mut().find(|(have, _)| *have == c) {
            Some(slot) => slot.1 = v,
            None => values.push((c, v)),
        }
    }
    let key: Vec<Filter> = M::INFO
        .primary_key
        .iter()
        .map(|pk| {
            values
                .iter()
                .find(|(c, _)| c == pk)
                .map(|(c, v)| col(c).eq(v.clone()))
                .ok_or_else(|| {
                    Error::InvalidQuery(format!("audit entry {entry_id} lacks key column `{pk}`"))
                })
        })
        .collect::<Result<_>>()?;
    let key = Filter::And(key);
    let settable = |c: &str, with_key: bool| {
        M::INFO.column(c).is_some_and(|i| {
            if i.primary_key {
                with_key
            } else {
                !i.generated
            }
        })
    };
    let mut probe = M::select().filter(key.clone());
    probe.deleted = DeletedRows::Include;
    // Whether the row is there at all (the write below is still checked by the policies).
    let exists = !ctx.fetch_all_unchecked(probe.into()).await?.is_empty();
    if exists {
        let mut upd = update_returning::<M>(key).with_deleted();
        for (c, v) in values {
            if settable(c, false) {
                upd.set_value(c, v);
            }
        }
        one(write::<M>(ctx, Change::Update, "update", upd.into()).await?)
            .ok_or_else(|| Error::NotFound(Some(format!("the row of audit entry {entry_id}"))))
    } else {
        let missing = required_but_absent::<M>(&values);
        if !missing.is_empty() {
            return Err(Error::RestoreIncomplete {
                table: M::INFO.table.to_string(),
                entry_id,
                columns: missing,
            });
        }
        let mut ins = insert_for::<M>().preserve_timestamps();
        for (c, v) in values {
            if settable(c, true) {
                ins.set_value(c, v);
            }
        }
        insert_row::<M>(ctx, ins).await
    }
}

/// The columns a re-created row of `M` needs that `values` lacks: not generated, not an
/// `Option`, no `default`, and not one the library fills itself (timestamps, the soft-delete
/// marker, the tenant).
fn required_but_absent<M: Model>(values: &[(&str, Value)]) -> Vec<String> {
    let info = M::INFO;
    let managed = |c: &str| {
        [info.soft_delete, info.created_at, info.updated_at]
            .iter()
            .flatten()
            .any(|t| t.name == c)
            || info.tenant == Some(c)
    };
    info.columns
        .iter()
        .filter(|c| !c.generated && !c.nullable && !c.has_default && !managed(c.name))
        .filter(|c| !values.iter().any(|(have, _)| *have == c.name))
        .map(|c| c.name.to_string())
        .collect()
}
