//! The smallest model: the key is the field named `id`, the table `users`.
use kysera::{Model, Repository};

#[derive(Debug, Repository)]
pub struct User {
    pub id: i64,
    pub email: String,
}

fn main() {
    assert_eq!(User::INFO.table, "users");
    assert_eq!(User::INFO.primary_key, ["id"]);
    let _new = NewUser { id: 1, email: "a@b.co".into() };
    let _patch = UserPatch::default().email("b@c.de");
    let _filter = User::EMAIL.eq("a@b.co").and(User::ID.gt(3));
}
