#[derive(kysera::Repository)]
#[timestamps]
struct NoFields {
    id: i64,
}

#[derive(kysera::Repository)]
#[timestamps]
struct WrongType {
    id: i64,
    created_at: String,
    updated_at: i64,
}

#[derive(kysera::Repository)]
#[timestamps(updated_at = "modified")]
struct MissingNamed {
    id: i64,
    created_at: chrono::DateTime<chrono::Utc>,
}

fn main() {}
