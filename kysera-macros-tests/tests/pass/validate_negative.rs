// Range bounds may be negative, for integers and floats; NaN and the infinities are in no range.
use kysera::Model;

#[derive(kysera::Repository)]
struct Reading {
    #[kysera(generated)]
    id: i64,
    #[kysera(validate(range(min = -5, max = 5)))]
    delta: i32,
    #[kysera(validate(range(min = -0.5)))]
    score: f64,
}

fn main() {
    let ok = NewReading { delta: -5, score: -0.5 };
    assert!(Reading::validate_new(&ok).is_ok());
    let bad = NewReading { delta: -6, score: f64::NAN };
    let errors = Reading::validate_new(&bad).unwrap_err();
    assert_eq!(errors.fields(), ["delta", "score"]);
}
