// `#[derive(kysera::FromRow)]`: fields read by name, renamed, skipped; every decodable type.
#[derive(kysera::FromRow)]
struct Summary {
    id: i64,
    #[kysera(rename = "display_name")]
    name: String,
    age: Option<i32>,
    score: f64,
    active: bool,
    avatar: Option<Vec<u8>>,
    born: Option<chrono::NaiveDate>,
    seen_at: chrono::DateTime<chrono::Utc>,
    token: uuid::Uuid,
    prefs: serde_json::Value,
    #[kysera(skip)]
    cached: Vec<String>,
}

async fn read(db: &kysera::Executor) -> kysera::Result<Vec<Summary>> {
    db.fetch_all_as::<Summary>(kysera::query::Select::from("users")).await
}

fn main() {
    let _ = read;
}
