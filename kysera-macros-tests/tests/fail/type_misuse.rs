// An own column type is still typed: a column of it compares only with values of it, and a
// newtype of something that is not a column type is not one either.
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
#[serde(transparent)]
struct UserId(i64);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
enum Status {
    Active,
    Closed,
}

#[derive(Debug, kysera::Repository)]
struct User {
    id: UserId,
    status: Status,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
struct Hits(u64);

fn main() {
    let _ = User::ID.eq(5i64);
    let _ = User::STATUS.eq("Active");
}
