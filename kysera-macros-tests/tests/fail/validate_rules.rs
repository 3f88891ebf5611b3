#[derive(kysera::Repository)]
struct User {
    id: i64,
    #[kysera(validate())]
    a: String,
    #[kysera(validate(length(min = 5, max = 2)))]
    b: String,
    #[kysera(validate(length()))]
    c: String,
    #[kysera(validate(lenght(min = 1)))]
    d: String,
}

fn main() {}

#[derive(kysera::Repository)]
struct Other {
    id: i64,
    #[kysera(validate(range()))]
    n: i64,
}
