struct Money(i64);

#[derive(kysera::Repository)]
struct Invoice {
    #[kysera(generated)]
    id: i64,
    total: Money,
}

fn main() {}
