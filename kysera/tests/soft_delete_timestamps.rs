//! `#[soft_delete]` and `#[timestamps]` on every configured database: each effect is checked by
//! reading the rows back (raw, past every filter). Each run gets a fresh database of its own
//! (`#[kysera::test]`), MySQL twice: with MariaDB's own RETURNING and with the emulation.
#![cfg(feature = "testing")]

mod common;

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use kysera::query::{Insert, Order, Select, Update, col};
use kysera::{Dialect, Error, Executor, FixedClock, Model, Repository};

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_sd_posts")]
#[soft_delete]
#[timestamps]
struct Post {
    #[kysera(primary_key, generated)]
    id: i64,
    title: String,
    author_id: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_sd_authors")]
#[soft_delete(column = "removed_at")]
#[timestamps(updated_at = "changed")]
struct Author {
    #[kysera(primary_key, generated)]
    id: i64,
    name: String,
    changed: Option<NaiveDateTime>,
    removed_at: Option<NaiveDateTime>,
}

/// The two tables, in the test's own database.
async fn schema(db: &Executor) {
    let (posts, authors) = (Post::INFO.table, Author::INFO.table);
    let d = db.dialect();
    let (utc, naive) = match d {
        Dialect::Postgres => ("TIMESTAMPTZ", "TIMESTAMP"),
        Dialect::MySql => ("DATETIME(6)", "DATETIME(6)"),
        _ => ("TEXT", "TEXT"),
    };
    common::ddl(
        db,
        &format!(
            "CREATE TABLE {} ({}, title VARCHAR(100) NOT NULL, author_id BIGINT NOT NULL, \
             created_at {utc} NOT NULL, updated_at {utc} NOT NULL, deleted_at {utc} NULL)",
            posts,
            common::id_column(d)
        ),
    )
    .await;
    common::ddl(
        db,
        &format!(
            "CREATE TABLE {} ({}, name VARCHAR(100) NOT NULL, changed {naive} NULL, removed_at {naive} NULL)",
            authors,
            common::id_column(d)
        ),
    )
    .await;
}

/// The row as stored, whatever the filters say.
async fn stored<M: Model>(db: &Executor, id: i64) -> Option<M> {
    db.raw()
        .fetch_all(M::select().filter(col("id").eq(id)))
        .await
        .unwrap()
        .first()
        .map(|r| M::from_row(r).unwrap())
}

fn new_post(title: &str, author_id: i64) -> NewPost {
    NewPost {
        title: title.into(),
        author_id,
    }
}

#[kysera::test(databases = "all, mysql-emulated")]
async fn timestamps_are_set_from_the_clock(plain: Executor) {
    let t0: DateTime<Utc> = "2026-11-25T10:00:00.123456Z".parse().unwrap();

    let d = plain.dialect();
    schema(&plain).await;
    let clock = Arc::new(FixedClock::new(t0));
    let db = plain.with_clock(clock.clone());
    let posts = Post::repo(&db);

    let p = posts.create(new_post("a", 1)).await.unwrap();
    let s = stored::<Post>(&db, p.id).await.unwrap();
    assert_eq!(
        (s.created_at, s.updated_at, s.deleted_at),
        (t0, t0, None),
        "{d}"
    );

    clock.advance(TimeDelta::seconds(60));
    let t1 = t0 + TimeDelta::seconds(60);
    posts
        .update(p.id, PostPatch::default().title("a2"))
        .await
        .unwrap();
    let s = stored::<Post>(&db, p.id).await.unwrap();
    assert_eq!(
        (s.title.as_str(), s.created_at, s.updated_at),
        ("a2", t0, t1),
        "{d}"
    );

    // update_many, and a builder update: updated_at follows the clock.
    posts
        .create_many(vec![new_post("b", 1), new_post("c", 2)])
        .await
        .unwrap();
    clock.advance(TimeDelta::seconds(60));
    let t2 = t1 + TimeDelta::seconds(60);
    assert_eq!(
        posts
            .update_many(Post::AUTHOR_ID.eq(1), PostPatch::default().author_id(3))
            .await
            .unwrap(),
        2,
        "{d}"
    );
    let moved = db
        .raw()
        .fetch_all(Post::select().filter(Post::AUTHOR_ID.eq(3)))
        .await
        .unwrap();
    assert!(
        moved
            .iter()
            .all(|r| Post::from_row(r).unwrap().updated_at == t2),
        "{d}"
    );
    db.execute(
        Update::table(Post::INFO.table)
            .set("title", "c2")
            .filter(col("title").eq("c")),
    )
    .await
    .unwrap();
    let c = posts.find_one(Post::TITLE.eq("c2")).await.unwrap().unwrap();
    assert_eq!((c.created_at, c.updated_at), (t1, t2), "{d}");

    // User input never overwrites the timestamps, unless asked.
    let forged: DateTime<Utc> = "2000-01-01T00:00:00Z".parse().unwrap();
    db.execute(
        Insert::into(Post::INFO.table)
            .set("title", "forged")
            .set("author_id", 9i64)
            .set("created_at", forged)
            .set("updated_at", forged),
    )
    .await
    .unwrap();
    let f = posts
        .find_one(Post::TITLE.eq("forged"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((f.created_at, f.updated_at), (t2, t2), "{d}");
    db.execute(
        Insert::into(Post::INFO.table)
            .set("title", "imported")
            .set("author_id", 9i64)
            .set("created_at", forged)
            .set("updated_at", forged)
            .preserve_timestamps(),
    )
    .await
    .unwrap();
    let imported = posts
        .find_one(Post::TITLE.eq("imported"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (imported.created_at, imported.updated_at),
        (forged, forged),
        "{d}"
    );

    // touch and the time queries.
    clock.advance(TimeDelta::seconds(60));
    let t3 = t2 + TimeDelta::seconds(60);
    assert_eq!(posts.touch(p.id).await.unwrap().updated_at, t3, "{d}");
    assert_eq!(
        stored::<Post>(&db, p.id).await.unwrap().updated_at,
        t3,
        "{d}"
    );
    assert!(
        matches!(posts.touch(-1).await, Err(Error::NotFound(_))),
        "{d}"
    );
    let titles = |v: Vec<Post>| v.into_iter().map(|p| p.title).collect::<Vec<_>>();
    assert_eq!(
        titles(posts.find_created_after(t0).await.unwrap()),
        ["b", "c2", "forged"],
        "{d}"
    );
    assert_eq!(
        titles(posts.find_created_before(t1).await.unwrap()),
        ["imported", "a2"],
        "{d}"
    );
    assert_eq!(
        titles(posts.find_updated_after(t2).await.unwrap()),
        ["a2"],
        "{d}"
    );

    // A NaiveDateTime timestamp with its own column name, and no created_at.
    let a = Author::repo(&db)
        .create(NewAuthor { name: "ann".into() })
        .await
        .unwrap();
    assert_eq!(a.changed, Some(t3.naive_utc()), "{d}");
}

#[kysera::test(databases = "all, mysql-emulated")]
async fn soft_deleted_rows_are_hidden_everywhere(plain: Executor) {
    let t0: DateTime<Utc> = "2026-11-25T12:00:00Z".parse().unwrap();

    let d = plain.dialect();
    schema(&plain).await;
    let clock = Arc::new(FixedClock::new(t0));
    let db = plain.with_clock(clock.clone());
    let posts = Post::repo(&db);
    let authors = Author::repo(&db);
    let ann = authors
        .create(NewAuthor { name: "ann".into() })
        .await
        .unwrap();
    let bob = authors
        .create(NewAuthor { name: "bob".into() })
        .await
        .unwrap();
    let p1 = posts.create(new_post("p1", ann.id)).await.unwrap();
    let p2 = posts.create(new_post("p2", ann.id)).await.unwrap();
    let p3 = posts.create(new_post("p3", bob.id)).await.unwrap();

    clock.advance(TimeDelta::seconds(5));
    let t1 = t0 + TimeDelta::seconds(5);
    let gone = posts.soft_delete(p1.id).await.unwrap();
    assert_eq!(gone.deleted_at, Some(t1), "{d}");
    // Still in the table, marked.
    let s = stored::<Post>(&db, p1.id).await.unwrap();
    assert_eq!((s.deleted_at, s.updated_at), (Some(t1), t1), "{d}");

    // Hidden from the repository, the DAL, the builder, counts and pages.
    assert_eq!(posts.find_by_id(p1.id).await.unwrap(), None, "{d}");
    assert_eq!(posts.find_all().await.unwrap().len(), 2, "{d}");
    assert_eq!(posts.count(None).await.unwrap(), 2, "{d}");
    assert!(!posts.exists(Post::ID.eq(p1.id)).await.unwrap(), "{d}");
    assert_eq!(
        kysera::dal::find_many::<Post>(&db, Post::AUTHOR_ID.eq(ann.id))
            .await
            .unwrap()
            .len(),
        1,
        "{d}"
    );
    assert_eq!(
        db.count(Select::from(Post::INFO.table)).await.unwrap(),
        2,
        "{d}"
    );
    assert_eq!(posts.find().page(1, 10).await.unwrap().total, 2, "{d}");
    // …and from joins: an inner join drops it, a left join keeps the author without it.
    let joined = db
        .fetch_all(
            Select::from(Author::INFO.table)
                .alias("a")
                .column(col("p.title"))
                .inner_join(
                    Post::INFO.table,
                    "p",
                    col("p.author_id").eq_col(col("a.id")),
                )
                .order_by(col("p.title"), Order::Asc),
        )
        .await
        .unwrap();
    let titles: Vec<String> = joined.iter().map(|r| r.get("title").unwrap()).collect();
    assert_eq!(titles, ["p2", "p3"], "{d}");
    // Updates do not reach it.
    assert!(
        matches!(
            posts.update(p1.id, PostPatch::default().title("x")).await,
            Err(Error::NotFound(_))
        ),
        "{d}"
    );
    assert!(
        matches!(posts.soft_delete(p1.id).await, Err(Error::NotFound(_))),
        "{d}: twice"
    );

    // Asked for explicitly, it is there.
    assert_eq!(posts.find_with_deleted().count().await.unwrap(), 3, "{d}");
    let deleted = posts.find_deleted().all().await.unwrap();
    assert_eq!(
        deleted.iter().map(|p| p.id).collect::<Vec<_>>(),
        [p1.id],
        "{d}"
    );
    assert!(
        posts
            .find_by_id_with_deleted(p1.id)
            .await
            .unwrap()
            .is_some(),
        "{d}"
    );
    assert_eq!(
        db.count(Select::from(Post::INFO.table).with_deleted())
            .await
            .unwrap(),
        3,
        "{d}"
    );

    // Restore: back in every query; restoring a live or missing row is NotFound.
    let back = posts.restore(p1.id).await.unwrap();
    assert_eq!(back.deleted_at, None, "{d}");
    assert_eq!(
        stored::<Post>(&db, p1.id).await.unwrap().deleted_at,
        None,
        "{d}"
    );
    assert_eq!(posts.count(None).await.unwrap(), 3, "{d}");
    assert!(
        matches!(posts.restore(p1.id).await, Err(Error::NotFound(_))),
        "{d}"
    );
    assert!(
        matches!(posts.restore(-7).await, Err(Error::NotFound(_))),
        "{d}"
    );

    // Many at once; a soft-deleted author drops out of joins with its posts.
    assert_eq!(
        posts
            .soft_delete_many(Post::AUTHOR_ID.eq(ann.id))
            .await
            .unwrap(),
        2,
        "{d}"
    );
    assert_eq!(posts.count(None).await.unwrap(), 1, "{d}");
    let removed = authors.soft_delete(bob.id).await.unwrap();
    assert_eq!(removed.removed_at, Some(t1.naive_utc()), "{d}");
    let left = db
        .fetch_all(
            Select::from(Post::INFO.table)
                .alias("p")
                .column(col("p.title"))
                .expr_as(col("a.name"), "author")
                .left_join(
                    Author::INFO.table,
                    "a",
                    col("a.id").eq_col(col("p.author_id")),
                ),
        )
        .await
        .unwrap();
    assert_eq!(left.len(), 1, "{d}");
    assert_eq!(
        left[0].get::<Option<String>>("author").unwrap(),
        None,
        "{d}: the deleted author is not joined"
    );

    // Inside a transaction the same; a rolled-back soft delete leaves the row live.
    let p3_id = p3.id;
    let res: kysera::Result<()> = db
        .transaction(async move |tx| {
            let repo = Post::repo(&tx);
            repo.soft_delete(p3_id).await?;
            assert_eq!(repo.count(None).await?, 0);
            Err(Error::InvalidQuery("roll back".into()))
        })
        .await;
    assert!(res.is_err());
    assert_eq!(
        stored::<Post>(&db, p3.id).await.unwrap().deleted_at,
        None,
        "{d}"
    );

    // An upsert onto a soft-deleted row revives it, bumps updated_at, keeps created_at.
    let p4 = posts.create(new_post("p4", ann.id)).await.unwrap();
    posts.soft_delete(p4.id).await.unwrap();
    clock.advance(TimeDelta::seconds(5));
    let t2 = t1 + TimeDelta::seconds(5);
    let upsert = Insert::into(Post::INFO.table)
        .set("id", p4.id)
        .set("title", "p4-again")
        .set("author_id", ann.id)
        .on_conflict_update(["id"], ["title", "created_at"])
        .primary_key(["id"])
        .returning_all();
    let revived = Post::from_row(&db.fetch_one(upsert).await.unwrap()).unwrap();
    assert_eq!(
        (
            revived.title.as_str(),
            revived.deleted_at,
            revived.created_at,
            revived.updated_at
        ),
        ("p4-again", None, p4.created_at, t2),
        "{d}"
    );
    assert_eq!(stored::<Post>(&db, p4.id).await.unwrap(), revived, "{d}");
    posts.hard_delete(p4.id).await.unwrap();

    // A RIGHT JOIN would return hidden rows: refused.
    let right = db
        .fetch_all(Select::from(Post::INFO.table).join(
            kysera::query::JoinKind::Right,
            Author::INFO.table,
            "a",
            col("a.id").eq_col(col("author_id")),
        ))
        .await;
    assert!(
        matches!(right, Err(Error::InvalidQuery(_))),
        "{d}: {right:?}"
    );

    // delete is a hard delete, and reaches soft-deleted rows too.
    posts.hard_delete(p2.id).await.unwrap();
    assert_eq!(stored::<Post>(&db, p2.id).await, None, "{d}");
    posts.delete(p3.id).await.unwrap();
    assert_eq!(stored::<Post>(&db, p3.id).await, None, "{d}");
    assert_eq!(posts.find_with_deleted().count().await.unwrap(), 1, "{d}");
}
