#[derive(kysera::Repository)]
enum Status {
    Active,
    Banned,
}

fn main() {}
