//! `#[soft_delete]` and `#[timestamps]` in their shapes: defaults, named columns, naive and
//! UTC times, optional timestamps; managed columns are not in the insert or patch struct.
use chrono::{DateTime, NaiveDateTime, Utc};
use kysera::{Model, Repository, TimestampKind};

#[derive(Debug, Repository)]
#[soft_delete]
#[timestamps]
#[audit(operations(create, delete), new_values = true, exclude(title))]
struct Post {
    #[kysera(generated)]
    id: i64,
    title: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Repository)]
#[soft_delete(column = "removed")]
#[timestamps(created_at = "born")]
struct Tag {
    id: i64,
    #[kysera(rename = "removed")]
    gone: Option<NaiveDateTime>,
    born: Option<NaiveDateTime>,
}

async fn uses(db: &kysera::Executor) -> kysera::Result<()> {
    let posts = Post::repo(db);
    let p = posts.create(NewPost { title: "t".into() }).await?;
    posts.soft_delete(p.id).await?;
    posts.restore(p.id).await?;
    posts.touch(p.id).await?;
    posts.find_deleted().all().await?;
    posts.find_created_after(chrono::Utc::now()).await?;
    posts.audit_history(p.id).await?;
    posts.restore_from_audit(1).await?;
    let tags = Tag::repo(db);
    tags.create(NewTag { id: 1 }).await?;
    tags.find_created_before(chrono::Utc::now()).await?;
    tags.soft_delete_many(Tag::ID.gt(0)).await?;
    Ok(())
}

fn main() {
    let _ = uses;
    let sd = Post::INFO.soft_delete.unwrap();
    assert_eq!((sd.name, sd.kind), ("deleted_at", TimestampKind::Utc));
    assert_eq!(Tag::INFO.soft_delete.unwrap().name, "removed");
    assert_eq!(Tag::INFO.created_at.unwrap().kind, TimestampKind::Naive);
    assert!(Tag::INFO.updated_at.is_none());
    let audit = Post::INFO.audit.unwrap();
    assert!(audit.create && !audit.update && audit.delete && audit.old_values);
    assert_eq!(audit.exclude, ["title"]);
    assert!(Tag::INFO.audit.is_none());
    let _patch = PostPatch::default().title("x");
}
