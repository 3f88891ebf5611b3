// Behaviour methods on a model that does not declare the behaviour: the error names the
// attribute to add, not "method not found".
#[derive(kysera::Repository)]
struct Post {
    #[kysera(primary_key, generated)]
    id: i64,
    title: String,
}

async fn use_it(db: &kysera::Executor) {
    let posts = Post::repo(db);
    let _ = posts.soft_delete(1).await;
    let _ = posts.restore(1).await;
    let _ = posts.touch(1).await;
    let _ = posts.find_created_after(chrono::Utc::now()).await;
    let _ = kysera::dal::soft_delete::<Post>(db, &1).await;
}

fn main() {
    let _ = use_it;
}
