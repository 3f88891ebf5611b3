//! Row-level security: who is acting (an [`AuthContext`] in a task-local scope), tenant isolation
//! declared on models with `#[rls(tenant = "…")]`, custom policies per table ([`RlsSchema`],
//! enforced by the [`Rls`] plugin), and PostgreSQL native RLS.
//!
//! ```no_run
//! use kysera::rls::{self, AuthContext};
//! # #[derive(kysera::Repository)] #[rls(tenant = "tenant_id")]
//! # struct Post { #[kysera(generated)] id: i64, tenant_id: String, title: String }
//! # async fn f(db: kysera::Executor) -> kysera::Result<()> {
//! let acme = AuthContext::user("u1").with_tenant("acme").with_roles(["editor"]);
//! rls::within(acme, async {
//!     // Only acme's posts, in every query of this scope (transactions included);
//!     // inserts get tenant_id = "acme"; another tenant's rows cannot be changed.
//!     let posts = Post::repo(&db).find_all().await?;
//!     // Work spawned from here keeps the context only through rls::spawn.
//!     let db2 = db.clone();
//!     rls::spawn(async move { Post::repo(&db2).count(None).await }).await.expect("task")?;
//!     Ok(())
//! })
//! .await?;
//! // Outside any context, a query on Post is an error, not an unfiltered read.
//! assert!(matches!(Post::repo(&db).find_all().await, Err(kysera::Error::NoAuthContext { .. })));
//! # Ok(()) }
//! ```
//!
//! **Evaluation.** For a query on a protected table: a *system* context
//! ([`AuthContext::system`], asked for explicitly) bypasses every policy; no context at all is
//! [`Error::NoAuthContext`](crate::Error::NoAuthContext). Otherwise the model's tenant policy
//! applies (reads and writes limited to the context's tenant), then the table's [`RlsSchema`]
//! policies for the statement's operation, in the original's order: a *bypass role*
//! ([`RlsSchema::bypass_roles`]) or a *skip* ([`RlsSchema::skip_for`], [`RlsSchema::skip_when`])
//! lets the context past the table's policies; then every *deny* policy (one that denies
//! outright refuses the statement; one that denies a condition excludes the rows where it is
//! **true** — `(condition) IS NOT TRUE`, so a NULL never hides a row); then the *validate*
//! policies on the values an insert or update writes; then the *allow* policies — **when none
//! allows, the statement is refused (the default is deny)**; one that allows outright lifts the
//! restriction, otherwise the rows must match one of the allowed conditions; then the *filter*
//! policies (reads: their conditions are ANDed in). Conditions on a joined table go into its
//! join's ON clause. The rows an insert or update writes must meet the allow and deny
//! conditions too (WITH CHECK), for every operator: see [`RlsSchema`].

mod condition;
mod context;
mod policy;
mod postgres;
pub(crate) mod tenant;

pub use condition::written;
pub(crate) use context::carry;
pub use context::{AuthContext, as_system, current, spawn, with_context, within};
pub use policy::{Access, Policy, Rls, RlsSchema};
pub use postgres::postgres_tenant_policy;
pub(crate) use postgres::{setting_text, transaction_settings};
