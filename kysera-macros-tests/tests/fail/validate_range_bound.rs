// A range bound is a number literal (negative ones too).
#[derive(kysera::Repository)]
struct Reading {
    #[kysera(generated)]
    id: i64,
    #[kysera(validate(range(min = "low")))]
    level: i32,
    #[kysera(validate(range(max = LIMIT)))]
    other: i32,
}

fn main() {}
