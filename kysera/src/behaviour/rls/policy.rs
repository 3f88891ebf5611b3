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
        get_ignoring_case(&self.tables, table)
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
}
