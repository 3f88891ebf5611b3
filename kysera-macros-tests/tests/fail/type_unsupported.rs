use std::collections::HashMap;

#[derive(kysera::Repository)]
struct User {
    id: u64,
    tags: HashMap<String, String>,
    name: &'static str,
    scores: Vec<i32>,
    maybe: Option<Option<i64>>,
}

fn main() {}
