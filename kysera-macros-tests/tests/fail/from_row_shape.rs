// `FromRow` reads a row into a struct with named fields: other shapes are refused on their
// keyword or fields.
#[derive(kysera::FromRow)]
struct Pair(i64, String);

#[derive(kysera::FromRow)]
enum Either {
    A,
}

#[derive(kysera::FromRow)]
struct Wrapped<T> {
    value: T,
}

fn main() {}
