// Typed columns of several models work together where a join brings them in, and a model's
// queries take its own conditions, untyped ones, and `None`.
use kysera::query::{Filter, Select, col};

#[derive(kysera::Repository)]
struct User {
    #[kysera(generated)]
    id: i64,
    age: i32,
}

#[derive(kysera::Repository)]
struct Post {
    #[kysera(generated)]
    id: i64,
    author_id: i64,
    title: String,
}

async fn use_it(db: &kysera::Executor) -> kysera::Result<()> {
    let joined = Select::from("post")
        .inner_join("user", "", Post::AUTHOR_ID.of("post").eq_col(User::ID.of("user")))
        .filter(User::AGE.of("user").gte(18))
        .filter(Post::TITLE.like("%rust%"));
    let _ = db.fetch_all(joined).await?;
    let posts = Post::repo(db);
    let _ = posts
        .find_many(Post::TITLE.like("a%").and(!Post::AUTHOR_ID.eq(3)).or(col("x").eq(1)))
        .await?;
    let _ = posts.count(None).await?;
    let _ = posts.count(Post::AUTHOR_ID.is_in([1, 2])).await?;
    // The explicit way out of the check.
    let _ = posts.find_many(Filter::from(User::AGE.gte(18))).await;
    let _ = kysera::dal::count::<Post>(db, None).await?;
    Ok(())
}

fn main() {
    let _ = use_it;
}
