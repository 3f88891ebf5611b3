// A discriminant that does not fit the stored integer type would be truncated (70000 as i16 is
// 4464) and read back as another variant: it is refused at compile time.
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kysera::Type)]
#[kysera(repr = "i16")]
enum Big {
    Small = 1,
    Large = 70000,
}

fn main() {
    let _ = kysera::Type::to_repr(&Big::Small);
}
