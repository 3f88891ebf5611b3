// `assigned` marks a key the program sets: not with `generated`, not on another column.
#[derive(kysera::Repository)]
struct Post {
    #[kysera(primary_key, generated, assigned)]
    id: i64,
    #[kysera(assigned)]
    title: String,
}

fn main() {}
