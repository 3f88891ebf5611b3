#[derive(kysera::Repository)]
struct Tag {
    name: String,
    label: String,
}

fn main() {}
