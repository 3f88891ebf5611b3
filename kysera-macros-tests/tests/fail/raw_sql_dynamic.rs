// Raw SQL text built at run time must be vouched for with `AssertSqlSafe` (sqlx's guard): a
// `String` (perhaps from user input) is refused, so building SQL is visible in the caller's code.
async fn f(db: &kysera::Executor, name: &str) {
    let sql = format!("DELETE FROM users WHERE name = '{name}'");
    let _ = db.raw().fetch_all_sql(sql, vec![]).await;
    // Accepted: a literal, or text the caller asserts is safe.
    let _ = db.raw().execute_sql("DELETE FROM users", vec![]).await;
    let _ = db
        .raw()
        .execute_sql(kysera::AssertSqlSafe(format!("DELETE FROM {}", "users")), vec![])
        .await;
}

fn main() {}
