//! A composite key: `Id` is a tuple in field order.
use kysera::{Model, Repository};

#[derive(Debug, Repository)]
#[kysera(table = "memberships")]
struct Membership {
    #[kysera(primary_key)]
    org_id: i64,
    #[kysera(primary_key)]
    user_id: uuid::Uuid,
    role: String,
}

fn main() {
    let m = Membership { org_id: 1, user_id: uuid::Uuid::nil(), role: "x".into() };
    let id: (i64, uuid::Uuid) = m.id();
    assert_eq!(Membership::id_values(&id).len(), 2);
    assert_eq!(Membership::INFO.primary_key, ["org_id", "user_id"]);
}
