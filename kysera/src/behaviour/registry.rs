//! The behaviours models declare, collected per table.
//!
//! A model's declaration reaches the registry three ways, so that a tenant filter is never
//! silently absent: the derive submits it at link time (`inventory`, read once, on first use);
//! every repository and DAL call checks that its model's declaration is registered and adds it
//! when it is not (a registration the linker dropped); and [`register`](crate::register) adds it
//! explicitly, for code that reaches a table only through the query builder. Two models of one
//! table that declare different columns for a behaviour are a conflict: every query on the table
//! is then refused ([`Error::ConflictingModels`]), never enforced by whichever came first.
//!
//! When no model declares a behaviour the registry is empty and queries pay one atomic load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{OnceLock, RwLock, RwLockReadGuard};

use crate::core::error::{Error, Result};
use crate::model::{Model, ModelInfo, TimestampColumn, ValueKind};

/// A model's registration, submitted by the derive (not for direct use).
#[doc(hidden)]
pub struct ModelRegistration(pub &'static ModelInfo);

inventory::collect!(ModelRegistration);

/// What the executor enforces for one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TableBehaviour {
    pub soft_delete: Option<TimestampColumn>,
    pub created_at: Option<TimestampColumn>,
    pub updated_at: Option<TimestampColumn>,
    /// `#[rls(tenant = "…")]`: the tenant column.
    pub tenant: Option<&'static str>,
    /// What the tenant column holds.
    pub tenant_kind: Option<ValueKind>,
    /// The table is an audit log: entries without a tenant belong to contexts without one, and
    /// with no model tenant-isolated the log needs no context.
    pub audit_log: bool,
}

impl TableBehaviour {
    /// What one model declares.
    fn of(info: &ModelInfo) -> TableBehaviour {
        TableBehaviour {
            soft_delete: info.soft_delete,
            created_at: info.created_at,
            updated_at: info.updated_at,
            tenant: info.tenant,
            tenant_kind: info.tenant.map(|_| info.tenant_kind),
            audit_log: false,
        }
    }

    fn is_empty(&self) -> bool {
        *self == TableBehaviour::default()
    }

    /// What `other` declares that `self` has differently (`None` when they agree wherever both
    /// declare something).
    fn disagreement(&self, other: &TableBehaviour) -> Option<String> {
        fn differs<T: PartialEq + std::fmt::Debug>(
            what: &str,
            a: Option<T>,
            b: Option<T>,
        ) -> Option<String> {
            match (a, b) {
                (Some(x), Some(y)) if x != y => Some(format!("{what}: {x:?} against {y:?}")),
                _ => None,
            }
        }
        differs("soft-delete column", self.soft_delete, other.soft_delete)
            .or_else(|| differs("creation timestamp", self.created_at, other.created_at))
            .or_else(|| differs("update timestamp", self.updated_at, other.updated_at))
            .or_else(|| differs("tenant column", self.tenant, other.tenant))
            .or_else(|| differs("tenant column type", self.tenant_kind, other.tenant_kind))
    }

    /// Whether everything `declared` declares is enforced here.
    fn covers(&self, declared: &TableBehaviour) -> bool {
        fn has<T: PartialEq>(mine: Option<T>, theirs: Option<T>) -> bool {
            theirs.is_none() || mine == theirs
        }
        has(self.soft_delete, declared.soft_delete)
            && has(self.created_at, declared.created_at)
            && has(self.updated_at, declared.updated_at)
            && has(self.tenant, declared.tenant)
            && has(self.tenant_kind, declared.tenant_kind)
    }

    /// Adds what `other` declares (each behaviour any model of the table declares applies).
    fn merge(&mut self, other: &TableBehaviour) {
        self.soft_delete = self.soft_delete.or(other.soft_delete);
        self.created_at = self.created_at.or(other.created_at);
        self.updated_at = self.updated_at.or(other.updated_at);
        self.tenant = self.tenant.or(other.tenant);
        self.tenant_kind = self.tenant_kind.or(other.tenant_kind);
        self.audit_log |= other.audit_log;
    }
}

/// One table's entry: what its models declare, or the conflict that blocks it.
#[derive(Debug, Clone)]
struct Entry {
    behaviour: TableBehaviour,
    /// The first model registered for the table.
    first: &'static str,
    /// Set when a model disagrees: (that model, what differs).
    conflict: Option<(&'static str, String)>,
}

/// Tables with at least one behaviour, keyed by lowercased table name: SQLite and MySQL match
/// names without regard to case, so `POSTS` must not escape the policies of `posts`.
#[derive(Debug, Default)]
pub(crate) struct Registry(HashMap<String, Entry>);

impl Registry {
    /// Adds a model's declaration; a disagreement with a model already registered blocks the
    /// table and is returned.
    pub(crate) fn add(&mut self, info: &'static ModelInfo) -> Result<()> {
        let declared = TableBehaviour::of(info);
        if declared.is_empty() {
            return Ok(());
        }
        let entry = self
            .0
            .entry(info.table.to_ascii_lowercase())
            .or_insert(Entry {
                behaviour: TableBehaviour::default(),
                first: info.name,
                conflict: None,
            });
        if entry.conflict.is_none()
            && let Some(what) = entry.behaviour.disagreement(&declared)
        {
            tracing::error!(target: "kysera::behaviour", table = info.table, first = entry.first, second = info.name, %what, "models of one table disagree; queries on it are refused");
            entry.conflict = Some((info.name, what));
        }
        entry.behaviour.merge(&declared);
        check(info.table, entry)
    }

    /// `Ok` when the model's declaration is enforced; `None` when it still has to be added.
    fn verify(&self, info: &ModelInfo) -> Option<Result<()>> {
        let declared = TableBehaviour::of(info);
        if declared.is_empty() {
            return Some(Ok(()));
        }
        let entry = get_ignoring_case(&self.0, info.table)?;
        match entry.conflict {
            Some(_) => Some(check(info.table, entry)),
            None => entry.behaviour.covers(&declared).then_some(Ok(())),
        }
    }

    /// Registers an audit table: tenant-isolated by its `tenant_id` column for every query on it,
    /// as the log's own readers are.
    pub(crate) fn add_audit_log(&mut self, table: &str) {
        let entry = self.0.entry(table.to_ascii_lowercase()).or_insert(Entry {
            behaviour: TableBehaviour::default(),
            first: "the audit log",
            conflict: None,
        });
        entry.behaviour.merge(&TableBehaviour {
            tenant: Some("tenant_id"),
            tenant_kind: Some(ValueKind::Text),
            audit_log: true,
            ..TableBehaviour::default()
        });
    }

    /// What the table's models declare; an error when they disagree.
    pub(crate) fn get(&self, table: &str) -> Result<Option<&TableBehaviour>> {
        match get_ignoring_case(&self.0, table) {
            None => Ok(None),
            Some(entry) => check(table, entry).map(|()| Some(&entry.behaviour)),
        }
    }

    /// What the table's models declare, without the conflict check: for code that has already
    /// called [`get`](Self::get) for the table.
    pub(crate) fn declared(&self, table: &str) -> Option<&TableBehaviour> {
        get_ignoring_case(&self.0, table).map(|e| &e.behaviour)
    }

    /// Whether the table hides rows (soft delete or tenant isolation); a blocked table counts as
    /// hiding rows.
    pub(crate) fn hides_rows(&self, table: &str) -> bool {
        self.get(table).map_or(true, |b| {
            b.is_some_and(|b| b.soft_delete.is_some() || b.tenant.is_some())
        })
    }

    /// Whether any model is tenant-isolated (audit logs aside).
    pub(crate) fn has_tenants(&self) -> bool {
        self.0
            .values()
            .any(|e| e.behaviour.tenant.is_some() && !e.behaviour.audit_log)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn check(table: &str, entry: &Entry) -> Result<()> {
    match &entry.conflict {
        None => Ok(()),
        Some((second, what)) => Err(Error::ConflictingModels {
            table: table.to_string(),
            first: entry.first.to_string(),
            second: second.to_string(),
            what: what.clone(),
        }),
    }
}

/// Set once any model with a behaviour is registered: until then queries skip the registry.
static ANY: AtomicBool = AtomicBool::new(false);

/// The process-wide registry, seeded from the link-time registrations on first use.
fn global() -> &'static RwLock<Registry> {
    static REGISTRY: OnceLock<RwLock<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut reg = Registry::default();
        for ModelRegistration(info) in inventory::iter::<ModelRegistration> {
            // A conflict is kept in the entry and reported by every query on the table.
            let _ = reg.add(info);
        }
        ANY.store(!reg.is_empty(), Ordering::Release);
        RwLock::new(reg)
    })
}

/// The registry for reading, or `None` when no model declares a behaviour.
pub(crate) fn registry() -> Option<RwLockReadGuard<'static, Registry>> {
    let lock = global();
    if !ANY.load(Ordering::Acquire) {
        return None;
    }
    Some(lock.read().unwrap_or_else(|e| e.into_inner()))
}

/// Makes sure the model's declaration is enforced: adds it when it is missing (a link-time
/// registration the linker dropped). A conflict with another model of its table is an error.
pub(crate) fn ensure(info: &'static ModelInfo) -> Result<()> {
    let lock = global();
    if let Some(done) = lock.read().unwrap_or_else(|e| e.into_inner()).verify(info) {
        return done;
    }
    let mut reg = lock.write().unwrap_or_else(|e| e.into_inner());
    let result = reg.add(info);
    ANY.store(!reg.is_empty(), Ordering::Release);
    result
}

/// Registers an audit table (see [`Registry::add_audit_log`]).
pub(crate) fn register_audit_log(table: &str) {
    let lock = global();
    let mut reg = lock.write().unwrap_or_else(|e| e.into_inner());
    reg.add_audit_log(table);
    ANY.store(!reg.is_empty(), Ordering::Release);
}

/// Registers `M`'s declared behaviours (soft delete, timestamps, tenant isolation) with the
/// executor now.
///
/// Models register themselves when the program starts, and again on first use through their
/// repository or DAL functions; call this for a model whose table the program reaches only
/// through the query builder, to be certain its policies apply even if the linker dropped the
/// start-up registration. A model that declares different columns than another model of its
/// table is an [`Error::ConflictingModels`] (and every query on the table is refused).
///
/// ```
/// #[derive(kysera::Repository)]
/// #[soft_delete]
/// struct Note { id: i64, deleted_at: Option<chrono::DateTime<chrono::Utc>> }
///
/// kysera::register::<Note>()?;
/// # Ok::<(), kysera::Error>(())
/// ```
pub fn register<M: Model>() -> Result<()> {
    ensure(M::INFO)
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

/// Whether any registered model is tenant-isolated (`#[rls(tenant)]`).
pub(crate) fn has_tenants() -> bool {
    registry().is_some_and(|r| r.has_tenants())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TimestampColumn, TimestampKind};

    const fn info(
        name: &'static str,
        deleted: &'static str,
        tenant: Option<&'static str>,
    ) -> ModelInfo {
        ModelInfo::new(name, "Docs", &[], &["id"])
            .with_behaviours(
                Some(TimestampColumn::new(deleted, TimestampKind::Utc)),
                None,
                None,
            )
            .with_tenant(tenant, ValueKind::Text)
    }
    static A: ModelInfo = info("A", "deleted_at", Some("org"));
    static SAME: ModelInfo = info("Same", "deleted_at", None);
    static OTHER_COLUMN: ModelInfo = info("OtherColumn", "removed_at", Some("org"));
    static OTHER_TENANT: ModelInfo = info("OtherTenant", "deleted_at", Some("team"));

    #[test]
    fn a_missing_model_is_found_and_added() {
        let mut reg = Registry::default();
        assert!(reg.verify(&A).is_none(), "not registered yet");
        assert_eq!(reg.get("docs").unwrap(), None);
        reg.add(&A).unwrap();
        assert!(matches!(reg.verify(&A), Some(Ok(()))));
        // Names are matched without regard to case.
        let b = reg.get("DOCS").unwrap().unwrap();
        assert_eq!(b.tenant, Some("org"));
        assert!(reg.hides_rows("docs"));
        // A model that declares less of the same is covered.
        assert!(matches!(reg.verify(&SAME), Some(Ok(()))));
    }

    #[test]
    fn conflicting_declarations_block_the_table() {
        for other in [&OTHER_COLUMN, &OTHER_TENANT] {
            let mut reg = Registry::default();
            reg.add(&A).unwrap();
            let err = reg.add(other).unwrap_err();
            assert!(
                matches!(&err, Error::ConflictingModels { first, second, .. } if first == "A" && second == other.name),
                "{err:?}"
            );
            assert!(matches!(
                reg.get("docs"),
                Err(Error::ConflictingModels { .. })
            ));
            assert!(matches!(reg.verify(&A), Some(Err(_))));
            assert!(reg.hides_rows("docs"));
        }
    }

    #[test]
    fn a_model_outside_the_link_time_set_is_enforced_once_ensured() {
        // Not submitted with inventory: as if the linker had dropped its registration.
        static LOST: ModelInfo = ModelInfo::new("Lost", "kysera_lost_registration", &[], &["id"])
            .with_tenant(Some("tenant_id"), ValueKind::Text);
        let covered = |reg: &Option<RwLockReadGuard<'static, Registry>>| {
            reg.as_ref()
                .and_then(|r| r.get("kysera_lost_registration").ok().flatten().copied())
                .is_some_and(|b| b.tenant == Some("tenant_id"))
        };
        assert!(!covered(&registry()));
        ensure(&LOST).unwrap();
        assert!(covered(&registry()));
        ensure(&LOST).unwrap();
    }
}
