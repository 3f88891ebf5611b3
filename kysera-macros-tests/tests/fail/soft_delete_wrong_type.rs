#[derive(kysera::Repository)]
#[soft_delete]
struct Post {
    id: i64,
    deleted_at: chrono::DateTime<chrono::Utc>,
}

#[derive(kysera::Repository)]
#[soft_delete]
struct Comment {
    id: i64,
    deleted_at: Option<bool>,
}

fn main() {}
