//! The plugin trait and the validation/ordering of a plugin chain.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;
use crate::query::Query;

/// What a plugin's interceptor knows about the query's surroundings.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct QueryContext {
    /// The database the query will run on.
    pub dialect: Dialect,
    /// Whether the query runs inside a transaction.
    pub in_transaction: bool,
}

/// A query interceptor: sees, rewrites or refuses every query before it reaches the database.
///
/// Every query that goes through an [`Executor`](crate::Executor) — from the query builder, a
/// repository or a DAL function, inside a transaction or not — is passed to the
/// [`intercept`](Plugin::intercept) method of each plugin, in chain order, before it is lowered
/// to SQL. A plugin can inspect it (operation, table, joined tables, values), rewrite it (add
/// filters, set values) or refuse it by returning an error. [`Executor::raw`](crate::Executor::raw)
/// is the only way around the chain.
///
/// ```
/// use kysera::query::{col, Query};
/// use kysera::{Plugin, QueryContext};
///
/// /// Hides archived rows of `posts` from every query.
/// struct HideArchived;
///
/// impl Plugin for HideArchived {
///     fn name(&self) -> &str {
///         "hide-archived"
///     }
///     fn intercept(&self, query: &mut Query, _cx: &QueryContext) -> kysera::Result<()> {
///         if query.table() == "posts" && !matches!(query, Query::Insert(_)) {
///             query.add_filter(col("archived").eq(false))?;
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait Plugin: Send + Sync + 'static {
    /// A unique name, used for dependencies, conflicts and error messages.
    fn name(&self) -> &str;

    /// Higher runs earlier among plugins whose dependencies allow either order. Default 0.
    fn priority(&self) -> i32 {
        0
    }

    /// Names of plugins that must be present and run before this one.
    fn dependencies(&self) -> Vec<String> {
        Vec::new()
    }

    /// Names of plugins that cannot be used together with this one.
    fn conflicts(&self) -> Vec<String> {
        Vec::new()
    }

    /// Whether this plugin intercepts queries. A plugin returning `false` is never called per
    /// query; an executor whose plugins all return `false` does no per-query plugin work at all.
    fn intercepts_queries(&self) -> bool {
        true
    }

    /// The plugin as `Any`, for the library's own plugins that carry configuration (such as
    /// [`Audit`](crate::audit::Audit)); `None` by default.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }

    /// Inspects and possibly rewrites `query`, or refuses it with an error
    /// (see [`Error::rejected`]).
    fn intercept(&self, query: &mut Query, cx: &QueryContext) -> Result<()> {
        let _ = (query, cx);
        Ok(())
    }
}

/// A validated, ordered list of plugins.
#[derive(Clone, Default)]
pub(crate) struct PluginChain {
    pub plugins: Vec<Arc<dyn Plugin>>,
    /// The plugins that intercept, in order: empty means no per-query work.
    pub interceptors: Vec<Arc<dyn Plugin>>,
}

impl std::fmt::Debug for PluginChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.plugins.iter().map(|p| p.name()))
            .finish()
    }
}

impl PluginChain {
    /// Validates `plugins` and orders them: dependencies first, then by descending priority,
    /// then by name (so the order never depends on registration order alone).
    pub fn new(plugins: Vec<Arc<dyn Plugin>>) -> Result<Self> {
        let mut by_name: BTreeMap<String, Arc<dyn Plugin>> = BTreeMap::new();
        for p in &plugins {
            let name = p.name().to_string();
            if name.is_empty() {
                return Err(Error::PluginConfig("a plugin has an empty name".into()));
            }
            if by_name.insert(name.clone(), p.clone()).is_some() {
                return Err(Error::PluginConfig(format!(
                    "plugin `{name}` is registered twice"
                )));
            }
        }
        for (name, p) in &by_name {
            for dep in p.dependencies() {
                if !by_name.contains_key(&dep) {
                    return Err(Error::PluginConfig(format!(
                        "plugin `{name}` depends on `{dep}`, which is not registered"
                    )));
                }
            }
            for other in p.conflicts() {
                if by_name.contains_key(&other) {
                    return Err(Error::PluginConfig(format!(
                        "plugin `{name}` conflicts with `{other}`; register only one of them"
                    )));
                }
            }
        }
        // Kahn's algorithm; among the ready plugins take the highest priority, then the name.
        let mut remaining: BTreeMap<String, BTreeSet<String>> = by_name
            .iter()
            .map(|(n, p)| (n.clone(), p.dependencies().into_iter().collect()))
            .collect();
        let mut ordered = Vec::with_capacity(by_name.len());
        while !remaining.is_empty() {
            let next = remaining
                .iter()
                .filter(|(_, deps)| deps.is_empty())
                .map(|(n, _)| n)
                .min_by_key(|n| (std::cmp::Reverse(by_name[*n].priority()), (*n).clone()))
                .cloned();
            let Some(next) = next else {
                let cycle: Vec<_> = remaining.keys().cloned().collect();
                return Err(Error::PluginConfig(format!(
                    "plugin dependencies form a cycle among: {}",
                    cycle.join(", ")
                )));
            };
            remaining.remove(&next);
            for deps in remaining.values_mut() {
                deps.remove(&next);
            }
            ordered.push(by_name[&next].clone());
        }
        let interceptors = ordered
            .iter()
            .filter(|p| p.intercepts_queries())
            .cloned()
            .collect();
        Ok(PluginChain {
            plugins: ordered,
            interceptors,
        })
    }

    /// Runs every interceptor over `query`, in order.
    pub fn intercept(&self, query: &mut Query, cx: &QueryContext) -> Result<()> {
        for p in &self.interceptors {
            p.intercept(query, cx)?;
        }
        Ok(())
    }

    /// [`intercept`](Self::intercept), also saying which plugins changed the query (compared
    /// before and after each: for when statements are being watched).
    pub fn intercept_noted(&self, query: &mut Query, cx: &QueryContext) -> Result<Vec<String>> {
        let mut changed = Vec::new();
        for p in &self.interceptors {
            let before = query.clone();
            p.intercept(query, cx)?;
            if *query != before {
                changed.push(p.name().to_string());
            }
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct P {
        name: &'static str,
        priority: i32,
        deps: &'static [&'static str],
        conflicts: &'static [&'static str],
    }

    impl Plugin for P {
        fn name(&self) -> &str {
            self.name
        }
        fn priority(&self) -> i32 {
            self.priority
        }
        fn dependencies(&self) -> Vec<String> {
            self.deps.iter().map(|s| s.to_string()).collect()
        }
        fn conflicts(&self) -> Vec<String> {
            self.conflicts.iter().map(|s| s.to_string()).collect()
        }
    }

    fn p(name: &'static str, priority: i32, deps: &'static [&'static str]) -> Arc<dyn Plugin> {
        Arc::new(P {
            name,
            priority,
            deps,
            conflicts: &[],
        })
    }

    fn names(c: &PluginChain) -> Vec<&str> {
        c.plugins.iter().map(|p| p.name()).collect()
    }

    #[test]
    fn orders_by_dependencies_then_priority_then_name() {
        let chain = PluginChain::new(vec![
            p("audit", 0, &["rls"]),
            p("rls", 0, &[]),
            p("timestamps", 10, &[]),
            p("alpha", 0, &[]),
        ])
        .unwrap();
        assert_eq!(names(&chain), ["timestamps", "alpha", "rls", "audit"]);
    }

    #[test]
    fn dependency_beats_priority() {
        let chain =
            PluginChain::new(vec![p("late", 100, &["early"]), p("early", -5, &[])]).unwrap();
        assert_eq!(names(&chain), ["early", "late"]);
    }

    #[test]
    fn refuses_bad_configurations() {
        let msg = |r: Result<PluginChain>| match r {
            Err(Error::PluginConfig(m)) => m,
            other => panic!(
                "expected a plugin config error, got {:?}",
                other.map(|c| names(&c).join(","))
            ),
        };
        assert!(msg(PluginChain::new(vec![p("a", 0, &[]), p("a", 1, &[])])).contains("twice"));
        assert!(msg(PluginChain::new(vec![p("a", 0, &["b"])])).contains("depends on `b`"));
        assert!(
            msg(PluginChain::new(vec![
                p("a", 0, &["b"]),
                p("b", 0, &["a"]),
                p("c", 0, &[])
            ]))
            .contains("cycle among: a, b")
        );
        let conflicting: Arc<dyn Plugin> = Arc::new(P {
            name: "x",
            priority: 0,
            deps: &[],
            conflicts: &["y"],
        });
        assert!(
            msg(PluginChain::new(vec![conflicting, p("y", 0, &[])])).contains("conflicts with `y`")
        );
    }
}
