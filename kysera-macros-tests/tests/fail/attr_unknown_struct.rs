#[derive(kysera::Repository)]
#[kysera(tabel = "users")]
struct User {
    id: i64,
}

fn main() {}
