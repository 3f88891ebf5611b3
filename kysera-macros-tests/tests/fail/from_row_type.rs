// A field type Kysera cannot read on every supported database (u64: PostgreSQL has no unsigned
// integers) is reported on the field's type, whichever database features are enabled.
#[derive(kysera::FromRow)]
struct Counter {
    id: i64,
    hits: u64,
}

fn main() {}
