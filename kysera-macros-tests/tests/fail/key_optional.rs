#[derive(kysera::Repository)]
struct User {
    #[kysera(primary_key)]
    code: Option<String>,
}

#[derive(kysera::Repository)]
struct Other {
    id: Option<i64>,
}

fn main() {}
