// One mistake in a #[soft_delete] model is one error: its soft-delete methods stay callable.
#[derive(kysera::Repository)]
#[soft_delete]
struct Post {
    id: i64,
    #[kysera(renam = "t")]
    title: String,
    deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

async fn f(db: &kysera::Executor) {
    let posts = Post::repo(db);
    let _ = posts.soft_delete(()).await;
    let _ = posts.find_deleted();
}

fn main() {}
