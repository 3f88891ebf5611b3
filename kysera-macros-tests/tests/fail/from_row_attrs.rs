// Every attribute mistake is reported at once, each on its own token.
#[derive(kysera::FromRow)]
#[kysera(table = "users")]
struct Row {
    #[kysera(primary_key)]
    id: i64,
    #[kysera(rename = "")]
    name: String,
    #[kysera(skip, rename = "x")]
    extra: String,
}

fn main() {}
