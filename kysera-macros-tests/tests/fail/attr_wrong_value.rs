#[derive(kysera::Repository)]
#[kysera(table = 5)]
struct User {
    id: i64,
    #[kysera(rename)]
    email: String,
}

fn main() {}
