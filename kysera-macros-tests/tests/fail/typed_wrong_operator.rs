#[derive(kysera::Repository)]
struct User {
    #[kysera(generated)]
    id: i64,
    email: String,
}

fn main() {
    let _ = User::ID.like("1%");
    let _ = User::EMAIL.is_null();
}
