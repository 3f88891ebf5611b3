//! Kysera quick start on embedded SQLite: no server needed.
//!
//! `cargo run -p kysera-examples --example quickstart`

use std::sync::Arc;

use kysera::query::{Insert, Order, Query, Select, Update, col};
use kysera::{Plugin, QueryContext};

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

#[derive(Debug, sqlx::FromRow)]
struct Post {
    id: i64,
    title: String,
}

#[tokio::main]
async fn main() -> kysera::Result<()> {
    let db = kysera::connect("sqlite::memory:").await?;
    db.raw()
        .execute_sql(
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL, archived BOOLEAN NOT NULL DEFAULT FALSE)",
            vec![],
        )
        .await?;
    let db = db.with_plugins(vec![Arc::new(HideArchived)])?;

    // Insert two rows, with RETURNING.
    let created: Vec<Post> = db
        .fetch_all_as(
            Insert::into("posts")
                .columns(["title"])
                .values(["Hello, Kysera"])
                .values(["An old post"])
                .primary_key(["id"])
                .returning_all(),
        )
        .await?;
    println!("created: {created:?}");

    // Archive one, inside a transaction: the plugin applies there too.
    db.transaction(async |tx| {
        tx.execute(
            Update::table("posts")
                .set("archived", true)
                .filter(col("title").eq("An old post")),
        )
        .await
    })
    .await?;

    let visible: Vec<Post> = db
        .fetch_all_as(Select::from("posts").order_by(col("id"), Order::Asc))
        .await?;
    let everything = db.raw().fetch_all(Select::from("posts")).await?;
    for p in &visible {
        println!("visible through the plugin: #{} {}", p.id, p.title);
    }
    println!(
        "rows in the table (raw, bypassing plugins): {}",
        everything.len()
    );
    assert_eq!(visible.len(), 1);
    assert_eq!(everything.len(), 2);

    // Constraint violations come back classified.
    db.raw()
        .execute_sql("CREATE UNIQUE INDEX posts_title ON posts (title)", vec![])
        .await?;
    match db
        .execute(Insert::into("posts").set("title", "Hello, Kysera"))
        .await
    {
        Err(kysera::Error::UniqueViolation(v)) => {
            println!("duplicate title refused: columns {:?}", v.columns)
        }
        other => panic!("expected a unique violation, got {other:?}"),
    }
    Ok(())
}
