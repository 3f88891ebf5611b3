use chrono::{DateTime, Local, Utc};

#[derive(kysera::Repository)]
struct OnField {
    id: i64,
    #[soft_delete]
    deleted_at: Option<DateTime<Utc>>,
}

#[derive(kysera::Repository)]
#[soft_delete]
#[timestamps(updated_at = "deleted_at")]
struct Shared {
    id: i64,
    deleted_at: Option<DateTime<Utc>>,
}

#[derive(kysera::Repository)]
#[timestamps]
struct LocalTime {
    id: i64,
    created_at: DateTime<Local>,
}

#[derive(kysera::Repository)]
#[timestamps]
struct Generated {
    id: i64,
    #[kysera(generated)]
    created_at: DateTime<Utc>,
}

fn main() {}
