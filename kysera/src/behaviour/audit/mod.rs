//! The audit log: who changed what, with the values before and after, written in the same
//! transaction as the change.
//!
//! A model declares `#[audit]` (options: `operations(create, update, delete)`,
//! `old_values = false`, `new_values = false`, `exclude(password_hash, …)`); the executor gets
//! the [`Audit`] plugin, which names the audit table and says who is acting (by default the
//! user of the [`rls`] auth context). Then every repository and DAL write of the
//! model — `create`, `create_many`, `update`, `update_many`, `delete`, `delete_many`,
//! `soft_delete`, `soft_delete_many`, `restore`, `touch` — records one entry per row it changed,
//! in the write's transaction: the rows are read with the write's own final condition (locked
//! where the database can), the write is limited to exactly those rows, and a concurrent change
//! that makes the counts differ undoes it, so a rolled-back change leaves no entry and a
//! committed one always has one. Writes
//! made with the query builder or [`raw`](crate::Executor::raw) are not audited (they do not know
//! the rows' old values); a repository write of an audited model on an executor without the
//! plugin is refused rather than left unrecorded. Entries keep the row's tenant (or the acting
//! tenant for models without one), and reading the log is isolated by tenant: a tenant reads its
//! own entries, a context without a tenant the entries without one, the system context all.
//! Custom [`RlsSchema`](crate::rls::RlsSchema) policies are not applied to the log: guard access
//! to it in the application when they matter. Non-finite floats are recorded as JSON `null`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use kysera::audit::{Audit, AuditFilter};
//! use kysera::Repository;
//!
//! #[derive(Debug, Repository)]
//! #[audit(exclude(password_hash))]
//! struct User {
//!     #[kysera(primary_key, generated)]
//!     id: i64,
//!     email: String,
//!     password_hash: String,
//! }
//!
//! # async fn f(db: kysera::Executor) -> kysera::Result<()> {
//! let audit = Audit::new().table("audit_logs");
//! audit.install(&db).await?;                  // CREATE TABLE IF NOT EXISTS, per database
//! let db = db.with_plugins(vec![Arc::new(audit)])?;
//! let users = User::repo(&db);
//! let u = users.create(NewUser { email: "a@b.co".into(), password_hash: "x".into() }).await?;
//! users.update(u.id, UserPatch::default().email("c@d.co")).await?;
//! let history = users.audit_history(u.id).await?;           // create, then update
//! let page = users.audit_log(AuditFilter::new().operation("update"), 1, 20).await?;
//! let before = users.restore_from_audit(history[1].id).await?; // the old email back
//! # Ok(()) }
//! ```

mod log;
mod record;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use crate::behaviour::{registry, rls};
use crate::core::error::Result;
use crate::core::sql::Dialect;
use crate::executor::Executor;
use crate::plugin::Plugin;
use crate::row::Row;

pub(crate) use log::entry;
pub use log::{audit_log, history};
pub(crate) use record::{Change, entity_id, for_change, record};

pub use crate::model::AuditSpec;

type UserFn = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// The audit plugin: where records go and who is acting. Named `"audit"`; it intercepts no
/// query (repositories and DAL functions write the records).
#[derive(Clone)]
pub struct Audit {
    table: String,
    user: Option<UserFn>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("table", &self.table)
            .field("user", &self.user.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl Default for Audit {
    fn default() -> Self {
        Audit::new()
    }
}

impl Audit {
    /// Records into `audit_logs`, acting user from the `rls` auth context.
    pub fn new() -> Self {
        Audit {
            table: "audit_logs".into(),
            user: None,
        }
        .table("audit_logs")
    }

    /// Records into `table`. Every query on that table — through the log's readers or the query
    /// builder alike — is isolated by tenant: a tenant reads and changes its own entries, a
    /// context without a tenant the entries without one, the system context all.
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        registry::register_audit_log(&self.table);
        self
    }

    /// Takes the acting user from `f` instead of the auth context.
    pub fn user(mut self, f: impl Fn() -> Option<String> + Send + Sync + 'static) -> Self {
        self.user = Some(Arc::new(f));
        self
    }

    /// The audit table's name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    fn acting_user(&self) -> Option<String> {
        match &self.user {
            Some(f) => f(),
            None => rls::current()
                .and_then(|c| c.user_id.clone())
                .map(|v| rls::setting_text(&Some(v))),
        }
    }

    /// The `CREATE TABLE IF NOT EXISTS` statement for the audit table on `dialect`.
    pub fn create_table_sql(&self, dialect: Dialect) -> String {
        let (id, json, ts) = match dialect {
            Dialect::Postgres => ("BIGSERIAL PRIMARY KEY", "JSONB", "TIMESTAMPTZ"),
            Dialect::MySql => ("BIGINT AUTO_INCREMENT PRIMARY KEY", "JSON", "DATETIME(6)"),
            _ => ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT", "TEXT"),
        };
        let q = dialect.adapter().identifier_quote();
        let t = format!("{q}{}{q}", self.table.replace(q, &format!("{q}{q}")));
        format!(
            "CREATE TABLE IF NOT EXISTS {t} (id {id}, table_name VARCHAR(128) NOT NULL, \
             entity_id VARCHAR(255) NOT NULL, operation VARCHAR(32) NOT NULL, old_values {json} NULL, \
             new_values {json} NULL, changed_by VARCHAR(255) NULL, tenant_id VARCHAR(255) NULL, \
             changed_at {ts} NOT NULL)"
        )
    }

    /// Creates the audit table (and its lookup index) if it does not exist.
    pub async fn install(&self, db: &Executor) -> Result<()> {
        db.raw()
            .execute_sql(AssertSqlSafe(self.create_table_sql(db.dialect())), vec![])
            .await?;
        let exists = match db.dialect() {
            Dialect::MySql => "",
            _ => "IF NOT EXISTS ",
        };
        let a = db.dialect().adapter();
        let sql = format!(
            "CREATE INDEX {exists}{} ON {} (table_name, entity_id)",
            a.escape_identifier(&format!("{}_entity", self.table))?,
            a.escape_identifier(&self.table)?
        );
        match db.raw().execute_sql(AssertSqlSafe(sql), vec![]).await {
            // MySQL has no CREATE INDEX IF NOT EXISTS: error 1061 is "duplicate key name".
            #[cfg(feature = "mysql")]
            Err(crate::core::error::Error::Database(sqlx::Error::Database(e)))
                if e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .is_some_and(|m| m.number() == 1061) =>
            {
                Ok(())
            }
            other => other.map(drop),
        }
    }
}

impl Plugin for Audit {
    fn name(&self) -> &str {
        "audit"
    }
    fn intercepts_queries(&self) -> bool {
        false
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct AuditRecord {
    /// The entry's id.
    pub id: i64,
    /// The changed table.
    pub table_name: String,
    /// The changed row's primary key (its value, or a JSON array for a composite key).
    pub entity_id: String,
    /// `create`, `update`, `delete`, `soft_delete` or `restore`.
    pub operation: String,
    /// The row before the change (excluded columns left out).
    pub old_values: Option<serde_json::Value>,
    /// The row after the change (excluded columns left out).
    pub new_values: Option<serde_json::Value>,
    /// Who changed it.
    pub changed_by: Option<String>,
    /// The acting tenant, if any.
    pub tenant_id: Option<String>,
    /// When (the executor's clock).
    pub changed_at: DateTime<Utc>,
}

impl AuditRecord {
    fn from_row(row: &Row) -> Result<Self> {
        Ok(AuditRecord {
            id: row.get("id")?,
            table_name: row.get("table_name")?,
            entity_id: row.get("entity_id")?,
            operation: row.get("operation")?,
            old_values: row.get("old_values")?,
            new_values: row.get("new_values")?,
            changed_by: row.get("changed_by")?,
            tenant_id: row.get("tenant_id")?,
            changed_at: row.get("changed_at")?,
        })
    }
}

/// Filters for [`audit_log`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    table: Option<String>,
    entity_id: Option<String>,
    user: Option<String>,
    operation: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

impl AuditFilter {
    /// Every entry.
    pub fn new() -> Self {
        Self::default()
    }
    /// Entries of one table.
    pub fn table(mut self, t: impl Into<String>) -> Self {
        self.table = Some(t.into());
        self
    }
    /// Entries of one row (its entity id as recorded).
    pub fn entity(mut self, id: impl Into<String>) -> Self {
        self.entity_id = Some(id.into());
        self
    }
    /// Entries by one user.
    pub fn user(mut self, u: impl Into<String>) -> Self {
        self.user = Some(u.into());
        self
    }
    /// Entries of one operation.
    pub fn operation(mut self, op: impl Into<String>) -> Self {
        self.operation = Some(op.into());
        self
    }
    /// Entries at or after `t`.
    pub fn from(mut self, t: DateTime<Utc>) -> Self {
        self.from = Some(t);
        self
    }
    /// Entries before `t`.
    pub fn to(mut self, t: DateTime<Utc>) -> Self {
        self.to = Some(t);
        self
    }
}
