#[derive(kysera::Repository)]
#[kysera(table = "a")]
#[kysera(table = "b")]
struct User {
    #[kysera(primary_key, primary_key)]
    id: i64,
    #[kysera(rename = "x", rename = "y")]
    email: String,
}

fn main() {}
