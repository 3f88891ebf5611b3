#[derive(kysera::Repository)]
struct UserId(i64, String);

fn main() {}
