//! User names that match the derive's internals do not clash with them; private fields stay
//! private on the generated structs; setters never hide `Default::default` or `Clone::clone`.
use kysera::{Model, Repository};

fn v(x: &String) -> Result<(), String> {
    if x.is_empty() { Err("is empty".into()) } else { Ok(()) }
}
#[allow(non_upper_case_globals, dead_code)]
const errors: () = ();

mod inner {
    #[derive(Debug, kysera::Repository)]
    pub struct Account {
        pub id: i64,
        #[kysera(validate(custom = "super::v"))]
        pub name: String,
        pub default: bool,
        pub clone: i32,
        password_hash: String,
    }

    pub fn make() -> NewAccount {
        NewAccount { id: 1, name: "a".into(), default: true, clone: 2, password_hash: "x".into() }
    }
}

#[derive(Debug, Repository)]
struct Note {
    id: i64,
    #[kysera(validate(custom = "v"))]
    new: String,
    patch: String,
}

fn main() {
    let p = inner::AccountPatch::default().set_default(false).set_clone(3).name("b");
    let _copy = p.clone();
    assert!(inner::Account::validate_new(&inner::make()).is_ok());
    let bad = NewNote { id: 1, new: String::new(), patch: "p".into() };
    assert_eq!(Note::validate_new(&bad).unwrap_err().fields(), ["new"]);
}
