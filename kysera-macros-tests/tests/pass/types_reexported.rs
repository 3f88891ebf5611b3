// A model's field types come through `kysera::types`, at the versions Kysera decodes, so a
// program needs no direct dependency on chrono, uuid or serde_json.
use kysera::types::chrono::{DateTime, NaiveDate, Utc};
use kysera::types::uuid::Uuid;
use kysera::types::{Json, serde_json};

#[derive(kysera::FromRow)]
struct Profile {
    id: Uuid,
    born: Option<NaiveDate>,
    seen: DateTime<Utc>,
    extra: serde_json::Value,
    settings: Json<Vec<String>>,
}

#[derive(kysera::Repository)]
struct Account {
    #[kysera(primary_key)]
    id: Uuid,
    seen: DateTime<Utc>,
    extra: serde_json::Value,
}

fn main() {
    let _ = |p: Profile| (p.id, p.born, p.seen, p.extra, p.settings.0.len());
    let _ = Account::SEEN.gt(Utc::now());
}
