#[derive(kysera::Repository)]
struct Wrapper<T> {
    id: i64,
    value: T,
}

fn main() {}
