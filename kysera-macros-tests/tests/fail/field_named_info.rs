#[derive(kysera::Repository)]
struct Page {
    id: i64,
    info: String,
}

fn main() {}
