// Audit methods exist only on models that declare #[audit].
#[derive(kysera::Repository)]
struct User {
    #[kysera(generated)]
    id: i64,
}

async fn f(db: &kysera::Executor) {
    let _ = User::repo(db).audit_history(1).await;
    let _ = User::repo(db).restore_from_audit(7).await;
}

fn main() {}
