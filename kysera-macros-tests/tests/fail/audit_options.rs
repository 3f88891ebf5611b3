#[derive(kysera::Repository)]
#[audit(operations(create, erase), exclude(pasword))]
struct User {
    id: i64,
    password: String,
}

#[derive(kysera::Repository)]
#[audit(old_value = false)]
struct Post {
    id: i64,
}

fn main() {}
