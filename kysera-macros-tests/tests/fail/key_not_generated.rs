// An integer key that says neither `generated` nor `assigned` gets a warning naming both, so
// the error of an insert struct that demands the key is explained where it starts.
#[derive(kysera::Repository)]
struct Post {
    #[kysera(primary_key)]
    id: i64,
    title: String,
}

fn main() {
    let _ = NewPost { title: "hello".into() };
}
