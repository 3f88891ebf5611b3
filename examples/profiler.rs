//! The query profiler on embedded SQLite: an N+1 loop flagged with where it runs from, the
//! batched read that replaces it, and the per-statement table.
//!
//! `cargo run -p kysera-examples --example profiler`

use kysera::Repository;
use kysera::debug::QueryProfiler;

#[derive(Debug, Repository)]
#[kysera(table = "authors")]
struct Author {
    #[kysera(primary_key, generated)]
    id: i64,
    name: String,
}

#[derive(Debug, Repository)]
#[kysera(table = "books")]
struct Book {
    #[kysera(primary_key, generated)]
    id: i64,
    author_id: i64,
    title: String,
}

#[tokio::main]
async fn main() -> kysera::Result<()> {
    let db = kysera::connect("sqlite::memory:").await?;
    for ddl in [
        "CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL, title TEXT NOT NULL)",
    ] {
        db.raw()
            .execute_sql(kysera::sqlx::AssertSqlSafe(ddl), vec![])
            .await?;
    }
    let profiler = QueryProfiler::new();
    let db = profiler.attach(&db);
    let authors = Author::repo(&db);
    let books = Book::repo(&db);
    for a in 1..=20i64 {
        let author = authors
            .create(NewAuthor {
                name: format!("Author {a}"),
            })
            .await?;
        for b in 1..=3 {
            books
                .create(NewBook {
                    author_id: author.id,
                    title: format!("Book {a}.{b}"),
                })
                .await?;
        }
    }

    // One read per author: the N+1 the scope flags.
    let (_, looped) = profiler
        .scope(async {
            let mut titles = 0;
            for author in authors.find_all().await? {
                titles += books.find_many(Book::AUTHOR_ID.eq(author.id)).await?.len();
            }
            Ok::<_, kysera::Error>(titles)
        })
        .await;
    for n in &looped.repeated {
        println!(
            "N+1: `{}` ran {} times in one scope, first from {}",
            n.statement,
            n.count,
            n.location.as_deref().unwrap_or("an unknown place")
        );
    }

    // The same, batched: two statements, nothing flagged.
    let (_, batched) = profiler
        .scope(async {
            let all = authors.find_all().await?;
            let ids: Vec<i64> = all.iter().map(|a| a.id).collect();
            books.find_many(Book::AUTHOR_ID.is_in(ids)).await
        })
        .await;
    println!(
        "batched: {} statements, {} flagged\n",
        batched.statements,
        batched.repeated.len()
    );
    println!("{}", profiler.report());
    Ok(())
}
