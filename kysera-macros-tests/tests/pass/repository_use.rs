//! The generated API used the way applications use it, on a transaction too.
use kysera::Repository;

#[derive(Debug, Clone, Repository)]
struct Post {
    #[kysera(primary_key, generated)]
    id: i64,
    title: String,
    views: i64,
}

kysera::repositories! {
    struct Repos { posts: Post }
}

async fn handler(db: &kysera::Executor) -> kysera::Result<Vec<Post>> {
    let posts = Post::repo(db);
    let p = posts.create(NewPost { title: "hi".into(), views: 0 }).await?;
    posts.update(p.id, PostPatch::default().views(p.views + 1)).await?;
    db.transaction(async |tx| {
        let repos = Repos::new(&tx);
        repos.posts.delete_many(Post::VIEWS.eq(0)).await?;
        kysera::Result::<()>::Ok(())
    })
    .await?;
    posts.find().filter(Post::TITLE.like("h%")).order_by(Post::ID.desc()).limit(10).all().await
}

fn main() {
    let _ = handler;
}
