//! Snapshots of the code the derive generates for representative models (reviewed with
//! `cargo insta review`; CI fails when the output changes without its snapshot), and the size of
//! that code per model.

/// The derive's output for `src`, pretty-printed.
fn expand(src: &str) -> String {
    let input: syn::DeriveInput = syn::parse_str(src).expect("a struct");
    let tokens = crate::emit::derive(input);
    let file: syn::File = syn::parse2(tokens).expect("generated code parses");
    prettyplease::unparse(&file)
}

const PLAIN: &str = r#"
struct User {
    #[kysera(generated)]
    id: i64,
    email: String,
    age: Option<i32>,
}
"#;

const AUDITED: &str = r#"
#[audit(exclude(password_hash))]
struct Account {
    #[kysera(primary_key, generated)]
    id: i64,
    email: String,
    password_hash: String,
}
"#;

const BEHAVIOURS: &str = r#"
#[soft_delete]
#[timestamps]
#[rls(tenant = "tenant_id")]
struct Post {
    #[kysera(generated)]
    id: i64,
    tenant_id: String,
    #[kysera(validate(length(min = 1, max = 200)))]
    title: String,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
    deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}
"#;

const COMPOSITE: &str = r#"
#[kysera(table = "memberships")]
struct Membership {
    #[kysera(primary_key)]
    org_id: i64,
    #[kysera(primary_key)]
    user_id: i64,
    #[kysera(rename = "role_name", default)]
    role: String,
}
"#;

#[test]
fn plain_model() {
    insta::assert_snapshot!(expand(PLAIN));
}

#[test]
fn audited_model() {
    insta::assert_snapshot!(expand(AUDITED));
}

#[test]
fn model_with_every_behaviour() {
    insta::assert_snapshot!(expand(BEHAVIOURS));
}

#[test]
fn composite_key_model() {
    insta::assert_snapshot!(expand(COMPOSITE));
}

/// Generated lines per model, printed for the record (`cargo test -p kysera-derive -- --nocapture
/// generated_size`); a model pays only for the behaviours it declares.
#[test]
fn generated_size_per_model() {
    let lines = |src| expand(src).lines().count();
    let (plain, audited) = (lines(PLAIN), lines(AUDITED));
    for (name, src) in [
        ("plain (3 columns)", PLAIN),
        ("audited (3 columns)", AUDITED),
        ("every behaviour (6 columns)", BEHAVIOURS),
        ("composite key (3 columns)", COMPOSITE),
    ] {
        println!("{name}: {} lines", lines(src));
    }
    assert!(plain < audited, "audit code only where declared");
}
