#[derive(kysera::Repository)]
struct User {
    #[kysera(generated)]
    id: i64,
    #[kysera(validate(length(max = 3)))]
    age: i32,
    #[kysera(validate(range(min = 0.5)))]
    count: i64,
    #[kysera(validate(email))]
    flag: bool,
    #[kysera(validate(range(max = 10)))]
    name: String,
}

fn main() {}
