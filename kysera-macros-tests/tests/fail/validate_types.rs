#[derive(kysera::Repository)]
struct User {
    id: i64,
    #[kysera(validate(length(max = 3)))]
    age: i32,
    #[kysera(validate(range(min = 0.5)))]
    count: i64,
    #[kysera(validate(email))]
    flag: bool,
}

fn main() {}
