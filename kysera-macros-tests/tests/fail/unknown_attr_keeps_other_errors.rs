// A misspelt key is reported, and the rest of the field is still checked: the other keys of
// the same attribute, the rules' types and the model's key.
#[derive(kysera::Repository)]
struct User {
    #[kysera(primary_key, generatd)]
    id: i64,
    #[kysera(validate(email, lenght(max = 3)))]
    age: i32,
    #[kysera(renam = "x", validate(range(min = 0)))]
    name: String,
    #[kysera(defualt, rename = "")]
    nick: String,
}

fn main() {}
