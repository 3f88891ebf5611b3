//! Every supported column type, optional or not, with the comparisons each allows.
use kysera::Repository;

#[derive(Debug, Repository)]
struct Everything {
    id: i32,
    a: i16,
    b: i64,
    c: f32,
    d: f64,
    e: bool,
    f: String,
    g: Vec<u8>,
    h: chrono::NaiveDate,
    i: chrono::NaiveTime,
    j: chrono::NaiveDateTime,
    k: chrono::DateTime<chrono::Utc>,
    l: uuid::Uuid,
    m: serde_json::Value,
    n: Option<i64>,
    o: Option<String>,
    p: std::option::Option<chrono::DateTime<chrono::Utc>>,
}

fn main() {
    assert_eq!(<Everything as kysera::Model>::INFO.table, "everythings");
    let _ = Everything::B.gt(5);
    let _ = Everything::B.is_in([1i64, 2, 3]);
    let _ = Everything::N.eq(5).or(Everything::N.is_null());
    let _ = Everything::O.like("a%");
    let _ = Everything::F.not_like("%b");
    let _ = Everything::K.lt(chrono::Utc::now());
    let _ = Everything::P.is_not_null();
    let _ = Everything::L.eq(uuid::Uuid::nil());
    let _ = Everything::D.asc();
    let _ = Everything::A.eq(3i16);
}
