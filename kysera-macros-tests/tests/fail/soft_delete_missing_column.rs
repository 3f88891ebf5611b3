#[derive(kysera::Repository)]
#[soft_delete]
struct Post {
    id: i64,
    title: String,
}

#[derive(kysera::Repository)]
#[soft_delete(column = "removed")]
struct Comment {
    id: i64,
    deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn main() {}
