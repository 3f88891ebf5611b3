struct Money(i64);

#[derive(kysera::Repository)]
struct Invoice {
    id: i64,
    total: Money,
}

fn main() {}
