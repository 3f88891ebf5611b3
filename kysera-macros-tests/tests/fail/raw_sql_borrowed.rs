// A borrowed `&str` is not a `&'static str` literal: SQL text assembled at run time is refused
// even when passed by reference (the caller must wrap it in `kysera::AssertSqlSafe`).
async fn f(db: &kysera::Executor, name: &str) {
    let sql = format!("DELETE FROM users WHERE name = '{name}'");
    let _ = db.raw().execute_sql(sql.as_str(), vec![]).await;
}

fn main() {}
