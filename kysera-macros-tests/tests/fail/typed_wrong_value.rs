#[derive(kysera::Repository)]
struct User {
    #[kysera(generated)]
    id: i64,
    email: String,
    age: Option<i32>,
}

fn main() {
    let _ = User::EMAIL.eq(5);
    let _ = User::ID.eq("one");
    let _ = User::AGE.gt(1.5);
}
