//! The behaviours models declare, collected per table: the derive registers each model's
//! [`ModelInfo`] at link time and [`registry`] reads the registrations once. When no linked model
//! declares a behaviour there is no registry and no per-query work.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::model::{ModelInfo, TimestampColumn, ValueKind};

/// A model's registration, submitted by the derive (not for direct use).
#[doc(hidden)]
pub struct ModelRegistration(pub &'static ModelInfo);

inventory::collect!(ModelRegistration);

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
    /// What the table's models declare, if any declares something.
    pub(crate) fn get(&self, table: &str) -> Option<&TableBehaviour> {
        get_ignoring_case(&self.0, table)
    }

    /// Whether the table hides rows (soft delete or tenant isolation).
    pub(crate) fn hides_rows(&self, table: &str) -> bool {
        self.get(table)
            .is_some_and(|b| b.soft_delete.is_some() || b.tenant.is_some())
    }
}
