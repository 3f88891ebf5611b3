// Methods of a behaviour exist only on models that declare it.
#[derive(kysera::Repository)]
struct User {
    #[kysera(generated)]
    id: i64,
}

async fn f(db: &kysera::Executor) {
    let users = User::repo(db);
    let _ = users.soft_delete(1).await;
    let _ = users.restore(1).await;
    let _ = users.touch(1).await;
    let _ = users.find().with_deleted();
}

fn main() {}
