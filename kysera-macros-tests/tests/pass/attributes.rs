//! Every attribute: table, crate path, primary_key, generated, default, rename, skip, validate.
use kysera::{Model, Repository};

fn not_root(v: &String) -> Result<(), String> {
    if v == "root" { Err("is reserved".into()) } else { Ok(()) }
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "app_accounts", crate = "::kysera")]
pub struct Account {
    #[kysera(primary_key, generated)]
    pub account_id: i64,
    #[kysera(validate(email, length(max = 255)))]
    pub email: String,
    #[kysera(rename = "handle_name", validate(length(min = 3), custom = "not_root"))]
    pub handle: String,
    #[kysera(default, validate(range(min = 0, max = 150)))]
    pub age: Option<i32>,
    #[kysera(default)]
    pub active: bool,
    #[kysera(generated)]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[kysera(skip)]
    pub cache: Vec<String>,
    pub r#type: String,
}

fn main() {
    assert_eq!(Account::INFO.table, "app_accounts");
    assert_eq!(Account::INFO.primary_key, ["account_id"]);
    assert_eq!(Account::HANDLE.name(), "handle_name");
    assert_eq!(Account::TYPE.name(), "type");
    let col = Account::INFO.column("created_at").unwrap();
    assert!(col.generated);
    // Generated columns are not inserted; `default` ones are optional.
    let new = NewAccount {
        email: "a@b.co".into(),
        handle: "ada".into(),
        age: None,
        active: None,
        r#type: "person".into(),
    };
    assert!(Account::validate_new(&new).is_ok());
    let bad = NewAccount { handle: "root".into(), ..new };
    assert_eq!(Account::validate_new(&bad).unwrap_err().fields(), ["handle"]);
    let values = Account::insert_values(&bad);
    assert_eq!(values.iter().map(|(c, _)| *c).collect::<Vec<_>>(), ["email", "handle_name", "type"]);
}
