//! The behaviours models declare — `#[soft_delete]`, `#[timestamps]`, `#[rls(tenant = "…")]`
//! and `#[audit]` — and the row-level-security and audit plugins.
//!
//! Soft delete, timestamps and tenant isolation are enforced on every query that names their
//! tables — from a repository, a DAL function or the query builder, joined or not, inside
//! transactions or not — through the executor's one hook (`enforce`). The derive registers each
//! model's description at link time (`registry`); when no linked model declares a behaviour,
//! no query pays for them.
//!
//! - `soft_delete`, `timestamps`: what those declarations do to each kind of statement;
//! - [`rls`]: who is acting, tenant isolation, custom policies, PostgreSQL native RLS;
//! - [`audit`]: the audit log written with each change.

pub mod audit;
mod enforce;
pub(crate) mod registry;
pub mod rls;
mod soft_delete;
pub(crate) mod timestamps;

pub use crate::query::DeletedRows;
#[doc(hidden)]
pub use registry::ModelRegistration;
pub use registry::register;
