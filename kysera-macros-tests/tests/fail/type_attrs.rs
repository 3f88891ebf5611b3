// The attributes of `#[derive(kysera::Type)]`, each mistake on its own span.
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
#[kysera(rename_all = "snake-case")]
enum Style {
    A,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
#[kysera(repr = "u8")]
enum Small {
    A = 1,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
#[kysera(repr = "i32", rename_all = "snake_case")]
enum Both {
    A = 1,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
#[kysera(rename_all = "snake_case")]
struct Id(i64);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
#[kysera(rename_al = "snake_case")]
enum Typo {
    A,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
enum Twice {
    Open,
    #[kysera(rename = "Open")]
    Reopened,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
#[kysera(repr = "i32")]
enum Renamed {
    #[kysera(rename = "one")]
    One = 1,
}

fn main() {}
