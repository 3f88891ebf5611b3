#[derive(kysera::Repository)]
#[soft_delete(colum = "deleted_at")]
struct Post {
    id: i64,
    deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(kysera::Repository)]
#[soft_delete]
#[soft_delete]
struct Comment {
    id: i64,
    deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn main() {}
