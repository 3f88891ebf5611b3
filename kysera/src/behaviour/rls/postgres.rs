//! PostgreSQL native row-level security: the settings each transaction sets, and the policy
//! statements that make the database enforce tenant isolation itself.

use super::context::current;
use crate::query::Value;

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

/// The settings a transaction sets for PostgreSQL native RLS under the current auth context:
/// `kysera.tenant_id`, `kysera.user_id`, `kysera.roles` (comma-separated) and `kysera.system`
/// (`on`/`off`); none outside any context.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn transaction_settings() -> Vec<(&'static str, String)> {
    let Some(ctx) = current() else {
        return Vec::new();
    };
    vec![
        ("kysera.tenant_id", setting_text(&ctx.tenant_id)),
        ("kysera.user_id", setting_text(&ctx.user_id)),
        ("kysera.roles", ctx.roles.join(",")),
        (
            "kysera.system",
            if ctx.system { "on" } else { "off" }.to_string(),
        ),
    ]
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

    #[test]
    fn setting_texts() {
        assert_eq!(setting_text(&Some(Value::from("acme"))), "acme");
        assert_eq!(setting_text(&Some(Value::from(42i64))), "42");
        assert_eq!(setting_text(&None), "");
    }
}
