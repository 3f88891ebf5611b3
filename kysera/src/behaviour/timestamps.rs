//! Timestamps (`#[timestamps]`): inserts set the creation and update columns, updates (and
//! upserts that update) set the update column, from the executor's clock, unless the statement
//! asks to preserve the values it carries.

use chrono::{DateTime, Utc};

use super::registry::TableBehaviour;
use crate::model::TimestampKind;
use crate::query::{ConflictAction, Insert, Update, Value};

/// The value a timestamp column stores for `now`.
pub(crate) fn timestamp_value(kind: TimestampKind, now: DateTime<Utc>) -> Value {
    match kind {
        TimestampKind::Utc => Value::ChronoDateTimeUtc(Some(now)),
        TimestampKind::Naive => Value::ChronoDateTime(Some(now.naive_utc())),
    }
}

/// An UPDATE sets the update column.
pub(crate) fn update(b: &TableBehaviour, u: &mut Update, now: &dyn Fn() -> DateTime<Utc>) {
    if let Some(ts) = b.updated_at
        && !u.preserve_timestamps
    {
        u.set_value(ts.name, timestamp_value(ts.kind, now()));
    }
}

/// An INSERT sets both columns (to one instant); an upsert's update bumps the update column and
/// never rewrites the creation column.
pub(crate) fn insert(b: &TableBehaviour, i: &mut Insert, now: &dyn Fn() -> DateTime<Utc>) {
    if i.preserve_timestamps {
        return;
    }
    if let Some(oc) = &mut i.on_conflict
        && let ConflictAction::Update(cols) = &mut oc.action
    {
        if let Some(ts) = b.updated_at
            && !cols.iter().any(|c| c == ts.name)
        {
            cols.push(ts.name.to_string());
        }
        if let Some(ts) = b.created_at {
            cols.retain(|c| c != ts.name);
        }
    }
    let mut at = None;
    for ts in [b.created_at, b.updated_at].into_iter().flatten() {
        let t = *at.get_or_insert_with(now);
        i.set_value(ts.name, timestamp_value(ts.kind, t));
    }
}
