#[derive(kysera::Repository)]
struct User {
    id: i64,
    #[kysera(generated, default)]
    created_at: chrono::NaiveDateTime,
    #[kysera(skip, rename = "c")]
    cache: String,
}

fn main() {}
