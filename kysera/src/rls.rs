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
//! rls::with_context(acme, async {
//!     // Only acme's posts, in every query of this scope (transactions included);
//!     // inserts get tenant_id = "acme"; another tenant's rows cannot be changed.
//!     let posts = Post::repo(&db).find_all().await?;
//!     // Work spawned from here keeps the context only through rls::spawn.
//!     let db2 = db.clone();
//!     rls::spawn(async move { Post::repo(&db2).count(None).await }).await.expect("task")?;
//!     Ok::<_, kysera::Error>(())
//! })
//! .await?;
//! // Outside any context, a query on Post is an error, not an unfiltered read.
//! assert!(matches!(Post::repo(&db).find_all().await, Err(kysera::Error::NoAuthContext { .. })));
//! # Ok(()) }
//! ```
//!
//! **Evaluation.** For a query on a protected table: a *system* context
//! ([`AuthContext::system`], asked for explicitly) bypasses every policy; no context at all is
//! [`Error::NoAuthContext`]. Otherwise the model's tenant policy applies (reads and writes limited
//! to the context's tenant), then the table's [`RlsSchema`] policies for the statement's
//! operation, in this order: every *deny* policy (one that denies outright refuses the statement;
//! one that denies a condition excludes the rows matching it); then the *allow* policies — **when
//! none allows, the statement is refused (the default is deny)**; one that allows outright lifts
//! the restriction, otherwise the rows must match one of the allowed conditions; then the
//! *filter* policies (reads: their conditions are ANDed in); then the *validate* policies on the
//! values an insert or update writes. Conditions on a joined table go into its join's ON clause.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use crate::query::{ColumnRef, Expr, Filter, Operation, Query, Value};
use crate::{Error, Plugin, QueryContext, Result};

tokio::task_local! {
    static AUTH: Arc<AuthContext>;
}

/// Who is acting: the context every query in a [`with_context`] scope runs under.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct AuthContext {
    /// The acting user.
    pub user_id: Option<Value>,
    /// The tenant whose rows the user may see (compared with `#[rls(tenant)]` columns, so give it
    /// the column's type: a string for a text column, an integer for a numeric one).
    pub tenant_id: Option<Value>,
    /// Role names.
    pub roles: Vec<String>,
    /// Permission names.
    pub permissions: Vec<String>,
    /// Anything else policies may look at.
    pub attributes: HashMap<String, serde_json::Value>,
    /// Bypasses every policy. Only [`AuthContext::system`] sets it.
    pub system: bool,
}

impl AuthContext {
    /// A context for user `id`.
    pub fn user(id: impl Into<Value>) -> Self {
        AuthContext {
            user_id: Some(id.into()),
            ..Default::default()
        }
    }

    /// The system context: bypasses every row-level policy. For migrations, jobs and admin tools,
    /// asked for explicitly; never the default.
    pub fn system() -> Self {
        AuthContext {
            system: true,
            ..Default::default()
        }
    }

    /// With a tenant.
    pub fn with_tenant(mut self, tenant: impl Into<Value>) -> Self {
        self.tenant_id = Some(tenant.into());
        self
    }

    /// With roles.
    pub fn with_roles<S: Into<String>>(mut self, roles: impl IntoIterator<Item = S>) -> Self {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// With permissions.
    pub fn with_permissions<S: Into<String>>(mut self, p: impl IntoIterator<Item = S>) -> Self {
        self.permissions.extend(p.into_iter().map(Into::into));
        self
    }

    /// With a free attribute.
    pub fn with_attribute(mut self, key: impl Into<String>, value: serde_json::Value) -> Self {
        self.attributes.insert(key.into(), value);
        self
    }

    /// Whether the context has this role.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the context has this permission.
    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

/// Runs `f` with `ctx` as the auth context of every query it makes (in this task).
pub async fn with_context<F: Future>(ctx: AuthContext, f: F) -> F::Output {
    AUTH.scope(Arc::new(ctx), f).await
}

/// Runs `f` with the system context, which bypasses every row-level policy.
pub async fn as_system<F: Future>(f: F) -> F::Output {
    with_context(AuthContext::system(), f).await
}

/// The auth context of the current scope, if any.
pub fn current() -> Option<Arc<AuthContext>> {
    AUTH.try_with(Arc::clone).ok()
}

/// `tokio::spawn` that carries the current auth context into the new task (a plain
/// `tokio::spawn` starts without one, and its queries on protected tables are refused).
pub fn spawn<F>(f: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match current() {
        Some(ctx) => tokio::spawn(AUTH.scope(ctx, f)),
        None => tokio::spawn(f),
    }
}

/// The context a query on `table` runs under: `Ok(None)` for the system context (no policy
/// applies), an error when there is none.
pub(crate) fn context_for(table: &str) -> Result<Option<Arc<AuthContext>>> {
    match current() {
        None => Err(Error::NoAuthContext {
            table: table.to_string(),
        }),
        Some(ctx) if ctx.system => Ok(None),
        Some(ctx) => Ok(Some(ctx)),
    }
}

/// Whether two values are the same, across integer widths (a tenant given as `i32` matches an
/// `i64` column value) and string forms.
pub(crate) fn same_value(a: &Value, b: &Value) -> bool {
    fn int(v: &Value) -> Option<i128> {
        Some(match v {
            Value::TinyInt(Some(i)) => *i as i128,
            Value::SmallInt(Some(i)) => *i as i128,
            Value::Int(Some(i)) => *i as i128,
            Value::BigInt(Some(i)) => *i as i128,
            Value::TinyUnsigned(Some(i)) => *i as i128,
            Value::SmallUnsigned(Some(i)) => *i as i128,
            Value::Unsigned(Some(i)) => *i as i128,
            Value::BigUnsigned(Some(i)) => *i as i128,
            _ => return None,
        })
    }
    match (int(a), int(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Points the columns of a policy's condition (written for the table alone, unqualified or
/// qualified by the table's own name) at `reference`, the name the query uses for the table.
pub(crate) fn qualify_for(f: Filter, name: &str, reference: &str) -> Filter {
    let col = |c: ColumnRef| -> ColumnRef {
        let own = c
            .table
            .as_deref()
            .is_none_or(|t| t.eq_ignore_ascii_case(name));
        ColumnRef {
            // A qualifier naming another table is kept: it names no column of this table and
            // the database refuses it, rather than the condition landing on another table.
            table: if own {
                Some(reference.to_string())
            } else {
                c.table
            },
            column: c.column,
        }
    };
    let expr = |e: Expr| match e {
        Expr::Column(c) => Expr::Column(col(c)),
        Expr::Aggregate(a, c) => Expr::Aggregate(a, col(c)),
        other => other,
    };
    let q = |f: Filter| qualify_for(f, name, reference);
    match f {
        Filter::Compare { left, op, right } => Filter::Compare {
            left: expr(left),
            op,
            right: expr(right),
        },
        Filter::In {
            expr: e,
            values,
            negated,
        } => Filter::In {
            expr: expr(e),
            values,
            negated,
        },
        Filter::Like {
            expr: e,
            pattern,
            negated,
        } => Filter::Like {
            expr: expr(e),
            pattern,
            negated,
        },
        Filter::IsNull { expr: e, negated } => Filter::IsNull {
            expr: expr(e),
            negated,
        },
        Filter::And(v) => Filter::And(v.into_iter().map(q).collect()),
        Filter::Or(v) => Filter::Or(v.into_iter().map(q).collect()),
        Filter::Not(f) => Filter::Not(Box::new(q(*f))),
    }
}

/// The value a statement writes to `column` (names compared without regard to case), for
/// `validate` policies.
pub fn written<'a>(values: &[(&str, &'a Value)], column: &str) -> Option<&'a Value> {
    values
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(column))
        .map(|(_, v)| *v)
}

/// Evaluates a condition against the values a statement writes, in three-valued logic:
/// `None` when it cannot tell (a column not written; an operator other than `=`, `<>`, IN,
/// IS NULL, AND, OR, NOT). Callers refuse unless the answer is the one they need.
fn eval(f: &Filter, row: &[(&str, &Value)]) -> Option<bool> {
    let value = |e: &Expr| -> Option<Value> {
        match e {
            Expr::Value(v) => Some(v.clone()),
            Expr::Column(c) => written(row, &c.column).cloned(),
            _ => None,
        }
    };
    let is_null = |v: &Value| crate::executor::is_null_value(v);
    match f {
        Filter::Compare { left, op, right } => {
            let (a, b) = (value(left)?, value(right)?);
            if is_null(&a) || is_null(&b) {
                return Some(false);
            }
            match op {
                crate::query::CmpOp::Eq => Some(same_value(&a, &b)),
                crate::query::CmpOp::Ne => Some(!same_value(&a, &b)),
                _ => None,
            }
        }
        Filter::In {
            expr,
            values,
            negated,
        } => {
            let v = value(expr)?;
            if is_null(&v) {
                return Some(false);
            }
            Some(values.iter().any(|c| same_value(&v, c)) != *negated)
        }
        Filter::IsNull { expr, negated } => Some(is_null(&value(expr)?) != *negated),
        Filter::And(v) => {
            let mut unknown = false;
            for f in v {
                match eval(f, row) {
                    Some(false) => return Some(false),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            (!unknown).then_some(true)
        }
        Filter::Or(v) => {
            let mut unknown = false;
            for f in v {
                match eval(f, row) {
                    Some(true) => return Some(true),
                    None => unknown = true,
                    Some(false) => {}
                }
            }
            (!unknown).then_some(false)
        }
        Filter::Not(f) => eval(f, row).map(|b| !b),
        Filter::Like { .. } => None,
    }
}

/// What an allow or deny policy says about a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// Does not apply.
    No,
    /// Applies to every row.
    Yes,
    /// Applies to the rows matching this condition (written on the table's own columns).
    Where(Filter),
}

impl From<bool> for Access {
    fn from(b: bool) -> Self {
        if b { Access::Yes } else { Access::No }
    }
}

type AccessFn = Arc<dyn Fn(&AuthContext) -> Access + Send + Sync>;
type FilterFn = Arc<dyn Fn(&AuthContext) -> Option<Filter> + Send + Sync>;
type ValidateFn =
    Arc<dyn Fn(&AuthContext, &[(&str, &Value)]) -> std::result::Result<(), String> + Send + Sync>;

#[derive(Clone)]
enum PolicyKind {
    Allow(AccessFn),
    Deny(AccessFn),
    Filter(FilterFn),
    Validate(ValidateFn),
}

/// One policy of a table: which operations it covers and what it decides.
#[derive(Clone)]
pub struct Policy {
    operations: Vec<Operation>,
    kind: PolicyKind,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            PolicyKind::Allow(_) => "allow",
            PolicyKind::Deny(_) => "deny",
            PolicyKind::Filter(_) => "filter",
            PolicyKind::Validate(_) => "validate",
        };
        write!(f, "Policy({kind} {:?})", self.operations)
    }
}

impl Policy {
    /// Allows `operations` when `f` says so ([`Access::Yes`]), or on the rows it names
    /// ([`Access::Where`]).
    pub fn allow(
        operations: impl IntoIterator<Item = Operation>,
        f: impl Fn(&AuthContext) -> Access + Send + Sync + 'static,
    ) -> Self {
        Policy {
            operations: operations.into_iter().collect(),
            kind: PolicyKind::Allow(Arc::new(f)),
        }
    }

    /// Allows `operations` to contexts with any of `roles`.
    pub fn allow_roles<S: Into<String>>(
        operations: impl IntoIterator<Item = Operation>,
        roles: impl IntoIterator<Item = S>,
    ) -> Self {
        let roles: Vec<String> = roles.into_iter().map(Into::into).collect();
        Policy::allow(operations, move |ctx| {
            Access::from(roles.iter().any(|r| ctx.has_role(r)))
        })
    }

    /// Denies `operations` outright ([`Access::Yes`]) or on the rows it names.
    pub fn deny(
        operations: impl IntoIterator<Item = Operation>,
        f: impl Fn(&AuthContext) -> Access + Send + Sync + 'static,
    ) -> Self {
        Policy {
            operations: operations.into_iter().collect(),
            kind: PolicyKind::Deny(Arc::new(f)),
        }
    }

    /// Limits reads to the rows matching the condition (`None`: no limit for this context).
    pub fn filter(f: impl Fn(&AuthContext) -> Option<Filter> + Send + Sync + 'static) -> Self {
        Policy {
            operations: vec![Operation::Select],
            kind: PolicyKind::Filter(Arc::new(f)),
        }
    }

    /// Checks the values an insert (each row) or update (its SET list) writes.
    pub fn validate(
        operations: impl IntoIterator<Item = Operation>,
        f: impl Fn(&AuthContext, &[(&str, &Value)]) -> std::result::Result<(), String>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Policy {
            operations: operations.into_iter().collect(),
            kind: PolicyKind::Validate(Arc::new(f)),
        }
    }
}

/// Custom row-level policies, per table (the seed's `defineRLSSchema`).
///
/// ```
/// use kysera::query::{col, Operation::*};
/// use kysera::rls::{Access, Policy, RlsSchema};
///
/// let schema = RlsSchema::new()
///     // Reads: the user's organisation only.
///     .policy("documents", Policy::filter(|ctx| {
///         ctx.attributes.get("org").and_then(|o| o.as_str()).map(|o| col("org").eq(o))
///     }))
///     .policy("documents", Policy::allow([Select, Insert], |_| Access::Yes))
///     // Authors may change their own documents; admins any.
///     .policy("documents", Policy::allow([Update, Delete], |ctx| match &ctx.user_id {
///         Some(u) => Access::Where(col("author_id").eq(u.clone())),
///         None => Access::No,
///     }))
///     .policy("documents", Policy::allow_roles([Update, Delete], ["admin"]))
///     .policy("documents", Policy::deny([Delete], |ctx| Access::from(ctx.has_role("suspended"))))
///     .policy("documents", Policy::validate([Insert, Update], |_, values| {
///         match values.iter().find(|(c, _)| *c == "title") {
///             Some((_, v)) if **v == kysera::Value::from("") => Err("title is empty".into()),
///             _ => Ok(()),
///         }
///     }));
/// assert_eq!(schema.tables().count(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RlsSchema {
    tables: HashMap<String, Vec<Policy>>,
}

impl RlsSchema {
    /// An empty schema.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a policy to `table`.
    pub fn policy(mut self, table: impl Into<String>, policy: Policy) -> Self {
        let table: String = table.into();
        self.tables
            .entry(table.to_ascii_lowercase())
            .or_default()
            .push(policy);
        self
    }

    /// The protected tables.
    pub fn tables(&self) -> impl Iterator<Item = &str> {
        self.tables.keys().map(String::as_str)
    }

    fn denied(table: &str, operation: Operation, reason: impl Into<String>) -> Error {
        Error::AccessDenied {
            table: table.to_string(),
            operation,
            reason: reason.into(),
        }
    }

    /// The condition rows must meet for `op` on `table` under `ctx` (`None`: no condition), or
    /// the refusal. Validation is separate ([`RlsSchema::validate`]).
    /// The policies of a table (names compared without regard to case, as SQLite and MySQL do).
    fn policies(&self, table: &str) -> Option<&Vec<Policy>> {
        crate::behaviour::get_ignoring_case(&self.tables, table)
    }

    fn condition(&self, table: &str, op: Operation, ctx: &AuthContext) -> Result<Option<Filter>> {
        let Some(policies) = self.policies(table) else {
            return Ok(None);
        };
        let applies = |p: &&Policy| p.operations.contains(&op);
        let mut conds = Vec::new();
        for p in policies.iter().filter(applies) {
            if let PolicyKind::Deny(f) = &p.kind {
                match f(ctx) {
                    Access::No => {}
                    Access::Yes => return Err(Self::denied(table, op, "a deny policy applies")),
                    Access::Where(c) => conds.push(!c),
                }
            }
        }
        let mut allowed_everywhere = false;
        let mut allowed_where = Vec::new();
        for p in policies.iter().filter(applies) {
            if let PolicyKind::Allow(f) = &p.kind {
                match f(ctx) {
                    Access::No => {}
                    Access::Yes => allowed_everywhere = true,
                    Access::Where(c) => allowed_where.push(c),
                }
            }
        }
        if !allowed_everywhere {
            if allowed_where.is_empty() {
                return Err(Self::denied(table, op, "no policy allows it"));
            }
            conds.push(Filter::Or(allowed_where));
        }
        if op == Operation::Select {
            for p in policies.iter().filter(applies) {
                if let PolicyKind::Filter(f) = &p.kind
                    && let Some(c) = f(ctx)
                {
                    conds.push(c);
                }
            }
        }
        Ok((!conds.is_empty()).then_some(Filter::And(conds)))
    }

    fn validate(
        &self,
        table: &str,
        op: Operation,
        ctx: &AuthContext,
        values: &[(&str, &Value)],
    ) -> Result<()> {
        let Some(policies) = self.policies(table) else {
            return Ok(());
        };
        for p in policies.iter().filter(|p| p.operations.contains(&op)) {
            if let PolicyKind::Validate(f) = &p.kind {
                f(ctx, values).map_err(|reason| Self::denied(table, op, reason))?;
            }
        }
        Ok(())
    }

    /// Applies the schema to a query (see the module docs for the order).
    fn apply(&self, query: &mut Query) -> Result<()> {
        let table = query.table().to_string();
        let op = query.operation();
        let touches = self.policies(&table).is_some()
            || query
                .joined_tables()
                .any(|t| self.policies(&t.name).is_some());
        if !touches {
            return Ok(());
        }
        let Some(ctx) = context_for(&table)? else {
            return Ok(());
        };
        match query {
            Query::Select(s)
                if s.joins.iter().any(|j| {
                    matches!(
                        j.kind,
                        crate::query::JoinKind::Right | crate::query::JoinKind::Full
                    )
                }) =>
            {
                // The kept side of a RIGHT / FULL JOIN cannot be filtered in its ON clause.
                return Err(Self::denied(
                    &table,
                    op,
                    "RIGHT or FULL JOIN with a protected table; write it as a LEFT JOIN",
                ));
            }
            Query::Insert(i) if matches!(&i.on_conflict, Some(oc) if matches!(oc.action, crate::query::ConflictAction::Update(_))) =>
            {
                // The conflict update would bypass the update policies.
                return Err(Self::denied(
                    &table,
                    op,
                    "ON CONFLICT DO UPDATE on a protected table; insert or update explicitly",
                ));
            }
            Query::Select(s) => {
                if let Some(c) = self.condition(&table, op, &ctx)? {
                    let reference = s.table.reference().to_string();
                    s.add_filter(qualify_for(c, &table, &reference));
                }
                for j in &mut s.joins {
                    let c = match self.condition(&j.table.name, Operation::Select, &ctx) {
                        Ok(c) => c,
                        // A joined table the context may not read contributes no rows.
                        Err(Error::AccessDenied { .. }) => Some(Filter::Or(vec![])),
                        Err(e) => return Err(e),
                    };
                    if let Some(c) = c {
                        let c = qualify_for(c, &j.table.name, j.table.reference());
                        j.on = std::mem::replace(&mut j.on, Filter::And(vec![])).and(c);
                    }
                }
            }
            Query::Insert(i) => {
                let cond = self.condition(&table, op, &ctx)?;
                for n in 0..i.rows.len() {
                    let row: Vec<(&str, &Value)> = i
                        .columns
                        .iter()
                        .map(String::as_str)
                        .zip(i.rows[n].iter())
                        .collect();
                    if let Some(c) = &cond
                        && eval(c, &row) != Some(true)
                    {
                        return Err(Self::denied(
                            &table,
                            op,
                            format!("row {n} is not one the policies allow"),
                        ));
                    }
                    self.validate(&table, op, &ctx, &row)?;
                }
            }
            Query::Update(u) => {
                let cond = self.condition(&table, op, &ctx)?;
                let values: Vec<(&str, &Value)> =
                    u.values.iter().map(|(c, v)| (c.as_str(), v)).collect();
                // WITH CHECK: the values written must not take the row out of what is allowed
                // (moving a row to another author or organisation).
                if let Some(c) = &cond
                    && eval(c, &values) == Some(false)
                {
                    return Err(Self::denied(
                        &table,
                        op,
                        "the new values are not ones the policies allow",
                    ));
                }
                self.validate(&table, op, &ctx, &values)?;
                if let Some(c) = cond {
                    u.add_filter(c);
                }
            }
            Query::Delete(d) => {
                if let Some(c) = self.condition(&table, op, &ctx)? {
                    d.add_filter(c);
                }
            }
        }
        Ok(())
    }
}

/// The plugin that enforces an [`RlsSchema`] on every query (named `"rls"`).
#[derive(Debug, Clone)]
pub struct Rls {
    schema: Arc<RlsSchema>,
}

impl Rls {
    /// Enforces `schema`.
    pub fn new(schema: RlsSchema) -> Self {
        Rls {
            schema: Arc::new(schema),
        }
    }
}

impl Plugin for Rls {
    fn name(&self) -> &str {
        "rls"
    }
    /// Policies run after every other plugin, so none can undo them.
    fn priority(&self) -> i32 {
        i32::MIN
    }
    fn intercept(&self, query: &mut Query, _cx: &QueryContext) -> Result<()> {
        self.schema.apply(query)
    }
}

/// The text form of a context value for `set_config` (PostgreSQL native RLS); values of other
/// kinds give an empty setting, which no tenant column equals.
pub(crate) fn setting_text(v: &Option<Value>) -> String {
    match v {
        Some(Value::String(Some(s))) => s.clone(),
        Some(Value::Uuid(Some(u))) => u.to_string(),
        Some(Value::TinyInt(Some(i))) => i.to_string(),
        Some(Value::SmallInt(Some(i))) => i.to_string(),
        Some(Value::Int(Some(i))) => i.to_string(),
        Some(Value::BigInt(Some(i))) => i.to_string(),
        Some(Value::TinyUnsigned(Some(i))) => i.to_string(),
        Some(Value::SmallUnsigned(Some(i))) => i.to_string(),
        Some(Value::Unsigned(Some(i))) => i.to_string(),
        Some(Value::BigUnsigned(Some(i))) => i.to_string(),
        Some(Value::Bool(Some(b))) => b.to_string(),
        _ => String::new(),
    }
}

/// The PostgreSQL statements that make the database itself enforce tenant isolation on `table`
/// (for connections that are not superusers or `BYPASSRLS`): enable and force row security, and
/// a policy comparing `tenant_column` with the `kysera.tenant_id` setting that the executor sets
/// in each transaction when built `with_postgres_rls(true)`; the system context
/// (`kysera.system = 'on'`) passes. The tenant policy is RESTRICTIVE (with a permissive
/// `USING (true)` base, which PostgreSQL needs to grant anything), so other permissive policies
/// cannot widen access past the tenant; other restrictive policies still apply. It guards
/// against application mistakes, not against arbitrary SQL (which could set the settings).
///
/// ```
/// let sql = kysera::rls::postgres_tenant_policy("posts", "tenant_id");
/// assert!(sql[3].contains("AS RESTRICTIVE"));
/// ```
pub fn postgres_tenant_policy(table: &str, tenant_column: &str) -> Vec<String> {
    let t = format!("\"{}\"", table.replace('"', "\"\""));
    let c = format!("\"{}\"", tenant_column.replace('"', "\"\""));
    // A setting once used in a session reads '' (not NULL) outside the transaction that set it:
    // an empty tenant matches nothing.
    let check = format!(
        "(({c}::text = current_setting('kysera.tenant_id', true) AND current_setting('kysera.tenant_id', true) <> '') \
         OR current_setting('kysera.system', true) = 'on')"
    );
    vec![
        format!("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY"),
        format!("ALTER TABLE {t} FORCE ROW LEVEL SECURITY"),
        // PostgreSQL needs a permissive policy to grant anything; the restrictive one then
        // limits every access to the tenant, whatever other permissive policies allow.
        format!("CREATE POLICY kysera_base ON {t} USING (true) WITH CHECK (true)"),
        format!(
            "CREATE POLICY kysera_tenant_isolation ON {t} AS RESTRICTIVE USING {check} WITH CHECK {check}"
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{Operation::*, col};

    #[test]
    fn default_is_deny_and_order_holds() {
        let ctx = AuthContext::user(7i64).with_roles(["editor"]);
        let schema = RlsSchema::new()
            .policy("t", Policy::allow([Select], |_| Access::Yes))
            .policy(
                "t",
                Policy::allow([Update], |c| {
                    Access::Where(col("owner").eq(c.user_id.clone().unwrap()))
                }),
            )
            .policy(
                "t",
                Policy::deny([Update], |c| Access::from(c.has_role("suspended"))),
            );
        assert_eq!(schema.condition("t", Select, &ctx).unwrap(), None);
        assert!(matches!(
            schema.condition("t", Delete, &ctx),
            Err(Error::AccessDenied { .. })
        ));
        assert!(schema.condition("t", Update, &ctx).unwrap().is_some());
        let suspended = ctx.clone().with_roles(["suspended"]);
        assert!(matches!(
            schema.condition("t", Update, &suspended),
            Err(Error::AccessDenied { .. })
        ));
        assert_eq!(schema.condition("other", Delete, &ctx).unwrap(), None);
    }

    #[test]
    fn conditions_are_evaluated_on_the_values_in_three_valued_logic() {
        let a = Value::from("a");
        let b = Value::from("b");
        let null = Value::String(None);
        let f = col("tenant").eq("a").and(col("x").is_null());
        assert_eq!(eval(&f, &[("tenant", &a), ("x", &null)]), Some(true));
        assert_eq!(eval(&f, &[("TENANT", &b)]), Some(false));
        assert_eq!(eval(&f, &[("tenant", &a)]), None, "x not written: unknown");
        assert_eq!(
            eval(&col("n").eq(1i64), &[("n", &Value::Int(Some(2)))]),
            Some(false)
        );
        assert_eq!(
            eval(&col("n").eq(2i64), &[("n", &Value::Int(Some(2)))]),
            Some(true)
        );
        // A deny condition is stored negated: unknown stays unknown, never "allowed".
        assert_eq!(eval(&!col("t").like("a%"), &[("t", &a)]), None);
        assert_eq!(
            eval(&!col("n").gt(1000i64), &[("n", &Value::Int(Some(5)))]),
            None
        );
        assert_eq!(
            eval(&col("n").eq(1i64).or(col("t").eq("a")), &[("t", &a)]),
            Some(true)
        );
    }

    #[test]
    fn qualify_points_columns_at_the_reference() {
        let f = qualify_for(col("a").eq(1).and(col("x.b").is_null()), "p", "p");
        assert_eq!(f, col("p.a").eq(1).and(col("x.b").is_null()));
        // A condition qualified by the table's own name follows the alias.
        let f = qualify_for(col("documents.org").eq("x"), "documents", "d");
        assert_eq!(f, col("d.org").eq("x"));
    }

    #[test]
    fn setting_texts() {
        assert_eq!(setting_text(&Some(Value::from("acme"))), "acme");
        assert_eq!(setting_text(&Some(Value::from(42i64))), "42");
        assert_eq!(setting_text(&None), "");
    }
}
