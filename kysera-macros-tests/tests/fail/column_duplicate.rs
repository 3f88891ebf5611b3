#[derive(kysera::Repository)]
struct User {
    id: i64,
    email: String,
    #[kysera(rename = "email")]
    contact: String,
}

fn main() {}
