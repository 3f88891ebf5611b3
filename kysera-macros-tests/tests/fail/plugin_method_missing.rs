// Methods of a plugin exist only on models that declare it.
#[derive(kysera::Repository)]
struct User {
    id: i64,
}

async fn f(db: &kysera::Executor) {
    let _ = User::repo(db).soft_delete(1).await;
}

fn main() {}
