//! Kysera quick start on embedded SQLite: no server needed.
//!
//! `cargo run -p kysera-examples --example quickstart`

use std::sync::Arc;

use kysera::query::{Query, col};
use kysera::{Model, Plugin, QueryContext, Repository};

/// A model: the derive generates `NewPost`, `PostPatch`, typed columns (`Post::TITLE`) and
/// `Post::repo(&db)`.
#[derive(Debug, Repository)]
#[kysera(table = "posts")]
struct Post {
    #[kysera(primary_key, generated)]
    id: i64,
    #[kysera(validate(length(min = 1, max = 200)))]
    title: String,
    #[kysera(default)]
    archived: bool,
    views: i64,
}

/// A plugin that hides archived posts from every query, the way soft delete works.
struct HideArchived;

impl Plugin for HideArchived {
    fn name(&self) -> &str {
        "hide-archived"
    }
    fn intercept(&self, query: &mut Query, _cx: &QueryContext) -> kysera::Result<()> {
        if query.table() == "posts" && !matches!(query, Query::Insert(_)) {
            query.add_filter(col("archived").eq(false))?;
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> kysera::Result<()> {
    let db = kysera::connect("sqlite::memory:").await?;
    // The schema: the migrations in examples/migrations, embedded at compile time.
    let applied = kysera::migrations!("migrations").up(&db).await?;
    println!("migrations applied: {applied:?}");
    let db = db.with_plugins(vec![Arc::new(HideArchived)])?;
    let posts = Post::repo(&db);

    // Create (validated first; defaults filled in by the database).
    let hello = posts
        .create(NewPost {
            title: "Hello, Kysera".into(),
            archived: None,
            views: 0,
        })
        .await?;
    posts
        .create_many(vec![
            NewPost {
                title: "An old post".into(),
                archived: None,
                views: 7,
            },
            NewPost {
                title: "Draft".into(),
                archived: None,
                views: 1,
            },
        ])
        .await?;
    println!("created #{} {:?}", hello.id, hello.title);

    // Update with a patch: only the fields set change.
    let hello = posts
        .update(hello.id, PostPatch::default().views(hello.views + 1))
        .await?;
    println!("after update: {hello:?}");

    // Archive one inside a transaction; the plugin applies there too.
    db.transaction(async |tx| {
        Post::repo(&tx)
            .update_many(
                Post::TITLE.eq("An old post"),
                PostPatch::default().archived(true),
            )
            .await
    })
    .await?;

    // Typed filters and pagination.
    let page = posts
        .find()
        .filter(Post::VIEWS.gte(1))
        .order_by(Post::VIEWS.desc())
        .page(1, 10)
        .await?;
    println!(
        "page 1: {} of {} visible posts",
        page.items.len(),
        page.total
    );
    for p in &page.items {
        println!("  #{} {} ({} views)", p.id, p.title, p.views);
    }
    let all = db.raw().fetch_all(Post::select()).await?;
    println!("rows in the table (raw, bypassing plugins): {}", all.len());
    assert_eq!(page.total, 2);
    assert_eq!(all.len(), 3);

    // Bad input never reaches the database; constraint violations come back classified.
    match posts
        .create(NewPost {
            title: String::new(),
            archived: None,
            views: 0,
        })
        .await
    {
        Err(kysera::Error::Validation(v)) => println!("refused: {v}"),
        other => panic!("expected a validation error, got {other:?}"),
    }
    match posts
        .create(NewPost {
            title: "Draft".into(),
            archived: None,
            views: 0,
        })
        .await
    {
        Err(kysera::Error::UniqueViolation(v)) => {
            println!("duplicate title refused: columns {:?}", v.columns)
        }
        other => panic!("expected a unique violation, got {other:?}"),
    }
    Ok(())
}
