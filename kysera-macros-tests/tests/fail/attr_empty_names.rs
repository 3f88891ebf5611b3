#[derive(kysera::Repository)]
#[kysera(table = "")]
struct User {
    id: i64,
    #[kysera(rename = " ")]
    email: String,
}

fn main() {}
