// A typed column of one model in another model's query is a compile error that says so.
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
}

async fn use_it(db: &kysera::Executor) {
    let posts = Post::repo(db);
    let _ = posts.find_many(User::AGE.gte(18)).await;
    let _ = posts.count(User::AGE.gte(18)).await;
    let _ = posts.find().filter(User::AGE.gte(18));
    let _ = Post::AUTHOR_ID.eq(1).and(User::AGE.gte(18));
    let _ = kysera::dal::delete_many::<Post>(db, User::AGE.gte(18)).await;
}

fn main() {
    let _ = use_it;
}
