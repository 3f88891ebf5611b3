//! The behaviours models declare with `#[soft_delete]` and `#[timestamps]`, enforced by the
//! executor on every query that names their tables — from a repository, a DAL function or the
//! query builder, joined or not, inside transactions or not.
//!
//! The derive registers each model's [`ModelInfo`] at link time; the executor reads the
//! registrations once, and when no linked model declares a behaviour it does no per-query work
//! for them.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};

use crate::model::{ModelInfo, TimestampColumn, TimestampKind};
use crate::query::{ColumnRef, Expr, Filter, Query, Value};

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
}

/// Tables with at least one behaviour.
pub(crate) struct Registry(HashMap<&'static str, TableBehaviour>);

/// The registry, or `None` when no linked model declares a behaviour.
pub(crate) fn registry() -> Option<&'static Registry> {
    static REGISTRY: OnceLock<Option<Registry>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            let mut map: HashMap<&'static str, TableBehaviour> = HashMap::new();
            for ModelRegistration(info) in inventory::iter::<ModelRegistration> {
                if info.soft_delete.is_none()
                    && info.created_at.is_none()
                    && info.updated_at.is_none()
                {
                    continue;
                }
                // Several models may share a table: each behaviour any of them declares applies.
                let b = map.entry(info.table).or_default();
                b.soft_delete = b.soft_delete.or(info.soft_delete);
                b.created_at = b.created_at.or(info.created_at);
                b.updated_at = b.updated_at.or(info.updated_at);
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

impl Registry {
    fn get(&self, table: &str) -> Option<&TableBehaviour> {
        self.0.get(table)
    }

    /// Applies soft-delete filters and timestamps to `query`.
    pub(crate) fn apply(&self, query: &mut Query, now: impl Fn() -> DateTime<Utc>) {
        match query {
            Query::Select(s) => {
                if let Some(sd) = self.get(&s.table.name).and_then(|b| b.soft_delete) {
                    let reference = s.table.reference().to_string();
                    if let Some(f) = deleted_filter(Some(&reference), sd.name, s.deleted) {
                        s.add_filter(f);
                    }
                }
                // A joined soft-delete table: its deleted rows are left out of the join (in the
                // ON clause, so a LEFT JOIN still keeps the main row).
                if s.deleted == DeletedRows::Exclude {
                    for j in &mut s.joins {
                        if let Some(sd) = self.get(&j.table.name).and_then(|b| b.soft_delete) {
                            let f =
                                Expr::Column(ColumnRef::qualified(j.table.reference(), sd.name))
                                    .is_null();
                            j.on = std::mem::replace(&mut j.on, Filter::And(vec![])).and(f);
                        }
                    }
                }
            }
            Query::Update(u) => {
                let Some(b) = self.get(&u.table) else { return };
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
                let Some(b) = self.get(&i.table) else { return };
                if i.preserve_timestamps {
                    return;
                }
                let mut at = None;
                for ts in [b.created_at, b.updated_at].into_iter().flatten() {
                    let t = *at.get_or_insert_with(&now);
                    i.set_value(ts.name, timestamp_value(ts.kind, t));
                }
            }
            // DELETE is a hard delete: it reaches soft-deleted rows too, so they can be purged.
            Query::Delete(_) => {}
        }
    }
}
