// `#[derive(kysera::Type)]` takes a struct of exactly one field (not an Option) or an enum of
// unit variants; every other shape is refused on its own span, all in one build.
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
struct Point(i64, i64);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
struct Empty;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
struct MaybeId(Option<i64>);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
enum Shape {
    Circle(f64),
    Square { side: f64 },
    Dot,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
enum Never {}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
struct Wrapper<T>(T);

fn main() {}
