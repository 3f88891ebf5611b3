// The query IR's structs are #[non_exhaustive] (fields can be added without breaking users):
// build them with their constructors and builders, not with struct literals.
use kysera::query::{col, Order, OrderBy, Select};

fn main() {
    let _ = OrderBy { expr: col("a"), order: Order::Asc };
    let _ = Select { limit: Some(1), ..Select::from("t") };
    // The supported way:
    let _ = OrderBy::asc(col("a"));
    let _ = Select::from("t").limit(1);
}
