// Own column types in a model: a newtype key, an optional newtype, enums as text and as
// integers; typed columns compare with values of them.
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
#[serde(transparent)]
struct UserId(i64);

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
#[kysera(rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Role {
    Admin,
    ReadOnly,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
#[kysera(repr = "i16")]
enum Level {
    Low = -1,
    High = 3,
}

#[derive(Debug, kysera::Repository)]
struct Member {
    #[kysera(primary_key)]
    id: UserId,
    invited_by: Option<UserId>,
    role: Role,
    level: Option<Level>,
}

fn main() {
    let _ = Member::ID.eq(UserId(1));
    let _ = Member::INVITED_BY.eq(UserId(2));
    let _ = Member::INVITED_BY.is_null();
    let _ = Member::ROLE.eq(Role::ReadOnly);
    let _ = Member::ROLE.like("READ%");
    let _ = Member::LEVEL.eq(Level::High);
    let _ = NewMember {
        id: UserId(1),
        invited_by: None,
        role: Role::Admin,
        level: Some(Level::Low),
    };
}
