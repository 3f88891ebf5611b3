//! Custom row-level policies per table ([`RlsSchema`]: filter, allow, deny, validate) and the
//! [`Rls`] plugin that enforces them.

use std::collections::HashMap;
use std::sync::Arc;

use super::condition::{eval, qualify_for};
use super::context::{AuthContext, context_for};
use crate::behaviour::registry::get_ignoring_case;
use crate::core::error::{Error, Result};
use crate::plugin::{Plugin, QueryContext};
use crate::query::{ConflictAction, Filter, JoinKind, Operation, Query, Value};

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

type SkipFn = Arc<dyn Fn(&AuthContext) -> bool + Send + Sync>;
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

/// Custom row-level policies, per table (`defineRLSSchema` in the TypeScript Kysera).
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
///
/// **Evaluation order**, per statement and table, as in the TypeScript Kysera: the system
/// context bypasses everything; then [`bypass_roles`](RlsSchema::bypass_roles) (a context with
/// one of them skips the table's policies, and is still audited as itself); then
/// [`skip_for`](RlsSchema::skip_for) / [`skip_when`](RlsSchema::skip_when); then deny (an
/// outright deny refuses, a conditional one removes the rows where its condition is **true** —
/// `(condition) IS NOT TRUE` keeps a row whose condition is NULL); then validate; then allow —
/// when no policy allows, the statement is refused; then the read filters.
///
/// **Written values** (WITH CHECK): an insert's rows and an update's new rows must meet the
/// allow and deny conditions too. A statement with its primary key declared (every repository
/// and DAL write) is checked on the rows as stored, read back by key in its own transaction;
/// without a key, on the values before the write — in Rust where every database would agree
/// (numbers, booleans, NULL tests), otherwise by the database. A refused write changes nothing.
#[derive(Clone, Debug, Default)]
pub struct RlsSchema {
    tables: HashMap<String, TablePolicies>,
}

/// A skip: the operations it covers and, when conditional, the contexts it applies to.
#[derive(Clone)]
struct Skip {
    operations: Vec<Operation>,
    when: Option<SkipFn>,
}

/// What a schema says about one table.
#[derive(Clone, Default)]
struct TablePolicies {
    policies: Vec<Policy>,
    bypass_roles: Vec<String>,
    skips: Vec<Skip>,
}

impl std::fmt::Debug for TablePolicies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TablePolicies")
            .field("policies", &self.policies)
            .field("bypass_roles", &self.bypass_roles)
            .field("skips", &self.skips.len())
            .finish()
    }
}

impl TablePolicies {
    /// Whether `ctx` skips this table's policies for `op` (bypass role, or a skip).
    fn skipped(&self, op: Operation, ctx: &AuthContext) -> bool {
        self.bypass_roles.iter().any(|r| ctx.has_role(r))
            || self
                .skips
                .iter()
                .any(|s| s.operations.contains(&op) && s.when.as_ref().is_none_or(|when| when(ctx)))
    }
}

impl RlsSchema {
    /// An empty schema.
    pub fn new() -> Self {
        Self::default()
    }

    fn table_mut(&mut self, table: impl Into<String>) -> &mut TablePolicies {
        let table: String = table.into();
        self.tables.entry(table.to_ascii_lowercase()).or_default()
    }

    /// Adds a policy to `table`.
    pub fn policy(mut self, table: impl Into<String>, policy: Policy) -> Self {
        self.table_mut(table).policies.push(policy);
        self
    }

    /// Contexts with any of `roles` skip every policy of `table` (like the system context, but
    /// acting and audited as themselves; declared tenant isolation still applies).
    pub fn bypass_roles<S: Into<String>>(
        mut self,
        table: impl Into<String>,
        roles: impl IntoIterator<Item = S>,
    ) -> Self {
        let t = self.table_mut(table);
        t.bypass_roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// The policies of `table` are skipped for `operations` (for every context).
    pub fn skip_for(
        mut self,
        table: impl Into<String>,
        operations: impl IntoIterator<Item = Operation>,
    ) -> Self {
        self.table_mut(table).skips.push(Skip {
            operations: operations.into_iter().collect(),
            when: None,
        });
        self
    }

    /// The policies of `table` are skipped for `operations` when `when` holds for the context.
    pub fn skip_when(
        mut self,
        table: impl Into<String>,
        operations: impl IntoIterator<Item = Operation>,
        when: impl Fn(&AuthContext) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.table_mut(table).skips.push(Skip {
            operations: operations.into_iter().collect(),
            when: Some(Arc::new(when)),
        });
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

    /// What the schema says about a table (names compared without regard to case, as SQLite
    /// and MySQL do).
    fn entry(&self, table: &str) -> Option<&TablePolicies> {
        get_ignoring_case(&self.tables, table)
    }

    /// The policies that apply to `op` on `table` under `ctx`: none when the table has no
    /// policies, or when a bypass role or a skip lets the context past them.
    fn policies(&self, table: &str, op: Operation, ctx: &AuthContext) -> Option<Vec<&Policy>> {
        let entry = self.entry(table)?;
        if entry.skipped(op, ctx) {
            return None;
        }
        Some(
            entry
                .policies
                .iter()
                .filter(|p| p.operations.contains(&op))
                .collect(),
        )
    }

    /// The deny conditions for `op` (rows they leave: `(cond) IS NOT TRUE`), or the refusal.
    fn deny(
        &self,
        table: &str,
        op: Operation,
        policies: &[&Policy],
        ctx: &AuthContext,
    ) -> Result<Vec<Filter>> {
        let mut conds = Vec::new();
        for p in policies {
            if let PolicyKind::Deny(f) = &p.kind {
                match f(ctx) {
                    Access::No => {}
                    Access::Yes => return Err(Self::denied(table, op, "a deny policy applies")),
                    Access::Where(c) => conds.push(c.is_not_true()),
                }
            }
        }
        Ok(conds)
    }

    /// The allow condition for `op` (`None`: every row), or the refusal when none allows.
    fn allow(
        &self,
        table: &str,
        op: Operation,
        policies: &[&Policy],
        ctx: &AuthContext,
    ) -> Result<Option<Filter>> {
        let mut allowed_where = Vec::new();
        for p in policies {
            if let PolicyKind::Allow(f) = &p.kind {
                match f(ctx) {
                    Access::No => {}
                    Access::Yes => return Ok(None),
                    Access::Where(c) => allowed_where.push(c),
                }
            }
        }
        if allowed_where.is_empty() {
            return Err(Self::denied(table, op, "no policy allows it"));
        }
        Ok(Some(Filter::Or(allowed_where)))
    }

    /// The condition rows must meet for `op` on `table` under `ctx` (`None`: no condition), or
    /// the refusal, in the documented order (`values`: what an insert row or update writes, for
    /// the validate policies).
    fn condition(
        &self,
        table: &str,
        op: Operation,
        ctx: &AuthContext,
        values: &[&[(&str, &Value)]],
    ) -> Result<Option<Filter>> {
        let Some(policies) = self.policies(table, op, ctx) else {
            return Ok(None);
        };
        let mut conds = self.deny(table, op, &policies, ctx)?;
        for row in values {
            for p in &policies {
                if let PolicyKind::Validate(f) = &p.kind {
                    f(ctx, row).map_err(|reason| Self::denied(table, op, reason))?;
                }
            }
        }
        conds.extend(self.allow(table, op, &policies, ctx)?);
        if op == Operation::Select {
            for p in &policies {
                if let PolicyKind::Filter(f) = &p.kind
                    && let Some(c) = f(ctx)
                {
                    conds.push(c);
                }
            }
        }
        Ok((!conds.is_empty()).then_some(Filter::And(conds)))
    }

    /// Applies the schema to a query (see the type's docs for the order).
    fn apply(&self, query: &mut Query) -> Result<()> {
        let table = query.table().to_string();
        let op = query.operation();
        let touches = self.entry(&table).is_some()
            || query.joined_tables().any(|t| self.entry(&t.name).is_some());
        if !touches {
            return Ok(());
        }
        let Some(ctx) = context_for(&table)? else {
            return Ok(());
        };
        // The WITH CHECK condition the written rows must meet, ANDed in after the match.
        let mut check = None;
        match query {
            Query::Select(s)
                if s.joins
                    .iter()
                    .any(|j| matches!(j.kind, JoinKind::Right | JoinKind::Full)) =>
            {
                // The kept side of a RIGHT / FULL JOIN cannot be filtered in its ON clause.
                return Err(Self::denied(
                    &table,
                    op,
                    "RIGHT or FULL JOIN with a protected table; write it as a LEFT JOIN",
                ));
            }
            Query::Insert(i) if matches!(&i.on_conflict, Some(oc) if matches!(oc.action, ConflictAction::Update(_))) =>
            {
                // The conflict update would bypass the update policies.
                return Err(Self::denied(
                    &table,
                    op,
                    "ON CONFLICT DO UPDATE on a protected table; insert or update explicitly",
                ));
            }
            Query::Select(s) => {
                if let Some(c) = self.condition(&table, op, &ctx, &[])? {
                    let reference = s.table.reference().to_string();
                    s.add_filter(qualify_for(c, &table, &reference));
                }
                for j in &mut s.joins {
                    let c = match self.condition(&j.table.name, Operation::Select, &ctx, &[]) {
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
                let rows: Vec<Vec<(&str, &Value)>> = i
                    .rows
                    .iter()
                    .map(|r| i.columns.iter().map(String::as_str).zip(r.iter()).collect())
                    .collect();
                let slices: Vec<&[(&str, &Value)]> = rows.iter().map(Vec::as_slice).collect();
                let Some(cond) = self.condition(&table, op, &ctx, &slices)? else {
                    return Ok(());
                };
                // WITH CHECK on each row: decided here, or by the database on the rows written.
                let mut undecided = false;
                for (n, row) in rows.iter().enumerate() {
                    match eval(&cond, row) {
                        Some(Some(true)) => {}
                        Some(_) => {
                            return Err(Self::denied(
                                &table,
                                op,
                                format!("row {n} is not one the policies allow"),
                            ));
                        }
                        None => undecided = true,
                    }
                }
                // With its key declared, the rows are also checked as stored (after the
                // column's type and collation apply), even when the values settle it here.
                if undecided || !i.primary_key.is_empty() {
                    check = Some(cond);
                }
            }
            Query::Update(u) => {
                let values: Vec<(&str, &Value)> =
                    u.values.iter().map(|(c, v)| (c.as_str(), v)).collect();
                let Some(cond) = self.condition(&table, op, &ctx, &[&values])? else {
                    return Ok(());
                };
                // WITH CHECK: the new rows must stay within what is allowed (not moved to
                // another author or organisation, not out of a range).
                // A statement that changes no row is not refused, as in PostgreSQL: the rows
                // it would change are counted by the database unless the values settle it.
                if eval(&cond, &values) != Some(Some(true)) || !u.primary_key.is_empty() {
                    check = Some(cond.clone());
                }
                u.add_filter(cond);
            }
            Query::Delete(d) => {
                if let Some(c) = self.condition(&table, op, &ctx, &[])? {
                    d.add_filter(c);
                }
            }
        }
        if let Some(c) = check {
            query.add_check(c)?;
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
        assert_eq!(schema.condition("t", Select, &ctx, &[]).unwrap(), None);
        assert!(matches!(
            schema.condition("t", Delete, &ctx, &[]),
            Err(Error::AccessDenied { .. })
        ));
        assert!(schema.condition("t", Update, &ctx, &[]).unwrap().is_some());
        let suspended = ctx.clone().with_roles(["suspended"]);
        assert!(matches!(
            schema.condition("t", Update, &suspended, &[]),
            Err(Error::AccessDenied { .. })
        ));
        assert_eq!(schema.condition("other", Delete, &ctx, &[]).unwrap(), None);

        // Bypass roles and skips come before deny.
        let schema = schema
            .bypass_roles("t", ["auditor"])
            .skip_for("t", [Insert])
            .skip_when("t", [Delete], |c| c.has_role("janitor"));
        let auditor = suspended.clone().with_roles(["suspended", "auditor"]);
        assert_eq!(schema.condition("t", Update, &auditor, &[]).unwrap(), None);
        assert_eq!(
            schema.condition("t", Insert, &suspended, &[]).unwrap(),
            None
        );
        let janitor = ctx.clone().with_roles(["janitor"]);
        assert_eq!(schema.condition("t", Delete, &janitor, &[]).unwrap(), None);
        assert!(schema.condition("t", Delete, &ctx, &[]).is_err());
    }
}
