//! What `#[derive(Repository)]` generates against: the [`Model`] trait, its static description
//! ([`ModelInfo`]), typed columns ([`Column`], in `column`) and the marker traits that unlock
//! behaviour methods (soft delete, timestamps, audit) on the models that declare them.

mod column;
mod condition;
mod custom;
pub(crate) mod generated;

pub use column::{Column, ColumnType, Columns, NonNullColumnType, TextColumn};
pub use condition::{FilterOn, MaybeFilterOn, Where};
pub use custom::{Type, decode_type};

use crate::core::error::{Error, Result};
use crate::core::input::ValidationErrors;
use crate::query::{ColumnRef, Expr, Filter, Select, Value};
use crate::row::{Row, TypeFamily};
use std::fmt;

/// One column of a model, as the derive describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ColumnInfo {
    /// The column name in the database.
    pub name: &'static str,
    /// The Rust field name.
    pub field: &'static str,
    /// Part of the primary key.
    pub primary_key: bool,
    /// Set by the database (auto-increment, default, computed): never inserted or patched.
    pub generated: bool,
    /// Has a database default: optional on insert.
    pub has_default: bool,
    /// The field is an `Option`.
    pub nullable: bool,
    /// The field's Rust type, as written.
    pub rust_type: &'static str,
    /// The kind of SQL value the field reads.
    pub family: TypeFamily,
}

impl ColumnInfo {
    /// A column description (for generated code, through `__private`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) const fn new(
        name: &'static str,
        field: &'static str,
        primary_key: bool,
        generated: bool,
        has_default: bool,
        nullable: bool,
        rust_type: &'static str,
        family: TypeFamily,
    ) -> Self {
        ColumnInfo {
            name,
            field,
            primary_key,
            generated,
            has_default,
            nullable,
            rust_type,
            family,
        }
    }
}

/// The kind of value a column holds, as far as a tenant check needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueKind {
    /// Text.
    Text,
    /// An integer of any width.
    Integer,
    /// A UUID.
    Uuid,
    /// Anything else (not checked).
    Other,
}

impl ValueKind {
    /// The kind of the values a column type stores (an `Option` or an own type: what it is
    /// stored as).
    pub const fn of_family(family: TypeFamily) -> ValueKind {
        match family {
            TypeFamily::Text => ValueKind::Text,
            TypeFamily::I8
            | TypeFamily::U8
            | TypeFamily::U16
            | TypeFamily::U32
            | TypeFamily::I16
            | TypeFamily::I32
            | TypeFamily::I64 => ValueKind::Integer,
            TypeFamily::Uuid => ValueKind::Uuid,
            _ => ValueKind::Other,
        }
    }

    /// The kind of a value.
    pub fn of(v: &Value) -> ValueKind {
        match v {
            Value::String(_) => ValueKind::Text,
            Value::TinyInt(_)
            | Value::SmallInt(_)
            | Value::Int(_)
            | Value::BigInt(_)
            | Value::TinyUnsigned(_)
            | Value::SmallUnsigned(_)
            | Value::Unsigned(_)
            | Value::BigUnsigned(_) => ValueKind::Integer,
            Value::Uuid(_) => ValueKind::Uuid,
            _ => ValueKind::Other,
        }
    }
}

/// What `#[audit(…)]` asks to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditSpec {
    /// Record creates.
    pub create: bool,
    /// Record updates (soft deletes and restores count as updates).
    pub update: bool,
    /// Record deletes.
    pub delete: bool,
    /// Keep the values before the change.
    pub old_values: bool,
    /// Keep the values after the change.
    pub new_values: bool,
    /// Columns never written to the log (secrets).
    pub exclude: &'static [&'static str],
}

impl AuditSpec {
    /// An audit specification (for generated code, through `__private`).
    pub(crate) const fn new(
        create: bool,
        update: bool,
        delete: bool,
        old_values: bool,
        new_values: bool,
        exclude: &'static [&'static str],
    ) -> Self {
        AuditSpec {
            create,
            update,
            delete,
            old_values,
            new_values,
            exclude,
        }
    }
}

/// How a timestamp column stores time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampKind {
    /// `chrono::DateTime<Utc>`
    Utc,
    /// `chrono::NaiveDateTime` (UTC wall time)
    Naive,
}

/// A timestamp column a behaviour manages (`deleted_at`, `created_at`, `updated_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimestampColumn {
    /// The column name.
    pub name: &'static str,
    /// How it stores time.
    pub kind: TimestampKind,
}

impl TimestampColumn {
    /// A timestamp column (for generated code, through `__private`).
    pub(crate) const fn new(name: &'static str, kind: TimestampKind) -> Self {
        TimestampColumn { name, kind }
    }
}

/// The static description of a model: its table and columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelInfo {
    /// The Rust type name.
    pub name: &'static str,
    /// The table name.
    pub table: &'static str,
    /// Every column, in field order.
    pub columns: &'static [ColumnInfo],
    /// The primary key columns, in field order.
    pub primary_key: &'static [&'static str],
    /// `#[soft_delete]`: the deletion timestamp column.
    pub soft_delete: Option<TimestampColumn>,
    /// `#[timestamps]`: the creation timestamp column, if the model has one.
    pub created_at: Option<TimestampColumn>,
    /// `#[timestamps]`: the update timestamp column, if the model has one.
    pub updated_at: Option<TimestampColumn>,
    /// `#[rls(tenant = "…")]`: the tenant column.
    pub tenant: Option<&'static str>,
    /// The kind of value the tenant column holds.
    pub tenant_kind: ValueKind,
    /// `#[audit(…)]`: what to record.
    pub audit: Option<AuditSpec>,
}

impl ModelInfo {
    /// A model description (for generated code, through `__private`).
    pub(crate) const fn new(
        name: &'static str,
        table: &'static str,
        columns: &'static [ColumnInfo],
        primary_key: &'static [&'static str],
    ) -> Self {
        ModelInfo {
            name,
            table,
            columns,
            primary_key,
            soft_delete: None,
            created_at: None,
            updated_at: None,
            tenant: None,
            tenant_kind: ValueKind::Other,
            audit: None,
        }
    }

    /// The same description with an audit specification.
    pub(crate) const fn with_audit(mut self, audit: Option<AuditSpec>) -> Self {
        self.audit = audit;
        self
    }

    /// The same description with a tenant column and the kind of value it holds.
    pub(crate) const fn with_tenant(
        mut self,
        tenant: Option<&'static str>,
        kind: ValueKind,
    ) -> Self {
        self.tenant = tenant;
        self.tenant_kind = kind;
        self
    }

    /// The same description with the model's behaviours.
    pub(crate) const fn with_behaviours(
        mut self,
        soft_delete: Option<TimestampColumn>,
        created_at: Option<TimestampColumn>,
        updated_at: Option<TimestampColumn>,
    ) -> Self {
        self.soft_delete = soft_delete;
        self.created_at = created_at;
        self.updated_at = updated_at;
        self
    }

    /// The column with this database name.
    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// A table-backed struct; implemented by `#[derive(Repository)]`.
///
/// The derive also generates, for a model `User`: `NewUser` (the insert input, without generated
/// columns), `UserPatch` (every updatable column optional), one typed [`Column`] constant per
/// field (`User::EMAIL`), and `User::repo(&executor)`.
pub trait Model: Sized + Send + Sync + Unpin + 'static {
    /// The primary key: the key field's type, or a tuple for a composite key.
    type Id: Clone + Send + Sync + fmt::Debug + 'static;
    /// The insert input.
    type New: Send + Sync + 'static;
    /// The update input: `None` fields are left unchanged.
    type Patch: Send + Sync + Default + 'static;

    /// The table and its columns.
    const INFO: &'static ModelInfo;

    /// Decodes a row that has every column.
    fn from_row(row: &Row) -> Result<Self>;
    /// This row's primary key.
    fn id(&self) -> Self::Id;
    /// The primary key's values, in [`ModelInfo::primary_key`] order.
    fn id_values(id: &Self::Id) -> Vec<Value>;
    /// The value of one column of this row (`None` for an unknown column).
    fn column_value(&self, column: &str) -> Option<Value>;
    /// The columns and values an insert writes.
    fn insert_values(new: &Self::New) -> Vec<(&'static str, Value)>;
    /// The columns and values an update writes (only the fields that are `Some`).
    fn patch_values(patch: &Self::Patch) -> Vec<(&'static str, Value)>;
    /// Every column's value as JSON (column name → value), for audit records. Generated only
    /// for `#[audit]` models; empty for the others, which are never recorded.
    #[doc(hidden)]
    fn __audit_json(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }
    /// Column values from such JSON (the columns present), for restoring from an audit record.
    /// Generated only for `#[audit]` models.
    #[doc(hidden)]
    fn __audit_values(
        map: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Vec<(&'static str, Value)>> {
        let _ = map;
        Err(Error::InvalidQuery(format!(
            "{} is not #[audit]ed: it has no audit values",
            Self::INFO.name
        )))
    }
    /// Checks an insert input against the field validation rules.
    fn validate_new(new: &Self::New) -> Result<(), ValidationErrors>;
    /// Checks an update input against the field validation rules.
    fn validate_patch(patch: &Self::Patch) -> Result<(), ValidationErrors>;

    /// `SELECT <every column> FROM <table>`.
    fn select() -> Select {
        Select::from(Self::INFO.table).columns(
            Self::INFO
                .columns
                .iter()
                .map(|c| Expr::Column(ColumnRef::new(c.name))),
        )
    }

    /// The filter matching one primary key.
    fn id_filter(id: &Self::Id) -> Filter {
        Filter::And(
            Self::INFO
                .primary_key
                .iter()
                .zip(Self::id_values(id))
                .map(|(c, v)| Expr::Column(ColumnRef::new(*c)).eq(v))
                .collect(),
        )
    }
}

/// A model declared `#[soft_delete]`: its repository has `soft_delete`, `restore`,
/// `hard_delete`, `find_with_deleted` and `find_deleted`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a soft-delete model",
    label = "soft-delete methods need `#[soft_delete]` on the model",
    note = "help: add `#[soft_delete]` to `{Self}` and a `deleted_at: Option<chrono::DateTime<chrono::Utc>>` field"
)]
pub trait SoftDeleteModel: Model + generated::SoftDeleteSeal {}

/// A `#[timestamps]` model with a creation timestamp: `find_created_after` / `_before`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `created_at` timestamp",
    note = "help: add `#[timestamps]` to `{Self}` and a `created_at: chrono::DateTime<chrono::Utc>` field"
)]
pub trait HasCreatedAt: Model + generated::CreatedAtSeal {}

/// A `#[timestamps]` model with an update timestamp: `touch`, `find_updated_after` / `_before`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `updated_at` timestamp",
    note = "help: add `#[timestamps]` to `{Self}` and an `updated_at: chrono::DateTime<chrono::Utc>` field"
)]
pub trait HasUpdatedAt: Model + generated::UpdatedAtSeal {}

/// A model declared `#[audit]`: its repository has `audit_history`, `audit_log` and
/// `restore_from_audit`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an audited model",
    note = "help: add `#[audit]` to `{Self}` and the `kysera::audit::Audit` plugin to the executor"
)]
pub trait AuditedModel: Model + generated::AuditSeal {}
