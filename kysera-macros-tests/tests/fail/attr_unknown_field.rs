#[derive(kysera::Repository)]
struct User {
    #[kysera(primay_key)]
    user_id: i64,
    #[kysera(nullable)]
    email: String,
}

fn main() {}
