// Every mistake is reported in one compile, and the code using the model gets no cascade.
#[derive(kysera::Repository)]
#[kysera(tabel = "people")]
struct Person {
    #[kysera(primay_key)]
    person_id: i64,
    #[kysera(rename = "")]
    name: String,
    age: u64,
}

fn main() {
    let _repo = Person::repo;
}
